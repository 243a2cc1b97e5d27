//! The verify-password function (sign-in for the identity provider): its
//! handler, `aws_adapters::verify_fn::handle`, fed the JSON events the
//! identity provider sends, over the AWS app its cold start builds
//! (`Needs::VERIFY_PASSWORD`, pepper `p1`) on the emulator.
//!
//! - the three answers carry exactly their documented fields;
//! - a bad event is `{"error": {status 400, VALIDATION.INVALID_PARAMETER}}`
//!   and leaves the table as it was;
//! - 20 concurrent wrong guesses let at most 5 Argon2 evaluations through,
//!   the first lock emails a known account once and an unknown address never;
//! - a right password after failures starts the count over;
//! - a hash made under weaker Argon2 settings is replaced on success, once.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use aws_adapters::bootstrap::app_with;
use aws_adapters::testing::*;
use aws_adapters::verify_fn::handle;
use aws_adapters::{guess_pk, AwsClients, AwsConfig, GUESS_SK};
use aws_sdk_dynamodb::types::AttributeValue;
use serde_json::{json, Value};
use shared::adapters::memory::ManualClock;
use shared::config::Config;
use shared::handlers::verify::account_guess_key;
use shared::ports::accounts::{AccountChange, MailKind, User, UserStatus};
use shared::ports::{Clock, Limit};
use shared::route::Needs;
use shared::testing::conformance::accounts::{create, email, next, user};
use shared::App;

const RIGHT: &str = "correct horse battery staple 42";
const WRONG: &str = "correct horse battery staple 43";

/// What the function's cold start builds, with `config`.
async fn function_app(cfg: &AwsConfig, clients: &AwsClients, config: Config) -> App {
    let app = app_with(Needs::VERIFY_PASSWORD, config, cfg, clients)
        .await
        .unwrap();
    app.passwords.prepare_dummy().unwrap();
    app
}

/// `app` with a clock that stands still: a lock (1 s at first) lasts for
/// the whole test, however slow the emulator.
fn standing_still(app: &App) -> (App, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(now_ms()));
    let mut app = app.clone();
    app.clock = clock.clone();
    (app, clock)
}

/// A user stored as invite + init leave it: `status`, with a hash of
/// `RIGHT` made by `app` (or none).
async fn seed(app: &App, status: UserStatus, with_password: bool) -> User {
    let now = app.clock.now_ms();
    let mut u = user(&email(), now);
    u.status = status;
    u.history.clear();
    u.password = if with_password {
        Some(app.passwords.hash_unchecked(RIGHT).await.unwrap())
    } else {
        None
    };
    app.accounts.apply(create(&u), now).await.unwrap().unwrap();
    u
}

fn by_email(email: &str, password: &str) -> Value {
    json!({
        "email": email,
        "password": password,
        "clientIp": "203.0.113.50",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
    })
}

fn keys(v: &Value) -> BTreeSet<&str> {
    v.as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .map(String::as_str)
        .collect()
}

fn set<'a>(names: &[&'a str]) -> BTreeSet<&'a str> {
    names.iter().copied().collect()
}

