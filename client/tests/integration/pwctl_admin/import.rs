//! `pwctl admin import` against the emulator, through the real binary:
//! every foreign-hash format imports and signs in (through the
//! verify-password handler) once, then is stored as Argon2id with the
//! pepper; an interrupted import resumes from its checkpoint and writes
//! each line once; a rerun skips; a conflict fails its line only; a dry run
//! writes nothing; `--invite` queues the invitations; `--json` summary.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aws_adapters::testing::{deployed, fresh, fresh_empty};
use aws_adapters::{AwsClients, AwsConfig};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};

type Item = HashMap<String, AttributeValue>;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

/// The emulator's environment, on `cfg`'s table.
fn env_for(cfg: &AwsConfig) -> HashMap<String, String> {
    let mut env = test_support::emulator_env();
    env.insert("TABLE_NAME".into(), cfg.table_name.clone());
    env
}

fn import(env: &HashMap<String, String>, file: &Path, extra: &[&str]) -> (Output, Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_pwctl"))
        .args(["--json", "admin", "import"])
        .arg(file)
        .args(extra)
        .envs(env)
        .output()
        .unwrap();
    let summary = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (out, summary)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn temp_file(tag: &str, lines: &[String]) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "pwctl-import-{tag}-{}-{}.jsonl",
        std::process::id(),
        aws_adapters::testing::now_ms()
    ));
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

async fn scan(cfg: &AwsConfig, clients: &AwsClients) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = clients
            .dynamodb
            .scan()
            .table_name(&cfg.table_name)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return items,
        }
    }
}

/// The test's table is dropped: the emulator keeps every table in memory.
async fn drop_table(cfg: &AwsConfig, clients: &AwsClients) {
    clients
        .dynamodb
        .delete_table()
        .table_name(&cfg.table_name)
        .send()
        .await
        .unwrap();
}

fn s<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map_or("", String::as_str)
}

fn with_pk<'a>(items: &'a [Item], prefix: &str) -> Vec<&'a Item> {
    items
        .iter()
        .filter(|i| s(i, "PK").starts_with(prefix))
        .collect()
}

fn pending(i: usize, biz: bool) -> String {
    let mut v = json!({"email": format!("p{i}@import.test"), "name": format!("P {i}"), "status": "PendingPassword"});
    if biz {
        v["bizId"] = json!(format!("imp-{i}"));
    }
    v.to_string()
}

