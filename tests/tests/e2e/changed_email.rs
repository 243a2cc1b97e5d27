//! The "password changed" email tells the owner when (UTC), from which
//! country and on what kind of device, in their language, and never echoes
//! the raw User-Agent.

use client::{Client, Identity};
use e2e_tests::*;
use reqwest::header::{HeaderValue, USER_AGENT};
use serde_json::json;
use shared::ports::accounts::AccountChange;

const IPHONE: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
const WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36";

/// `biz` (at `email`) changes the password from `(ip, accept_language,
/// country)` with `user_agent`: the answer and the "password changed" email.
async fn change_from(
    s: &Server,
    biz: &str,
    email: &str,
    (ip, lang, country): (&str, &str, &str),
    user_agent: &'static str,
) -> (client::Reply, serde_json::Value) {
    let c = contract::checked(Client::new(
        &s.url,
        Identity {
            ip: ip.into(),
            accept_language: lang.into(),
            country: country.into(),
            ..Identity::default()
        },
    ));
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let mut headers = bearer(&s.token(biz).await);
    headers.insert(USER_AGENT, HeaderValue::from_static(user_agent));
    let r = app
        .post(
            CHANGE,
            json!({"currentPassword": STRONG, "newPassword": STRONG_2}),
            headers,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let outbox = s.outbox().await;
    let mail = outbox
        .into_iter()
        .find(|m| m["kind"] == "changed" && m["to"] == email)
        .expect("changed notice");
    (r, mail)
}

#[tokio::test]
async fn the_changed_email_says_when_where_and_on_what() {
    let s = Server::start().await;
    for (i, (lang, country, ua, device, country_label)) in [
        ("en", "DE", WINDOWS, "Windows computer", "Country: DE"),
        ("ja", "JP", IPHONE, "iPhone", "国・地域：JP"),
        (
            "en",
            "XX",
            "curl/8.5.0",
            "unknown device",
            "Country: unknown country",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("owner{i}@example.com");
        let biz = s.user(&email, STRONG).await;
        let ip = format!("198.51.100.{}", 140 + i);
        let before = now_secs() * 1000;
        let (_, mail) = change_from(&s, &biz, &email, (&ip, lang, country), ua).await;
        let after = now_secs() * 1000;

        let text = mail["text"].as_str().unwrap();
        let html = mail["html"].as_str().unwrap();
        // when: the minute of the change, in UTC
        let minute = |ms: u64| shared::time_fmt::rfc3339(ms)[..16].replace('T', " ") + " UTC";
        assert!(
            text.contains(&minute(before)) || text.contains(&minute(after)),
            "{text}"
        );
        assert!(text.contains(country_label), "{text}");
        assert!(text.contains(device), "{text}");
        for part in [text, html] {
            assert!(
                !part.contains(ua),
                "the raw User-Agent never reaches the email"
            );
        }
        if lang == "ja" {
            assert!(text.contains("デバイス：iPhone"), "{text}");
            assert_eq!(mail["subject"], "パスワードが変更されました");
        }
    }
}

#[tokio::test]
async fn the_changed_email_is_in_the_owners_stored_language_not_the_requests() {
    let s = Server::start().await;
    let email = "owner-ja@example.com";
    let biz = s.user(email, STRONG).await;
    // The account's own language is Japanese (as an invitation with a locale leaves it).
    let mut user = s.stored_user(&biz).await;
    let expected = user.version;
    user.locale = Some("ja".into());
    user.version += 1;
    let change = AccountChange {
        user: Some((user, Some(expected))),
        ..AccountChange::default()
    };
    s.local
        .app
        .accounts
        .apply(change, now_secs() * 1000)
        .await
        .unwrap()
        .unwrap();
    // The change comes from an English-speaking browser.
    let (r, mail) = change_from(&s, &biz, email, ("198.51.100.150", "en", "JP"), IPHONE).await;
    // The answer speaks the request's language...
    assert_eq!(r.headers["content-language"], "en");
    // ...the email the owner's.
    let text = mail["text"].as_str().unwrap();
    assert_eq!(mail["subject"], "パスワードが変更されました");
    assert!(text.contains("国・地域：JP"), "{text}");
    assert!(text.contains("デバイス：iPhone"), "{text}");
    assert!(!text.contains("Country:"), "{text}");
}

#[tokio::test]
async fn a_caller_off_the_edge_cannot_choose_the_country_of_the_changed_email() {
    let s = Server::start().await;
    let email = "offedge@example.com";
    let biz = s.user(email, STRONG).await;
    let c = Client::new(
        &s.url,
        Identity {
            ip: "198.51.100.150".into(),
            country: "FR".into(),
            ..Identity::default()
        },
    );
    let sess = c.handshake().await.unwrap();
    // The same stores under the deployed trust: only Cloudflare's ranges
    // are believed, and this caller reaches the origin directly.
    let mut app = s.local.app.clone();
    std::sync::Arc::make_mut(&mut app.config).client_ip = shared::http::ClientIpSource::default();
    let direct: std::net::IpAddr = "203.0.113.50".parse().unwrap();
    let body = json!({"currentPassword": STRONG, "newPassword": STRONG_2}).to_string();
    let (_, envelope) = Client::seal_request(&sess, "POST", CHANGE, body.as_bytes());
    let mut headers = c.gateway_headers();
    assert_eq!(headers["cf-ipcountry"], "FR");
    headers.insert("x-sc-session-id", HeaderValue::from_str(&sess.id).unwrap());
    headers.insert("x-sc-version", HeaderValue::from_static("2"));
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    let token = format!("Bearer {}", s.token(&biz).await);
    headers.insert("authorization", HeaderValue::from_str(&token).unwrap());
    let req = shared::http::ApiRequest {
        method: http::Method::POST,
        headers,
        body: envelope.into(),
        fallback_request_id: None,
        source_ip: Some(direct),
    };
    let resp = shared::dispatch::by_path(&app, CHANGE, req).await;
    assert_eq!(resp.status(), 200);

    let mail = s
        .outbox()
        .await
        .into_iter()
        .find(|m| m["kind"] == "changed" && m["to"] == email)
        .expect("changed notice");
    let text = mail["text"].as_str().unwrap();
    assert!(text.contains("Country: unknown country"), "{text}");
    for part in ["text", "html"] {
        let body = mail[part].as_str().unwrap();
        assert!(!body.contains(": FR"), "{part}: {body}");
        assert!(!body.contains(">FR<"), "{part}: {body}");
    }
}
