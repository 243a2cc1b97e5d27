//! The DynamoDB account store (stored layout) and the send-mail, invite-user
//! and sweep-mail functions over it, against the local AWS emulator.

use std::collections::HashMap;
use std::time::Duration;

use aws_adapters::bootstrap::app_with;
use aws_adapters::testing::*;
use aws_adapters::{mail_fn, sha256_hex};
use aws_adapters::{AwsClients, AwsConfig, KmsKeyStore, SesMailer};
use aws_config::{BehaviorVersion, Region};
use aws_lambda_events::dynamodb::Event;
use aws_sdk_dynamodb::config::Credentials;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use serde_json::{json, Value};
use shared::config::Config;
use shared::ports::accounts::{
    AccountChange, AccountStore, ChangeRejected, ForgotRequest, MailKind, OutboxMessage, ResetToken,
};
use shared::testing::conformance::accounts::{apply, create, email, message, next, token, user};

fn stored(
    out: &aws_sdk_dynamodb::operation::get_item::GetItemOutput,
) -> &HashMap<String, AttributeValue> {
    out.item().expect("item present")
}

#[tokio::test]
async fn dynamo_account_items_follow_the_data_model() {
    let (cfg, clients) = fresh("acctmodel").await;
    let store = dynamo_account_store(&cfg, &clients).await;
    let now = now_ms();
    let ann = user(&email(), now);
    assert_eq!(apply(&store, create(&ann), now).await, Ok(()));
    let get = |pk: String, sk: &'static str| {
        clients
            .dynamodb
            .get_item()
            .table_name(&cfg.table_name)
            .key("PK", AttributeValue::S(pk))
            .key("SK", AttributeValue::S(sk.into()))
            .send()
    };
    let out = get(format!("USER#{}", ann.biz_id), "PROFILE")
        .await
        .unwrap();
    let item = stored(&out);
    assert_eq!(item["version"], AttributeValue::N("1".into()));
    assert_eq!(item["status"], AttributeValue::S("Active".into()));
    let AttributeValue::M(pw) = &item["password"] else {
        panic!("password is a map")
    };
    assert_eq!(pw["pepperId"], AttributeValue::S("p1".into()));
    assert!(matches!(&pw["phc"], AttributeValue::S(p) if p.starts_with("$argon2id$")));
    let out = get(format!("EMAIL#{}", ann.email), "EMAIL").await.unwrap();
    assert_eq!(stored(&out)["bizId"], AttributeValue::S(ann.biz_id.clone()));

    // An update carrying another address is refused: the claim stays, and
    // the address stays taken (see `Planner::plan`).
    let mut moved = next(&ann);
    moved.email = email();
    assert_eq!(
        apply(
            &store,
            AccountChange {
                user: Some((moved.clone(), Some(1))),
                ..Default::default()
            },
            now
        )
        .await,
        Err(ChangeRejected::VersionConflict)
    );
    let out = get(format!("EMAIL#{}", ann.email), "EMAIL").await.unwrap();
    assert_eq!(stored(&out)["bizId"], AttributeValue::S(ann.biz_id.clone()));
    assert!(get(format!("EMAIL#{}", moved.email), "EMAIL")
        .await
        .unwrap()
        .item()
        .is_none());
    let newcomer = user(&ann.email, now);
    assert_eq!(
        apply(&store, create(&newcomer), now).await,
        Err(ChangeRejected::EmailTaken)
    );

    // The outbox item holds only sealed content, with a 7-day TTL.
    let raw = token();
    let m = message(
        MailKind::Reset,
        &ann.email,
        &format!("https://r?token={raw}"),
        now,
    );
    let change = AccountChange {
        new_reset: Some(ResetToken {
            token_sha256: sha256_hex(&raw),
            biz_id: ann.biz_id.clone(),
            expires_at_ms: now + 60_000,
        }),
        outbox: vec![m.clone()],
        ..AccountChange::default()
    };
    assert_eq!(apply(&store, change, now).await, Ok(()));
    let out = get(format!("OUTBOX#{}", m.id), "OUTBOX").await.unwrap();
    let item = stored(&out);
    assert!(!item.contains_key("to") && !item.contains_key("link"));
    assert_eq!(item["kind"], AttributeValue::S("reset".into()));
    assert_eq!(
        item["expiresAt"],
        AttributeValue::N((now + 7 * 24 * 3_600_000).div_ceil(1000).to_string())
    );
    let out = get(format!("RESET#{}", sha256_hex(&raw)), "RESET")
        .await
        .unwrap();
    assert_eq!(stored(&out)["bizId"], AttributeValue::S(ann.biz_id.clone()));
    // Its marker lives in the user's links partition, never beside the profile.
    let partition = |pk: String| {
        let q = clients
            .dynamodb
            .query()
            .table_name(&cfg.table_name)
            .key_condition_expression("PK = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk));
        async move { q.send().await.unwrap().items.unwrap_or_default() }
    };
    let sks = |items: &[HashMap<String, AttributeValue>]| -> Vec<String> {
        items
            .iter()
            .map(|i| match &i["SK"] {
                AttributeValue::S(sk) => sk.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    };
    let profile_only = partition(format!("USER#{}", ann.biz_id)).await;
    assert_eq!(sks(&profile_only), ["PROFILE"]);
    let links = partition(format!("LINKS#{}", ann.biz_id)).await;
    assert_eq!(
        sks(&links),
        [format!("RESET#{:013}#{}", now + 60_000, sha256_hex(&raw))]
    );
    assert_eq!(
        links[0]["type"],
        AttributeValue::S("ResetTokenOfUser".into())
    );

    // A forgot request is one item of one size whatever the address,
    // the address sealed.
    let (short, long) = (
        "a@b.co".to_owned(),
        format!("{}@example.com", "x".repeat(60)),
    );
    for email in [&short, &long] {
        let request = ForgotRequest {
            id: shared::handlers::mail::new_id(),
            email: email.clone(),
            lang: "en".into(),
            requested_at_ms: now,
        };
        store.record_forgot(&request).await.unwrap();
    }
    let requests = partition("FORGOT#PENDING".into()).await;
    assert_eq!(requests.len(), 2);
    let size = |i: &HashMap<String, AttributeValue>| -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> = i
            .iter()
            .map(|(k, v)| {
                let len = match v {
                    AttributeValue::S(s) | AttributeValue::N(s) => s.len(),
                    AttributeValue::B(b) => b.as_ref().len(),
                    other => panic!("{other:?}"),
                };
                (k.clone(), len)
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(size(&requests[0]), size(&requests[1]));
    let mut values = Vec::new();
    requests
        .iter()
        .flat_map(|i| i.values())
        .for_each(|v| collect(v, &mut values));
    for email in [&short, &long] {
        assert!(!values.iter().any(|v| contains(v, email.as_bytes())));
    }
    let sk = sks(&requests)[0].clone();
    let loaded = store.forgot_request(&sk).await.unwrap().expect("pending");
    assert!(loaded.email == short || loaded.email == long);
    // A tampered sealed body fails to open rather than yielding text.
    clients
        .dynamodb
        .update_item()
        .table_name(&cfg.table_name)
        .key("PK", AttributeValue::S(format!("OUTBOX#{}", m.id)))
        .key("SK", AttributeValue::S("OUTBOX".into()))
        .update_expression("SET kind = :k")
        .expression_attribute_values(":k", AttributeValue::S("init".into()))
        .send()
        .await
        .unwrap();
    assert!(store.outbox_message(&m.id).await.is_err());
}

// ------------------------------------------------ send-mail stream

/// DynamoDB JSON of an SDK attribute value, as a stream record carries it.
fn ddb_json(v: &AttributeValue) -> Value {
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => {
            json!({ "B": base64::engine::general_purpose::STANDARD.encode(b.as_ref()) })
        }
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::L(l) => json!({ "L": l.iter().map(ddb_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({
            "M": m.iter().map(|(k, v)| (k.clone(), ddb_json(v))).collect::<serde_json::Map<_, _>>()
        }),
        other => panic!("unexpected attribute {other:?}"),
    }
}

/// A stream record as the table's `KEYS_ONLY` stream carries it: no image.
fn record(seq: &str, name: &str, item: &HashMap<String, AttributeValue>) -> Value {
    json!({
        "eventID": format!("ev-{seq}"),
        "eventName": name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024",
        "dynamodb": {
            "ApproximateCreationDateTime": 1_700_000_000.0,
            "Keys": { "PK": ddb_json(&item["PK"]), "SK": ddb_json(&item["SK"]) },
            "SequenceNumber": seq,
            "SizeBytes": 512,
            "StreamViewType": "KEYS_ONLY"
        }
    })
}

async fn raw_item(
    cfg: &AwsConfig,
    clients: &AwsClients,
    pk: &str,
    sk: &str,
) -> HashMap<String, AttributeValue> {
    clients
        .dynamodb
        .get_item()
        .table_name(&cfg.table_name)
        .key("PK", AttributeValue::S(pk.into()))
        .key("SK", AttributeValue::S(sk.into()))
        .send()
        .await
        .unwrap()
        .item
        .expect("item")
}

/// The emails the emulator's SES accepted for `to` (infra/moto_serial_server.py
/// lists them without the whole state dump of /moto-api/data.json).
async fn sent_to(endpoint: &str, to: &str) -> Vec<Value> {
    let data = http_get(endpoint, "/_emulator/ses/messages").await;
    let body = data.split_once("\r\n\r\n").unwrap().1;
    let json: Value = serde_json::from_str(body).unwrap();
    json.as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|m| m["destinations"]["ToAddresses"][0] == to)
        .collect()
}

fn failures(resp: &aws_lambda_events::streams::DynamoDbEventResponse) -> Vec<String> {
    resp.batch_item_failures
        .iter()
        .filter_map(|f| f.item_identifier.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_mail_stream_sends_each_message_once_and_reports_failures() {
    let emu = emulator();
    let (cfg, clients) = fresh("mailfn").await;
    let store = dynamo_account_store(&cfg, &clients).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let now = now_ms();
    let (to1, to2) = (email(), email());
    let m1 = message(
        MailKind::Reset,
        &to1,
        &format!("https://r?token={}", token()),
        now,
    );
    let m2 = message(
        MailKind::Changed,
        &to2,
        "https://app.example.com/forgot",
        now + 1,
    );
    let change = AccountChange {
        outbox: vec![m1.clone(), m2.clone()],
        ..AccountChange::default()
    };
    assert_eq!(apply(&store, change, now).await, Ok(()));
    let item1 = raw_item(&cfg, &clients, &format!("OUTBOX#{}", m1.id), "OUTBOX").await;
    let item2 = raw_item(&cfg, &clients, &format!("OUTBOX#{}", m2.id), "OUTBOX").await;
    let marker = raw_item(
        &cfg,
        &clients,
        "OUTBOX#PENDING",
        &format!("{now:013}#{}", m1.id),
    )
    .await;
    let mut unknown = item1.clone();
    unknown.insert("PK".into(), AttributeValue::S("OUTBOX#m-unknown".into()));
    let batch: Event = serde_json::from_value(json!({ "Records": [
        record("100", "INSERT", &item1),
        record("101", "INSERT", &marker),
        record("102", "INSERT", &item2),
        record("103", "INSERT", &unknown),
        record("104", "MODIFY", &item1),
    ]}))
    .unwrap();

    let resp = mail_fn::handle(&store, &mailer, &Config::default(), batch.clone()).await;
    assert_eq!(failures(&resp), vec!["103".to_owned()]);
    let sent = sent_to(&emu.endpoint, &to1).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["subject"], "Your link");
    assert_eq!(sent_to(&emu.endpoint, &to2).await.len(), 1);
    assert!(store
        .outbox_message(&m1.id)
        .await
        .unwrap()
        .unwrap()
        .delivered_at_ms
        .is_some());
    let pending = store.pending_outbox().await.unwrap();
    assert!(pending.is_empty(), "{pending:?}");

    // The same batch retried sends nothing new.
    let resp = mail_fn::handle(&store, &mailer, &Config::default(), batch).await;
    assert_eq!(failures(&resp), vec!["103".to_owned()]);
    assert_eq!(sent_to(&emu.endpoint, &to1).await.len(), 1);
    assert_eq!(sent_to(&emu.endpoint, &to2).await.len(), 1);

    // An SES failure is reported and releases the claim; the retry sends once.
    let to3 = email();
    let m3 = message(
        MailKind::Init,
        &to3,
        &format!("https://i?sid={}", token()),
        now,
    );
    let change = AccountChange {
        outbox: vec![m3.clone()],
        ..AccountChange::default()
    };
    assert_eq!(apply(&store, change, now).await, Ok(()));
    let item3 = raw_item(&cfg, &clients, &format!("OUTBOX#{}", m3.id), "OUTBOX").await;
    let batch: Event =
        serde_json::from_value(json!({ "Records": [record("200", "INSERT", &item3)] })).unwrap();
    let broken = SesMailer::new(clients.ses.clone(), "nobody@unverified.test");
    let resp = mail_fn::handle(&store, &broken, &Config::default(), batch.clone()).await;
    assert_eq!(failures(&resp), vec!["200".to_owned()]);
    assert!(sent_to(&emu.endpoint, &to3).await.is_empty());
    assert!(store
        .outbox_message(&m3.id)
        .await
        .unwrap()
        .unwrap()
        .delivered_at_ms
        .is_none());
    assert_eq!(store.pending_outbox().await.unwrap().len(), 1);
    let resp = mail_fn::handle(&store, &mailer, &Config::default(), batch.clone()).await;
    assert!(failures(&resp).is_empty());
    let resp = mail_fn::handle(&store, &mailer, &Config::default(), batch).await;
    assert!(failures(&resp).is_empty());
    assert_eq!(sent_to(&emu.endpoint, &to3).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_mail_answers_each_forgot_request_once() {
    let (cfg, clients) = fresh("forgotfn").await;
    let store = dynamo_account_store(&cfg, &clients).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let config = Config::default();
    let now = now_ms();
    let ann = user(&email(), now);
    assert_eq!(apply(&store, create(&ann), now).await, Ok(()));
    let mut records = Vec::new();
    for (seq, to) in [("300", ann.email.clone()), ("301", email())] {
        let request = ForgotRequest {
            id: shared::handlers::mail::new_id(),
            email: to,
            lang: "en".into(),
            requested_at_ms: now,
        };
        store.record_forgot(&request).await.unwrap();
        let sk = format!("{now:013}#{}", request.id);
        let item = raw_item(&cfg, &clients, "FORGOT#PENDING", &sk).await;
        records.push(record(seq, "INSERT", &item));
    }
    let batch: Event = serde_json::from_value(json!({ "Records": records })).unwrap();
    let resp = mail_fn::handle(&store, &mailer, &config, batch.clone()).await;
    assert!(failures(&resp).is_empty());
    // The active account got one reset message (sent when its own record
    // comes through); the unknown address nothing; both requests are gone.
    let pending = store.pending_outbox().await.unwrap();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(
        (pending[0].kind, pending[0].to.as_str()),
        (MailKind::Reset, ann.email.as_str())
    );
    let raw = pending[0].link.split("token=").nth(1).unwrap().to_owned();
    let token = store.reset_token(&sha256_hex(&raw), now).await.unwrap();
    assert_eq!(token.unwrap().biz_id, ann.biz_id);
    assert!(store.pending_forgot().await.unwrap().is_empty());
    // The same batch again answers nothing twice.
    let resp = mail_fn::handle(&store, &mailer, &config, batch).await;
    assert!(failures(&resp).is_empty());
    assert_eq!(store.pending_outbox().await.unwrap().len(), 1);
}

// ------------------------------------------------ bootstrap + invite

/// A fresh table with one SCv2 key, and the app every deployed function builds over it.
async fn aws_app(tag: &str) -> (AwsConfig, AwsClients, KmsKeyStore, shared::App) {
    let (cfg, clients) = fresh(tag).await;
    let keys = KmsKeyStore::from_clients(&clients, &cfg);
    keys.rotate(
        "k1",
        Duration::from_secs(3600),
        Duration::from_secs(60),
        now_ms(),
    )
    .await
    .unwrap();
    let app = app_with(
        shared::route::Needs::INVITE_USER,
        shared::config::Config::default(),
        &cfg,
        &clients,
    )
    .await
    .unwrap();
    (cfg, clients, keys, app)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_function_over_the_aws_app() {
    let emu = emulator();
    let (cfg, clients, keys, app) = aws_app("invite").await;
    // invite-user holds no SCv2 key.
    assert!(app.keys.loaded().keys().is_empty());
    let to = email();
    let out = aws_adapters::invite_fn::handle(
        &app,
        json!({ "email": to, "name": "Ann", "locale": "ja" }),
    )
    .await
    .unwrap();
    assert_eq!(out["email"], to.as_str(), "{out}");
    assert_eq!(out["status"], "PendingPassword");
    let biz_id = out["bizId"].as_str().expect("bizId").to_owned();
    let user = app.accounts.user(&biz_id).await.unwrap().unwrap();
    assert_eq!(user.locale.as_deref(), Some("ja"));

    let dup = aws_adapters::invite_fn::handle(&app, json!({ "email": to, "name": "Bob" }))
        .await
        .unwrap();
    assert_eq!(dup["error"]["code"], "CONFLICT.CONCURRENT_UPDATE");
    let bad = aws_adapters::invite_fn::handle(
        &app,
        json!({ "email": email(), "name": "Eve", "role": "admin" }),
    )
    .await
    .unwrap();
    assert_eq!(bad["error"]["code"], "VALIDATION.INVALID_PARAMETER");
    assert!(bad.get("bizId").is_none());

    // The init email waits in the outbox and is delivered by send-mail.
    let pending = app.accounts.pending_outbox().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].to, to);
    let store = aws_adapters::bootstrap::account_store(&cfg, &clients, &keys)
        .await
        .unwrap();
    let item = raw_item(
        &cfg,
        &clients,
        &format!("OUTBOX#{}", pending[0].id),
        "OUTBOX",
    )
    .await;
    let batch: Event =
        serde_json::from_value(json!({ "Records": [record("1", "INSERT", &item)] })).unwrap();
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    assert!(
        failures(&mail_fn::handle(&store, &mailer, &Config::default(), batch).await).is_empty()
    );
    let sent = sent_to(&emu.endpoint, &to).await;
    assert_eq!(sent.len(), 1);
    assert!(app.accounts.pending_outbox().await.unwrap().is_empty());
}

// ------------------------------------------------ sweep-mail

/// Outbox messages stored as a change would store them, left pending.
async fn enqueue(store: &dyn AccountStore, outbox: Vec<OutboxMessage>, now: u64) {
    let change = AccountChange {
        outbox,
        ..AccountChange::default()
    };
    assert_eq!(apply(store, change, now).await, Ok(()));
}

async fn dead_letter_queue(cfg: &AwsConfig) -> (aws_sdk_sqs::Client, String) {
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(&emulator().endpoint);
    let sqs = aws_sdk_sqs::Client::new(&AwsClients::sdk_config_with(cfg, loader).await);
    let url = sqs
        .create_queue()
        .queue_name(unique("mail-dlq"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    (sqs, url)
}

/// What the stream's OnFailure destination leaves: a pointer, not the message.
async fn dead_letter(sqs: &aws_sdk_sqs::Client, url: &str, seq: &str) {
    let body = json!({"DDBStreamBatchInfo": {"shardId": "shardId-1",
        "startSequenceNumber": seq, "endSequenceNumber": seq, "batchSize": 1}});
    sqs.send_message()
        .queue_url(url)
        .message_body(body.to_string())
        .send()
        .await
        .unwrap();
}

/// Dead letters still in the queue, visible or hidden by a reader.
async fn queued(sqs: &aws_sdk_sqs::Client, url: &str) -> u64 {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes.unwrap_or_default();
    [
        A::ApproximateNumberOfMessages,
        A::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .map(|a| attrs.get(a).map_or(0, |v| v.parse::<u64>().unwrap()))
    .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_sends_each_pending_message_once_and_drains_dead_letters() {
    use aws_adapters::sweep::{sweep, DeadLetters, SweepReport};
    let emu = emulator();
    let (cfg, clients) = fresh("sweep").await;
    let store = dynamo_account_store(&cfg, &clients).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let (sqs, url) = dead_letter_queue(&cfg).await;
    let dead_letters = DeadLetters::new(sqs.clone(), &url);
    let config = Config::default();
    let now = now_ms();

    // A forgot request whose stream record ended among the dead letters:
    // the sweep answers it, and its reset email goes out in the same run.
    let ann = user(&email(), now);
    assert_eq!(apply(&store, create(&ann), now).await, Ok(()));
    store
        .record_forgot(&ForgotRequest {
            id: shared::handlers::mail::new_id(),
            email: ann.email.clone(),
            lang: "en".into(),
            requested_at_ms: now,
        })
        .await
        .unwrap();

    // Two messages the stream never delivered, one it did.
    let (to1, to2, to3) = (email(), email(), email());
    let m1 = message(
        MailKind::Reset,
        &to1,
        &format!("https://r#token={}", token()),
        now,
    );
    let m2 = message(
        MailKind::Changed,
        &to2,
        "https://app.example.com/forgot",
        now + 1,
    );
    let m3 = message(
        MailKind::Init,
        &to3,
        &format!("https://i#sid={}", token()),
        now + 2,
    );
    enqueue(&store, vec![m1.clone(), m2.clone(), m3.clone()], now).await;
    assert_eq!(
        mail_fn::deliver_message(&store, &mailer, &m3.id)
            .await
            .unwrap(),
        mail_fn::Delivery::Sent
    );
    dead_letter(&sqs, &url, "100").await;
    dead_letter(&sqs, &url, "101").await;

    // Two runs at once: each message goes out once, the dead letters once.
    let (a, b) = tokio::join!(
        sweep(&store, &mailer, &config, &dead_letters),
        sweep(&store, &mailer, &config, &dead_letters)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.forgot_answered + b.forgot_answered, 1, "{a:?} {b:?}");
    assert!(store.pending_forgot().await.unwrap().is_empty());
    let reset_mail = sent_to(&emu.endpoint, &ann.email).await;
    assert_eq!(
        reset_mail.len(),
        1,
        "one reset email for the answered request"
    );
    assert_eq!(a.sent + b.sent, 3, "{a:?} {b:?}");
    assert_eq!(a.failed + b.failed, 0, "{a:?} {b:?}");
    assert_eq!(a.dead_letters_read + b.dead_letters_read, 2, "{a:?} {b:?}");
    assert_eq!(
        a.dead_letters_deleted + b.dead_letters_deleted,
        2,
        "{a:?} {b:?}"
    );
    assert_eq!(sent_to(&emu.endpoint, &to1).await.len(), 1);
    assert_eq!(sent_to(&emu.endpoint, &to2).await.len(), 1);
    assert_eq!(sent_to(&emu.endpoint, &to3).await.len(), 1);
    assert!(store.pending_outbox().await.unwrap().is_empty());
    assert_eq!(queued(&sqs, &url).await, 0);

    // A run with nothing to do does nothing.
    let idle = sweep(&store, &mailer, &config, &dead_letters)
        .await
        .unwrap();
    assert_eq!(idle, SweepReport::default());
    assert_eq!(sent_to(&emu.endpoint, &to1).await.len(), 1);

    // SES refuses: the message stays pending and the dead letter stays
    // queued; the next run sends it once.
    let to4 = email();
    let m4 = message(
        MailKind::Reset,
        &to4,
        &format!("https://r#token={}", token()),
        now,
    );
    enqueue(&store, vec![m4.clone()], now).await;
    dead_letter(&sqs, &url, "200").await;
    let broken = SesMailer::new(clients.ses.clone(), "nobody@unverified.test");
    let failed = sweep(&store, &broken, &config, &dead_letters)
        .await
        .unwrap();
    assert_eq!(
        failed,
        SweepReport {
            dead_letters_read: 1,
            failed: 1,
            ..SweepReport::default()
        }
    );
    assert!(sent_to(&emu.endpoint, &to4).await.is_empty());
    assert_eq!(
        queued(&sqs, &url).await,
        1,
        "a dead letter is kept while mail fails"
    );
    assert_eq!(store.pending_outbox().await.unwrap().len(), 1);
    let retried = sweep(&store, &mailer, &config, &dead_letters)
        .await
        .unwrap();
    assert_eq!(retried.sent, 1, "{retried:?}");
    assert_eq!(sent_to(&emu.endpoint, &to4).await.len(), 1);
    assert!(store.pending_outbox().await.unwrap().is_empty());
}

/// What a sweep runs over: a fresh table's store, the SES mailer and a
/// dead-letter queue of its own.
struct SweepStack {
    store: aws_adapters::DynamoAccountStore,
    mailer: SesMailer,
    sqs: aws_sdk_sqs::Client,
    url: String,
    dead_letters: aws_adapters::sweep::DeadLetters,
}

async fn sweep_stack(tag: &str) -> SweepStack {
    let (cfg, clients) = fresh(tag).await;
    let store = dynamo_account_store(&cfg, &clients).await;
    let mailer = SesMailer::new(clients.ses.clone(), &cfg.ses_from_address);
    let (sqs, url) = dead_letter_queue(&cfg).await;
    let dead_letters = aws_adapters::sweep::DeadLetters::new(sqs.clone(), &url);
    SweepStack {
        store,
        mailer,
        sqs,
        url,
        dead_letters,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sweep_run_does_bounded_work_oldest_first() {
    use aws_adapters::sweep::{sweep_within, SweepLimits};
    let emu = emulator();
    let SweepStack {
        store,
        mailer,
        sqs,
        url,
        dead_letters,
    } = sweep_stack("sweepcap").await;
    let config = Config::default();
    let now = now_ms();
    let limits = SweepLimits {
        forgot_requests: 2,
        messages: 2,
    };

    // Three forgot requests (addresses of nobody: answered with no email)
    // and five messages, written newest first.
    let requests: Vec<ForgotRequest> = (0..3)
        .map(|i| ForgotRequest {
            id: shared::handlers::mail::new_id(),
            email: email(),
            lang: "en".into(),
            requested_at_ms: now + i,
        })
        .collect();
    for r in requests.iter().rev() {
        store.record_forgot(r).await.unwrap();
    }
    let to: Vec<String> = (0..5).map(|_| email()).collect();
    let messages: Vec<OutboxMessage> = to
        .iter()
        .enumerate()
        .map(|(i, to)| {
            message(
                MailKind::Changed,
                to,
                "https://app.example.com/forgot",
                now + i as u64,
            )
        })
        .collect();
    for m in messages.iter().rev() {
        enqueue(&store, vec![m.clone()], now).await;
    }
    dead_letter(&sqs, &url, "300").await;
    let pending_ids = || async {
        store
            .pending_forgot()
            .await
            .unwrap()
            .into_iter()
            .map(|f| f.id)
            .collect::<Vec<_>>()
    };
    let sent = |to: &str| {
        let (endpoint, to) = (emu.endpoint.clone(), to.to_owned());
        async move { sent_to(&endpoint, &to).await.len() }
    };

    // First run: the two oldest of each, the rest left; the dead letter kept.
    let first = sweep_within(&store, &mailer, &config, &dead_letters, limits)
        .await
        .unwrap();
    assert_eq!(first.forgot_answered, 2, "{first:?}");
    assert_eq!(first.sent, 2, "{first:?}");
    assert!(first.left_for_next_run, "{first:?}");
    assert_eq!(first.dead_letters_deleted, 0, "{first:?}");
    assert_eq!(pending_ids().await, vec![requests[2].id.clone()]);
    assert_eq!(
        (sent(&to[0]).await, sent(&to[1]).await, sent(&to[2]).await),
        (1, 1, 0),
        "oldest first"
    );
    assert_eq!(store.pending_outbox().await.unwrap().len(), 3);

    // Second run: the last request, two more messages.
    let second = sweep_within(&store, &mailer, &config, &dead_letters, limits)
        .await
        .unwrap();
    assert_eq!((second.forgot_answered, second.sent), (1, 2), "{second:?}");
    assert!(pending_ids().await.is_empty());
    assert_eq!(
        (sent(&to[2]).await, sent(&to[3]).await, sent(&to[4]).await),
        (1, 1, 0)
    );

    // Third run: the last message; nothing is left.
    let third = sweep_within(&store, &mailer, &config, &dead_letters, limits)
        .await
        .unwrap();
    assert_eq!((third.forgot_answered, third.sent), (0, 1), "{third:?}");
    assert!(!third.left_for_next_run, "{third:?}");
    assert!(store.pending_outbox().await.unwrap().is_empty());
    for to in &to {
        assert_eq!(sent(to).await, 1);
    }
    // The dead letter read by the first run was kept (hidden until its
    // visibility timeout): the run that reads it next deletes it.
    assert_eq!(queued(&sqs, &url).await, 1);
}

/// Markers that outlived their message (claimed long ago: sent, or lost by a
/// sender that stopped) and forgot requests past their expiry that TTL has
/// not removed yet never take the place of pending work in a bounded run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_markers_and_expired_requests_never_block_the_sweep() {
    use aws_adapters::sweep::{sweep_within, SweepLimits};
    let emu = emulator();
    let SweepStack {
        store,
        mailer,
        dead_letters,
        ..
    } = sweep_stack("sweepstale").await;
    let config = Config::default();
    let now = now_ms();
    let limits = SweepLimits {
        forgot_requests: 1,
        messages: 2,
    };
    // Two expired forgot requests, then a live one.
    for age_h in [30, 25] {
        let expired = ForgotRequest {
            id: shared::handlers::mail::new_id(),
            email: email(),
            lang: "en".into(),
            requested_at_ms: now - age_h * 3_600_000,
        };
        store.record_forgot(&expired).await.unwrap();
    }
    let live = ForgotRequest {
        id: shared::handlers::mail::new_id(),
        email: email(),
        lang: "en".into(),
        requested_at_ms: now,
    };
    store.record_forgot(&live).await.unwrap();
    // Three messages claimed an hour ago and never finished, then a pending one.
    let to: Vec<String> = (0..4).map(|_| email()).collect();
    for (i, to) in to.iter().enumerate() {
        let m = message(
            MailKind::Changed,
            to,
            "https://app.example.com/forgot",
            now - 10 + i as u64,
        );
        enqueue(&store, vec![m.clone()], now).await;
        if i < 3 {
            assert!(store.claim(&m.id, now - 3_600_000).await.unwrap().is_some());
        }
    }
    let first = sweep_within(&store, &mailer, &config, &dead_letters, limits)
        .await
        .unwrap();
    assert_eq!(
        first.forgot_answered, 1,
        "the live request first: {first:?}"
    );
    let second = sweep_within(&store, &mailer, &config, &dead_letters, limits)
        .await
        .unwrap();
    assert_eq!(first.sent + second.sent, 1, "{first:?} {second:?}");
    assert_eq!(sent_to(&emu.endpoint, &to[3]).await.len(), 1);
    assert_eq!(
        sent_to(&emu.endpoint, &to[0]).await.len(),
        0,
        "a lost claim is never resent"
    );
    assert!(store.pending_outbox().await.unwrap().is_empty());
}

// ------------------------------------------------ first user (docs/deployment.md)

/// The `## First user` section of the deployment guide: the invitation
/// event of its heredoc and the command that sends it.
fn documented_first_user() -> (Value, String) {
    let doc = std::fs::read_to_string(root().join("docs/deployment.md")).unwrap();
    let section = doc
        .split("\n## ")
        .find(|s| s.starts_with("First user\n"))
        .expect("docs/deployment.md has a `## First user` section");
    let (_, rest) = section
        .split_once("cat > first-user.json <<'EOF'\n")
        .expect("the event is written to first-user.json by a heredoc");
    let (event, command) = rest.split_once("\nEOF\n").expect("heredoc end");
    (serde_json::from_str(event).unwrap(), command.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_user_event_of_the_deployment_guide() {
    let (event, command) = documented_first_user();
    assert!(
        command.contains("aws lambda invoke")
            && command.contains("--payload fileb://first-user.json")
            && command.contains("InviteUserFunctionArn"),
        "the guide invokes invite-user with the file it wrote: {command}"
    );
    let (_, _, _, app) = aws_app("first-user").await;
    let out = aws_adapters::invite_fn::handle(&app, event.clone())
        .await
        .unwrap();
    assert_eq!(out["email"], event["email"], "{out}");
    assert_eq!(out["status"], "PendingPassword", "{out}");
    let biz_id = out["bizId"].as_str().expect("bizId");
    let user = app.accounts.user(biz_id).await.unwrap().unwrap();
    assert_eq!(user.name, event["name"].as_str().unwrap());
    assert_eq!(user.locale.as_deref(), event["locale"].as_str());
    assert!(user.password.is_none());
    let pending = app.accounts.pending_outbox().await.unwrap();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].kind, MailKind::Init);
    assert_eq!(pending[0].to, event["email"].as_str().unwrap());
    assert!(
        pending[0].link.starts_with(&app.config.links.init_url),
        "{}",
        pending[0].link
    );
}

// ------------------------------------------------ admin-users

/// The `admin-users` function over the app it builds at a cold start: each
/// action by its name, refusals as `{"error": ...}` with nothing changed,
/// and the address free again after `delete`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_users_function_over_the_aws_app() {
    use aws_adapters::admin_users_fn::handle;
    let (cfg, clients) = fresh("admin-users").await;
    let app = app_with(
        shared::route::Needs::ADMIN_USERS,
        Config::default(),
        &cfg,
        &clients,
    )
    .await
    .unwrap();
    let to = email();
    let invited = aws_adapters::invite_fn::handle(&app, json!({ "email": to, "name": "Ann" }))
        .await
        .unwrap();
    let biz_id = invited["bizId"].as_str().unwrap().to_owned();
    let sid_of = |m: &OutboxMessage| m.link.split_once("sid=").unwrap().1.to_owned();
    let first = sid_of(&app.accounts.pending_outbox().await.unwrap()[0]);
    let call = |action: &str, user: &str| {
        handle(
            &app,
            json!({ "action": action, "user": user, "principal": "arn:aws:iam::1:user/op" }),
        )
    };

    let shown = call("show", &to).await.unwrap();
    assert_eq!(shown["user"]["bizId"], biz_id.as_str(), "{shown}");
    assert_eq!(shown["user"]["status"], "PendingPassword");

    // Today's answer to a lost invitation: a new link, the old one dead.
    let resent = call("resend-invite", &biz_id).await.unwrap();
    assert_eq!(resent["changed"], true, "{resent}");
    let now = now_ms();
    assert!(app
        .accounts
        .init_session(&first, now)
        .await
        .unwrap()
        .is_none());
    let pending = app.accounts.pending_outbox().await.unwrap();
    let second = pending.iter().map(sid_of).find(|s| *s != first).unwrap();
    assert!(app
        .accounts
        .init_session(&second, now)
        .await
        .unwrap()
        .is_some());

    for (action, status) in [
        ("lock", "Locked"),
        ("unlock", "PendingPassword"),
        ("disable", "Disabled"),
        ("enable", "PendingPassword"),
    ] {
        let out = call(action, &biz_id).await.unwrap();
        assert_eq!(out["user"]["status"], status, "{action}: {out}");
    }
    let version = app.accounts.user(&biz_id).await.unwrap().unwrap().version;
    // Refusals: a status that forbids the action, an unknown action, user
    // or field; nothing is written.
    let refused = [
        (call("require-change", &biz_id).await, 400, "status"),
        (call("send-reset", &biz_id).await, 400, "status"),
        (call("promote", &biz_id).await, 400, "action"),
        (call("lock", "USER#x").await, 400, "user"),
        (call("lock", &email()).await, 404, ""),
    ];
    for (out, status, field) in refused {
        let out = out.unwrap();
        assert_eq!(out["error"]["status"], status, "{out}");
        if !field.is_empty() {
            assert_eq!(out["error"]["details"][0]["field"], field, "{out}");
        }
    }
    let extra = handle(
        &app,
        json!({ "action": "lock", "user": biz_id, "role": "x" }),
    )
    .await
    .unwrap();
    assert_eq!(extra["error"]["code"], "VALIDATION.INVALID_PARAMETER");
    // Without a principal the event names the unnamed invoker; it still acts.
    let unnamed = handle(&app, json!({ "action": "show", "user": biz_id }))
        .await
        .unwrap();
    assert_eq!(unnamed["user"]["version"], version);
    assert_eq!(
        app.accounts.user(&biz_id).await.unwrap().unwrap().version,
        version
    );

    let deleted = call("delete", &to).await.unwrap();
    assert_eq!(deleted["erased"]["links"], 1, "{deleted}");
    assert!(app.accounts.user(&biz_id).await.unwrap().is_none());
    assert_eq!(call("show", &to).await.unwrap()["error"]["status"], 404);
    let again = aws_adapters::invite_fn::handle(&app, json!({ "email": to, "name": "Ann" }))
        .await
        .unwrap();
    assert_ne!(again["bizId"], biz_id.as_str(), "{again}");
}