/// H1's fixture: one entry per foreign-hash format.
fn fixture() -> Vec<Value> {
    let path = test_support::root().join("shared/password/tests/data/foreign-hashes.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The fixture as import lines (one active user per format) and the
/// Firebase flags it needs.
fn fixture_file(tag: &str) -> (PathBuf, Vec<(String, String)>, Vec<String>) {
    let mut lines = Vec::new();
    let mut users = Vec::new();
    let mut flags = vec!["--allow-legacy-sha".to_owned()];
    for e in fixture() {
        let format = e["format"].as_str().unwrap();
        let email = format!("{format}@import.test");
        let mut line = json!({
            "email": email, "name": format, "bizId": format!("imp-{format}"),
            "status": "Active", "passwordHash": e["hash"], "hashFormat": format,
        });
        if let Some(salt) = e.get("salt") {
            line["salt"] = salt.clone();
        }
        if let Some(f) = e.get("firebase") {
            for (flag, key) in [
                ("--firebase-signer-key", "signerKey"),
                ("--firebase-salt-separator", "saltSeparator"),
                ("--firebase-rounds", "rounds"),
                ("--firebase-mem-cost", "memCost"),
            ] {
                flags.push(flag.to_owned());
                flags.push(f[key].to_string().trim_matches('"').to_owned());
            }
        }
        lines.push(line.to_string());
        users.push((email, e["password"].as_str().unwrap().to_owned()));
    }
    (temp_file(tag, &lines), users, flags)
}

#[test]
fn every_foreign_format_imports_and_signs_in_once_then_is_argon2id_with_the_pepper() {
    let rt = runtime();
    let (cfg, clients) = rt.block_on(deployed("import-formats"));
    let (file, users, flags) = fixture_file("formats");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let (out, summary) = import(&env_for(&cfg), &file, &flags);
    assert!(out.status.success(), "{}", stderr(&out));
    let n = users.len() as u64;
    assert_eq!(summary["imported"], n, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    let foreign = summary["foreign"].as_u64().unwrap();
    assert_eq!(foreign, n, "every fixture format is foreign: {summary}");

    rt.block_on(async {
        let app = aws_adapters::bootstrap::app_with(
            shared::route::Needs::VERIFY_PASSWORD,
            shared::config::Config::default(),
            &cfg,
            &clients,
        )
        .await
        .unwrap();
        app.passwords.prepare_dummy().unwrap();
        assert_eq!(
            app.accounts.foreign_hash_users().await.unwrap(),
            foreign as i64
        );
        for (email, password) in &users {
            let event =
                |pw: &str| json!({"email": email, "password": pw, "clientIp": "203.0.113.9"});
            let wrong = aws_adapters::verify_fn::handle(&app, event(&format!("{password}x"))).await;
            assert_eq!(wrong["result"], "invalid", "{email}: {wrong}");
            let right = aws_adapters::verify_fn::handle(&app, event(password)).await;
            assert_eq!(right["result"], "ok", "{email}: {right}");
            let stored = app.accounts.user_by_email(email).await.unwrap().unwrap();
            let hash = serde_json::to_value(stored.password.as_ref().unwrap()).unwrap();
            assert!(
                hash["phc"].as_str().unwrap().starts_with("$argon2id$"),
                "{email}"
            );
            assert_eq!(hash["pepperId"], "p1", "{email}");
            // Signs in again on the upgraded hash.
            let again = aws_adapters::verify_fn::handle(&app, event(password)).await;
            assert_eq!(again["result"], "ok", "{email}: {again}");
        }
        assert_eq!(app.accounts.foreign_hash_users().await.unwrap(), 0);
        drop_table(&cfg, &clients).await;
    });
    std::fs::remove_file(file).unwrap();
}

#[test]
fn an_interrupted_import_resumes_from_its_checkpoint_and_writes_each_line_once() {
    let rt = runtime();
    let (cfg, clients) = rt.block_on(fresh_empty("import-resume"));
    let env = env_for(&cfg);
    // No bizId: a line written twice would make a second user.
    let n = 2000;
    let file = temp_file(
        "resume",
        &(0..n).map(|i| pending(i, false)).collect::<Vec<_>>(),
    );
    let checkpoint = file.with_extension("cp");
    let mut child = Command::new(env!("CARGO_BIN_EXE_pwctl"))
        .args([
            "--json",
            "admin",
            "import",
            "--in-flight",
            "2",
            "--checkpoint",
        ])
        .arg(&checkpoint)
        .arg(&file)
        .envs(&env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let line_of = |p: &Path| -> u64 {
        std::fs::read(p)
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["line"].as_u64())
            .unwrap_or(0)
    };
    let mut waited = 0;
    while line_of(&checkpoint) < 200 {
        assert!(waited < 60_000, "the checkpoint never reached line 200");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(5));
        waited += 5;
    }
    child.kill().unwrap(); // SIGKILL: no chance to tidy up
    child.wait().unwrap();
    let at_kill = line_of(&checkpoint);
    assert!(at_kill >= 200 && at_kill < n as u64, "{at_kill}");

    let (out, summary) = import(&env, &file, &["--checkpoint", checkpoint.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(summary["resumedAfter"], at_kill, "{summary}");
    assert_eq!(summary["lines"], n as u64 - at_kill, "{summary}");
    assert_eq!(summary["failed"], 0, "{summary}");
    assert!(
        !checkpoint.exists(),
        "a finished import leaves no checkpoint"
    );

    let items = rt.block_on(scan(&cfg, &clients));
    let profiles = with_pk(&items, "USER#");
    let claims = with_pk(&items, "EMAIL#");
    assert_eq!(profiles.len(), n, "one user per line, none twice");
    assert_eq!(claims.len(), n);
    let emails: BTreeSet<&str> = profiles.iter().map(|i| s(i, "email")).collect();
    assert_eq!(emails.len(), n);
    // Each claim names its user's profile.
    let by_biz: HashMap<&str, &str> = profiles
        .iter()
        .map(|i| (s(i, "bizId"), s(i, "email")))
        .collect();
    for c in &claims {
        let email = s(c, "PK").strip_prefix("EMAIL#").unwrap();
        assert_eq!(by_biz.get(s(c, "bizId")), Some(&email));
    }
    rt.block_on(drop_table(&cfg, &clients));
    std::fs::remove_file(file).unwrap();
}

#[test]
fn dry_run_rerun_and_conflicts_with_the_json_summary() {
    let rt = runtime();
    let (cfg, clients) = rt.block_on(fresh_empty("import-rerun"));
    let env = env_for(&cfg);
    let file = temp_file(
        "rerun",
        &(0..30).map(|i| pending(i, true)).collect::<Vec<_>>(),
    );

    let (out, summary) = import(&env, &file, &["--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(summary["imported"], 30, "{summary}");
    assert_eq!(summary["dryRun"], true, "{summary}");
    assert!(
        rt.block_on(scan(&cfg, &clients)).is_empty(),
        "a dry run writes nothing"
    );

    let (out, summary) = import(&env, &file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let keys: BTreeSet<&str> = summary
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let want: BTreeSet<&str> = [
        "lines",
        "imported",
        "skipped",
        "failed",
        "foreign",
        "invited",
        "resumedAfter",
        "checkpoint",
        "dryRun",
        "linesPerSecond",
        "errors",
        "errorsNotListed",
    ]
    .into();
    assert_eq!(keys, want, "{summary}");
    assert_eq!(
        (summary["imported"].as_u64(), summary["skipped"].as_u64()),
        (Some(30), Some(0))
    );
    let before = rt.block_on(scan(&cfg, &clients)).len();
    assert_eq!(before, 60);

    let (out, summary) = import(&env, &file, &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        (summary["imported"].as_u64(), summary["skipped"].as_u64()),
        (Some(0), Some(30))
    );

    // An address owned by another bizId, and a bizId with another address.
    let clash = temp_file(
        "clash",
        &[
            json!({"email": "p3@import.test", "name": "X", "bizId": "other", "status": "PendingPassword"}).to_string(),
            json!({"email": "new@import.test", "name": "X", "bizId": "imp-4", "status": "PendingPassword"}).to_string(),
            json!({"email": "ok@import.test", "name": "X", "status": "Active", "passwordHash": "SECRET-NOT-A-HASH"}).to_string(),
            pending(5, true),
        ],
    );
    let (out, summary) = import(&env, &clash, &[]);
    assert_eq!(out.status.code(), Some(1), "a failed line exits 1");
    assert_eq!(summary["failed"], 3, "{summary}");
    assert_eq!(summary["skipped"], 1, "{summary}");
    assert_eq!(
        summary["errors"][0],
        json!({"line": 1, "reason": "email: registered to another user"})
    );
    assert_eq!(
        summary["errors"][1],
        json!({"line": 2, "reason": "bizId: belongs to a user with another email"})
    );
    assert_eq!(summary["errors"][2]["line"], 3);
    let err = stderr(&out);
    assert!(
        err.contains("line 1: email: registered to another user"),
        "{err}"
    );
    assert!(
        !err.contains("SECRET-NOT-A-HASH")
            && !out.stdout.windows(17).any(|w| w == b"SECRET-NOT-A-HASH")
    );
    let after = rt.block_on(scan(&cfg, &clients));
    assert_eq!(after.len(), before, "nothing written for a failed line");
    assert!(with_pk(&after, "USER#other").is_empty());
    assert!(with_pk(&after, "EMAIL#new@").is_empty());
    rt.block_on(drop_table(&cfg, &clients));
    for f in [file, clash] {
        std::fs::remove_file(f).unwrap();
    }
}

#[test]
fn invite_queues_an_invitation_for_each_pending_user() {
    let rt = runtime();
    let (cfg, clients) = rt.block_on(fresh("import-invite"));
    let env = env_for(&cfg);
    let mut lines: Vec<String> = (0..14).map(|i| pending(i, true)).collect();
    lines
        .push(json!({"email": "off@import.test", "name": "Off", "status": "Disabled"}).to_string());
    let file = temp_file("invite", &lines);
    let (out, summary) = import(&env, &file, &["--invite"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        (summary["imported"].as_u64(), summary["invited"].as_u64()),
        (Some(15), Some(14))
    );
    let items = rt.block_on(scan(&cfg, &clients));
    let messages: Vec<&Item> = with_pk(&items, "OUTBOX#")
        .into_iter()
        .filter(|i| s(i, "SK") == "OUTBOX")
        .collect();
    assert_eq!(messages.len(), 14);
    assert!(messages.iter().all(|m| s(m, "kind") == "init"));
    assert_eq!(
        with_pk(&items, "OUTBOX#PENDING").len(),
        14,
        "one pending marker each"
    );
    assert_eq!(with_pk(&items, "INIT#").len(), 14);
    // The store reads them back: each message opens and goes to its user.
    rt.block_on(async {
        let store = aws_adapters::testing::dynamo_account_store(&cfg, &clients).await;
        use shared::ports::accounts::AccountStore;
        let pending = store.pending_outbox().await.unwrap();
        let to: BTreeSet<String> = pending.iter().map(|m| m.to.clone()).collect();
        assert_eq!(to, (0..14).map(|i| format!("p{i}@import.test")).collect());
        drop_table(&cfg, &clients).await;
    });
    std::fs::remove_file(file).unwrap();
}
