//! POST /session and GET /public-key, in process (SCv2 sections 2 and 3).

use e2e_tests::in_process::*;
use http::{HeaderValue, Method, StatusCode};
use serde_json::json;
use shared::channel::wire::{confirmation_context, EnvelopeType};
use shared::channel::{KeyRing, ServerKey, SessionKey};
use shared::config::Config;
use shared::ports::Limit;
use shared::route::Route;

fn valid_case() -> (String, Vec<u8>) {
    let v = vectors();
    let c = &v["rsaOaep"]["cases"][0];
    (
        c["encryptedKey"].as_str().unwrap().to_owned(),
        hex(c["key"].as_str().unwrap()),
    )
}

#[tokio::test]
async fn public_key_publishes_the_active_key_with_cache_headers() {
    let t = TestApp::new();
    let resp = t
        .call(Route::PublicKey, Method::GET, gateway_headers("d"), b"")
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    assert_eq!(resp.headers()["content-language"], "en");
    let body = json_of(&resp);
    assert_eq!(body["version"], "2.0.0");
    assert_eq!(body["success"], true);
    assert_eq!(body["code"], "2000");
    assert_eq!(body["requestId"], "8f00000000000001-LHR");
    assert_eq!(body["timestamp"], VECTOR_TIME_MS);
    assert_eq!(body["data"]["keyId"], "k2026-11");
    assert_eq!(body["data"]["algorithm"], "RSA-OAEP-256");
    assert_eq!(
        body["data"]["publicKey"],
        vectors()["rsaOaep"]["publicKeySpki"]
    );
    assert_eq!(body["data"]["expiresAt"], "2024-05-01T00:00:00Z");
}

