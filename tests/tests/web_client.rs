//! The browser client (client/web) against a local-api on a loopback port:
//! its node tests reproduce every SCv2 vector, run the SDK and the demo's
//! sign-in over HTTP, and drive the /demo pages in headless Chromium (sign
//! in, change, sign in again, status). Any failing node test fails this
//! test; none is skipped.

use std::net::SocketAddr;
use std::process::Command;

use shared::channel::{KeyRing, ServerKey};
use shared::config::Config;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_client_passes_its_node_and_browser_tests() {
    let root = e2e_tests::root();
    // npm ci when the lock file changed, then tsc.
    let build = tokio::task::spawn_blocking({
        let root = root.clone();
        move || {
            Command::new("make")
                .args(["-s", "web"])
                .current_dir(&root)
                .status()
        }
    })
    .await
    .unwrap()
    .expect("make is needed to build client/web");
    assert!(build.success(), "make web failed");

    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut config = Config::default();
    local_api::demo::point_links_here(&mut config.links, &url, |_| false);
    let keys = KeyRing::single(ServerKey::generate("k-web", u64::MAX / 2).unwrap().0);
    local_api::serve(local_api::Local::new(config, keys).unwrap(), listener).unwrap();

    let screenshots = e2e_tests::node::screenshot_dir(env!("CARGO_TARGET_TMPDIR"));
    let out = tokio::task::spawn_blocking(move || {
        Command::new("npm")
            .args(["test", "--silent"])
            .current_dir(root.join("client/web"))
            .env("PASSWORD_API_URL", &url)
            .env("SCREENSHOT_DIR", &screenshots)
            .output()
    })
    .await
    .unwrap()
    .expect("npm (Node.js >= 20) is needed for the web client tests");
    e2e_tests::node::assert_tap_passed(&out, 66);
}
