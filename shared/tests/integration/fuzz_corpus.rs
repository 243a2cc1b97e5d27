//! Replays every committed fuzz input (fuzz/seeds: the seed corpus; fuzz/regressions:
//! inputs that once failed) through the checks of its fuzz target, so
//! `make test` keeps each found crash fixed without the fuzzer.

#[path = "../../../fuzz/src/checks.rs"]
mod checks;

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut count = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        let mut files: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        files.sort();
        for file in files {
            if file
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let data = std::fs::read(&file).unwrap();
            let outcome = std::panic::catch_unwind(|| check(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} fails its check",
                file.display()
            );
            count += 1;
        }
    }
    assert!(count >= 5, "{target}: only {count} committed inputs");
}

#[test]
fn envelope_inputs_pass() {
    replay("envelope", checks::envelope);
}

#[test]
fn session_body_inputs_pass() {
    replay("session_body", checks::session_body);
}

#[test]
fn route_body_inputs_pass() {
    replay("route_bodies", checks::route_bodies);
}

#[test]
fn password_policy_inputs_pass() {
    replay("password_policy", checks::password_policy);
}

#[test]
fn jwt_inputs_pass() {
    replay("jwt", checks::jwt);
}

#[test]
fn gateway_inputs_pass() {
    replay("gateway", checks::gateway);
}
