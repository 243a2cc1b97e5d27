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
    // Rotated with 30 days a moment ago: 29 whole days and some hours left.
    assert!(out.contains("(29 days left)"), "{out}");
    assert!(!out.contains("rotate it now"), "{out}");
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

/// `admin breached build` reads the Pwned Passwords format (with
/// `--min-count`) and plain lists, counts bad lines without failing, and
/// writes a filter that holds what it kept and nothing it dropped.
#[test]
fn breached_build_counts_bad_lines_and_keeps_what_it_reads() {
    use password::breach::{key_of_password, sha1_of, BreachFilter};
    let dir = std::env::temp_dir().join(format!("pwctl-breached-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hex = |pw: &str| -> String { sha1_of(pw).iter().map(|b| format!("{b:02X}")).collect() };
    let corpus = dir.join("pwned.txt");
    std::fs::write(
        &corpus,
        format!(
            "{}:12\r\n{}:1\nnot a hash line\n{}:x\n\n{}:3\n",
            hex("often leaked 1"),
            hex("seen once 2"),
            hex("bad count 3"),
            hex("thrice leaked 4"),
        ),
    )
    .unwrap();
    let filter_path = dir.join("pwned.bpf");
    // `pwctl admin breached build --input IN --output filter_path EXTRA...`
    let build = |input: &std::path::Path, extra: &[&str]| {
        let mut args = vec![
            "admin",
            "breached",
            "build",
            "--input",
            input.to_str().unwrap(),
            "--output",
            filter_path.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        pwctl(&HashMap::new(), &args)
    };
    let (ok, out) = build(&corpus, &["--min-count", "2"]);
    assert!(ok, "{out}");
    assert!(
        out.contains("lines 6, kept 2, distinct 2, below --min-count 1, bad 2"),
        "{out}"
    );
    let filter = BreachFilter::from_bytes(&std::fs::read(&filter_path).unwrap()).unwrap();
    let has = |pw: &str| filter.contains_key(key_of_password(pw).unwrap());
    assert!(has("often leaked 1") && has("thrice leaked 4"));
    assert!(!has("seen once 2") && !has("bad count 3"));

    let plain = dir.join("plain.txt");
    std::fs::write(&plain, "hunter2\ncorrect horse\n").unwrap();
    let (ok, out) = build(&plain, &[]);
    assert!(ok, "{out}");
    let filter = BreachFilter::from_bytes(&std::fs::read(&filter_path).unwrap()).unwrap();
    assert_eq!(filter.entries(), 2);
    assert!(filter.contains_key(key_of_password("hunter2").unwrap()));

    let (ok, out) = build(&dir.join("missing.txt"), &[]);
    assert!(!ok && out.contains("cannot open"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

mod import;
mod users;
