//! The server checks of SCv2 section 6, in order, on the vector session.

use e2e_tests::in_process::*;
use http::{HeaderMap, HeaderValue};
use serde_json::Value;
use shared::channel::wire::{response_context, EnvelopeType};
use shared::channel::{BodyForm, SessionKey};
use shared::http::{ApiError, ScError};
use shared::ports::ScSession;
use shared::secure_request::{open_request, seal_response};

const CHANGE: &str = "/web/v1/system/auth/password/change";

fn vector(name: &str) -> Value {
    let v = vectors();
    v["envelopes"]
        .as_array()
        .unwrap()
        .iter()
        .chain(v["rejected"].as_array().unwrap())
        .find(|e| e["name"] == name)
        .unwrap()
        .clone()
}

fn envelope(name: &str) -> Vec<u8> {
    base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        vector(name)["envelope"].as_str().unwrap(),
    )
    .unwrap()
}

fn key() -> SessionKey {
    SessionKey::from_slice(&hex(vector("request-change")["key"].as_str().unwrap())).unwrap()
}

async fn app_with_session(sid: &str) -> TestApp {
    let t = TestApp::new();
    t.app
        .sessions
        .create(&ScSession {
            id: sid.into(),
            key: key(),
            client_hash: "device-1".into(),
            created_at_ms: VECTOR_TIME_MS,
            expires_at_ms: VECTOR_TIME_MS + 3_600_000,
        })
        .await
        .unwrap();
    t
}

fn sc_headers(sid: &str, form: BodyForm) -> HeaderMap {
    let mut h = gateway_headers("device-1");
    h.insert("x-sc-session-id", HeaderValue::from_str(sid).unwrap());
    h.insert("x-sc-version", HeaderValue::from_static("2"));
    let ct = match form {
        BodyForm::Raw => "application/octet-stream",
        BodyForm::Base64 => "application/json;charset=UTF-8",
    };
    h.insert("content-type", HeaderValue::from_static(ct));
    h
}

const SID: &str = "q8bYl3m0cGZ5vT2xW9rN4A";

async fn open(
    t: &TestApp,
    headers: &HeaderMap,
    route: &str,
    body: &[u8],
) -> Result<Vec<u8>, ScError> {
    let hash = headers["x-client-hash"].to_str().unwrap().to_owned();
    match open_request(&t.app, "POST", route, headers, &hash, body).await {
        Ok(o) => Ok(o.plaintext.to_vec()),
        Err(ApiError::Sc(e)) => Err(e),
        Err(other) => panic!("not an SC error: {other:?}"),
    }
}

#[tokio::test]
async fn the_vector_request_opens_in_both_transport_forms() {
    let t = app_with_session(SID).await;
    let env = envelope("request-change");
    let plain = open(&t, &sc_headers(SID, BodyForm::Raw), CHANGE, &env)
        .await
        .unwrap();
    assert_eq!(
        plain,
        vector("request-change")["plaintext"]
            .as_str()
            .unwrap()
            .as_bytes()
    );
    // the same envelope again is a replay, in either form
    let b64 = e2e_tests::in_process::b64(&env);
    assert_eq!(
        open(
            &t,
            &sc_headers(SID, BodyForm::Base64),
            CHANGE,
            b64.as_bytes()
        )
        .await
        .unwrap_err(),
        ScError::Replay
    );
    let t = app_with_session(SID).await;
    assert!(open(
        &t,
        &sc_headers(SID, BodyForm::Base64),
        CHANGE,
        b64.as_bytes()
    )
    .await
    .is_ok());
    // UTF-8 body on another route
    let env = envelope("request-forgot-utf8");
    let plain = open(
        &t,
        &sc_headers(SID, BodyForm::Raw),
        "/web/v1/system/auth/password/forgot",
        &env,
    )
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8(plain).unwrap(),
        r#"{"email": "ユーザー@example.com"}"#
    );
}

