//! The binary refuses to serve the `/_dev` routes beyond loopback unless told to.

use std::process::Command;

#[test]
fn non_loopback_bind_is_refused_without_the_flag() {
    let out = Command::new(env!("CARGO_BIN_EXE_local-api"))
        .args(["--bind", "0.0.0.0", "--port", "0"])
        .env_remove("LOCAL_API_BIND")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--unsafe-expose-dev-routes") && stderr.contains("0.0.0.0"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing served");
}
