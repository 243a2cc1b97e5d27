//! Account flows over the AWS adapters on the emulator, where the shape of
//! the DynamoDB work is the point: `forgot` makes the same calls for every
//! address, and no limiter key holds an init sid.

use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::types::AttributeValue;
use e2e_tests::*;
use reqwest::header::{HeaderMap, HeaderValue, CONTENT_TYPE};
use serde_json::{json, Value};
use shared::config::Config;
use shared::ports::Limit;

/// Every DynamoDB request an SDK client sends: operation and JSON body.
#[derive(Debug, Default, Clone)]
struct Recorder(Arc<Mutex<Vec<(String, Value)>>>);

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let operation = request
            .headers()
            .get("x-amz-target")
            .unwrap_or_default()
            .to_owned();
        let body = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        self.0.lock().unwrap().push((operation, body));
        Ok(())
    }
}

impl Recorder {
    fn take(&self) -> Vec<(String, Value)> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// A request body with every value replaced by its length: same shape =
/// same operation, same keys, same item count, same sizes.
fn shape(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::from(s.len()),
        Value::Number(n) => Value::from(n.to_string().len()),
        Value::Array(a) => Value::Array(a.iter().map(shape).collect()),
        Value::Object(o) => Value::Object(o.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        other => other.clone(),
    }
}

/// Every string (keys and values) stored in the table, binary ones lossily.
async fn table_strings(
    aws: &aws_adapters::AwsConfig,
    clients: &aws_adapters::AwsClients,
) -> String {
    fn walk(v: &AttributeValue, out: &mut String) {
        match v {
            AttributeValue::S(s) | AttributeValue::N(s) => out.push_str(s),
            AttributeValue::B(b) => out.push_str(&String::from_utf8_lossy(b.as_ref())),
            AttributeValue::L(l) => l.iter().for_each(|v| walk(v, out)),
            AttributeValue::M(m) => m.iter().for_each(|(k, v)| {
                out.push_str(k);
                walk(v, out)
            }),
            _ => {}
        }
        out.push('\n');
    }
    let mut out = String::new();
    let mut start = None;
    loop {
        let page = clients
            .dynamodb
            .scan()
            .table_name(&aws.table_name)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in page.items() {
            item.values().for_each(|v| walk(v, &mut out));
        }
        match page.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => break,
        }
    }
    out
}

