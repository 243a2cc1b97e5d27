//! Argon2 evaluations per password route and outcome, counted by the
//! password service (not timed): change, reset and init at history 0 and 5.
//! A new evaluation on a route is a visible change here, and in
//! docs/performance.md, which explains each one.

use e2e_tests::*;
use reqwest::header::HeaderMap;
use serde_json::{json, Value};
use shared::config::{Config, RateLimits};

const PASSWORDS: [&str; 6] = [
    "amber kestrel harbor 11",
    "cobalt walrus meadow 22",
    "linen falcon quarry 33",
    "russet badger canyon 44",
    "saffron heron tundra 55",
    "violet marten summit 66",
];

/// The history is built by repeated changes from one address.
fn unlimited() -> Config {
    Config {
        limits: RateLimits::unlimited(),
        ..Config::default()
    }
}

/// The answer to `body` on `route` and the Argon2 evaluations it took.
async fn counted(s: &Server, route: &str, body: Value, headers: HeaderMap) -> (u16, String, u64) {
    let c = s.client("198.51.100.40");
    let sess = c.handshake().await.unwrap();
    let before = s.local.app.passwords.argon2_evaluations();
    let r = App::new(&c, &sess).post(route, body, headers).await;
    let n = s.local.app.passwords.argon2_evaluations() - before;
    let code = r.body["code"].as_str().unwrap_or_default().to_owned();
    let detail = r.body["details"][0]["code"].as_str().map(str::to_owned);
    (r.status, detail.unwrap_or(code), n)
}

async fn change(s: &Server, biz: &str, current: &str, new: &str) -> (u16, String, u64) {
    // A token from after any earlier change (`iat` has second precision).
    let token = s.token_at(biz, now_secs() + 1).await;
    let body = json!({"currentPassword": current, "newPassword": new});
    counted(s, CHANGE, body, bearer(&token)).await
}

async fn reset(s: &Server, email: &str, new: &str) -> (u16, String, u64) {
    let c = s.client("198.51.100.41");
    let sess = c.handshake().await.unwrap();
    let r = App::new(&c, &sess).forgot(email).await;
    assert_eq!(r.status, 200);
    let token = query(&wait_for_link(s, "reset").await, "token");
    let body = json!({"token": token, "newPassword": new});
    counted(s, RESET, body, HeaderMap::new()).await
}

#[tokio::test]
async fn change_verifies_once_and_hashes_once_at_history_0() {
    let s = Server::start_with(unlimited()).await;
    let biz = s.user("cost-change@example.com", STRONG).await;

    let wrong = change(&s, &biz, STRONG_2, STRONG_3).await;
    assert_eq!(wrong, (400, "AUTH.CURRENT_PASSWORD_INCORRECT".into(), 1));
    // The current password was just verified: no second evaluation for it.
    let same = change(&s, &biz, STRONG, STRONG).await;
    assert_eq!(same, (400, "PASSWORD.SAME_AS_CURRENT".into(), 1));
    let ok = change(&s, &biz, STRONG, STRONG_3).await;
    assert_eq!(ok, (200, "2000".into(), 2));
}

#[tokio::test]
async fn change_and_reset_check_each_history_entry_at_history_5() {
    let s = Server::start_with(unlimited()).await;
    let email = "cost-history@example.com";
    let biz = s.user(email, STRONG).await;
    let mut current = STRONG;
    for (i, next) in PASSWORDS[..5].iter().enumerate() {
        let (status, _, n) = change(&s, &biz, current, next).await;
        assert_eq!(status, 200);
        // verify current + one per history entry + hash the new one
        assert_eq!(n, 2 + i as u64, "change with {i} history entries");
        current = next;
    }
    // History full (5): verify, 5 history checks, hash.
    let reused = change(&s, &biz, current, PASSWORDS[0]).await;
    assert_eq!(reused, (400, "PASSWORD.REUSED".into(), 6));
    let ok = change(&s, &biz, current, PASSWORDS[5]).await;
    assert_eq!(ok, (200, "2000".into(), 7));

    // Reset proves no current password: same-as-current is one evaluation.
    let same = reset(&s, email, PASSWORDS[5]).await;
    assert_eq!(same, (400, "PASSWORD.SAME_AS_CURRENT".into(), 6));
    let ok = reset(&s, email, STRONG_2).await;
    assert_eq!(ok, (200, "2000".into(), 7));
}

#[tokio::test]
async fn reset_at_history_0_and_init_cost_their_checks_and_one_hash() {
    let s = Server::start_with(unlimited()).await;
    let email = "cost-reset@example.com";
    s.user(email, STRONG).await;
    let ok = reset(&s, email, STRONG_2).await;
    assert_eq!(ok, (200, "2000".into(), 2), "same-as-current check + hash");

    let (_, sid) = s.pending_user("cost-init@example.com", "Cost Init").await;
    let body = json!({"sessionId": sid, "password": STRONG});
    let ok = counted(&s, INIT, body, HeaderMap::new()).await;
    assert_eq!(
        ok,
        (201, "2000".into(), 1),
        "no current, no history: the hash"
    );
}
