//! Every route over HTTP on an in-process local-api, with the audit and
//! metric lines captured: each request leaves exactly the audit event its
//! outcome calls for (or none) and exactly one well-formed EMF document,
//! and a forgot request's off-path answer says whether the account exists.

use std::collections::BTreeMap;

use client::{Client, Reply};
use e2e_tests::*;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{json, Value};
use shared::observe::metrics::{
    MAIL_METRICS, PEPPER_MISSING, REQUEST_METRICS, VERIFY_ERROR, VERIFY_METRICS,
};
use shared::route::Route;

use crate::capture::{lines, NAMESPACE, SERIAL};

fn captured() -> Vec<Value> {
    lines()
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect()
}

/// Checks the EMF members of `doc` and returns its metrics by name.
fn check_emf(doc: &Value) -> BTreeMap<String, u64> {
    let aws = &doc["_aws"];
    assert!(
        aws["Timestamp"].as_u64().unwrap() > 1_600_000_000_000,
        "{doc}"
    );
    let directives = aws["CloudWatchMetrics"]
        .as_array()
        .expect("CloudWatchMetrics");
    assert!(!directives.is_empty());
    let mut values = BTreeMap::new();
    for d in directives {
        assert_eq!(d["Namespace"], NAMESPACE, "{doc}");
        for set in d["Dimensions"].as_array().expect("Dimensions") {
            for dim in set.as_array().expect("a dimension set") {
                let name = dim.as_str().unwrap();
                assert!(
                    doc[name].is_string(),
                    "dimension {name} has no value: {doc}"
                );
            }
        }
        for m in d["Metrics"].as_array().expect("Metrics") {
            let name = m["Name"].as_str().expect("Name");
            assert!(m["Unit"].is_string(), "{doc}");
            let v = doc[name]
                .as_u64()
                .unwrap_or_else(|| panic!("metric {name} has no value: {doc}"));
            assert!(
                REQUEST_METRICS.contains(&name)
                    || MAIL_METRICS.contains(&name)
                    || VERIFY_METRICS.contains(&name)
                    || [VERIFY_ERROR, PEPPER_MISSING].contains(&name),
                "{name}"
            );
            values.insert(name.to_owned(), v);
        }
    }
    values
}

/// The lines of request `id`: its audit events and its EMF documents.
fn of_request(id: &str) -> (Vec<Value>, Vec<Value>) {
    let all = captured();
    let audit = all
        .iter()
        .filter(|l| l["audit"].is_string() && l["requestId"] == id)
        .cloned()
        .collect();
    // EMF documents carry no request id: they are matched by order, see `answered`.
    (
        audit,
        all.into_iter().filter(|l| l["_aws"].is_object()).collect(),
    )
}

struct Seen {
    audit: Option<Value>,
    metrics: BTreeMap<String, u64>,
}

/// Runs one request and returns what it emitted: at most one audit event,
/// exactly one EMF document (of `route`).
async fn answered<F: std::future::Future<Output = Reply>>(route: Route, call: F) -> (Reply, Seen) {
    let before = captured()
        .iter()
        .filter(|l| l["_aws"].is_object() && l["Route"].is_string())
        .count();
    let reply = call.await;
    let id = reply.body["requestId"]
        .as_str()
        .expect("a request id")
        .to_owned();
    let (audit, docs) = of_request(&id);
    let docs: Vec<&Value> = docs.iter().filter(|d| d["Route"].is_string()).collect();
    assert_eq!(docs.len(), before + 1, "one EMF document per request");
    let doc = docs[before];
    assert_eq!(doc["Route"], route.path());
    assert_eq!(doc["Function"], route.function());
    assert!(audit.len() <= 1, "{audit:?}");
    let metrics = check_emf(doc);
    assert_eq!(metrics["Requests"], 1);
    let status = u64::from(reply.status);
    assert_eq!(
        metrics["Outcome4xx"],
        u64::from((400..500).contains(&status))
    );
    assert_eq!(metrics["Outcome5xx"], u64::from(status >= 500));
    (
        reply,
        Seen {
            audit: audit.into_iter().next(),
            metrics,
        },
    )
}

fn assert_event(seen: &Seen, name: &str, route: Route, code: &str) -> Value {
    let a = seen
        .audit
        .clone()
        .unwrap_or_else(|| panic!("no audit event, expected {name}"));
    assert_eq!(a["audit"], name, "{a}");
    assert_eq!(a["route"], route.path(), "{a}");
    assert_eq!(a["code"], code, "{a}");
    a
}

