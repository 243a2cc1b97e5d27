//! `pwctl admin keys` against the local AWS emulator: rotate makes the new
//! key active and keeps the previous one listed; check unseals the ring;
//! init creates the missing secrets once and leaves present ones alone.

use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap()
}

fn emulator_env() -> Vec<(String, String)> {
    let emulator = root().join("infra/emulator.sh");
    assert!(Command::new("bash")
        .arg(&emulator)
        .arg("up")
        .status()
        .unwrap()
        .success());
    let out = Command::new("bash")
        .arg(&emulator)
        .arg("env")
        .output()
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn pwctl(env: &[(String, String)], args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pwctl"))
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn rotate_list_and_check_the_key_ring() {
    let env = emulator_env();
    let kid = format!(
        "k-test-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    let (ok, out) = pwctl(&env, &["admin", "keys", "list"]);
    assert!(ok, "{out}");
    let before = out.lines().count();
    let (ok, out) = pwctl(
        &env,
        &[
            "admin",
            "keys",
            "rotate",
            "--kid",
            &kid,
            "--days",
            "30",
            "--grace-secs",
            "600",
        ],
    );
    assert!(ok, "{out}");
    assert!(out.contains(&kid), "{out}");
    let (ok, out) = pwctl(&env, &["admin", "keys", "list"]);
    assert!(ok, "{out}");
    assert_eq!(out.lines().count(), before + 1, "{out}");
    let active: Vec<&str> = out.lines().filter(|l| l.ends_with("active")).collect();
    assert_eq!(active.len(), 1, "{out}");
    assert!(active[0].starts_with(&kid), "{out}");
    let (ok, out) = pwctl(&env, &["admin", "keys", "check"]);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("active {kid}")), "{out}");
    // a second rotation to the same kid is refused
    let (ok, _) = pwctl(&env, &["admin", "keys", "rotate", "--kid", &kid]);
    assert!(!ok);
}

#[test]
fn init_creates_missing_secrets_once() {
    let mut env = emulator_env();
    let pepper = format!(
        "p-test-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    env.push(("PASSWORD_PEPPER_ID".into(), pepper.clone()));
    let (ok, out) = pwctl(&env, &["admin", "keys", "init"]);
    assert!(ok, "{out}");
    // The emulator bootstrap made the data keys and an active SCv2 key.
    assert!(out.contains("scv2-session-data-key d1: present"), "{out}");
    assert!(out.contains("outbox-data-key o1: present"), "{out}");
    assert!(
        out.contains(&format!("password-pepper {pepper}: created")),
        "{out}"
    );
    assert!(out.contains(": active"), "{out}");
    let (ok, out) = pwctl(&env, &["admin", "keys", "init"]);
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("password-pepper {pepper}: present")),
        "{out}"
    );
    assert!(!out.contains("created"), "{out}");
}
