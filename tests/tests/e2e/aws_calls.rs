//! AWS calls per request, per route and outcome, on the emulator: every
//! DynamoDB and KMS request the handler makes (recorded by an SDK
//! interceptor, with the capacity DynamoDB reports for it), the work the
//! stream consumer does afterwards (forgot answers, mail delivery) and the
//! emails it sends (one SES SendEmail each in AWS). The counts are pinned:
//! a new round trip on a route is a visible change here and belongs in
//! docs/performance.md.
//!
//! The same recorder notes which partitions each request touches, with the
//! IAM action that allows it: `(dynamodb:<item action>, partition)`, one per
//! item of a `TransactWriteItems`, the partition being the partition key up
//! to its first `#` (`USER#`) or, for a fixed partition, the whole key
//! (`FORGOT#PENDING`). They are pinned per route and outcome, cold start
//! included, in `tests/data/route_touches.json` (a set: no order, no
//! counts), which `template_drift.rs` holds against each function's role.
//!
//! The internal `verify-password` function (sign-in) is recorded the same
//! way, its handler called with the JSON event the identity provider sends
//! (touches under `verify-password`). An unknown address, a wrong password
//! and an account that may not sign in must make the same calls in the same
//! order on the same kinds of items: nothing in the work tells them apart.
//!
//! The verifying Cognito trigger (`cognito-triggers` deployed with
//! `COGNITO_TRIGGER=verify-auth-challenge`) runs the same sign-in by the
//! pool username (the bizId): its touches are recorded under
//! `cognito-triggers`, fed Cognito's event JSON
//! (`shared/aws/tests/data/cognito/`); the other three triggers touch no AWS
//! service.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::body::SdkBody;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use client::SecureSession;
use e2e_tests::*;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use shared::adapters::memory::ManualClock;
use shared::config::{Config, RateLimits};
use shared::ports::accounts::{AccountChange, InitSession, MailKind, ResetToken};
use shared::ports::Limit;
use shared::route::Needs;
use shared::route::Route;

/// `(IAM action, partition)`: `("dynamodb:PutItem", "USER#")`.
type Touch = (String, String);

/// Operation name of every AWS request sent, and the capacity units
/// DynamoDB reported for it (asks DynamoDB to report them); the partitions
/// each DynamoDB request touches; every request in order with its items'
/// partitions (`GetItem EMAIL#`).
#[derive(Debug, Default, Clone)]
struct Recorder {
    calls: Arc<Mutex<Vec<(String, f64)>>>,
    touches: Arc<Mutex<BTreeSet<Touch>>>,
    sequence: Arc<Mutex<Vec<String>>>,
}

/// Partitions of one fixed key, recorded whole: the key names what is
/// granted (`FORGOT#PENDING`, `SECRET#<purpose>`), not a family of items.
fn partition(pk: &str) -> String {
    const FIXED: [&str; 5] = [
        "FORGOT#PENDING",
        "OUTBOX#PENDING",
        "ACCOUNTS#NOOP",
        "KEYRING#scv2",
        "STATS#foreign-hash",
    ];
    if FIXED.contains(&pk) || pk.starts_with("SECRET#") {
        return pk.to_owned();
    }
    match pk.find('#') {
        Some(i) => pk[..=i].to_owned(),
        None => pk.to_owned(),
    }
}

/// The partition key of a `Key` or `Item` map.
fn pk_of(item: &Value) -> Option<&str> {
    item["PK"]["S"].as_str()
}

/// The partition a Query's key condition names (`PK = :pk`, or through an
/// attribute name).
fn query_pk(body: &Value) -> Option<&str> {
    let condition = body["KeyConditionExpression"].as_str()?;
    condition.split(" AND ").find_map(|clause| {
        let (name, value) = clause.split_once('=')?;
        let name = name.trim();
        let name = match name.strip_prefix('#') {
            Some(_) => body["ExpressionAttributeNames"][name].as_str()?,
            None => name,
        };
        (name == "PK").then(|| body["ExpressionAttributeValues"][value.trim()]["S"].as_str())?
    })
}

