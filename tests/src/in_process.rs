//! The app in process, without HTTP: memory adapters, a manual clock, the
//! RSA key of the published vectors (tests/data/vectors.json).

use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::Value;
use shared::adapters::memory::ManualClock;
use shared::channel::keyring::pkcs8_from_pem;
use shared::channel::{KeyRing, ServerKey};
use shared::config::Config;
use shared::http::{ApiRequest, ApiResponse};
use shared::{route::Route, App};

pub const VECTOR_TIME_MS: u64 = 1_711_929_600_000;

pub fn vectors() -> Value {
    serde_json::from_str(include_str!("../data/vectors.json")).unwrap()
}

pub fn vector_key() -> ServerKey {
    let v = vectors();
    let der = pkcs8_from_pem(v["rsaOaep"]["privateKeyPkcs8Pem"].as_str().unwrap()).unwrap();
    ServerKey::from_pkcs8("k2026-11", &der, VECTOR_TIME_MS + 30 * 86_400_000).unwrap()
}

pub struct TestApp {
    pub app: App,
    pub clock: Arc<ManualClock>,
}

impl Default for TestApp {
    fn default() -> TestApp {
        TestApp::new()
    }
}

impl TestApp {
    /// The default configuration in the simulation mode local-api runs in:
    /// calls name no network peer, and `CF-Connecting-IP` is the client.
    pub fn new() -> TestApp {
        Self::with(
            simulating_the_edge(Config::default()),
            KeyRing::single(vector_key()),
        )
    }

    /// `config` exactly as given: with the default trusted proxies, a call
    /// without a peer (`call`) is counted by the unknown address, whatever
    /// header it sends; [`TestApp::call_from`] names the peer.
    pub fn with(config: Config, keys: KeyRing) -> TestApp {
        let clock = Arc::new(ManualClock::new(VECTOR_TIME_MS));
        let app = App::embedded_with_clock(config, keys, clock.clone()).unwrap();
        TestApp { app, clock }
    }

    pub async fn call(
        &self,
        route: Route,
        method: Method,
        headers: HeaderMap,
        body: &[u8],
    ) -> ApiResponse {
        self.call_from(None, route, method, headers, body).await
    }

    /// A call whose network peer (API Gateway's `sourceIp`) is `source_ip`.
    pub async fn call_from(
        &self,
        source_ip: Option<std::net::IpAddr>,
        route: Route,
        method: Method,
        headers: HeaderMap,
        body: &[u8],
    ) -> ApiResponse {
        let req = ApiRequest {
            method,
            headers,
            body: Bytes::copy_from_slice(body),
            fallback_request_id: None,
            source_ip,
        };
        shared::dispatch::handle(&self.app, route, req).await
    }

    pub async fn create_session(&self, body: &Value) -> ApiResponse {
        self.call(
            Route::CreateSession,
            Method::POST,
            gateway_headers("device-1"),
            &serde_json::to_vec(body).unwrap(),
        )
        .await
    }
}

/// `config` in the simulation mode: `CF-Connecting-IP` is believed as sent.
pub fn simulating_the_edge(mut config: Config) -> Config {
    config.client_ip = shared::http::ClientIpSource::SimulationHeader;
    config
}

pub fn gateway_headers(client_hash: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("content-type", "application/json"),
        ("accept", "application/json"),
        ("x-client-hash", client_hash),
        ("accept-language", "en"),
        ("cf-connecting-ip", "203.0.113.7"),
        ("cf-ray", "8f00000000000001-LHR"),
        ("cf-ipcountry", "GB"),
    ] {
        h.insert(k, HeaderValue::from_str(v).unwrap());
    }
    h
}

pub fn json_of(resp: &ApiResponse) -> Value {
    serde_json::from_slice(resp.body()).unwrap()
}

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
