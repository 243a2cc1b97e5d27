//! The binary refuses to serve the `/_dev` routes beyond loopback unless told to.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn non_loopback_bind_is_refused_without_the_flag() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_local-api"))
        .args(["--bind", "0.0.0.0", "--port", "0"])
        .env_remove("LOCAL_API_BIND")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A server that starts would run until stopped: give it a bounded chance to exit.
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("local-api started on 0.0.0.0 without --unsafe-expose-dev-routes");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let out = child.wait_with_output().unwrap();
    assert!(!status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--unsafe-expose-dev-routes") && stderr.contains("0.0.0.0"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing served");
}
