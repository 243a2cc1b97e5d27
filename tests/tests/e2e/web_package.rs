//! The browser client as a front-end team installs it: `make web-pack`
//! writes the tarball, and client/web/test/package installs it into a
//! scratch project under the system's temp directory (with the React
//! example's files), imports it from Node through the reference flows, and
//! drives the esbuild bundle of the example in headless Chromium against
//! this local-api, in English and Japanese (screenshots under
//! target/screenshots). The emailed links point at the app's real paths
//! (`/app/password/init`, `/app/password/reset`), opened under its hash
//! router. Any failing node test fails this test.

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use shared::channel::{KeyRing, ServerKey};
use shared::config::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_packed_client_installs_and_runs_outside_the_repository() {
    let root = e2e_tests::root();
    let pack_dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-pack");
    let pack = tokio::task::spawn_blocking({
        let (root, pack_dir) = (root.clone(), pack_dir.clone());
        move || {
            Command::new("make")
                .args(["-s", "web-pack"])
                .arg(format!("WEB_PACK_DIR={}", pack_dir.display()))
                .current_dir(&root)
                .output()
        }
    })
    .await
    .unwrap()
    .expect("make and npm are needed to pack client/web");
    let printed = String::from_utf8_lossy(&pack.stdout);
    assert!(
        pack.status.success(),
        "make web-pack failed:\n{printed}\n{}",
        String::from_utf8_lossy(&pack.stderr)
    );
    // The build prints the tarball's path, then its size.
    let tarball = printed
        .lines()
        .find(|l| l.ends_with(".tgz"))
        .unwrap_or_else(|| panic!("no tarball path printed:\n{printed}"))
        .to_owned();
    assert!(printed.contains("KiB packed"), "{printed}");

    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config::default();
    config.links.init_url = format!("{url}/app/password/init");
    config.links.reset_url = format!("{url}/app/password/reset");
    config.links.forgot_url = format!("{url}/app/#/forgot");
    let keys = KeyRing::single(ServerKey::generate("k-pkg", u64::MAX / 2).unwrap().0);
    local_api::serve(local_api::Local::new(config, keys).unwrap(), listener).unwrap();

    let screenshots = e2e_tests::node::screenshot_dir(env!("CARGO_TARGET_TMPDIR"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args([
                "--test",
                "--test-reporter=tap",
                "--test-concurrency=1",
                "test/package/package.test.mjs",
            ])
            .current_dir(root.join("client/web"))
            .env("PASSWORD_API_URL", &url)
            .env("WEB_PACK_TGZ", &tarball)
            .env("SCREENSHOT_DIR", &screenshots)
            .output()
    })
    .await
    .unwrap()
    .expect("node (>= 20) is needed for the package test");
    e2e_tests::node::assert_tap_passed(&out, 10);
}
