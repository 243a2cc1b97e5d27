//! An independent SCv2 client, written in Python from the specification alone
//! (tests/spec_client/scv2_client.py, `cryptography` package), reproduces the
//! vectors and talks to local-api over real HTTP.

use std::process::Command;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_written_from_the_spec_interoperates() {
    let root = e2e_tests::root();
    // The project venv (moto brings `cryptography`), created if missing.
    let venv = tokio::task::spawn_blocking({
        let root = root.clone();
        move || {
            Command::new("bash")
                .arg(root.join("infra/emulator.sh"))
                .arg("venv")
                .status()
                .unwrap()
        }
    })
    .await
    .unwrap();
    assert!(venv.success(), "could not create the project venv");

    let server = e2e_tests::Server::start().await;
    let out = tokio::task::spawn_blocking(move || {
        Command::new(root.join(".venv/bin/python"))
            .arg(root.join("tests/spec_client/scv2_client.py"))
            .arg(root.join("tests/data/vectors.json"))
            .arg(server.url.clone())
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("vectors ok"));
    assert!(stdout.contains("handshake ok"));
    assert!(stdout.contains("sealed calls ok"));
}