/// What one DynamoDB request touches, under the IAM actions that allow it:
/// each item of a transaction under its own item action. An operation this
/// does not know is recorded on the whole table (`*`), which no role grants.
fn touches(op: &str, body: &Value) -> Vec<Touch> {
    let touch = |action: &str, pk: Option<&str>| {
        (
            format!("dynamodb:{action}"),
            pk.map_or_else(|| "*".to_owned(), partition),
        )
    };
    match op {
        "GetItem" | "DeleteItem" | "UpdateItem" => vec![touch(op, pk_of(&body["Key"]))],
        "PutItem" => vec![touch(op, pk_of(&body["Item"]))],
        "Query" => vec![touch(op, query_pk(body))],
        "TransactWriteItems" => body["TransactItems"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|item| {
                [
                    ("Put", "PutItem", "Item"),
                    ("Update", "UpdateItem", "Key"),
                    ("Delete", "DeleteItem", "Key"),
                    ("ConditionCheck", "ConditionCheckItem", "Key"),
                ]
                .into_iter()
                .filter(|(kind, _, _)| item[kind].is_object())
                .map(|(kind, action, key)| touch(action, pk_of(&item[kind][key])))
                .collect::<Vec<_>>()
            })
            .collect(),
        other => vec![touch(other, None)],
    }
}

fn operation(target: &str) -> String {
    // "DynamoDB_20120810.GetItem" -> "dynamodb:GetItem", "TrentService.Decrypt" -> "kms:Decrypt"
    let (service, op) = target.split_once('.').unwrap_or(("?", target));
    let service = if service.starts_with("DynamoDB") {
        "dynamodb"
    } else if service == "TrentService" {
        "kms"
    } else {
        service
    };
    format!("{service}:{op}")
}

impl Intercept for Recorder {
    fn name(&self) -> &'static str {
        "Recorder"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request_mut();
        let target = request.headers().get("x-amz-target").unwrap_or_default();
        if !target.starts_with("DynamoDB") {
            self.sequence.lock().unwrap().push(operation(target));
            return Ok(());
        }
        let Some(mut body) = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        else {
            return Ok(());
        };
        let op = target.split_once('.').map_or(target, |(_, op)| op);
        let touched = touches(op, &body);
        let items: Vec<String> = touched
            .iter()
            .map(|(action, partition)| {
                let action = action.trim_start_matches("dynamodb:");
                if action == op {
                    partition.clone()
                } else {
                    format!("{action} {partition}")
                }
            })
            .collect();
        let step = format!("{op} {}", items.join(", "));
        self.sequence.lock().unwrap().push(step);
        self.touches.lock().unwrap().extend(touched);
        body["ReturnConsumedCapacity"] = json!("TOTAL");
        let bytes = serde_json::to_vec(&body)?;
        request
            .headers_mut()
            .insert("content-length", bytes.len().to_string());
        *request.body_mut() = SdkBody::from(bytes);
        Ok(())
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target");
        let op = operation(target.unwrap_or("ses.SendEmail"));
        self.calls.lock().unwrap().push((op, 0.0));
        Ok(())
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let body = context.response().body().bytes();
        let body: Value = body
            .and_then(|b| serde_json::from_slice(b).ok())
            .unwrap_or(Value::Null);
        let units = |c: &Value| c["CapacityUnits"].as_f64().unwrap_or(0.0);
        let consumed = match &body["ConsumedCapacity"] {
            Value::Array(all) => all.iter().map(units).sum(),
            c => units(c),
        };
        if let Some(last) = self.calls.lock().unwrap().last_mut() {
            last.1 = consumed;
        }
        Ok(())
    }
}

