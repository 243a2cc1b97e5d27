//! AWS calls per request, per route and outcome, on the emulator: every
//! DynamoDB and KMS request the handler makes (recorded by an SDK
//! interceptor, with the capacity DynamoDB reports for it), the work the
//! stream consumer does afterwards (forgot answers, mail delivery) and the
//! emails it sends (one SES SendEmail each in AWS). The counts are pinned:
//! a new round trip on a route is a visible change here and belongs in
//! docs/performance.md.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_smithy_types::body::SdkBody;
use client::SecureSession;
use e2e_tests::*;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde_json::{json, Value};
use shared::config::{Config, RateLimits};
use shared::ports::accounts::MailKind;
use shared::ports::Limit;

/// Operation name of every AWS request sent, and the capacity units
/// DynamoDB reported for it; asks DynamoDB to report them.
#[derive(Debug, Default, Clone)]
struct Recorder(Arc<Mutex<Vec<(String, f64)>>>);

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
            return Ok(());
        }
        let Some(mut body) = request
            .body()
            .bytes()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok())
        else {
            return Ok(());
        };
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
        self.0.lock().unwrap().push((op, 0.0));
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
        if let Some(last) = self.0.lock().unwrap().last_mut() {
            last.1 = consumed;
        }
        Ok(())
    }
}

impl Recorder {
    /// The calls since the last take: `{operation: [count, units]}`.
    fn take(&self) -> Value {
        let calls = std::mem::take(&mut *self.0.lock().unwrap());
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
    shared::routes::dispatch(app, route, request)
        .await
        .status()
        .as_u16()
}

/// The app under count and what it takes to call it.
struct Counted {
    recorder: Recorder,
    local: local_api::Local,
    client: client::Client,
    session: SecureSession,
    biz: String,
}

impl Counted {
    /// One request: its status, the calls made while answering it, the
    /// calls of the stream consumer's run that follows, the emails sent.
    async fn measure(&self, route: &str, body: Value) -> Value {
        // A token from after any earlier change (`iat` has second precision).
        let token = self.local.signer.token(&self.biz, now_secs() + 1).unwrap();
        let token = (route == STATUS || route == CHANGE).then_some(token.as_str());
        self.recorder.take();
        let sent_before = self.local.mailbox.sent().len();
        let app = &self.local.app;
        let status = dispatch(app, &self.client, &self.session, route, body, token).await;
        let request = self.recorder.take();
        shared::handlers::accounts::deliver_outbox(app)
            .await
            .unwrap();
        let stream = self.recorder.take();
        let mails = self.local.mailbox.sent().len() - sent_before;
        json!({"status": status, "request": request, "stream": stream, "mails": mails})
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
        local: aws_local_with(config, &aws, &recorded).await,
        client,
        session,
        biz,
    };

    let mut got = serde_json::Map::new();
    let passwords = [
        "amber kestrel harbor 11",
        "cobalt walrus meadow 22",
        STRONG_2,
        STRONG_3,
    ];
    for round in 0..2 {
        // Round 0 brings every bucket in use; round 1 is pinned.
        let mut case = |name: &str, v: Value| {
            if round == 1 {
                got.insert(name.to_owned(), v);
            }
        };
        case("status ok", n.measure(STATUS, json!({})).await);
        let wrong = json!({"currentPassword": "not the password 1", "newPassword": STRONG_3});
        case("change wrong current", n.measure(CHANGE, wrong).await);
        // The password before: the first one, or the one round 0's reset set.
        let (current, new) = match round {
            0 => (STRONG, passwords[0]),
            _ => (passwords[2], passwords[1]),
        };
        let ok = json!({"currentPassword": current, "newPassword": new});
        case("change ok", n.measure(CHANGE, ok).await);
        case(
            "forgot known",
            n.measure(FORGOT, json!({"email": email})).await,
        );
        let nobody = json!({"email": "nobody-calls@example.com"});
        case("forgot unknown", n.measure(FORGOT, nobody).await);
        let token = n.reset_token(email);
        let reset = json!({"token": token, "newPassword": passwords[2 + round]});
        case("reset ok", n.measure(RESET, reset).await);
        let used = json!({"token": token, "newPassword": STRONG});
        case("reset used token", n.measure(RESET, used).await);
    }

    let got = counts_only(Value::Object(got));
    let pinned_path = root().join("tests/data/aws_calls.json");
    if std::env::var_os("PIN_AWS_CALLS").is_some() {
        let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
        std::fs::write(&pinned_path, text).unwrap();
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