#[tokio::test]
async fn session_is_created_bound_and_key_confirmed() {
    let t = TestApp::new();
    let (ek, k) = valid_case();
    let resp = t
        .create_session(&json!({"keyId": "k2026-11", "encryptedKey": ek}))
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body = json_of(&resp);
    let sid = body["data"]["sessionId"].as_str().unwrap();
    // base64url without padding of >= 16 random bytes
    assert!(
        sid.len() >= 22
            && sid
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(body["data"]["expiresAt"], "2024-04-01T01:00:00Z");
    let conf = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        body["data"]["keyConfirmation"].as_str().unwrap(),
    )
    .unwrap();
    let key = SessionKey::from_slice(&k).unwrap();
    let (h, plain) = key
        .open(
            &conf,
            EnvelopeType::KeyConfirmation,
            &confirmation_context(sid),
        )
        .unwrap();
    assert!(plain.is_empty());
    assert_eq!(h.timestamp_ms, VECTOR_TIME_MS);
    // stored and bound to the client hash
    let s = t
        .app
        .sessions
        .get(sid, VECTOR_TIME_MS)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.client_hash, "device-1");
    assert_eq!(s.key.expose_bytes().to_vec(), k);
    // expires after the TTL even while present
    assert!(t
        .app
        .sessions
        .get(sid, VECTOR_TIME_MS + 3_600_000)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn two_sessions_get_distinct_ids() {
    let t = TestApp::new();
    let (ek, _) = valid_case();
    let a = json_of(
        &t.create_session(&json!({"keyId": "k2026-11", "encryptedKey": ek}))
            .await,
    );
    let b = json_of(
        &t.create_session(&json!({"keyId": "k2026-11", "encryptedKey": ek}))
            .await,
    );
    assert_ne!(a["data"]["sessionId"], b["data"]["sessionId"]);
}

#[tokio::test]
async fn session_ttl_is_configurable() {
    let config = Config {
        session_ttl_secs: 120,
        ..Config::default()
    };
    let t = TestApp::with(simulating_the_edge(config), KeyRing::single(vector_key()));
    let (ek, _) = valid_case();
    let body = json_of(
        &t.create_session(&json!({"keyId": "k2026-11", "encryptedKey": ek}))
            .await,
    );
    assert_eq!(body["data"]["expiresAt"], "2024-04-01T00:02:00Z");
}

#[tokio::test]
async fn unknown_or_expired_key_id_is_sc_unknown_key() {
    let (retired, _) = ServerKey::generate("old", VECTOR_TIME_MS + 1000).unwrap();
    let ring = KeyRing::new(vec![retired, vector_key()], "k2026-11").unwrap();
    let t = TestApp::with(simulating_the_edge(Config::default()), ring);
    let (ek, _) = valid_case();
    for kid in ["nope", "", "k2026-12"] {
        let resp = t
            .create_session(&json!({"keyId": kid, "encryptedKey": ek}))
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(json_of(&resp)["code"], "SC.UNKNOWN_KEY");
    }
    // a retired key is still accepted until it expires ...
    let resp = t
        .create_session(&json!({"keyId": "old", "encryptedKey": ek}))
        .await;
    assert_eq!(
        json_of(&resp)["code"],
        "SC.KEY_EXCHANGE_FAILED",
        "old key is known (wrong ciphertext for it)"
    );
    t.clock.advance_secs(2);
    let resp = t
        .create_session(&json!({"keyId": "old", "encryptedKey": ek}))
        .await;
    assert_eq!(json_of(&resp)["code"], "SC.UNKNOWN_KEY");
}

#[tokio::test]
async fn every_oaep_failure_answers_identical_bytes() {
    let v = vectors();
    let cases = v["rsaOaep"]["cases"].as_array().unwrap();
    let valid = cases[0]["encryptedKey"].as_str().unwrap();
    let mut bad: Vec<String> = cases
        .iter()
        .filter(|c| !c["valid"].as_bool().unwrap())
        .map(|c| c["encryptedKey"].as_str().unwrap().to_owned())
        .collect();
    bad.push(b64(&[0x5a; 384])); // garbage of the right size
    bad.push(valid[..valid.len() / 2].to_owned()); // truncated text, not even base64
    bad.push(String::new()); // empty
    bad.push("!!!not base64!!!".into());
    bad.push(b64(&base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        valid,
    )
    .unwrap()[..383]));
    let t = TestApp::new();
    let mut bodies = Vec::new();
    for ek in &bad {
        let resp = t
            .create_session(&json!({"keyId": "k2026-11", "encryptedKey": ek}))
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        let mut body = json_of(&resp);
        assert_eq!(body["code"], "SC.KEY_EXCHANGE_FAILED");
        body["timestamp"] = json!(0);
        body["requestId"] = json!("");
        bodies.push((serde_json::to_vec(&body).unwrap(), resp.headers().clone()));
    }
    for (b, h) in &bodies[1..] {
        assert_eq!(b, &bodies[0].0, "OAEP failures must be indistinguishable");
        assert_eq!(h, &bodies[0].1);
    }
    assert!(t
        .app
        .sessions
        .get("anything", VECTOR_TIME_MS)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn strict_body_rejects_unknown_duplicate_and_wrong_types() {
    let t = TestApp::new();
    let (ek, _) = valid_case();
    let cases = [
        (
            format!(r#"{{"keyId":"k2026-11","encryptedKey":"{ek}","extra":1}}"#),
            "extra",
            "UNKNOWN_FIELD",
        ),
        (
            format!(r#"{{"keyId":"k2026-11","keyId":"k2026-11","encryptedKey":"{ek}"}}"#),
            "keyId",
            "DUPLICATE_FIELD",
        ),
        (
            format!(r#"{{"keyId":["k2026-11"],"encryptedKey":"{ek}"}}"#),
            "keyId",
            "INVALID_TYPE",
        ),
        (
            r#"{"keyId":"k2026-11"}"#.to_owned(),
            "encryptedKey",
            "MISSING_FIELD",
        ),
        ("[]".to_owned(), "body", "INVALID_TYPE"),
        ("not json".to_owned(), "body", "INVALID_JSON"),
    ];
    for (body, field, code) in cases {
        let resp = t
            .call(
                Route::CreateSession,
                Method::POST,
                gateway_headers("d"),
                body.as_bytes(),
            )
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "{body}");
        let json = json_of(&resp);
        assert_eq!(json["code"], "VALIDATION.INVALID_PARAMETER");
        assert_eq!(json["details"][0]["field"], field, "{body}");
        assert_eq!(json["details"][0]["code"], code, "{body}");
    }
}

#[tokio::test]
async fn oversized_body_is_413_before_parsing() {
    let t = TestApp::new();
    let big = vec![b'{'; 65_537];
    let resp = t
        .call(
            Route::CreateSession,
            Method::POST,
            gateway_headers("d"),
            &big,
        )
        .await;
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(json_of(&resp)["code"], "REQUEST.PAYLOAD_TOO_LARGE");
}

#[tokio::test]
async fn gateway_headers_are_required_and_named() {
    let t = TestApp::new();
    let mut h = gateway_headers("d");
    h.remove("cf-connecting-ip");
    h.remove("accept");
    let resp = t.call(Route::PublicKey, Method::GET, h, b"").await;
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body = json_of(&resp);
    assert_eq!(body["code"], "GATEWAY.HEADER_MISSING");
    assert_eq!(
        body["details"],
        json!([{"header": "Accept"}, {"header": "CF-Connecting-IP"}])
    );
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("CF-Connecting-IP"));

    let mut h = gateway_headers("d");
    h.insert("cf-connecting-ip", HeaderValue::from_static("1.2.3.999"));
    let resp = t.call(Route::PublicKey, Method::GET, h, b"").await;
    let body = json_of(&resp);
    assert_eq!(body["code"], "GATEWAY.HEADER_INVALID");
    assert_eq!(body["details"], json!([{"header": "CF-Connecting-IP"}]));

    // Content-Type is required where there is a body
    let mut h = gateway_headers("d");
    h.remove("content-type");
    let resp = t.call(Route::CreateSession, Method::POST, h, b"{}").await;
    assert_eq!(json_of(&resp)["code"], "GATEWAY.HEADER_MISSING");
}

#[tokio::test]
async fn wrong_method_is_405() {
    let t = TestApp::new();
    let resp = t
        .call(Route::PublicKey, Method::POST, gateway_headers("d"), b"{}")
        .await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(json_of(&resp)["code"], "REQUEST.METHOD_NOT_ALLOWED");
}

#[tokio::test]
async fn errors_are_localized_with_content_language() {
    let t = TestApp::new();
    for (accept, tag, text) in [
        ("zh-TW,en;q=0.5", "zh-Hant", "金鑰交換失敗"),
        ("zh-CN", "zh", "密钥交换失败"),
        ("ja-JP", "ja", "鍵交換に失敗しました"),
        ("vi", "vi", "Trao đổi khóa thất bại"),
        ("fr-FR", "en", "Key exchange failed"),
    ] {
        let mut h = gateway_headers("d");
        h.insert("accept-language", HeaderValue::from_static(accept));
        let body = br#"{"keyId":"k2026-11","encryptedKey":"AAAA"}"#;
        let resp = t.call(Route::CreateSession, Method::POST, h, body).await;
        assert_eq!(resp.headers()["content-language"], tag);
        assert_eq!(json_of(&resp)["message"], text);
    }
}

#[tokio::test]
async fn rate_limits_per_ip_answer_429_with_retry_after() {
    let mut config = Config::default();
    config.limits.public_key_per_ip = Limit {
        max: 60,
        window_secs: 300,
    };
    let t = TestApp::with(simulating_the_edge(config), KeyRing::single(vector_key()));
    for _ in 0..60 {
        let r = t
            .call(Route::PublicKey, Method::GET, gateway_headers("d"), b"")
            .await;
        assert_eq!(r.status(), StatusCode::OK);
    }
    let r = t
        .call(Route::PublicKey, Method::GET, gateway_headers("d"), b"")
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(json_of(&r)["code"], "REQUEST.RATE_LIMITED");
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=300).contains(&retry), "{retry}");
    // another IP is not affected
    let mut h = gateway_headers("d");
    h.insert("cf-connecting-ip", HeaderValue::from_static("198.51.100.1"));
    assert_eq!(
        t.call(Route::PublicKey, Method::GET, h, b"").await.status(),
        StatusCode::OK
    );
    // X-Forwarded-For is never the client IP
    let mut h = gateway_headers("d");
    h.insert("x-forwarded-for", HeaderValue::from_static("198.51.100.2"));
    assert_eq!(
        t.call(Route::PublicKey, Method::GET, h, b"").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // the window passes
    t.clock.advance_secs(300);
    assert_eq!(
        t.call(Route::PublicKey, Method::GET, gateway_headers("d"), b"")
            .await
            .status(),
        StatusCode::OK
    );

    // session creation: 20 per IP, failures count too
    for i in 0..20 {
        let r = t
            .create_session(&json!({"keyId": "k2026-11", "encryptedKey": "AAAA"}))
            .await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "request {i}");
    }
    let r = t
        .create_session(&json!({"keyId": "k2026-11", "encryptedKey": "AAAA"}))
        .await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
}