impl Recorder {
    /// The calls since the last take: `{operation: [count, units]}`.
    fn take(&self) -> Value {
        let calls = std::mem::take(&mut *self.calls.lock().unwrap());
        let mut out: BTreeMap<String, (u32, f64)> = BTreeMap::new();
        for (op, units) in calls {
            let e = out.entry(op).or_default();
            e.0 += 1;
            e.1 += units;
        }
        out.into_iter()
            .map(|(op, (n, units))| (op, json!([n, units])))
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// The partitions touched since the last take.
    fn take_touches(&self) -> BTreeSet<Touch> {
        std::mem::take(&mut *self.touches.lock().unwrap())
    }

    /// The requests since the last take, in order, with the partitions of
    /// their items: `["UpdateItem RATE#", "GetItem EMAIL#", ...]`.
    fn take_sequence(&self) -> Vec<String> {
        std::mem::take(&mut *self.sequence.lock().unwrap())
    }
}

/// The key `route_touches.json` records the verify-password function under.
const VERIFY_FUNCTION: &str = "verify-password";

/// The key `route_touches.json` records the verifying Cognito trigger under.
const TRIGGERS_FUNCTION: &str = "cognito-triggers";

/// Cognito's VerifyAuthChallengeResponse event for the pool user `user_name`
/// answering `answer` (`user_not_found`: the pool does not know the name).
fn cognito_verify_event(user_name: &str, answer: &str, user_not_found: bool) -> Value {
    let path = root().join("shared/aws/tests/data/cognito/verify-auth-challenge.json");
    let text = std::fs::read_to_string(path).expect("the Cognito verify event");
    let mut event: Value = serde_json::from_str(
        &text
            .replace("{userName}", user_name)
            .replace("{email}", "cognito-calls@example.com"),
    )
    .unwrap();
    event["request"]["challengeAnswer"] = json!(answer);
    event["request"]["userNotFound"] = json!(user_not_found);
    event
}

/// Sends one sealed request straight to the recorded app, in process (no
/// background delivery runs in between): its HTTP status.
async fn dispatch(
    app: &shared::app::App,
    c: &client::Client,
    session: &SecureSession,
    route: &str,
    body: Value,
    token: Option<&str>,
) -> u16 {
    let body = body.to_string();
    let (_, envelope) = client::Client::seal_request(session, "POST", route, body.as_bytes());
    let mut headers: HeaderMap = c.gateway_headers();
    headers.insert(
        "x-sc-session-id",
        HeaderValue::from_str(&session.id).unwrap(),
    );
    headers.insert("x-sc-version", HeaderValue::from_static("2"));
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    if let Some(t) = token {
        let bearer = HeaderValue::from_str(&format!("Bearer {t}")).unwrap();
        headers.insert(AUTHORIZATION, bearer);
    }
    let request = shared::http::ApiRequest {
        method: http::Method::POST,
        headers,
        body: envelope.into(),
        fallback_request_id: None,
        source_ip: None,
    };
    shared::dispatch::by_path(app, route, request)
        .await
        .status()
        .as_u16()
}

/// Each route's partitions touched, per outcome.
type RouteTouches = BTreeMap<String, BTreeMap<String, BTreeSet<Touch>>>;

/// The app under count and what it takes to call it.
struct Counted {
    recorder: Recorder,
    local: local_api::Local,
    client: client::Client,
    session: SecureSession,
    biz: String,
    /// The last round's calls per outcome.
    counts: Mutex<serde_json::Map<String, Value>>,
    touched: Mutex<RouteTouches>,
}

impl Counted {
    /// One request: its status, the calls made while answering it, the
    /// calls of the stream consumer's run that follows, the emails sent;
    /// the partitions the request touched are noted under `outcome`.
    async fn run(&self, outcome: &str, route: &str, body: Value) -> Value {
        // A token from after any earlier change (`iat` has second precision).
        let token = self.local.signer.token(&self.biz, now_secs() + 1).unwrap();
        let token = (route == STATUS || route == CHANGE).then_some(token.as_str());
        self.recorder.take();
        self.recorder.take_touches();
        let sent_before = self.local.mailbox.sent().len();
        let app = &self.local.app;
        let status = dispatch(app, &self.client, &self.session, route, body, token).await;
        let request = self.recorder.take();
        self.touch(route, outcome, self.recorder.take_touches());
        shared::handlers::accounts::deliver_outbox(app)
            .await
            .unwrap();
        let stream = self.recorder.take();
        // The stream consumer is another function, with its own role.
        self.recorder.take_touches();
        let mails = self.local.mailbox.sent().len() - sent_before;
        json!({"status": status, "request": request, "stream": stream, "mails": mails})
    }