fn wide_limits() -> Config {
    let mut config = Config::default();
    // A long period: a bucket once used stays "in use" for the whole test,
    // so its update count (one when idle, two in use) never depends on timing.
    let wide = Limit {
        max: 1000,
        window_secs: 3_000_000,
    };
    config.limits.forgot_per_ip = wide;
    config.limits.forgot_per_email = wide;
    config
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forgot_does_the_same_dynamodb_work_for_unknown_inactive_and_active_addresses() {
    let endpoint = emulator_env()["AWS_ENDPOINT_URL"].clone();
    let (aws, clients) = aws_stack("forgot", &endpoint, EMULATOR_TIMEOUT_MS).await;
    let s = Server::serve(aws_local_with(wide_limits(), &aws, &clients).await).await;
    // Addresses of one length, so that sizes compare.
    let (active, asleep, unknown) = (
        "active@example.com",
        "asleep@example.com",
        "nobody@example.com",
    );
    s.user(active, STRONG).await;
    s.pending_user(asleep, "Asleep User").await;

    // The same app again, its DynamoDB client recording every request. It is
    // called in process, so nothing but the request path is recorded.
    let recorder = Recorder::default();
    let mut recorded = clients.clone();
    recorded.dynamodb = aws_sdk_dynamodb::Client::from_conf(
        clients
            .dynamodb
            .config()
            .to_builder()
            .interceptor(recorder.clone())
            .build(),
    );
    let app = aws_local_with(wide_limits(), &aws, &recorded).await.app;
    let c = s.client("198.51.100.31");
    let session = c.handshake().await.unwrap();
    recorder.take();

    let mut shapes = Vec::new();
    for round in 0..2 {
        for (i, email) in [active, asleep, unknown].into_iter().enumerate() {
            let body = json!({ "email": email }).to_string();
            let (_, envelope) =
                client::Client::seal_request(&session, "POST", FORGOT, body.as_bytes());
            let mut headers: HeaderMap = c.gateway_headers();
            // A fresh client IP each time: a token bucket in use costs one
            // more update than an idle one, and that says nothing of the email.
            let ip = format!("198.51.100.{}", 40 + round * 3 + i);
            headers.insert("cf-connecting-ip", HeaderValue::from_str(&ip).unwrap());
            headers.insert(
                "x-sc-session-id",
                HeaderValue::from_str(&session.id).unwrap(),
            );
            headers.insert("x-sc-version", HeaderValue::from_static("2"));
            headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            let request = shared::http::ApiRequest {
                method: http::Method::POST,
                headers,
                body: envelope.into(),
                fallback_request_id: None,
                source_ip: None,
            };
            let answer = shared::dispatch::by_path(&app, FORGOT, request).await;
            assert_eq!(answer.status(), 200, "{email}");
            let calls = recorder.take();
            let operations: Vec<&str> = calls.iter().map(|(op, _)| op.as_str()).collect();
            // The request path writes the request and reads no account.
            assert_eq!(
                operations
                    .iter()
                    .filter(|op| op.ends_with(".PutItem"))
                    .count(),
                2,
                "{email}: {operations:?}"
            );
            assert!(
                !operations
                    .iter()
                    .any(|op| op.ends_with(".TransactWriteItems") || op.ends_with(".Query")),
                "{email}: {operations:?}"
            );
            shapes.push((
                round,
                email,
                calls
                    .iter()
                    .map(|(op, b)| (op.clone(), shape(b)))
                    .collect::<Vec<_>>(),
            ));
        }
    }
    // Within a round every address costs the same; across rounds the
    // per-email bucket goes from idle to in use alike for all three.
    for (round, email, calls) in &shapes {
        let reference = &shapes.iter().find(|(r, _, _)| r == round).unwrap().2;
        assert_eq!(
            calls, reference,
            "round {round}, {email}: other calls than for {active}"
        );
    }
    // One pending request item per call, whatever the address, none in clear.
    let pending = app.accounts.pending_forgot().await.unwrap();
    assert_eq!(pending.len(), 6);
    let stored = table_strings(&aws, &clients).await;
    assert!(
        !stored.contains(unknown),
        "an address nobody owns is stored in clear"
    );

    // Off the request path, the active account alone gets its links.
    s.local.settle().await;
    assert!(app.accounts.pending_forgot().await.unwrap().is_empty());
    let resets: Vec<Value> = s
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["kind"] == "reset")
        .collect();
    assert_eq!(resets.len(), 2, "one per request for {active}");
    assert!(resets.iter().all(|m| m["to"] == active));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_attempts_leave_no_sid_in_the_table() {
    let endpoint = emulator_env()["AWS_ENDPOINT_URL"].clone();
    let (aws, clients) = aws_stack("initsid", &endpoint, EMULATOR_TIMEOUT_MS).await;
    let s = Server::serve(aws_local(&aws, &clients).await).await;
    let (_, real_sid) = s.pending_user("first@example.com", "First User").await;
    let c = s.client("198.51.100.32");
    let session = c.handshake().await.unwrap();
    let app = App::new(&c, &session);
    let guessed = "guessed-sid-0123456789abcdefghijklmnopqrstuvwxyz";
    for sid in [guessed, real_sid.as_str()] {
        let r = app.init(sid, "short").await;
        assert_eq!(r.status, 400, "{}", r.body);
    }
    s.local.settle().await;
    let stored = table_strings(&aws, &clients).await;
    assert!(stored.contains("init-sid"), "the attempts were counted");
    for sid in [guessed, real_sid.as_str()] {
        assert!(!stored.contains(sid), "a raw init sid is stored");
    }
}

/// The peppers of `aws`, as `pwctl admin keys init` creates them.
async fn with_peppers(
    aws: &aws_adapters::AwsConfig,
    clients: &aws_adapters::AwsClients,
    active: &str,
    verify_only: &[&str],
) -> aws_adapters::AwsConfig {
    let cfg = aws_adapters::AwsConfig {
        pepper_id: Some(active.into()),
        pepper_verify_ids: verify_only.iter().map(|s| (*s).to_owned()).collect(),
        ..aws.clone()
    };
    aws_adapters::admin::init_keys_with(
        &aws_adapters::KmsKeyStore::from_clients(clients, &cfg),
        &cfg,
        None,
        now_secs() * 1000,
    )
    .await
    .unwrap();
    cfg
}

fn pepper_of(user: &shared::ports::accounts::User) -> Option<String> {
    let hash = user.password.as_ref().expect("a password");
    hash.pepper_id().map(|p| p.as_str().to_owned())
}

/// A pepper rotation as docs/deployment.md describes it: p2 active, p1
/// verify-only. A user hashed under p1 changes the password: verified with
/// p1, stored with p2. A stack that dropped p1 answers 500 with the
/// `PepperMissing` metric and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pepper_rotation_verifies_with_the_old_pepper_and_stores_with_the_new() {
    let endpoint = emulator_env()["AWS_ENDPOINT_URL"].clone();
    let (aws, clients) = aws_stack("pepper", &endpoint, EMULATOR_TIMEOUT_MS).await;
    let before = with_peppers(&aws, &clients, "p1", &[]).await;
    let old = Server::serve(aws_local(&before, &clients).await).await;
    let moved = old.user("moved@example.com", STRONG).await;
    let stranded = old.user("stranded@example.com", STRONG).await;
    assert_eq!(
        pepper_of(&old.stored_user(&moved).await).as_deref(),
        Some("p1")
    );

    let rotated = with_peppers(&aws, &clients, "p2", &["p1"]).await;
    let new = Server::serve(aws_local(&rotated, &clients).await).await;
    let c = new.client("198.51.100.61");
    let sess = c.handshake().await.unwrap();
    let t = new.token(&moved).await;
    let r = App::new(&c, &sess).change(&t, STRONG, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        pepper_of(&new.stored_user(&moved).await).as_deref(),
        Some("p2")
    );

    // p1 dropped from the ring: the stranded user's hash cannot be checked.
    let dropped = with_peppers(&aws, &clients, "p2", &[]).await;
    let broken = Server::serve(aws_local(&dropped, &clients).await).await;
    let c = broken.client("198.51.100.62");
    let sess = c.handshake().await.unwrap();
    let version = broken.stored_user(&stranded).await.version;
    let t = broken.token(&stranded).await;
    let r = App::new(&c, &sess).change(&t, STRONG, STRONG_2).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (500, Some("SYSTEM.INTERNAL_ERROR")),
        "{}",
        r.body
    );
    let after = broken.stored_user(&stranded).await;
    assert_eq!(
        (after.version, pepper_of(&after).as_deref()),
        (version, Some("p1"))
    );

    // The moved user's change kept the old password in history under p2, so
    // dropping p1 does not touch them: they change again.
    let moved_user = broken.stored_user(&moved).await;
    let history: Vec<_> = moved_user
        .history
        .iter()
        .map(|h| h.pepper_id().map(|p| p.as_str().to_owned()))
        .collect();
    assert_eq!(history, [Some("p2".to_owned())]);
    // Issued after the first change's second: that change revoked earlier tokens.
    let t = broken.token_at(&moved, now_secs() + 2).await;
    let r = App::new(&c, &sess).change(&t, STRONG_2, STRONG_3).await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The stranded user recovers with a reset, stored under p2.
    let app = App::new(&c, &sess);
    let r = app.forgot("stranded@example.com").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mail = broken.outbox().await;
    let link = mail
        .iter()
        .rev()
        .find(|m| m["kind"] == "reset")
        .expect("a reset email")["link"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.reset(&query(&link, "token"), STRONG_3).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let after = broken.stored_user(&stranded).await;
    assert_eq!(pepper_of(&after).as_deref(), Some("p2"));
}
