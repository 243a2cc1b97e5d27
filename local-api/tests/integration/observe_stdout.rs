//! `local-api` as `make run` starts it: the audit events and metric
//! documents of the requests it answers are JSON lines on its stdout.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use client::{Client, Identity};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};
use shared::channel::BodyForm;

const CHANGE: &str = "/web/v1/system/auth/password/change";
const STATUS: &str = "/web/v1/system/auth/password/status";
const FORGOT: &str = "/web/v1/system/auth/password/forgot";

struct Api {
    child: Child,
    url: String,
    token: String,
    demo_password: String,
    /// Every stdout line after the start-up banner.
    lines: Arc<Mutex<Vec<String>>>,
}

impl Api {
    fn start() -> Api {
        let mut child = Command::new(env!("CARGO_BIN_EXE_local-api"))
            .args(["--port", "0", "--key-id", "k-observe"])
            .env("RUST_LOG", "warn")
            .env("METRICS_NAMESPACE", "LocalObserve")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("local-api starts");
        let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut token, mut demo_password) = (None, None, None);
        while token.is_none() {
            let line = out.next().expect("local-api printed its banner").unwrap();
            if let Some(rest) = line.strip_prefix("local-api listening on ") {
                url = Some(rest.trim().to_owned());
            } else if let Some(rest) = line.strip_prefix("demo user: ") {
                demo_password = rest.rsplit("password: ").next().map(str::to_owned);
            } else if let Some(rest) = line.strip_prefix("demo access token (1 h): ") {
                token = Some(rest.trim().to_owned());
            }
        }
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in out.map_while(Result::ok) {
                // The last banner line ("try: ...") is not JSON.
                if line.starts_with('{') {
                    sink.lock().unwrap().push(line);
                }
            }
        });
        Api {
            child,
            url: url.expect("address line"),
            token: token.unwrap(),
            demo_password: demo_password.expect("demo user line"),
            lines,
        }
    }

    fn json_lines(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    /// Waits (bounded) until a line satisfies `found`.
    async fn wait_for(&self, what: &str, found: impl Fn(&Value) -> bool) -> Value {
        for _ in 0..200 {
            if let Some(v) = self.json_lines().into_iter().find(&found) {
                return v;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("no {what} line on stdout: {:?}", self.lines.lock().unwrap());
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn emf_of<'a>(lines: &'a [Value], route: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["_aws"].is_object() && l["Route"] == route)
        .collect()
}

fn check_emf(doc: &Value) {
    assert!(doc["_aws"]["Timestamp"].is_u64(), "{doc}");
    for d in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
        assert_eq!(d["Namespace"], "LocalObserve");
        for set in d["Dimensions"].as_array().unwrap() {
            for dim in set.as_array().unwrap() {
                assert!(doc[dim.as_str().unwrap()].is_string(), "{doc}");
            }
        }
        for m in d["Metrics"].as_array().unwrap() {
            assert!(doc[m["Name"].as_str().unwrap()].is_u64(), "{doc}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn make_run_prints_the_audit_and_metric_lines() {
    let api = Api::start();
    let c = Client::new(
        &api.url,
        Identity {
            ip: "192.0.2.44".into(),
            country: "DE".into(),
            ..Identity::default()
        },
    );
    let sess = c.handshake().await.unwrap();
    let mut auth = HeaderMap::new();
    auth.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {}", api.token)).unwrap(),
    );
    let status = c
        .call(
            &sess,
            "POST",
            STATUS,
            &json!({}),
            BodyForm::Raw,
            auth.clone(),
        )
        .await
        .unwrap();
    assert_eq!(status.status, 200, "{}", status.body);
    let status_rid = status.body["requestId"].as_str().unwrap().to_owned();
    let wrong = c
        .call(
            &sess,
            "POST",
            CHANGE,
            &json!({"currentPassword": "not-the-password-9", "newPassword": "quartz lantern meadow 57"}),
            BodyForm::Raw,
            auth,
        )
        .await
        .unwrap();
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    let rid = wrong.body["requestId"].as_str().unwrap().to_owned();
    let rejected = api
        .wait_for("change_rejected", |l| l["requestId"] == rid.as_str())
        .await;
    assert_eq!(rejected["audit"], "password.change_rejected");
    assert_eq!(rejected["code"], "AUTH.CURRENT_PASSWORD_INCORRECT");
    assert_eq!(rejected["clientIp"], "192.0.2.44");
    assert_eq!(rejected["country"], "DE");
    assert!(rejected["bizId"].as_str().unwrap().starts_with("ACC_USR_"));

    let forgot = c
        .call(
            &sess,
            "POST",
            FORGOT,
            &json!({"email": "demo@example.com"}),
            BodyForm::Raw,
            HeaderMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(forgot.status, 200);
    let rid = forgot.body["requestId"].as_str().unwrap().to_owned();
    let requested = api
        .wait_for("reset_requested", |l| l["requestId"] == rid.as_str())
        .await;
    assert_eq!(requested["audit"], "password.reset_requested");
    let forgot_id = requested["forgotId"].as_str().unwrap().to_owned();
    let answered = api
        .wait_for("reset_answered", |l| {
            l["forgotId"] == forgot_id.as_str() && l["audit"] == "password.reset_answered"
        })
        .await;
    assert_eq!(answered["accountExists"], true);
    assert_eq!(answered["bizId"], rejected["bizId"]);
    let mail = api
        .wait_for("mail metrics", |l| l["Function"] == "send-mail")
        .await;
    check_emf(&mail);
    assert!(mail["MailSent"].as_u64().unwrap() >= 1);

    let lines = api.json_lines();
    // No audit event for a successful status; one document per request.
    assert!(!lines
        .iter()
        .any(|l| l["requestId"] == status_rid.as_str() && l["audit"].is_string()));
    for (route, count) in [(STATUS, 1), (CHANGE, 1), (FORGOT, 1)] {
        let docs = emf_of(&lines, route);
        assert_eq!(docs.len(), count, "{route}");
        docs.iter().for_each(|d| check_emf(d));
    }
    assert_eq!(emf_of(&lines, CHANGE)[0]["Outcome4xx"], 1);
    assert!(emf_of(&lines, CHANGE)[0]["HashMs"].is_u64());
    // Secrets of the run never reach these lines (the banner prints them once, above).
    let text = api.lines.lock().unwrap().join("\n");
    for secret in [
        api.token.as_str(),
        api.demo_password.as_str(),
        "demo@example.com",
        "not-the-password-9",
    ] {
        assert!(
            !text.contains(secret),
            "a secret leaked: {}...",
            &secret[..4]
        );
    }
}