    /// [`Counted::run`], its calls kept as `outcome`'s counts.
    async fn measure(&self, outcome: &str, route: &str, body: Value) {
        let got = self.run(outcome, route, body).await;
        self.counts.lock().unwrap().insert(outcome.to_owned(), got);
    }

    fn touch(&self, route: &str, outcome: &str, touches: BTreeSet<Touch>) {
        self.touched
            .lock()
            .unwrap()
            .entry(route.to_owned())
            .or_default()
            .entry(outcome.to_owned())
            .or_default()
            .extend(touches);
    }

    /// A request without a secure session (public-key, create-session),
    /// straight to the recorded app: its status, its touches noted.
    async fn run_plain(&self, outcome: &str, route: Route, body: Option<Value>) -> u16 {
        let mut headers: HeaderMap = self.client.gateway_headers();
        if body.is_some() {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        }
        let request = shared::http::ApiRequest {
            method: route.method(),
            headers,
            body: body.map(|b| b.to_string()).unwrap_or_default().into(),
            fallback_request_id: None,
            source_ip: None,
        };
        self.recorder.take_touches();
        let status = shared::dispatch::by_path(&self.local.app, route.path(), request)
            .await
            .status()
            .as_u16();
        self.touch(route.path(), outcome, self.recorder.take_touches());
        status
    }

    /// One invocation of verify-password's handler on `app` (over the
    /// recorded clients): its answer, the calls it made and the stream
    /// consumer's afterwards, the emails sent; its touches noted under
    /// `outcome`, its requests in order returned beside.
    async fn verify(
        &self,
        app: &shared::app::App,
        outcome: &str,
        event: Value,
    ) -> (Value, Vec<String>) {
        self.recorder.take();
        self.recorder.take_touches();
        self.recorder.take_sequence();
        let sent_before = self.local.mailbox.sent().len();
        let answer = aws_adapters::verify_fn::handle(app, event).await;
        let request = self.recorder.take();
        let sequence = self.recorder.take_sequence();
        self.touch(VERIFY_FUNCTION, outcome, self.recorder.take_touches());
        shared::handlers::accounts::deliver_outbox(&self.local.app)
            .await
            .unwrap();
        let stream = self.recorder.take();
        self.recorder.take_touches();
        self.recorder.take_sequence();
        let mails = self.local.mailbox.sent().len() - sent_before;
        let got = json!({
            "result": answer["result"],
            "request": request,
            "stream": stream,
            "mails": mails,
            "sequence": sequence,
        });
        (got, sequence)
    }

    /// One invocation of the verifying Cognito trigger on `app`: whether it
    /// found the answer right; its touches noted under `outcome`.
    async fn cognito_verify(&self, app: &shared::app::App, outcome: &str, event: Value) -> bool {
        use aws_adapters::cognito_fn::{handle, Trigger};
        self.recorder.take();
        self.recorder.take_touches();
        self.recorder.take_sequence();
        let answer = handle(Trigger::Verify, Some(app), event)
            .await
            .expect("the trigger answers");
        self.recorder.take();
        self.recorder.take_sequence();
        self.touch(TRIGGERS_FUNCTION, outcome, self.recorder.take_touches());
        answer["response"]["answerCorrect"] == json!(true)
    }

    /// [`Counted::verify`], its calls kept as `outcome`'s counts.
    async fn measure_verify(&self, outcome: &str, event: Value) -> Vec<String> {
        let (got, sequence) = self.verify(&self.local.app, outcome, event).await;
        self.counts.lock().unwrap().insert(outcome.to_owned(), got);
        sequence
    }

