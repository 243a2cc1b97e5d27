//! In process: what the edge decides before any handler runs: CORS, and the
//! client IP that every per-IP limit counts by.

use std::net::IpAddr;

use e2e_tests::in_process::*;
use http::{HeaderMap, HeaderValue, Method};
use serde_json::json;
use shared::channel::KeyRing;
use shared::config::Config;
use shared::http::{ClientIpSource, CorsPolicy};
use shared::route::Route;

const APP_ORIGIN: &str = "https://app.example.com";

fn with_origin(mut headers: HeaderMap, origin: &str) -> HeaderMap {
    headers.insert("origin", HeaderValue::from_str(origin).unwrap());
    headers
}

fn cors_app() -> TestApp {
    let config = Config {
        cors: CorsPolicy::parse(APP_ORIGIN).unwrap(),
        ..Config::default()
    };
    TestApp::with(simulating_the_edge(config), KeyRing::single(vector_key()))
}

fn cors_headers(resp: &shared::http::ApiResponse) -> Vec<String> {
    resp.headers()
        .keys()
        .map(|k| k.as_str().to_owned())
        .filter(|k| k.starts_with("access-control-"))
        .collect()
}

#[tokio::test]
async fn preflight_from_an_allowed_origin_on_every_route_and_never_counted() {
    let t = cors_app();
    for route in Route::ALL {
        let mut h = with_origin(HeaderMap::new(), APP_ORIGIN);
        h.insert(
            "access-control-request-method",
            route.method().as_str().parse().unwrap(),
        );
        let resp = t.call(route, Method::OPTIONS, h, b"").await;
        assert_eq!(resp.status(), 204, "{route:?}");
        let h = resp.headers();
        assert_eq!(h["access-control-allow-origin"], APP_ORIGIN);
        assert_eq!(h["access-control-allow-methods"], "GET, POST");
        assert_eq!(
            h["access-control-allow-headers"],
            "Content-Type, Authorization, X-SC-Session-Id, X-SC-Version, X-Client-Hash, Accept-Language"
        );
        assert!(h.contains_key("access-control-max-age"));
        assert_eq!(h["vary"], "Origin");
        assert!(resp.body().is_empty());
    }
    // 100 preflights leave the per-IP session limit (20) untouched.
    for _ in 0..100 {
        let h = with_origin(gateway_headers("device-1"), APP_ORIGIN);
        t.call(Route::CreateSession, Method::OPTIONS, h, b"").await;
    }
    let r = t
        .create_session(&json!({"keyId": "k2026-11", "encryptedKey": "AAAA"}))
        .await;
    assert_eq!(
        r.status(),
        400,
        "the first real request is not rate limited"
    );
}

#[tokio::test]
async fn other_origins_get_no_cors_headers_and_the_same_answer() {
    let t = cors_app();
    let pre = t
        .call(
            Route::Change,
            Method::OPTIONS,
            with_origin(HeaderMap::new(), "https://evil.example.com"),
            b"",
        )
        .await;
    assert_eq!(pre.status(), 204);
    assert!(cors_headers(&pre).is_empty());

    let plain = t
        .call(Route::PublicKey, Method::GET, gateway_headers("d"), b"")
        .await;
    let other = t
        .call(
            Route::PublicKey,
            Method::GET,
            with_origin(gateway_headers("d"), "https://evil.example.com"),
            b"",
        )
        .await;
    assert!(cors_headers(&other).is_empty());
    assert_eq!(other.status(), plain.status());
    assert_eq!(other.headers(), plain.headers());
    assert_eq!(json_of(&other)["data"], json_of(&plain)["data"]);

    let allowed = t
        .call(
            Route::PublicKey,
            Method::GET,
            with_origin(gateway_headers("d"), APP_ORIGIN),
            b"",
        )
        .await;
    assert_eq!(allowed.headers()["access-control-allow-origin"], APP_ORIGIN);
    assert_eq!(
        allowed.headers()["access-control-expose-headers"],
        "Retry-After, Content-Language"
    );
    // Errors carry them too, so a browser can read the code.
    let mut no_headers = with_origin(HeaderMap::new(), APP_ORIGIN);
    no_headers.insert("content-type", "application/json".parse().unwrap());
    let err = t
        .call(Route::CreateSession, Method::POST, no_headers, b"{}")
        .await;
    assert_eq!(err.status(), 400);
    assert_eq!(err.headers()["access-control-allow-origin"], APP_ORIGIN);
}

#[tokio::test]
async fn without_a_list_nothing_is_added() {
    let t = TestApp::new();
    let resp = t
        .call(
            Route::PublicKey,
            Method::GET,
            with_origin(gateway_headers("d"), APP_ORIGIN),
            b"",
        )
        .await;
    assert_eq!(resp.status(), 200);
    assert!(cors_headers(&resp).is_empty());
    assert!(resp.headers().get("vary").is_none());
}