#[tokio::test]
async fn every_rejected_vector_is_refused_by_the_server_with_its_code() {
    let v = vectors();
    for r in v["rejected"].as_array().unwrap() {
        let name = r["name"].as_str().unwrap();
        let sid = r["sessionId"].as_str().unwrap();
        let t = app_with_session(sid).await;
        let route = r["route"].as_str().unwrap();
        let env = envelope(name);
        let hash = "device-1";
        let err = open_request(
            &t.app,
            r["method"].as_str().unwrap(),
            route,
            &sc_headers(sid, BodyForm::Raw),
            hash,
            &env,
        )
        .await
        .err()
        .unwrap_or_else(|| panic!("{name} was accepted"));
        let code = match err {
            ApiError::Sc(ScError::Malformed) => "SC.MALFORMED",
            ApiError::Sc(ScError::DecryptFailed) => "SC.DECRYPT_FAILED",
            other => panic!("{name}: {other:?}"),
        };
        assert_eq!(code, r["expect"].as_str().unwrap(), "{name}");
        // a refused envelope does not burn its nonce: the genuine one still opens once
        if name != "wrong-session" {
            assert!(
                open(
                    &t,
                    &sc_headers(SID, BodyForm::Raw),
                    CHANGE,
                    &envelope("request-change")
                )
                .await
                .is_ok(),
                "{name}"
            );
        }
    }
}

#[tokio::test]
async fn checks_run_in_the_documented_order() {
    let t = app_with_session(SID).await;
    let env = envelope("request-change");
    let garbage = b"\x01not an envelope".to_vec();

    // 1. version beats everything (even an unknown session and garbage)
    let mut h = sc_headers("unknown", BodyForm::Raw);
    h.insert("x-sc-version", HeaderValue::from_static("1"));
    assert_eq!(
        open(&t, &h, CHANGE, &garbage).await.unwrap_err(),
        ScError::UnsupportedVersion
    );
    h.insert("x-sc-version", HeaderValue::from_static("3"));
    assert_eq!(
        open(&t, &h, CHANGE, &garbage).await.unwrap_err(),
        ScError::UnsupportedVersion
    );

    // 2. session: unknown, other client hash, expired -> all SESSION_INVALID, before the body
    let h = sc_headers("unknown", BodyForm::Raw);
    assert_eq!(
        open(&t, &h, CHANGE, &garbage).await.unwrap_err(),
        ScError::SessionInvalid
    );
    let mut h = sc_headers(SID, BodyForm::Raw);
    h.insert("x-client-hash", HeaderValue::from_static("another-device"));
    assert_eq!(
        open(&t, &h, CHANGE, &env).await.unwrap_err(),
        ScError::SessionInvalid
    );

    // 3. malformed: garbage, non-base64 text, empty, too short
    let h = sc_headers(SID, BodyForm::Raw);
    assert_eq!(
        open(&t, &h, CHANGE, &garbage).await.unwrap_err(),
        ScError::Malformed
    );
    assert_eq!(
        open(&t, &h, CHANGE, b"").await.unwrap_err(),
        ScError::Malformed
    );
    assert_eq!(
        open(&t, &h, CHANGE, &env[..37]).await.unwrap_err(),
        ScError::Malformed
    );
    let hb = sc_headers(SID, BodyForm::Base64);
    assert_eq!(
        open(&t, &hb, CHANGE, b"@@not base64@@").await.unwrap_err(),
        ScError::Malformed
    );
    let b64ws = format!("{} ", e2e_tests::in_process::b64(&env));
    assert_eq!(
        open(&t, &hb, CHANGE, b64ws.as_bytes()).await.unwrap_err(),
        ScError::Malformed
    );

    // 4. stale beats decryption: a tampered envelope 301 s later is STALE, not DECRYPT_FAILED
    t.clock.set(VECTOR_TIME_MS + 300_001);
    assert_eq!(
        open(&t, &h, CHANGE, &envelope("tampered-tag"))
            .await
            .unwrap_err(),
        ScError::Stale
    );
    t.clock.set(VECTOR_TIME_MS - 300_001);
    assert_eq!(
        open(&t, &h, CHANGE, &env).await.unwrap_err(),
        ScError::Stale
    );
    // exactly 300 s either way is accepted
    t.clock.set(VECTOR_TIME_MS + 300_000);
    assert!(open(&t, &h, CHANGE, &env).await.is_ok());
    // 6. replay, even at the other edge of the window
    t.clock.set(VECTOR_TIME_MS - 300_000);
    assert_eq!(
        open(&t, &h, CHANGE, &env).await.unwrap_err(),
        ScError::Replay
    );
}

#[tokio::test]
async fn an_expired_session_is_invalid_even_if_still_stored() {
    let t = app_with_session(SID).await;
    t.clock.set(VECTOR_TIME_MS + 3_600_000);
    let err = open(
        &t,
        &sc_headers(SID, BodyForm::Raw),
        CHANGE,
        &envelope("request-change"),
    )
    .await
    .unwrap_err();
    assert_eq!(err, ScError::SessionInvalid);
}

