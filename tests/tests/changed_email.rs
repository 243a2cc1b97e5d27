//! The "password changed" email tells the owner when (UTC), from which
//! country and on what kind of device, in their language, and never echoes
//! the raw User-Agent.

use client::{Client, Identity};
use e2e_tests::*;
use reqwest::header::{HeaderValue, USER_AGENT};
use serde_json::json;

const IPHONE: &str =
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
const WINDOWS: &str =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36";

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
        let c = contract::checked(Client::new(
            &s.url,
            Identity {
                ip: format!("198.51.100.{}", 140 + i),
                accept_language: lang.into(),
                country: country.into(),
                ..Identity::default()
            },
        ));
        let sess = c.handshake().await.unwrap();
        let app = App::new(&c, &sess);
        let mut headers = bearer(&s.token(&biz).await);
        headers.insert(USER_AGENT, HeaderValue::from_static(ua));
        let before = now_secs() * 1000;
        let r = app
            .post(
                CHANGE,
                json!({"currentPassword": STRONG, "newPassword": STRONG_2}),
                headers,
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let after = now_secs() * 1000;

        let outbox = s.outbox().await;
        let mail = outbox
            .iter()
            .find(|m| m["kind"] == "changed" && m["to"] == email.as_str())
            .expect("changed notice");
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
