//! The browser client (client/web) against a local-api on a loopback port:
//! its node tests reproduce every SCv2 vector, run the SDK and the demo's
//! sign-in over HTTP, and drive the /demo pages in headless Chromium (sign
//! in, change, sign in again, status). Any failing node test fails this
//! test; none is skipped.

use std::net::SocketAddr;
use std::process::Command;

use shared::channel::{KeyRing, ServerKey};
use shared::config::Config;
use shared::http::CorsPolicy;

/// npm ci when the lock file changed, then tsc: once per run, however many
/// tests need it (two builds at once would write the same files).
async fn build_web() {
    static BUILT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    BUILT
        .get_or_init(|| async {
            let root = e2e_tests::root();
            let build = tokio::task::spawn_blocking(move || {
                Command::new("make")
                    .args(["-s", "web"])
                    .current_dir(&root)
                    .status()
            })
            .await
            .unwrap()
            .expect("make is needed to build client/web");
            assert!(build.success(), "make web failed");
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_client_passes_its_node_and_browser_tests() {
    let root = e2e_tests::root();
    build_web().await;

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

/// `EDGE_MODE=none` as local-api plays it (`--edge none`): the SDK, in
/// Chromium on a page of another origin, fetches the public key, makes a
/// session and calls status and change with no CF-* header at all, and the
/// preflight refuses one a page tries to send.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_edge_a_browser_on_another_origin_uses_the_sdk_with_no_cf_headers() {
    let root = e2e_tests::root();
    build_web().await;
    // The page's origin: another loopback port, free when asked.
    let origin = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let config = Config {
        cors: CorsPolicy::parse(&origin).unwrap(),
        ..Config::default()
    };
    let keys = KeyRing::single(ServerKey::generate("k-edge", u64::MAX / 2).unwrap().0);
    let local = local_api::Local::new(config, keys).unwrap().without_edge();
    local_api::serve(local, listener).unwrap();

    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .args([
                "--test",
                "--test-reporter=tap",
                "test/edge-none.browser.mjs",
            ])
            .current_dir(root.join("client/web"))
            .env("PASSWORD_API_URL", &url)
            .env("ORIGIN_URL", &origin)
            .output()
    })
    .await
    .unwrap()
    .expect("node (>= 20) is needed for the web client tests");
    e2e_tests::node::assert_tap_passed(&out, 2);
}