    /// The newest reset token mailed to `email`.
    fn reset_token(&self, email: &str) -> String {
        let sent = self.local.mailbox.sent();
        let mail = sent
            .iter()
            .rev()
            .find(|m| m.to == email && m.kind == MailKind::Reset);
        query(&mail.unwrap().link, "token")
    }
}

/// The pbkdf2-sha256 entry of the password crate's foreign-hash fixture:
/// (the imported hash, its password).
fn imported_hash() -> (password::PasswordHash, String) {
    let path = root().join("shared/password/tests/data/foreign-hashes.json");
    let entries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let e = entries
        .iter()
        .find(|e| e["format"] == "pbkdf2-sha256")
        .expect("a pbkdf2-sha256 entry");
    let input = password::ForeignHashInput {
        hash: e["hash"].as_str().unwrap(),
        format: None,
        salt: None,
    };
    let hash = password::import_hash(&input, &password::ImportHashOptions::default()).unwrap();
    (hash, e["password"].as_str().unwrap().to_owned())
}

/// Gives `biz_id` an imported (foreign) current hash, as an import run
/// stores it (the count of users on one up by one); returns its password.
async fn plant_imported(app: &shared::app::App, biz_id: &str) -> String {
    let (hash, password) = imported_hash();
    let mut user = app.accounts.user(biz_id).await.unwrap().unwrap();
    let expected = user.version;
    user.password = Some(hash);
    user.version += 1;
    let change = AccountChange {
        user: Some((user, Some(expected))),
        foreign_hash_delta: 1,
        ..AccountChange::default()
    };
    app.accounts
        .apply(change, now_secs() * 1000)
        .await
        .unwrap()
        .unwrap();
    password
}

/// Gives `biz_id` an outstanding init session and reset token, written
/// straight to the store: no request leaves an active user with an init
/// session, or a pending one with a reset token, yet a password set revokes
/// whatever links the user has, and its role must allow that.
async fn plant_links(app: &shared::app::App, biz_id: &str, tag: &str) {
    let expires_at_ms = (now_secs() + 3600) * 1000;
    let change = AccountChange {
        new_init: Some(InitSession {
            sid: format!("planted-init-{tag}"),
            biz_id: biz_id.to_owned(),
            expires_at_ms,
        }),
        new_reset: Some(ResetToken {
            token_sha256: format!("{tag:0>64}"),
            biz_id: biz_id.to_owned(),
            expires_at_ms,
        }),
        ..AccountChange::default()
    };
    app.accounts
        .apply(change, now_secs() * 1000)
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aws_calls_per_route_and_outcome_are_pinned() {
    let endpoint = emulator_env()["AWS_ENDPOINT_URL"].clone();
    let (aws, clients) = aws_stack("calls", &endpoint, EMULATOR_TIMEOUT_MS).await;
    // Long windows: every bucket stays "in use" once touched, so its update
    // count never depends on timing (each case runs once unrecorded first).
    let config = Config {
        limits: RateLimits::all(Limit {
            max: 1000,
            window_secs: 3_000_000,
        }),
        ..Config::default()
    };
    let server = Server::serve(aws_local_with(config.clone(), &aws, &clients).await).await;
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
    recorded.kms = aws_sdk_kms::Client::from_conf(
        clients
            .kms
            .config()
            .to_builder()
            .interceptor(recorder.clone())
            .build(),
    );
    let email = "calls@example.com";
    let biz = server.user(email, STRONG).await;
    let client = server.client("198.51.100.60");
    let session = client.handshake().await.unwrap();
    let n = Counted {
        recorder,
        local: aws_local_with(config.clone(), &aws, &recorded).await,
        client,
        session,
        biz,
        counts: Mutex::default(),
        touched: Mutex::default(),
    };

    let passwords = [
        "amber kestrel harbor 11",
        "cobalt walrus meadow 22",
        STRONG_2,
        STRONG_3,
    ];
    // Round 0 brings every bucket in use; round 1's counts are pinned.
    for round in 0..2 {
        n.measure("status ok", STATUS, json!({})).await;
        let wrong = json!({"currentPassword": "not the password 1", "newPassword": STRONG_3});
        n.measure("change wrong current", CHANGE, wrong).await;
        // The password before: the first one, or the one round 0's reset set.
        let (current, new) = match round {
            0 => (STRONG, passwords[0]),
            _ => (passwords[2], passwords[1]),
        };
        let ok = json!({"currentPassword": current, "newPassword": new});
        n.measure("change ok", CHANGE, ok).await;
        n.measure("forgot known", FORGOT, json!({"email": email}))
            .await;
        let nobody = json!({"email": "nobody-calls@example.com"});
        n.measure("forgot unknown", FORGOT, nobody).await;
        let token = n.reset_token(email);
        let reset = json!({"token": token, "newPassword": passwords[2 + round]});
        n.measure("reset ok", RESET, reset).await;
        let used = json!({"token": token, "newPassword": STRONG});
        n.measure("reset used token", RESET, used).await;
    }

    // Sign-in (verify-password), as the identity provider invokes it: one
    // account that signs in, and three checks that must not be told apart,
    // a wrong password, an address nobody owns and a pending account. Round
    // 0 meets fresh guess counters, round 1 (pinned) counters in use.
    let event = |email: &str, password: &str| {
        json!({
            "email": email,
            "password": password,
            "clientIp": "198.51.100.70",
            "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0",
        })
    };
    let signer = "verify-ok@example.com";
    let signer_biz = server.user(signer, STRONG).await;
    let known = "verify-known@example.com";
    server.user(known, STRONG).await;
    let pending_email = "verify-pending@example.com";
    server.pending_user(pending_email, "Pending").await;
    // The invitation email goes now, not in a measured run.
    shared::handlers::accounts::deliver_outbox(&n.local.app)
        .await
        .unwrap();
    let refused = [
        ("verify wrong password", known, "not the password 9"),
        ("verify unknown email", "verify-nobody@example.com", STRONG),
        ("verify not active", pending_email, STRONG),
    ];
    for round in 0..2 {
        n.measure_verify("verify ok", event(signer, STRONG)).await;
        let mut sequences = Vec::new();
        for (outcome, email, password) in refused {
            let sequence = n.measure_verify(outcome, event(email, password)).await;
            sequences.push((outcome, sequence));
        }
        let (reference, calls) = &sequences[0];
        for (outcome, sequence) in &sequences {
            assert_eq!(
                sequence, calls,
                "round {round}: {outcome} makes other calls than {reference}: the work tells \
                 them apart"
            );
        }
    }
    {
        let counts = n.counts.lock().unwrap();
        assert_eq!(counts["verify ok"]["result"], "ok");
        for (outcome, _, _) in refused {
            assert_eq!(counts[outcome]["result"], "invalid", "{outcome}");
        }
    }
    let got = counts_only(Value::Object(n.counts.lock().unwrap().clone()));

    // Touches only, past the pinned counts: the routes and outcomes above
    // leave out, and each function's cold start.
    let status = |v: Value| v["status"].as_u64().unwrap();
    let pk = n.client.public_key().await.unwrap();
    assert_eq!(n.run_plain("ok", Route::PublicKey, None).await, 200);
    let wrapped = client::wrap_key(&pk.spki_der, &[7u8; 32]).unwrap();
    let body = json!({"keyId": pk.key_id, "encryptedKey": STANDARD.encode(wrapped)});
    let ok = n.run_plain("ok", Route::CreateSession, Some(body)).await;
    assert_eq!(ok, 201);
    let body = json!({"keyId": pk.key_id, "encryptedKey": "AAAA"});
    let bad = n
        .run_plain("bad key", Route::CreateSession, Some(body))
        .await;
    assert_eq!(bad, 400);
    // A password set with links outstanding revokes them in its transaction.
    let fresh = ["saffron heron valley 44", "umber falcon prairie 55"];
    plant_links(&server.local.app, &n.biz, "a1").await;
    let ok = json!({"currentPassword": passwords[3], "newPassword": fresh[0]});
    let r = n.run("change ok revoking links", CHANGE, ok).await;
    assert_eq!(status(r), 200);
    n.run("forgot known", FORGOT, json!({"email": email})).await;
    let token = n.reset_token(email);
    plant_links(&server.local.app, &n.biz, "b2").await;
    let reset = json!({"token": token, "newPassword": fresh[1]});
    let r = n.run("reset ok revoking links", RESET, reset).await;
    assert_eq!(status(r), 200);
    let (pending, sid) = server
        .pending_user("calls-pending@example.com", "Pending")
        .await;
    plant_links(&server.local.app, &pending, "c3").await;
    let init = json!({"sessionId": sid, "password": STRONG});
    let r = n.run("init ok revoking links", INIT, init.clone()).await;
    assert_eq!(status(r), 201);
    let r = n.run("init used session", INIT, init).await;
    assert_eq!(status(r), 400);
    // Sign-in, touches only: by business id, the failure that locks (and
    // its email), a locked account, an unknown address locked (no email),
    // a rehash on success (a stack with stronger Argon2 settings).
    let answer = |v: &(Value, Vec<String>)| v.0["result"].as_str().unwrap_or_default().to_owned();
    let by_id = json!({"bizId": signer_biz, "password": STRONG});
    let r = n.verify(&n.local.app, "verify ok by bizId", by_id).await;
    assert_eq!(answer(&r), "ok");
    // A clock that stands still: the first lock (1 s) outlasts the emulator's turns.
    let mut still = n.local.app.clone();
    still.clock = Arc::new(ManualClock::new(now_secs() * 1000));
    let app = &still;
    for address in ["verify-lock@example.com", "verify-lock-nobody@example.com"] {
        let known = !address.contains("nobody");
        if known {
            server.user(address, STRONG).await;
            shared::handlers::accounts::deliver_outbox(app)
                .await
                .unwrap();
        }
        for _ in 1..config.lockout.threshold {
            let r = n
                .verify(app, "verify wrong password", event(address, "wrong 1"))
                .await;
            assert_eq!(answer(&r), "invalid", "{address}");
        }
        let r = n
            .verify(app, "verify locks", event(address, "wrong 2"))
            .await;
        assert_eq!(answer(&r), "invalid", "{address}");
        assert_eq!(r.0["mails"], u64::from(known), "{address}: the lock email");
        let r = n.verify(app, "verify locked", event(address, STRONG)).await;
        assert_eq!(answer(&r), "locked", "{address}");
    }
    let stronger = Config {
        password: Config::from_lookup(|k| {
            (k == "PASSWORD_CONFIG").then(|| r#"{"hashing":{"iterations":3}}"#.to_owned())
        })
        .unwrap()
        .password,
        ..config.clone()
    };
    let stronger = aws_local_with(stronger, &aws, &recorded).await;
    let weak = "verify-weak@example.com";
    let weak_biz = server.user(weak, STRONG).await;
    let version = server.stored_user(&weak_biz).await.version;
    let r = n
        .verify(&stronger.app, "verify ok rehash", event(weak, STRONG))
        .await;
    assert_eq!(answer(&r), "ok");
    assert!(
        r.1.iter()
            .any(|step| step == "TransactWriteItems PutItem USER#"),
        "a rehash puts the user: {:?}",
        r.1
    );
    assert_eq!(server.stored_user(&weak_biz).await.version, version + 1);
    // An imported hash: upgraded at sign-in, replaced by a change and by a
    // reset, each moving the count of users on one in its transaction.
    let imported = "verify-imported@example.com";
    let imported_biz = server.user(imported, STRONG).await;
    let typed = plant_imported(&server.local.app, &imported_biz).await;
    let r = n
        .verify(
            &n.local.app,
            "verify ok imported upgrade",
            event(imported, &typed),
        )
        .await;
    assert_eq!(answer(&r), "ok");
    assert!(
        r.1.iter()
            .any(|step| step == "TransactWriteItems PutItem USER#, UpdateItem STATS#foreign-hash"),
        "the upgrade counts down in its transaction: {:?}",
        r.1
    );
    let users_on_foreign = || async {
        server
            .local
            .app
            .accounts
            .foreign_hash_users()
            .await
            .unwrap()
    };
    let before = users_on_foreign().await;
    let current = plant_imported(&server.local.app, &n.biz).await;
    let ok = json!({"currentPassword": current, "newPassword": "garnet plover canyon 66"});
    let r = n.run("change ok from an imported hash", CHANGE, ok).await;
    assert_eq!(status(r), 200);
    assert_eq!(users_on_foreign().await, before, "a change counts down");
    plant_imported(&server.local.app, &n.biz).await;
    n.run("forgot known", FORGOT, json!({"email": email})).await;
    let token = n.reset_token(email);
    let reset = json!({"token": token, "newPassword": "russet avocet delta 77"});
    let r = n.run("reset ok from an imported hash", RESET, reset).await;
    assert_eq!(status(r), 200);
    assert_eq!(users_on_foreign().await, before, "a reset counts down");
    // The verifying Cognito trigger, touches only: a right and a wrong
    // answer of a pool user, and a name the pool does not know.
    let pool_user = server.user("verify-cognito@example.com", STRONG).await;
    let app = &n.local.app;
    let cases = [
        ("verify ok", pool_user.as_str(), STRONG, false, true),
        (
            "verify wrong password",
            &pool_user,
            "not the password 8",
            false,
            false,
        ),
        (
            "verify unknown user",
            "verify-cognito-nobody@example.com",
            STRONG,
            true,
            false,
        ),
    ];
    for (outcome, user, answer, not_found, right) in cases {
        let event = cognito_verify_event(user, answer, not_found);
        assert_eq!(
            n.cognito_verify(app, outcome, event).await,
            right,
            "{outcome}"
        );
    }
    for route in Route::ALL {
        n.recorder.take_touches();
        aws_adapters::bootstrap::app_with(route.needs(), config.clone(), &aws, &recorded)
            .await
            .unwrap();
        n.touch(route.path(), "cold start", n.recorder.take_touches());
    }
    n.recorder.take_touches();
    aws_adapters::bootstrap::app_with(Needs::VERIFY_PASSWORD, config.clone(), &aws, &recorded)
        .await
        .unwrap();
    n.touch(VERIFY_FUNCTION, "cold start", n.recorder.take_touches());
    // The verifying trigger's cold start: verify-password's (bootstrap::verifying_app).
    n.recorder.take_touches();
    aws_adapters::bootstrap::app_with(Needs::VERIFY_PASSWORD, config.clone(), &aws, &recorded)
        .await
        .unwrap();
    n.touch(TRIGGERS_FUNCTION, "cold start", n.recorder.take_touches());
    let touched = n.touched.lock().unwrap().clone();

    let pinned_path = root().join("tests/data/aws_calls.json");
    let touches_path = root().join("tests/data/route_touches.json");
    if std::env::var_os("PIN_AWS_CALLS").is_some() {
        let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
        std::fs::write(&pinned_path, text).unwrap();
        let text = serde_json::to_string_pretty(&touched).unwrap() + "\n";
        std::fs::write(&touches_path, text).unwrap();
    }
    let pinned: Value =
        serde_json::from_str(&std::fs::read_to_string(&pinned_path).unwrap()).unwrap();
    assert_eq!(
        got,
        pinned,
        "AWS calls per route changed; if intended, re-pin with PIN_AWS_CALLS=1 and update \
         docs/performance.md:\n{}",
        serde_json::to_string_pretty(&got).unwrap()
    );
    // Compared as sets: the file's order means nothing.
    let pinned: RouteTouches =
        serde_json::from_str(&std::fs::read_to_string(&touches_path).unwrap()).unwrap();
    assert_eq!(
        touched,
        pinned,
        "partitions touched per route changed; if intended, re-pin with PIN_AWS_CALLS=1 \
         (template_drift.rs then holds them against the roles):\n{}",
        serde_json::to_string_pretty(&touched).unwrap()
    );
}

/// `{operation: [count, units]}` to `{operation: count}`: the emulator
/// reports no consumed capacity, so only the counts are pinned (the units
/// per call follow from the item sizes, docs/cost.md).
fn counts_only(got: Value) -> Value {
    let mut got = got;
    for case in got.as_object_mut().unwrap().values_mut() {
        for part in ["request", "stream"] {
            let calls = case[part].as_object_mut().unwrap();
            for v in calls.values_mut() {
                *v = v[0].clone();
            }
        }
    }
    got
}
