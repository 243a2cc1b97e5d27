//! A failing backend answers 503 `SYSTEM.UNAVAILABLE` with an opaque body and
//! stores nothing. (The AWS adapters' own timeouts are proven against a dead
//! endpoint in shared/aws/tests.)

use std::sync::Arc;

use async_trait::async_trait;
use e2e_tests::in_process::*;
use http::{Method, StatusCode};
use serde_json::json;
use shared::ports::{
    Limit, PortResult, RateDecision, RateLimiter, ScSession, SessionStore, Unavailable,
};
use shared::route::Route;

struct DownLimiter;
#[async_trait]
impl RateLimiter for DownLimiter {
    async fn hit(&self, _: &str, _: &str, _: Limit, _: u64) -> PortResult<RateDecision> {
        Err(Unavailable(anyhow::anyhow!(
            "connect timeout to dynamodb.internal:443 (secret-detail)"
        )))
    }
    async fn forget(&self, _: &str, _: &str) -> PortResult<()> {
        Err(Unavailable(anyhow::anyhow!("connect timeout")))
    }
}

struct DownSessions;
#[async_trait]
impl SessionStore for DownSessions {
    async fn create(&self, _: &ScSession) -> PortResult<()> {
        Err(Unavailable(anyhow::anyhow!(
            "operation timeout (secret-detail)"
        )))
    }
    async fn get(&self, _: &str, _: u64) -> PortResult<Option<ScSession>> {
        Err(Unavailable(anyhow::anyhow!(
            "operation timeout (secret-detail)"
        )))
    }
}

#[tokio::test]
async fn a_down_limiter_is_503_with_an_opaque_body() {
    let mut t = TestApp::new();
    t.app.limiter = Arc::new(DownLimiter);
    let resp = t
        .call(Route::PublicKey, Method::GET, gateway_headers("d"), b"")
        .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = json_of(&resp);
    assert_eq!(body["code"], "SYSTEM.UNAVAILABLE");
    assert!(!body.to_string().contains("secret-detail"));
    assert!(!body.to_string().contains("dynamodb"));
}

#[tokio::test]
async fn a_down_session_store_is_503_not_a_protocol_error() {
    let mut t = TestApp::new();
    t.app.sessions = Arc::new(DownSessions);
    let v = vectors();
    let ek = v["rsaOaep"]["cases"][0]["encryptedKey"].as_str().unwrap();
    let resp = t
        .create_session(&json!({"keyId": "k2026-11", "encryptedKey": ek}))
        .await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(&resp)["code"], "SYSTEM.UNAVAILABLE");

    // an SC call whose session lookup fails is 503 too, never SC.SESSION_INVALID
    let mut h = gateway_headers("device-1");
    h.insert("x-sc-session-id", "q8bYl3m0cGZ5vT2xW9rN4A".parse().unwrap());
    h.insert("x-sc-version", "2".parse().unwrap());
    h.insert("content-type", "application/octet-stream".parse().unwrap());
    let resp = t.call(Route::Forgot, Method::POST, h, &[2u8; 40]).await;
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(&resp)["code"], "SYSTEM.UNAVAILABLE");
}