/// Every item of the table, by key.
async fn items(
    cfg: &AwsConfig,
    clients: &AwsClients,
) -> BTreeMap<String, HashMap<String, AttributeValue>> {
    let mut out = BTreeMap::new();
    let mut start = None;
    loop {
        let page = clients
            .dynamodb
            .scan()
            .table_name(&cfg.table_name)
            .consistent_read(true)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let key = |k: &str| item[k].as_s().unwrap().clone();
            out.insert(format!("{} / {}", key("PK"), key("SK")), item.clone());
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    out
}

/// The `locked` emails waiting for `to`.
async fn locked_mail_to(app: &App, to: &str) -> usize {
    app.accounts
        .pending_outbox()
        .await
        .unwrap()
        .iter()
        .filter(|m| m.kind == MailKind::Locked && m.to == to)
        .count()
}

/// Whether `biz_id`'s guess counter is stored.
async fn counter_stored(cfg: &AwsConfig, clients: &AwsClients, biz_id: &str) -> bool {
    clients
        .dynamodb
        .get_item()
        .table_name(&cfg.table_name)
        .key(
            "PK",
            AttributeValue::S(guess_pk(&account_guess_key(biz_id))),
        )
        .key("SK", AttributeValue::S(GUESS_SK.into()))
        .consistent_read(true)
        .send()
        .await
        .unwrap()
        .item
        .is_some()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_exactly_the_documented_fields() {
    let (cfg, clients) = deployed("verify-answers").await;
    let app = function_app(&cfg, &clients, Config::default()).await;
    let ann = seed(&app, UserStatus::Active, true).await;

    // ok: {result, bizId, mustChange}, by address or by business id.
    let ok = handle(&app, by_email(&ann.email, RIGHT)).await;
    assert_eq!(keys(&ok), set(&["result", "bizId", "mustChange"]), "{ok}");
    assert_eq!(
        ok,
        json!({"result": "ok", "bizId": ann.biz_id, "mustChange": false})
    );
    let by_id = handle(&app, json!({"bizId": ann.biz_id, "password": RIGHT})).await;
    assert_eq!(by_id, ok);
    let mut flagged = next(&ann);
    flagged.must_change = true;
    let change = AccountChange {
        user: Some((flagged, Some(ann.version))),
        ..AccountChange::default()
    };
    app.accounts.apply(change, now_ms()).await.unwrap().unwrap();
    let must = handle(&app, by_email(&ann.email, RIGHT)).await;
    assert_eq!(
        must,
        json!({"result": "ok", "bizId": ann.biz_id, "mustChange": true})
    );

    // invalid: {result} alone, for a wrong password, an address nobody owns,
    // a pending and a disabled account, an unknown business id.
    let pending = seed(&app, UserStatus::PendingPassword, false).await;
    let disabled = seed(&app, UserStatus::Disabled, true).await;
    for event in [
        by_email(&ann.email, WRONG),
        by_email(&email(), RIGHT),
        by_email(&pending.email, RIGHT),
        by_email(&disabled.email, RIGHT),
        json!({"bizId": "ACC_USR_FFFFFFFFFFFF", "password": RIGHT}),
    ] {
        let answer = handle(&app, event.clone()).await;
        assert_eq!(answer, json!({"result": "invalid"}), "{event}");
    }

    // locked: {result, lockedUntil} (RFC 3339), even for the right password.
    let (still, clock) = standing_still(&app);
    let bob = seed(&still, UserStatus::Active, true).await;
    for _ in 0..still.config.lockout.threshold {
        let answer = handle(&still, by_email(&bob.email, WRONG)).await;
        assert_eq!(answer, json!({"result": "invalid"}));
    }
    let locked = handle(&still, by_email(&bob.email, RIGHT)).await;
    assert_eq!(keys(&locked), set(&["result", "lockedUntil"]), "{locked}");
    assert_eq!(locked["result"], "locked");
    let until = shared::time_fmt::rfc3339(clock.now_ms() + 1_000);
    assert_eq!(locked["lockedUntil"], until.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_event_answers_400_and_changes_nothing() {
    let (cfg, clients) = deployed("verify-bad").await;
    let app = function_app(&cfg, &clients, Config::default()).await;
    let ann = seed(&app, UserStatus::Active, true).await;
    let before = items(&cfg, &clients).await;
    let bad = [
        // An unknown field.
        json!({"email": ann.email, "password": RIGHT, "role": "admin"}),
        // Both ways of naming the account, or neither.
        json!({"email": ann.email, "bizId": ann.biz_id, "password": RIGHT}),
        json!({"password": RIGHT}),
        json!({"email": ann.email}),
        // Wrong types.
        json!({"email": 7, "password": RIGHT}),
        json!({"email": ann.email, "password": ["a"]}),
        json!({"bizId": 12, "password": RIGHT}),
        json!({"email": ann.email, "password": RIGHT, "clientIp": "not an address"}),
        json!({"email": ann.email, "password": RIGHT, "clientIp": 203}),
        json!({"email": ann.email, "password": RIGHT, "userAgent": {"a": 1}}),
        json!({"email": "not an address", "password": RIGHT}),
        json!({"bizId": "", "password": RIGHT}),
        // Not an object at all.
        json!([ann.email, RIGHT]),
        json!("password"),
        Value::Null,
    ];
    for event in bad {
        let answer = handle(&app, event.clone()).await;
        assert_eq!(keys(&answer), set(&["error"]), "{event}: {answer}");
        let error = &answer["error"];
        assert_eq!(error["status"], 400, "{event}: {answer}");
        assert_eq!(
            error["code"], "VALIDATION.INVALID_PARAMETER",
            "{event}: {answer}"
        );
        assert!(answer.get("result").is_none());
    }
    assert_eq!(
        items(&cfg, &clients).await,
        before,
        "a refused event changed the table"
    );
    // The right event still signs in: nothing was counted against the account.
    let ok = handle(&app, by_email(&ann.email, RIGHT)).await;
    assert_eq!(ok["result"], "ok", "{ok}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_guesses_stop_at_the_threshold_and_the_first_lock_emails_once() {
    let (cfg, clients) = deployed("verify-guesses").await;
    // Every guess from one end-user address: its own limit kept out of the way.
    let mut config = Config::default();
    config.limits.verify_per_ip = Limit {
        max: 1000,
        window_secs: 300,
    };
    let app = function_app(&cfg, &clients, config).await;
    let (still, clock) = standing_still(&app);
    let threshold = u64::from(still.config.lockout.threshold);
    assert_eq!(threshold, 5);
    let ann = seed(&still, UserStatus::Active, true).await;
    let nobody = email();
    for address in [ann.email.as_str(), nobody.as_str()] {
        let before = still.passwords.argon2_evaluations();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..20 {
            let (app, event) = (still.clone(), by_email(address, WRONG));
            tasks.spawn(async move { handle(&app, event).await });
        }
        let mut answers: BTreeMap<String, u64> = BTreeMap::new();
        while let Some(answer) = tasks.join_next().await {
            let answer = answer.unwrap();
            let result = answer["result"]
                .as_str()
                .unwrap_or_else(|| panic!("{answer}"));
            *answers.entry(result.to_owned()).or_default() += 1;
        }
        let evaluations = still.passwords.argon2_evaluations() - before;
        assert!(
            evaluations <= threshold,
            "{address}: {evaluations} Argon2 evaluations for 20 concurrent guesses"
        );
        assert_eq!(
            answers,
            BTreeMap::from([
                ("invalid".into(), threshold),
                ("locked".into(), 20 - threshold)
            ]),
            "{address}"
        );
        assert_eq!(evaluations, threshold, "{address}");
    }
    // The first lock of the account's episode emailed its owner, once; the
    // address nobody owns locked the same way and emailed nobody.
    assert_eq!(locked_mail_to(&still, &ann.email).await, 1);
    assert_eq!(locked_mail_to(&still, &nobody).await, 0);
    let locked: Vec<_> = still
        .accounts
        .pending_outbox()
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.kind == MailKind::Locked)
        .collect();
    assert_eq!(locked.len(), 1, "one lock email in all");

    // After the lock, the right password signs in and starts the count over:
    // the counter is gone, and four more failures neither lock nor email.
    clock.advance_secs(1);
    let ok = handle(&still, by_email(&ann.email, RIGHT)).await;
    assert_eq!(ok["result"], "ok", "{ok}");
    assert!(!counter_stored(&cfg, &clients, &ann.biz_id).await);
    for _ in 1..threshold {
        let answer = handle(&still, by_email(&ann.email, WRONG)).await;
        assert_eq!(answer, json!({"result": "invalid"}));
    }
    assert!(counter_stored(&cfg, &clients, &ann.biz_id).await);
    let ok = handle(&still, by_email(&ann.email, RIGHT)).await;
    assert_eq!(ok["result"], "ok", "{ok}");
    assert_eq!(locked_mail_to(&still, &ann.email).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weaker_hash_is_replaced_on_success_once() {
    let (cfg, clients) = deployed("verify-rehash").await;
    // Hashed under the default settings (t = 2), checked by a stack whose
    // PASSWORD_CONFIG asks for t = 3.
    let weak = function_app(&cfg, &clients, Config::default()).await;
    let stronger_config = Config::from_lookup(|k| {
        (k == "PASSWORD_CONFIG").then(|| r#"{"hashing": {"iterations": 3}}"#.to_owned())
    })
    .unwrap();
    let stronger = function_app(&cfg, &clients, stronger_config).await;
    let carol = seed(&weak, UserStatus::Active, true).await;
    let old = carol.password.clone().unwrap();
    assert!(stronger.passwords.needs_rehash(&old));

    let before = stronger.passwords.argon2_evaluations();
    let ok = handle(&stronger, by_email(&carol.email, RIGHT)).await;
    assert_eq!(
        ok,
        json!({"result": "ok", "bizId": carol.biz_id, "mustChange": false})
    );
    assert_eq!(
        stronger.passwords.argon2_evaluations() - before,
        2,
        "one check, one new hash"
    );
    let stored = stronger
        .accounts
        .user(&carol.biz_id)
        .await
        .unwrap()
        .unwrap();
    let fresh = stored.password.clone().unwrap();
    assert_ne!(fresh.phc(), old.phc());
    assert!(fresh.phc().contains("t=3"), "{}", fresh.phc());
    assert_eq!(
        fresh.pepper_id().map(|p| p.as_str().to_owned()).as_deref(),
        Some("p1")
    );
    assert_eq!(stored.version, carol.version + 1);
    assert_eq!(stored.password_changed_at_ms, carol.password_changed_at_ms);
    assert_eq!(stored.history, carol.history);

    // The next sign-in checks once and writes nothing.
    let before = stronger.passwords.argon2_evaluations();
    let ok = handle(&stronger, by_email(&carol.email, RIGHT)).await;
    assert_eq!(ok["result"], "ok", "{ok}");
    assert_eq!(stronger.passwords.argon2_evaluations() - before, 1);
    let again = stronger
        .accounts
        .user(&carol.biz_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.version, stored.version);
    assert_eq!(again.password, stored.password);
}