/// 25 session creations, each with a new `CF-Connecting-IP`, from `source`.
async fn sessions_with_rotating_header(t: &TestApp, source: Option<IpAddr>) -> Vec<u16> {
    let mut statuses = Vec::new();
    for i in 0..25 {
        let mut h = gateway_headers("device-1");
        h.insert(
            "cf-connecting-ip",
            format!("198.51.100.{i}").parse().unwrap(),
        );
        let body =
            serde_json::to_vec(&json!({"keyId": "k2026-11", "encryptedKey": "AAAA"})).unwrap();
        let r = t
            .call_from(source, Route::CreateSession, Method::POST, h, &body)
            .await;
        statuses.push(r.status().as_u16());
    }
    statuses
}

/// The deployed default: only Cloudflare's ranges name the client.
fn deployed() -> TestApp {
    TestApp::with(Config::default(), KeyRing::single(vector_key()))
}

#[tokio::test]
async fn a_caller_off_the_edge_cannot_choose_its_rate_limit_key() {
    let t = deployed();
    let direct: IpAddr = "203.0.113.99".parse().unwrap();
    let statuses = sessions_with_rotating_header(&t, Some(direct)).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
    assert!(statuses[..20].iter().all(|s| *s == 400));

    // Through the edge, each client is its own bucket.
    let t = deployed();
    let edge: IpAddr = "172.64.10.1".parse().unwrap();
    let statuses = sessions_with_rotating_header(&t, Some(edge)).await;
    assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
}

#[tokio::test]
async fn without_a_network_peer_the_header_is_believed_only_when_simulating() {
    // Behind trusted proxies, requests that name no peer share one bucket.
    let statuses = sessions_with_rotating_header(&deployed(), None).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
    assert!(statuses[..20].iter().all(|s| *s == 400));
    // local-api's simulation mode, opted into explicitly, believes the header.
    let statuses = sessions_with_rotating_header(&TestApp::new(), None).await;
    assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
}

#[tokio::test]
async fn trusted_proxies_come_from_the_configuration() {
    let config = Config {
        client_ip: ClientIpSource::parse_cidrs("10.0.0.0/8").unwrap(),
        ..Config::default()
    };
    let t = TestApp::with(config, KeyRing::single(vector_key()));
    let cloudflare_edge: IpAddr = "172.64.10.1".parse().unwrap();
    let statuses = sessions_with_rotating_header(&t, Some(cloudflare_edge)).await;
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5);
    let own_proxy: IpAddr = "10.1.2.3".parse().unwrap();
    let statuses = sessions_with_rotating_header(&t, Some(own_proxy)).await;
    assert!(statuses.iter().all(|s| *s == 400), "{statuses:?}");
}

/// `EDGE_MODE=none`, read as a deployed function reads it.
fn edgeless() -> TestApp {
    let config = Config::from_lookup(|name| (name == "EDGE_MODE").then(|| "none".to_owned()))
        .expect("EDGE_MODE=none");
    assert_eq!(config.client_ip, ClientIpSource::Peer);
    TestApp::with(config, KeyRing::single(vector_key()))
}

#[tokio::test]
async fn without_an_edge_the_cf_headers_are_not_needed_and_do_not_choose_the_key() {
    let peer: IpAddr = "198.51.100.200".parse().unwrap();
    let mut bare = gateway_headers("device-1");
    for name in ["cf-connecting-ip", "cf-ray", "cf-ipcountry"] {
        bare.remove(name);
    }
    // No CF-* header at all: the public key is served.
    let t = edgeless();
    let r = t
        .call_from(Some(peer), Route::PublicKey, Method::GET, bare.clone(), b"")
        .await;
    assert_eq!(r.status(), 200, "{}", json_of(&r));
    // Behind Cloudflare the same request is refused before any work.
    let r = deployed()
        .call_from(Some(peer), Route::PublicKey, Method::GET, bare, b"")
        .await;
    assert_eq!(r.status(), 400);
    assert_eq!(json_of(&r)["code"], "GATEWAY.HEADER_MISSING");
    // A rotating CF-Connecting-IP does not escape the peer's bucket (20 per
    // 5 minutes): the header is ignored, the peer counted.
    let statuses = sessions_with_rotating_header(&edgeless(), Some(peer)).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        5,
        "{statuses:?}"
    );
    // Two peers are two buckets.
    let t = edgeless();
    let a = sessions_with_rotating_header(&t, Some(peer)).await;
    let b = sessions_with_rotating_header(&t, Some("198.51.100.201".parse().unwrap())).await;
    assert_eq!(a.iter().filter(|s| **s == 429).count(), 5);
    assert_eq!(b.iter().filter(|s| **s == 429).count(), 5);
}