#[tokio::test]
async fn oversized_envelopes_are_malformed() {
    let t = app_with_session(SID).await;
    let mut big = vec![0u8; 65_537];
    big[0] = 2;
    big[1] = 1;
    let err = open(&t, &sc_headers(SID, BodyForm::Raw), CHANGE, &big)
        .await
        .unwrap_err();
    assert_eq!(err, ScError::Malformed);
}

#[tokio::test]
async fn responses_are_sealed_in_the_form_asked_and_bound_to_the_request_nonce() {
    let t = app_with_session(SID).await;
    let h = sc_headers(SID, BodyForm::Base64);
    let b64 = e2e_tests::in_process::b64(&envelope("request-change"));
    let opened = open_request(&t.app, "POST", CHANGE, &h, "device-1", b64.as_bytes())
        .await
        .unwrap();
    assert_eq!(opened.form, BodyForm::Base64);
    let resp = seal_response(
        &opened,
        VECTOR_TIME_MS,
        http::StatusCode::OK,
        shared::i18n::Lang::Ja,
        br#"{"ok":1}"#,
    );
    assert_eq!(resp.headers()["content-type"], "text/plain;charset=UTF-8");
    assert_eq!(resp.headers()["content-language"], "ja");
    let env =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, resp.body()).unwrap();
    let nonce: [u8; 12] = hex("a0a1a2a3a4a5a6a7a8a9aaab").try_into().unwrap();
    let (_, plain) = key()
        .open(&env, EnvelopeType::Response, &response_context(SID, &nonce))
        .unwrap();
    assert_eq!(plain.as_slice(), br#"{"ok":1}"#);
    // not openable as the answer to another request
    assert!(key()
        .open(
            &env,
            EnvelopeType::Response,
            &response_context(SID, &[0; 12])
        )
        .is_err());

    let t = app_with_session(SID).await;
    let raw = envelope("request-change");
    let opened = open_request(
        &t.app,
        "POST",
        CHANGE,
        &sc_headers(SID, BodyForm::Raw),
        "device-1",
        &raw,
    )
    .await
    .unwrap();
    let resp = seal_response(
        &opened,
        VECTOR_TIME_MS,
        http::StatusCode::OK,
        shared::i18n::Lang::En,
        b"{}",
    );
    assert_eq!(resp.headers()["content-type"], "application/octet-stream");
    assert_eq!(resp.body()[0], 0x02);
    assert_eq!(resp.body()[1], 0x02);
}

#[tokio::test]
async fn replay_guard_admits_a_nonce_exactly_once_under_concurrency() {
    let t = app_with_session(SID).await;
    let env = envelope("request-change");
    let h = sc_headers(SID, BodyForm::Raw);
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let app = t.app.clone();
        let (h, env) = (h.clone(), env.clone());
        tasks.push(tokio::spawn(async move {
            open_request(&app, "POST", CHANGE, &h, "device-1", &env)
                .await
                .is_ok()
        }));
    }
    let mut ok = 0;
    for task in tasks {
        ok += usize::from(task.await.unwrap());
    }
    assert_eq!(ok, 1);
}

#[tokio::test]
async fn missing_or_malformed_sc_headers_are_gateway_errors() {
    let t = app_with_session(SID).await;
    let env = envelope("request-change");
    for (name, value, code) in [
        ("x-sc-session-id", None, "GATEWAY.HEADER_MISSING"),
        ("x-sc-version", None, "GATEWAY.HEADER_MISSING"),
        (
            "x-sc-session-id",
            Some("has space"),
            "GATEWAY.HEADER_INVALID",
        ),
        ("x-sc-version", Some("two"), "GATEWAY.HEADER_INVALID"),
    ] {
        let mut h = sc_headers(SID, BodyForm::Raw);
        match value {
            None => {
                h.remove(name);
            }
            Some(v) => {
                h.insert(name, HeaderValue::from_static(v));
            }
        }
        let err = open_request(&t.app, "POST", CHANGE, &h, "device-1", &env)
            .await
            .err()
            .unwrap();
        let parts = err.parts(shared::i18n::Lang::En);
        assert_eq!(parts.code, code, "{name}={value:?}");
    }
    // nothing was consumed: the genuine request still opens
    assert!(open(&t, &sc_headers(SID, BodyForm::Raw), CHANGE, &env)
        .await
        .is_ok());
}
