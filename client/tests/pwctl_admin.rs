//! `pwctl admin keys` against the local AWS emulator: rotate makes the new
//! key active and keeps the previous one listed; check unseals the ring;
//! init creates the missing secrets once and leaves present ones alone.

use std::collections::HashMap;
use std::process::Command;
use std::sync::{Mutex, MutexGuard};

use test_support::emulator_env;

fn pwctl(env: &HashMap<String, String>, args: &[&str]) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pwctl"))
        .args(args)
        .envs(env)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// The suites share the emulator's one key ring: one rotates at a time, or
/// a rotation races another and is refused as concurrent (which is right).
fn key_ring() -> MutexGuard<'static, ()> {
    static KEY_RING: Mutex<()> = Mutex::new(());
    KEY_RING.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn rotate_list_and_check_the_key_ring() {
    let _ring = key_ring();
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
    let _ring = key_ring();
    let mut env = emulator_env();
    let pepper = format!(
        "p-test-{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    );
    env.insert("PASSWORD_PEPPER_ID".into(), pepper.clone());
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

fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Expiry of `kid` in `pwctl admin keys list` output, in Unix ms.
fn listed_expiry(list: &str, kid: &str) -> u64 {
    let line = list
        .lines()
        .find(|l| l.split('\t').next() == Some(kid))
        .unwrap_or_else(|| panic!("{kid} not listed: {list}"));
    let expires = line
        .split('\t')
        .find_map(|f| f.strip_prefix("expires "))
        .unwrap_or_else(|| panic!("no expiry in {line:?}"));
    shared::time_fmt::parse_rfc3339(expires).unwrap_or_else(|| panic!("bad instant {expires:?}"))
}

/// Without `--grace-secs` the previous key stays accepted for one day: the
/// public-key cache plus the longest-lived warm instance (docs/deployment.md).
#[test]
fn rotation_grace_defaults_to_one_day() {
    let _ring = key_ring();
    const DAY_MS: u64 = 86_400_000;
    let env = emulator_env();
    let stamp = unix_ms();
    let (first, second) = (format!("k-grace-a-{stamp}"), format!("k-grace-b-{stamp}"));
    let (ok, out) = pwctl(&env, &["admin", "keys", "rotate", "--kid", &first]);
    assert!(ok, "{out}");
    let before = unix_ms();
    let (ok, out) = pwctl(&env, &["admin", "keys", "rotate", "--kid", &second]);
    assert!(ok, "{out}");
    let after = unix_ms();
    let (ok, list) = pwctl(&env, &["admin", "keys", "list"]);
    assert!(ok, "{list}");
    let expiry = listed_expiry(&list, &first);
    // RFC 3339 in the listing has second precision.
    assert!(
        expiry + 1000 >= before + DAY_MS && expiry <= after + DAY_MS,
        "previous key expires at {expiry}, rotated between {before} and {after}: {list}"
    );
    // The new key keeps its own (90-day) lifetime.
    assert!(
        listed_expiry(&list, &second) >= before + 89 * DAY_MS,
        "{list}"
    );
}