fn with_agent(mut h: HeaderMap) -> HeaderMap {
    h.insert(
        "user-agent",
        HeaderValue::from_str(&"Agent/1.0 ".repeat(40)).unwrap(),
    );
    h
}

async fn plain_get(c: &Client, route: Route, drop_header: Option<&str>) -> Reply {
    let mut headers = c.gateway_headers();
    if let Some(h) = drop_header {
        headers.remove(h);
    }
    let resp = reqwest::Client::new()
        .get(c.url(route.path()))
        .headers(headers)
        .send()
        .await
        .unwrap();
    let (status, headers, body) = contract::checked_response("GET", route.path(), resp).await;
    Reply {
        status,
        headers,
        body,
        encrypted: false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_outcome_emits_its_audit_event_and_one_metrics_document() {
    let _serial = SERIAL.lock().await;
    lines();
    let s = Server::start().await;
    let email = "olga@example.com";
    let biz = s.user(email, STRONG).await;
    let access = s.token(&biz).await;
    let c = s.client("198.51.100.7");
    let sess = c.handshake().await.unwrap();

    // public-key: no audit event; a refused gateway header neither.
    let (_, seen) = answered(Route::PublicKey, plain_get(&c, Route::PublicKey, None)).await;
    assert!(seen.audit.is_none());
    let (r, seen) = answered(
        Route::PublicKey,
        plain_get(&c, Route::PublicKey, Some("cf-ipcountry")),
    )
    .await;
    assert_eq!(r.status, 400);
    assert!(seen.audit.is_none());

    // session: an unknown key id is a Secure Channel rejection.
    let (r, seen) = answered(Route::CreateSession, async {
        c.create_session_raw(&json!({"keyId": "nope", "encryptedKey": "AAAA"}))
            .await
            .unwrap()
    })
    .await;
    assert_eq!(r.body["code"], "SC.UNKNOWN_KEY");
    let a = assert_event(
        &seen,
        "secure_channel.rejected",
        Route::CreateSession,
        "SC.UNKNOWN_KEY",
    );
    assert_eq!(a["clientIp"], "198.51.100.7");
    assert_eq!(seen.metrics["ScRejected"], 1);

    // status: token rejections only.
    let (_, seen) = answered(Route::Status, async {
        App::new(&c, &sess)
            .post(STATUS, json!({}), HeaderMap::new())
            .await
    })
    .await;
    assert_event(&seen, "token.rejected", Route::Status, "AUTH.TOKEN_MISSING");
    let (r, seen) = answered(Route::Status, async {
        App::new(&c, &sess)
            .post(STATUS, json!({}), bearer(&access))
            .await
    })
    .await;
    assert_eq!(r.status, 200);
    assert!(seen.audit.is_none());
    assert!(!seen.metrics.contains_key("HashMs"));

    // change: refused with Argon2 time, then done, then the old token is revoked.
    let (_, seen) = answered(Route::Change, async {
        App::new(&c, &sess)
            .post(
                CHANGE,
                json!({"currentPassword": "wrong-password-1", "newPassword": STRONG_2}),
                with_agent(bearer(&access)),
            )
            .await
    })
    .await;
    let a = assert_event(
        &seen,
        "password.change_rejected",
        Route::Change,
        "AUTH.CURRENT_PASSWORD_INCORRECT",
    );
    assert_eq!(a["bizId"], biz.as_str());
    assert_eq!(a["userAgent"].as_str().unwrap().chars().count(), 160);
    assert!(seen.metrics.contains_key("HashMs"));
    let (r, seen) = answered(Route::Change, async {
        App::new(&c, &sess)
            .post(
                CHANGE,
                json!({"currentPassword": STRONG, "newPassword": STRONG_2}),
                bearer(&access),
            )
            .await
    })
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = assert_event(&seen, "password.changed", Route::Change, "2000");
    assert_eq!(a["bizId"], biz.as_str());
    assert_eq!(a["clientIp"], "198.51.100.7");
    assert_eq!(a["country"], "XX");
    assert!(seen.metrics["HashMs"] > 0 || seen.metrics.contains_key("HashMs"));
    let (_, seen) = answered(Route::Change, async {
        App::new(&c, &sess)
            .post(
                CHANGE,
                json!({"currentPassword": STRONG_2, "newPassword": STRONG_3}),
                bearer(&access),
            )
            .await
    })
    .await;
    assert_event(&seen, "token.rejected", Route::Change, "AUTH.TOKEN_REVOKED");

    // forgot: accepted for an owner and a stranger alike; the off-path
    // answer tells which, joined by forgotId.
    let mut forgot_ids = Vec::new();
    for address in [email, "nobody@example.com"] {
        let (r, seen) = answered(Route::Forgot, async {
            App::new(&c, &sess)
                .post(FORGOT, json!({"email": address}), HeaderMap::new())
                .await
        })
        .await;
        assert_eq!(r.status, 200);
        let a = assert_event(&seen, "password.reset_requested", Route::Forgot, "2000");
        assert!(
            a.get("bizId").is_none(),
            "forgot does not look the address up"
        );
        forgot_ids.push(a["forgotId"].as_str().unwrap().to_owned());
    }
    s.local.settle().await;
    let link = wait_for_link(&s, "reset").await;
    let answers: Vec<Value> = captured()
        .into_iter()
        .filter(|l| l["audit"] == "password.reset_answered")
        .collect();
    let answer_of = |id: &str| {
        let found: Vec<&Value> = answers.iter().filter(|a| a["forgotId"] == id).collect();
        assert_eq!(found.len(), 1, "one answer per forgot request: {answers:?}");
        found[0].clone()
    };
    let owner = answer_of(&forgot_ids[0]);
    assert_eq!(owner["accountExists"], true);
    assert_eq!(owner["bizId"], biz.as_str());
    let stranger = answer_of(&forgot_ids[1]);
    assert_eq!(stranger["accountExists"], false);
    assert!(stranger.get("bizId").is_none());
    let mail: Vec<BTreeMap<String, u64>> = captured()
        .iter()
        .filter(|l| l["_aws"].is_object() && l["Function"] == "send-mail")
        .map(check_emf)
        .collect();
    assert!(
        mail.iter().map(|m| m["MailSent"]).sum::<u64>() >= 2,
        "{mail:?}"
    );
    assert!(mail.iter().all(|m| m.contains_key("MailFailed")));

    // reset: a bad token, then the emailed one.
    let (_, seen) = answered(Route::Reset, async {
        App::new(&c, &sess)
            .post(
                RESET,
                json!({"token": "not-a-token", "newPassword": STRONG_3}),
                HeaderMap::new(),
            )
            .await
    })
    .await;
    let a = assert_event(
        &seen,
        "password.reset_rejected",
        Route::Reset,
        "AUTH.RESET_TOKEN_INVALID",
    );
    assert!(a.get("bizId").is_none());
    let token = query(&link, "token");
    let (r, seen) = answered(Route::Reset, async {
        App::new(&c, &sess)
            .post(
                RESET,
                json!({"token": token, "newPassword": STRONG_3}),
                HeaderMap::new(),
            )
            .await
    })
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let a = assert_event(&seen, "password.reset", Route::Reset, "2000");
    assert_eq!(a["bizId"], biz.as_str());
    assert!(seen.metrics.contains_key("HashMs"));

    // init: a bad sid, then the right one.
    let (pending, sid) = s.pending_user("pia@example.com", "Pia").await;
    let (_, seen) = answered(Route::Init, async {
        App::new(&c, &sess)
            .post(
                INIT,
                json!({"sessionId": "wrong", "password": STRONG}),
                HeaderMap::new(),
            )
            .await
    })
    .await;
    assert_event(
        &seen,
        "password.init_rejected",
        Route::Init,
        "AUTH.INIT_SESSION_INVALID",
    );
    let (r, seen) = answered(Route::Init, async {
        App::new(&c, &sess)
            .post(
                INIT,
                json!({"sessionId": sid, "password": STRONG}),
                HeaderMap::new(),
            )
            .await
    })
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let a = assert_event(&seen, "password.initialized", Route::Init, "2000");
    assert_eq!(a["bizId"], pending.as_str());

    // forgot refused (bad address), then rate limited from one address.
    let other = s.client("198.51.100.8");
    let sess2 = other.handshake().await.unwrap();
    let (_, seen) = answered(Route::Forgot, async {
        App::new(&other, &sess2)
            .post(FORGOT, json!({"email": "not an address"}), HeaderMap::new())
            .await
    })
    .await;
    assert_event(
        &seen,
        "password.reset_rejected",
        Route::Forgot,
        "VALIDATION.INVALID_PARAMETER",
    );
    let mut limited = None;
    for _ in 0..5 {
        let (r, seen) = answered(Route::Forgot, async {
            App::new(&other, &sess2)
                .post(FORGOT, json!({"email": "x@example.com"}), HeaderMap::new())
                .await
        })
        .await;
        if r.status == 429 {
            limited = Some(seen);
            break;
        }
    }
    let seen = limited.expect("the per-IP forgot limit answers 429");
    assert_event(&seen, "rate_limited", Route::Forgot, "REQUEST.RATE_LIMITED");
    assert_eq!(seen.metrics["RateLimited"], 1);

    // A session that does not exist: a Secure Channel rejection on a password route.
    let mut forged = sess2.clone();
    forged.id = "forged-session".into();
    let (_, seen) = answered(Route::Reset, async {
        App::new(&other, &forged)
            .post(
                RESET,
                json!({"token": "t", "newPassword": STRONG}),
                HeaderMap::new(),
            )
            .await
    })
    .await;
    assert_event(
        &seen,
        "secure_channel.rejected",
        Route::Reset,
        "SC.SESSION_INVALID",
    );
    assert_eq!(seen.metrics["ScRejected"], 1);

    // No audit line ever names an address.
    for line in captured() {
        let text = line.to_string();
        for address in [
            email,
            "nobody@example.com",
            "pia@example.com",
            "x@example.com",
        ] {
            assert!(!text.contains(address), "{text}");
        }
    }
}

/// Sign-in checks over local-api's `/_dev/verify-password`: each answer
/// leaves its audit event (with where the attempt came from) and one
/// verify-password document; a check that fails inside (here a hash under a
/// pepper that is not loaded) answers 500 and leaves a `VerifyError`
/// document, with `PepperMissing`, for the errors alarm.
#[tokio::test]
async fn sign_in_checks_emit_their_audit_event_and_metrics() {
    let _serial = SERIAL.lock().await;
    lines();
    let s = Server::start().await;
    let biz = s.user("signin-observed@example.com", STRONG).await;
    let verify = |body: Value| {
        let http = s.http.clone();
        let url = format!("{}/_dev/verify-password", s.url);
        async move {
            let resp = http.post(url).json(&body).send().await.unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    let events_of = |biz: &str| -> Vec<Value> {
        captured()
            .into_iter()
            .filter(|l| l["bizId"] == biz)
            .collect()
    };
    let docs = || -> Vec<Value> {
        captured()
            .into_iter()
            .filter(|l| l["Function"] == "verify-password")
            .collect()
    };
    let before = docs().len();
    let (status, ok) = verify(json!({"bizId": biz, "password": STRONG, "clientIp": "203.0.113.77", "userAgent": "curl/8.5"})).await;
    assert_eq!((status, ok["result"].as_str()), (200, Some("ok")));
    let (_, invalid) = verify(json!({"bizId": biz, "password": STRONG_2})).await;
    assert_eq!(invalid["result"], "invalid");
    let events = events_of(&biz);
    let verified = events
        .iter()
        .find(|e| e["audit"] == "password.verified")
        .expect("password.verified");
    assert_eq!(verified["clientIp"], "203.0.113.77");
    assert_eq!(verified["userAgent"], "curl/8.5");
    let failed = events
        .iter()
        .find(|e| e["audit"] == "password.verify_failed")
        .expect("password.verify_failed");
    assert_eq!(
        (
            failed["accountExists"].as_bool(),
            failed["locked"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let new_docs: Vec<Value> = docs().into_iter().skip(before).collect();
    let sums = |name: &str| {
        new_docs
            .iter()
            .filter_map(|d| d[name].as_u64())
            .sum::<u64>()
    };
    assert!(
        sums("VerifyOk") >= 1 && sums("VerifyFailed") >= 1,
        "{new_docs:?}"
    );
    for doc in &new_docs {
        check_emf(doc);
    }

    // A hash under a pepper this process never loaded.
    let mut user = s.stored_user(&biz).await;
    let phc = user.password.as_ref().unwrap().phc().to_owned();
    user.password = Some(
        password::PasswordHash::parse(&phc, Some(password::PepperId::new("retired-p0"))).unwrap(),
    );
    let version = user.version;
    user.version += 1;
    s.local
        .app
        .accounts
        .apply(
            shared::ports::accounts::AccountChange {
                user: Some((user, Some(version))),
                ..Default::default()
            },
            now_secs() * 1000,
        )
        .await
        .unwrap()
        .unwrap();
    let before = docs().len();
    let (status, body) = verify(json!({"bizId": biz, "password": STRONG})).await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "SYSTEM.INTERNAL_ERROR");
    let errors: Vec<Value> = docs()
        .into_iter()
        .skip(before)
        .filter(|d| d.get("VerifyError").is_some())
        .collect();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["VerifyError"], 1);
    assert_eq!(errors[0]["PepperMissing"], 1);
    check_emf(&errors[0]);
}
