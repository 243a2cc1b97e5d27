//! End to end over real HTTP: local-api on a loopback port, the client library's real SCv2 crypto.

use client::{Client, Identity};
use e2e_tests::{contract, Server};
use serde_json::json;

async fn start() -> String {
    Server::start().await.url
}

#[tokio::test]
async fn a_client_completes_the_handshake_over_http() {
    let url = start().await;
    let client = contract::checked(Client::new(&url, Identity::default()));
    let pk = client.public_key().await.unwrap();
    assert_eq!(pk.key_id, "k-e2e");
    let session = client.handshake().await.unwrap();
    assert!(session.id.len() >= 22);
    // each handshake is a new session with a new key
    let other = client.handshake().await.unwrap();
    assert_ne!(other.id, session.id);
}

#[tokio::test]
async fn public_key_headers_over_http() {
    let url = start().await;
    let client = contract::checked(Client::new(&url, Identity::default()));
    let resp = reqwest::Client::new()
        .get(client.url(client::PUBLIC_KEY_ROUTE))
        .headers(client.gateway_headers())
        .send()
        .await
        .unwrap();
    let (status, headers, _) =
        contract::checked_response("GET", client::PUBLIC_KEY_ROUTE, resp).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "public, max-age=300");
    assert_eq!(headers["content-type"], "application/json;charset=UTF-8");
    assert_eq!(headers["content-language"], "en");
}

#[tokio::test]
async fn bad_input_over_http_gets_clear_4xx() {
    let url = start().await;
    let client = contract::checked(Client::new(
        &url,
        Identity {
            accept_language: "zh-TW".into(),
            ..Identity::default()
        },
    ));
    let http = reqwest::Client::new();

    // unknown route
    let r = http.get(format!("{url}/web/v1/nope")).send().await.unwrap();
    let (status, _, body) = contract::checked_response("GET", "/web/v1/nope", r).await;
    assert_eq!(status, 404);
    assert_eq!(body["code"], "REQUEST.NOT_FOUND");

    // body over 64 KiB
    let r = http
        .post(client.url(client::SESSION_ROUTE))
        .headers(client.gateway_headers())
        .header("content-type", "application/json")
        .body(vec![b' '; 70_000])
        .send()
        .await
        .unwrap();
    let (status, _, body) = contract::checked_response("POST", client::SESSION_ROUTE, r).await;
    assert_eq!(status, 413);
    assert_eq!(body["code"], "REQUEST.PAYLOAD_TOO_LARGE");

    // forged key exchange, localized
    let r = client
        .create_session_raw(&json!({"keyId": "k-e2e", "encryptedKey": "AAAA"}))
        .await
        .unwrap();
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "SC.KEY_EXCHANGE_FAILED");
    assert_eq!(r.body["message"], "金鑰交換失敗");
    assert_eq!(r.headers["content-language"], "zh-Hant");

    // no gateway headers at all
    let r = http
        .get(client.url(client::PUBLIC_KEY_ROUTE))
        .send()
        .await
        .unwrap();
    let (status, _, body) = contract::checked_response("GET", client::PUBLIC_KEY_ROUTE, r).await;
    assert_eq!(status, 400);
    assert_eq!(body["code"], "GATEWAY.HEADER_MISSING");
}

#[tokio::test]
async fn session_creation_is_rate_limited_per_ip_over_http() {
    let url = start().await;
    let client = contract::checked(Client::new(
        &url,
        Identity {
            ip: "192.0.2.55".into(),
            ..Identity::default()
        },
    ));
    for _ in 0..20 {
        let r = client
            .create_session_raw(&json!({"keyId": "k-e2e", "encryptedKey": "AAAA"}))
            .await
            .unwrap();
        assert_eq!(r.status, 400);
    }
    let r = client
        .create_session_raw(&json!({"keyId": "k-e2e", "encryptedKey": "AAAA"}))
        .await
        .unwrap();
    assert_eq!(r.status, 429);
    assert!(r.headers.contains_key("retry-after"));
    // a real handshake from the same IP is refused too
    assert!(client.handshake().await.is_err());
}
