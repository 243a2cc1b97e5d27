//! The password routes end to end: local-api over real HTTP, real SCv2 crypto.

use e2e_tests::*;
use reqwest::header::HeaderMap;
use serde_json::json;
use shared::channel::BodyForm;

#[tokio::test]
async fn forgot_reset_story_revokes_the_old_password_and_tokens() {
    let s = Server::start().await;
    let biz = s.user("ann@example.com", STRONG).await;
    let old_token = s.token_at(&biz, now_secs() - 5).await;
    let c = s.client("198.51.100.10");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);

    let r = app.forgot("Ann@Example.com").await;
    assert_eq!(r.status, 200);
    assert!(r.encrypted);
    assert_eq!(
        r.body["message"],
        "If the email exists, a reset link will be sent"
    );
    let mail = s.outbox().await;
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0]["kind"], "reset");
    assert_eq!(mail[0]["to"], "ann@example.com");
    let link = mail[0]["link"].as_str().unwrap();
    assert!(
        link.starts_with("http://localhost:3000/password/reset#token="),
        "{link}"
    );
    let token = query(link, "token");
    assert!(token.len() >= 43, "256-bit token");
    assert!(mail[0]["text"].as_str().unwrap().contains(link));

    let r = app.reset(&token, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["message"], "Password changed successfully");

    // the token works once
    let r = app.reset(&token, STRONG_3).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "AUTH.RESET_TOKEN_INVALID");

    // the old access token is revoked
    let r = app.status(&old_token).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.body["code"], "AUTH.TOKEN_REVOKED");

    // the old password no longer verifies, the new one does
    let fresh = s.token_at(&biz, now_secs() + 1).await;
    let r = app.change(&fresh, STRONG, STRONG_3).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "AUTH.CURRENT_PASSWORD_INCORRECT");
    let r = app.status(&fresh).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["data"]["passwordSet"], true);
    assert!(r.body["data"]["passwordChangedAt"].is_string());

    // the "password changed" notice went out, with a "not you?" link
    let mail = s.outbox().await;
    let notice = mail
        .iter()
        .find(|m| m["kind"] == "changed")
        .expect("changed notice");
    assert_eq!(notice["to"], "ann@example.com");
    assert_eq!(notice["link"], "http://localhost:3000/password/forgot");
}

#[tokio::test]
async fn a_new_reset_token_does_not_void_older_ones_but_using_one_revokes_the_rest() {
    let s = Server::start().await;
    s.user("bo@example.com", STRONG).await;
    let c = s.client("198.51.100.11");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    for _ in 0..2 {
        let r = app.forgot("bo@example.com").await;
        assert_eq!(r.status, 200);
    }
    let mail = s.outbox().await;
    let first = query(mail[0]["link"].as_str().unwrap(), "token");
    let second = query(mail[1]["link"].as_str().unwrap(), "token");
    assert_ne!(first, second);
    let r = app.reset(&first, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.reset(&second, STRONG_3).await;
    assert_eq!(r.body["code"], "AUTH.RESET_TOKEN_INVALID");
}

#[tokio::test]
async fn init_story_sets_the_first_password_once() {
    let s = Server::start().await;
    let (biz, sid) = s.pending_user("cy@example.com", "Cy Young").await;
    // the invitation email carries the init link
    let mail = s.outbox().await;
    assert_eq!(mail[0]["kind"], "init");
    assert_eq!(query(mail[0]["link"].as_str().unwrap(), "sid"), sid);
    let c = s.client("198.51.100.12");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);

    let token = s.token(&biz).await;
    let r = app.status(&token).await;
    assert_eq!(
        r.body["data"],
        json!({"passwordSet": false, "passwordChangedAt": null, "mustChange": false})
    );

    let r = app.init(&sid, STRONG).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["data"]["bizId"], biz.as_str());
    assert_eq!(r.body["data"]["email"], "cy@example.com");
    assert_eq!(r.body["data"]["name"], "Cy Young");
    assert_eq!(r.body["data"]["status"], 10010202);
    assert!(r.body["data"]["createdAt"].as_str().unwrap().ends_with('Z'));

    let r = app.init(&sid, STRONG_2).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "AUTH.INIT_SESSION_INVALID");
    // no "password changed" notice for init
    assert!(s.outbox().await.iter().all(|m| m["kind"] != "changed"));
}

#[tokio::test]
async fn change_requires_current_password_only_when_one_exists() {
    let s = Server::start().await;
    let c = s.client("198.51.100.13");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    // an account without a password may set one with change
    let (pending, _) = s.pending_user("dee@example.com", "Dee").await;
    let t = s.token(&pending).await;
    let r = app
        .post(CHANGE, json!({"newPassword": STRONG}), bearer(&t))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    let biz = s.user("eve@example.com", STRONG).await;
    let t = s.token(&biz).await;
    let r = app
        .post(CHANGE, json!({"newPassword": STRONG_2}), bearer(&t))
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "AUTH.CURRENT_PASSWORD_REQUIRED");
    let r = app.change(&t, "wrong-password-1", STRONG_2).await;
    assert_eq!(r.body["code"], "AUTH.CURRENT_PASSWORD_INCORRECT");
    // policy: all failures at once, localized, with params
    let r = app.change(&t, STRONG, "eve").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "PASSWORD.POLICY_VIOLATION");
    let codes: Vec<&str> = r.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"PASSWORD.TOO_SHORT"), "{codes:?}");
    assert!(
        codes.contains(&"PASSWORD.CONTAINS_PERSONAL_INFO"),
        "{codes:?}"
    );
    let r = app.change(&t, STRONG, STRONG).await;
    assert_eq!(r.body["code"], "PASSWORD.POLICY_VIOLATION");
    assert!(r.body["details"]
        .to_string()
        .contains("PASSWORD.SAME_AS_CURRENT"));
    // wrong attempts counted: 5 per user per window, the 6th is limited
    let r = app.change(&t, STRONG, STRONG_2).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["code"], "REQUEST.RATE_LIMITED");
    assert!(r.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn token_and_user_errors() {
    let s = Server::start().await;
    let c = s.client("198.51.100.14");
    let sess = c.handshake().await.unwrap();
    let _app = App::new(&c, &sess);
    let app = App::new(&c, &sess);
    let r = app.post(STATUS, json!({}), HeaderMap::new()).await;
    assert_eq!(
        (r.status, r.body["code"].as_str().unwrap()),
        (401, "AUTH.TOKEN_MISSING")
    );
    let r = app.status("not.a.jwt").await;
    assert_eq!(
        (r.status, r.body["code"].as_str().unwrap()),
        (401, "AUTH.TOKEN_INVALID")
    );
    let ghost = s.token("ACC_USR_NOBODY").await;
    let r = app.status(&ghost).await;
    assert_eq!(
        (r.status, r.body["code"].as_str().unwrap()),
        (404, "AUTH.USER_NOT_FOUND")
    );
    // a locked account
    let biz = s.user("fay@example.com", STRONG).await;
    let mut user = s.stored_user(&biz).await;
    let version = user.version;
    user.status = shared::ports::accounts::UserStatus::Locked;
    user.version += 1;
    let change = shared::ports::accounts::AccountChange {
        user: Some((user, Some(version))),
        ..Default::default()
    };
    s.local
        .app
        .accounts
        .apply(change, 0)
        .await
        .unwrap()
        .unwrap();
    let t = s.token(&biz).await;
    let r = app.status(&t).await;
    assert_eq!(
        (r.status, r.body["code"].as_str().unwrap()),
        (403, "AUTH.ACCOUNT_DISABLED")
    );
}

#[tokio::test]
async fn init_errors_and_already_set() {
    let s = Server::start().await;
    let c = s.client("198.51.100.15");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let r = app.init("unknown-sid", STRONG).await;
    assert_eq!(
        (r.status, r.body["code"].as_str().unwrap()),
        (400, "AUTH.INIT_SESSION_INVALID")
    );
    let r = app.init(&"x".repeat(65), STRONG).await;
    assert_eq!(r.body["code"], "VALIDATION.INVALID_PARAMETER");
    // the password was set another way meanwhile
    let (biz, sid) = s.pending_user("gus@example.com", "Gus").await;
    let t = s.token(&biz).await;
    assert_eq!(
        app.post(CHANGE, json!({"newPassword": STRONG}), bearer(&t))
            .await
            .status,
        200
    );
    let r = app.init(&sid, STRONG_2).await;
    // Setting it consumed the pending init link.
    assert_eq!(
        (r.status, r.body["code"].as_str().unwrap()),
        (400, "AUTH.INIT_SESSION_INVALID")
    );
}

/// Status, body (minus timestamp and requestId) of a decrypted forgot answer.
#[tokio::test]
async fn forgot_answers_alike_for_existing_unknown_and_inactive_accounts() {
    let s = Server::start().await;
    s.user("hal@example.com", STRONG).await;
    s.pending_user("ivy@example.com", "Ivy").await;
    let before = s.outbox().await.len();
    let mut answers = Vec::new();
    for (i, email) in ["hal@example.com", "nobody@example.com", "ivy@example.com"]
        .iter()
        .enumerate()
    {
        let c = s.client(&format!("198.51.100.{}", 20 + i));
        let sess = c.handshake().await.unwrap();
        let app = App::new(&c, &sess);
        let r = app.forgot(email).await;
        answers.push(comparable(&r));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0], answers[2]);
    // only the active account got an email
    let mail = s.outbox().await;
    assert_eq!(mail.len(), before + 1);
    assert_eq!(mail.last().unwrap()["to"], "hal@example.com");
}

#[tokio::test]
async fn forgot_is_limited_per_email_whether_or_not_it_exists() {
    let s = Server::start().await;
    s.user("jo@example.com", STRONG).await;
    for email in ["jo@example.com", "ghost@example.com"] {
        let mut statuses = Vec::new();
        for i in 0..4 {
            // a new IP each time: only the per-email limit applies
            let c = s.client(&format!(
                "203.0.113.{}",
                if email.starts_with('j') {
                    10 + i
                } else {
                    20 + i
                }
            ));
            let sess = c.handshake().await.unwrap();
            let app = App::new(&c, &sess);
            statuses.push(app.forgot(email).await.status);
        }
        assert_eq!(statuses, vec![200, 200, 200, 429], "{email}");
    }
}

#[tokio::test]
async fn parallel_resets_with_one_token_succeed_exactly_once() {
    let s = Server::start().await;
    s.user("kim@example.com", STRONG).await;
    let c = s.client("198.51.100.30");
    let sess = c.handshake().await.unwrap();
    App::new(&c, &sess).forgot("kim@example.com").await;
    let token = query(s.outbox().await[0]["link"].as_str().unwrap(), "token");
    let mut tasks = Vec::new();
    for (i, pw) in [
        STRONG_2,
        STRONG_3,
        "tidal-Sparrow-ember-44",
        "north Quill garnet 12",
        "Saffron#Delta#Kite#8",
    ]
    .iter()
    .enumerate()
    {
        let c = s.client(&format!("198.51.100.{}", 31 + i));
        let (token, pw) = (token.clone(), pw.to_string());
        tasks.push(tokio::spawn(async move {
            let sess = c.handshake().await.unwrap();
            App::new(&c, &sess).reset(&token, &pw).await.status
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    // the losers learn the token is spent
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 400),
        "{statuses:?}"
    );
    assert_eq!(s.sent("changed").await, 1);
}

#[tokio::test]
async fn parallel_changes_never_lose_an_update() {
    let s = Server::start().await;
    let biz = s.user("lee@example.com", STRONG).await;
    let token = s.token(&biz).await;
    let mut tasks = Vec::new();
    for (i, pw) in [STRONG_2, STRONG_3].iter().enumerate() {
        let c = s.client(&format!("198.51.100.{}", 40 + i));
        let (token, pw) = (token.clone(), pw.to_string());
        tasks.push(tokio::spawn(async move {
            let sess = c.handshake().await.unwrap();
            let app = App::new(&c, &sess);
            let r = app.change(&token, STRONG, &pw).await;
            (
                r.status,
                r.body["code"].as_str().unwrap_or("").to_owned(),
                pw,
            )
        }));
    }
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap());
    }
    let winners: Vec<_> = results.iter().filter(|r| r.0 == 200).collect();
    assert_eq!(winners.len(), 1, "{results:?}");
    let loser = results.iter().find(|r| r.0 != 200).unwrap();
    // the loser either saw the concurrent update, or its token was already revoked
    assert!(
        [
            "CONFLICT.CONCURRENT_UPDATE",
            "AUTH.TOKEN_REVOKED",
            "AUTH.CURRENT_PASSWORD_INCORRECT"
        ]
        .contains(&loser.1.as_str()),
        "{results:?}"
    );
    // the stored password is the winner's, and the loser's is not history either
    let user = s.stored_user(&biz).await;
    let stored = user.password.unwrap();
    assert!(s
        .local
        .app
        .passwords
        .verify(&winners[0].2, Some(&stored))
        .await
        .is_ok());
    assert!(s
        .local
        .app
        .passwords
        .verify(&loser.2, Some(&stored))
        .await
        .is_err());
    assert_eq!(user.history.len(), 1);
}

#[tokio::test]
async fn replayed_change_is_refused_and_changes_nothing_twice() {
    let s = Server::start().await;
    let biz = s.user("max@example.com", STRONG).await;
    let token = s.token(&biz).await;
    let c = s.client("198.51.100.50");
    let sess = c.handshake().await.unwrap();
    let body =
        serde_json::to_vec(&json!({"currentPassword": STRONG, "newPassword": STRONG_2})).unwrap();
    let (header, envelope) = client::Client::seal_request(&sess, "POST", CHANGE, &body);
    let req = || client::SealedRequest {
        method: "POST",
        route: CHANGE,
        request_nonce: header.nonce,
        envelope: &envelope,
        form: BodyForm::Raw,
        extra: bearer(&token),
    };
    let first = c.send_envelope(&sess, req()).await.unwrap();
    assert_eq!(first.status, 200, "{}", first.body);
    let version = s.stored_user(&biz).await.version;
    let again = c.send_envelope(&sess, req()).await.unwrap();
    assert_eq!(
        (again.status, again.body["code"].as_str().unwrap()),
        (400, "SC.REPLAY")
    );
    assert!(!again.encrypted, "SC failures answer in plaintext");
    assert_eq!(s.stored_user(&biz).await.version, version);
    assert_eq!(s.sent("changed").await, 1);
}

#[tokio::test]
async fn a_body_sealed_for_forgot_does_not_open_on_reset() {
    let s = Server::start().await;
    let c = s.client("198.51.100.51");
    let sess = c.handshake().await.unwrap();
    let body = serde_json::to_vec(&json!({"email": "a@example.com"})).unwrap();
    let (header, envelope) = client::Client::seal_request(&sess, "POST", FORGOT, &body);
    let r = c
        .send_envelope(
            &sess,
            client::SealedRequest {
                method: "POST",
                route: RESET,
                request_nonce: header.nonce,
                envelope: &envelope,
                form: BodyForm::Base64,
                extra: HeaderMap::new(),
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.body["code"].as_str().unwrap()),
        (400, "SC.DECRYPT_FAILED")
    );
}

#[tokio::test]
async fn strict_bodies_refuse_arrays_duplicates_and_unknown_fields_without_email() {
    let s = Server::start().await;
    s.user("ned@example.com", STRONG).await;
    let c = s.client("198.51.100.52");
    let sess = c.handshake().await.unwrap();
    let cases: [(&[u8], &str, &str); 4] = [
        (br#"{"email":["ned@example.com"]}"#, "email", "INVALID_TYPE"),
        (
            br#"{"email":"ned@example.com","email":"x@example.com"}"#,
            "email",
            "DUPLICATE_FIELD",
        ),
        (
            br#"{"email":"ned@example.com","cc":"evil@example.com"}"#,
            "cc",
            "UNKNOWN_FIELD",
        ),
        (br#"["ned@example.com"]"#, "body", "INVALID_TYPE"),
    ];
    for (i, (body, field, code)) in cases.iter().enumerate() {
        // a new session and IP each time, so the forgot limit never interferes
        let c = s.client(&format!("198.51.100.{}", 60 + i));
        let sess = c.handshake().await.unwrap();
        let r = App::new(&c, &sess)
            .post_bytes(FORGOT, body, BodyForm::Raw)
            .await;
        assert_eq!(r.status, 400);
        assert!(r.encrypted, "step 7 failures answer encrypted");
        assert_eq!(r.body["code"], "VALIDATION.INVALID_PARAMETER");
        assert_eq!(r.body["details"][0]["field"], *field);
        assert_eq!(r.body["details"][0]["code"], *code);
    }
    let _ = sess;
    assert!(s.outbox().await.is_empty(), "no email for a refused body");
}

#[tokio::test]
async fn forwarded_host_headers_never_reach_a_link() {
    let s = Server::start().await;
    s.user("ola@example.com", STRONG).await;
    let c = s.client("198.51.100.70");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let mut extra = HeaderMap::new();
    extra.insert("x-forwarded-host", "evil.example".parse().unwrap());
    extra.insert("forwarded", "host=evil.example".parse().unwrap());
    let r = app
        .post(FORGOT, json!({"email": "ola@example.com"}), extra)
        .await;
    assert_eq!(r.status, 200);
    let mail = s.outbox().await;
    let link = mail[0]["link"].as_str().unwrap();
    assert!(link.starts_with("http://localhost:3000/password/reset#token="));
    assert!(!mail[0].to_string().contains("evil.example"));
}

#[tokio::test]
async fn answers_are_localized_and_sealed_in_the_form_asked() {
    let s = Server::start().await;
    let mut c = s.client("198.51.100.71");
    c.identity.accept_language = "ja-JP".into();
    let sess = c.handshake().await.unwrap();
    let r = c
        .call(
            &sess,
            "POST",
            FORGOT,
            &json!({"email": "nobody@example.com"}),
            BodyForm::Base64,
            HeaderMap::new(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    assert!(r.encrypted);
    assert_eq!(r.headers["content-type"], "text/plain;charset=UTF-8");
    assert_eq!(r.headers["content-language"], "ja");
    assert_ne!(
        r.body["message"],
        "If the email exists, a reset link will be sent"
    );
}

#[tokio::test]
async fn the_token_that_changed_the_password_is_revoked_even_in_the_same_second() {
    let s = Server::start().await;
    let biz = s.user("gus@example.com", STRONG).await;
    let c = s.client("198.51.100.80");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let token = s.token_at(&biz, now_secs() - 5).await;
    let r = app.change(&token, STRONG, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // The second the change was stored in, as the answer tells it.
    let changed_at = r.body["data"]["passwordChangedAt"].as_str().unwrap();
    let changed_secs = shared::time_fmt::parse_rfc3339(changed_at).unwrap() / 1000;
    // A token issued in that very second (as the one that made the change
    // may have been) cannot be told from one issued before it: revoked.
    let same_second = s.token_at(&biz, changed_secs).await;
    let r = app.status(&same_second).await;
    assert_eq!(
        (r.status, r.body["code"].as_str().unwrap()),
        (401, "AUTH.TOKEN_REVOKED"),
        "{}",
        r.body
    );
    // A token issued in the next second works.
    let fresh = s.token_at(&biz, changed_secs + 1).await;
    let r = app.status(&fresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn a_revoked_or_foreign_token_does_not_use_up_the_owners_change_limit() {
    let s = Server::start().await;
    let biz = s.user("hal@example.com", STRONG).await;
    let old = s.token_at(&biz, now_secs() - 10).await;
    // The owner changes the password: `old` is revoked from now on.
    let owner = s.client("198.51.100.81");
    let sess = owner.handshake().await.unwrap();
    let t = s.token_at(&biz, now_secs() - 5).await;
    let r = App::new(&owner, &sess).change(&t, STRONG, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // A token naming the owner, signed by a key the service does not trust.
    let foreign = local_api::DevSigner::generate()
        .unwrap()
        .token(&biz, now_secs())
        .unwrap();
    // An attacker with the revoked token, and one with the foreign token,
    // from many addresses (per-IP limits aside): more attempts each than the
    // owner's per-user limit allows.
    let limit = shared::config::Config::default().limits.change_per_user.max;
    for (token, code) in [
        (&old, "AUTH.TOKEN_REVOKED"),
        (&foreign, "AUTH.TOKEN_INVALID"),
    ] {
        for i in 0..limit + 3 {
            let a = s.client(&format!("203.0.113.{}", 100 + i));
            let sess = a.handshake().await.unwrap();
            let r = App::new(&a, &sess)
                .change(token, "guess-guess-guess", STRONG_3)
                .await;
            assert_eq!(
                (r.status, r.body["code"].as_str()),
                (401, Some(code)),
                "{}",
                r.body
            );
        }
    }
    // The owner's own attempts are untouched.
    let fresh = s.token_at(&biz, now_secs() + 1).await;
    let r = App::new(&owner, &sess)
        .change(&fresh, STRONG_2, STRONG_3)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// Asks for a reset link for `email` and returns its token.
async fn reset_link(
    s: &Server,
    c: &client::Client,
    sess: &client::SecureSession,
    email: &str,
) -> String {
    let r = App::new(c, sess).forgot(email).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mail = s.outbox().await;
    query(mail.last().unwrap()["link"].as_str().unwrap(), "token")
}

#[tokio::test]
async fn a_password_change_revokes_outstanding_reset_links() {
    let s = Server::start().await;
    let biz = s.user("owner@example.com", STRONG).await;
    let c = s.client("198.51.100.40");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let early = reset_link(&s, &c, &sess, "owner@example.com").await;
    let token = s.token(&biz).await;
    let body = json!({"currentPassword": STRONG, "newPassword": STRONG_2});
    let r = app.post(CHANGE, body, bearer(&token)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.reset(&early, STRONG_3).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["code"], "AUTH.RESET_TOKEN_INVALID");
}

#[tokio::test]
async fn many_reset_requests_keep_only_the_newest_links_live() {
    let mut config = shared::config::Config::default();
    let wide = shared::ports::Limit {
        max: 1000,
        window_secs: 300,
    };
    config.limits.forgot_per_ip = wide;
    config.limits.forgot_per_email = wide;
    let s = Server::start_with(config).await;
    s.user("asker@example.com", STRONG).await;
    let c = s.client("198.51.100.42");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let cap = shared::ports::accounts::MAX_LIVE_RESET_TOKENS;
    let mut tokens = Vec::new();
    for _ in 0..cap + 3 {
        tokens.push(reset_link(&s, &c, &sess, "asker@example.com").await);
    }
    for oldest in &tokens[..3] {
        let r = app.reset(oldest, STRONG_2).await;
        assert_eq!(r.body["code"], "AUTH.RESET_TOKEN_INVALID", "{}", r.body);
    }
    let r = app.reset(&tokens[3], STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Using one revoked the rest, the newest included.
    let r = app.reset(tokens.last().unwrap(), STRONG_3).await;
    assert_eq!(r.body["code"], "AUTH.RESET_TOKEN_INVALID", "{}", r.body);
}

/// NFKC-expanding new passwords (ligatures, full-width and compatibility
/// forms) once crashed the strength estimator: each gets a policy verdict,
/// the same one every time, and the account keeps its password.
#[tokio::test]
async fn nfkc_expanding_passwords_get_a_policy_verdict_never_a_500() {
    let mut config = shared::config::Config::default();
    let wide = shared::ports::Limit {
        max: 1000,
        window_secs: 300,
    };
    config.limits.change_per_ip = wide;
    config.limits.change_per_user = wide;
    let s = Server::start_with(config).await;
    let c = s.client("198.51.100.41");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let biz = s.user("lig@example.com", STRONG).await;
    // Ligatures expand 2-3x (U+FB01 "fi", U+FB03 "ffi"), U+3300 to a katakana word.
    for unit in ["\u{FB01}", "\u{FB03}", "\u{3300}", "\u{FB01}\u{FB02}"] {
        for n in [20, 40, 128] {
            let candidate = unit.repeat(n);
            let mut verdicts = Vec::new();
            for _ in 0..2 {
                let t = s.token(&biz).await;
                let r = app.change(&t, STRONG, &candidate).await;
                assert_eq!(r.status, 400, "{unit:?} x {n}: {}", r.body);
                assert_eq!(r.body["code"], "PASSWORD.POLICY_VIOLATION");
                verdicts.push(r.body["details"].clone());
            }
            assert_eq!(verdicts[0], verdicts[1], "{unit:?} x {n}: one verdict");
        }
    }
    // The password is unchanged: the original one still changes it.
    let t = s.token(&biz).await;
    let r = app.change(&t, STRONG, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn status_is_limited_per_ip_before_any_token_is_verified() {
    let mut config = shared::config::Config::default();
    config.limits.status_per_ip = shared::ports::Limit {
        max: 5,
        window_secs: 300,
    };
    let s = Server::start_with(config).await;
    let c = s.client("198.51.100.90");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    // Forged tokens from one address: each answer is 401 until the per-IP
    // bucket is spent, then 429 in plaintext, before the token is looked at.
    for _ in 0..5 {
        let r = app.status("not.a.jwt").await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let r = app.status("not.a.jwt").await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.body["code"], "REQUEST.RATE_LIMITED");
    assert!(!r.encrypted, "the per-IP limit answers in plaintext");
    assert!(r.headers.contains_key("retry-after"));
    // The owner of a valid token is refused from that address too, and
    // served from any other.
    let biz = s.user("ida@example.com", STRONG).await;
    let t = s.token(&biz).await;
    assert_eq!(app.status(&t).await.status, 429);
    let other = s.client("198.51.100.91");
    let sess = other.handshake().await.unwrap();
    let r = App::new(&other, &sess).status(&t).await;
    assert_eq!(r.status, 200, "{}", r.body);
}

/// `POST /_dev/signin` (or another `/_dev` JSON route): status, `Retry-After`, body.
async fn dev_post(
    s: &Server,
    path: &str,
    body: serde_json::Value,
) -> (u16, Option<u64>, serde_json::Value) {
    let resp = s
        .http
        .post(format!("{}{path}", s.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    (status, retry, resp.json().await.unwrap())
}

#[tokio::test]
async fn sign_in_change_then_the_old_password_fails_and_the_new_one_signs_in() {
    let s = Server::start().await;
    let biz = s.user("signin@example.com", STRONG).await;
    let creds = |p: &str| json!({"email": "Signin@Example.com", "password": p});

    let (status, _, body) = dev_post(&s, "/_dev/signin", creds(STRONG)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["bizId"], biz.as_str());
    assert_eq!(body["data"]["mustChange"], false);
    let token = body["data"]["accessToken"].as_str().unwrap().to_owned();

    let c = s.client("198.51.100.60");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let r = app.status(&token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["data"]["mustChange"], false);
    let r = app.change(&token, STRONG, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);

    let (status, _, body) = dev_post(&s, "/_dev/signin", creds(STRONG)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("AUTH.SIGNIN_FAILED"))
    );
    assert!(
        body.get("data").is_none_or(serde_json::Value::is_null),
        "{body}"
    );
    // An unknown address gets the very same answer.
    let (status, _, unknown) = dev_post(
        &s,
        "/_dev/signin",
        json!({"email": "nobody@example.com", "password": STRONG}),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(unknown["code"], body["code"]);
    assert_eq!(unknown["message"], body["message"]);

    // The new password signs in, and its token (issued after the change) works.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, body) = dev_post(&s, "/_dev/signin", creds(STRONG_2)).await;
    assert_eq!(status, 200, "{body}");
    let fresh = body["data"]["accessToken"].as_str().unwrap();
    let r = app.status(fresh).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body["data"]["passwordChangedAt"].is_string());
}

#[tokio::test]
async fn verify_password_route_answers_the_function_json_verbatim() {
    let s = Server::start().await;
    let biz = s.user("verbatim@example.com", STRONG).await;
    let (status, _, ok) = dev_post(
        &s,
        "/_dev/verify-password",
        json!({"email": "verbatim@example.com", "password": STRONG, "clientIp": "203.0.113.9", "userAgent": "curl/8"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        ok,
        json!({"result": "ok", "bizId": biz, "mustChange": false})
    );
    let (_, _, by_id) = dev_post(
        &s,
        "/_dev/verify-password",
        json!({"bizId": biz, "password": STRONG_2}),
    )
    .await;
    assert_eq!(by_id, json!({"result": "invalid"}));
    for bad in [
        json!({"email": "verbatim@example.com", "bizId": biz, "password": STRONG}),
        json!({"password": STRONG}),
        json!({"email": "verbatim@example.com"}),
        json!({"email": "verbatim@example.com", "password": STRONG, "extra": 1}),
        json!({"email": 5, "password": STRONG}),
        json!({"email": "verbatim@example.com", "password": STRONG, "clientIp": "not-an-ip"}),
    ] {
        let (status, _, body) = dev_post(&s, "/_dev/verify-password", bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(
            body["error"]["code"], "VALIDATION.INVALID_PARAMETER",
            "{bad}"
        );
        assert!(body.get("result").is_none());
    }
    // Nothing above was counted as a guess: five wrong ones still precede the lock.
    for _ in 0..4 {
        let (_, _, body) = dev_post(
            &s,
            "/_dev/verify-password",
            json!({"bizId": biz, "password": STRONG_2}),
        )
        .await;
        assert_eq!(body, json!({"result": "invalid"}));
    }
    let (_, _, body) = dev_post(
        &s,
        "/_dev/verify-password",
        json!({"bizId": biz, "password": STRONG}),
    )
    .await;
    assert_eq!(body["result"], "locked", "{body}");
    assert!(body["lockedUntil"].as_str().unwrap().ends_with('Z'));
    assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
}

#[tokio::test]
async fn wrong_current_passwords_on_change_lock_sign_in_too_and_the_owner_is_told_once() {
    let s = Server::start_with(shared::config::Config {
        limits: shared::config::RateLimits::unlimited(),
        ..shared::config::Config::default()
    })
    .await;
    let biz = s.user("locked@example.com", STRONG).await;
    let before = s.stored_user(&biz).await;
    let token = s.token(&biz).await;
    let c = s.client("198.51.100.61");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    for _ in 0..5 {
        let r = app.change(&token, STRONG_2, STRONG_3).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["code"], "AUTH.CURRENT_PASSWORD_INCORRECT");
    }
    // Locked: even the right current password is refused, sealed, with Retry-After.
    let r = app.change(&token, STRONG, STRONG_3).await;
    assert_eq!(r.status, 429, "{}", r.body);
    assert!(r.encrypted);
    assert_eq!(r.body["code"], "AUTH.ACCOUNT_LOCKED");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=1).contains(&retry), "{retry}");
    // Sign-in shares the counter.
    let (status, retry, body) = dev_post(
        &s,
        "/_dev/signin",
        json!({"email": "locked@example.com", "password": STRONG}),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("AUTH.ACCOUNT_LOCKED"))
    );
    assert_eq!(retry, Some(1));
    // Nothing changed, and one "someone is trying your password" email went out.
    let after = s.stored_user(&biz).await;
    assert_eq!(after.version, before.version);
    assert_eq!(
        after.password.as_ref().unwrap().phc(),
        before.password.as_ref().unwrap().phc()
    );
    let locked: Vec<_> = s
        .outbox()
        .await
        .into_iter()
        .filter(|m| m["kind"] == "locked")
        .collect();
    assert_eq!(locked.len(), 1);
    assert_eq!(locked[0]["to"], "locked@example.com");
    assert_eq!(locked[0]["link"], "http://localhost:3000/password/forgot");
    // The lock lasts one second; then the right password clears the count.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (status, _, body) = dev_post(
        &s,
        "/_dev/signin",
        json!({"email": "locked@example.com", "password": STRONG}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let r = app.change(&token, STRONG_2, STRONG_3).await;
    assert_eq!(
        r.body["code"], "AUTH.CURRENT_PASSWORD_INCORRECT",
        "count started over"
    );
}

/// Every path that sets a password tells the identity provider first (so a
/// Cognito session never outlives the old password); when it cannot be
/// told, the request answers 503 and nothing is written.
#[tokio::test]
async fn the_identity_provider_is_told_before_each_password_set_and_its_failure_changes_nothing() {
    use shared::adapters::memory::RecordingIdentityProvider;
    let keys = shared::channel::KeyRing::single(
        shared::channel::ServerKey::generate("k-idp", u64::MAX / 2)
            .unwrap()
            .0,
    );
    let mut local = local_api::Local::new(shared::config::Config::default(), keys).unwrap();
    let idp = std::sync::Arc::new(RecordingIdentityProvider::default());
    local.app.idp = idp.clone();
    let s = Server::serve(local).await;
    let biz = s.user("idp@example.com", STRONG).await;
    let (pending, sid) = s.pending_user("idp-new@example.com", "New").await;
    let c = s.client("198.51.100.62");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);

    // A failing provider: 503, and neither account moved.
    idp.fail(true);
    let before = s.stored_user(&biz).await;
    let r = app.change(&s.token(&biz).await, STRONG, STRONG_2).await;
    assert_eq!(
        (r.status, r.body["code"].as_str()),
        (503, Some("SYSTEM.UNAVAILABLE"))
    );
    let r = app.init(&sid, STRONG).await;
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(s.stored_user(&biz).await.version, before.version);
    assert!(s.stored_user(&pending).await.password.is_none());
    assert!(idp.told().is_empty());

    // Told once per password set: change, init, reset.
    idp.fail(false);
    let r = app.change(&s.token(&biz).await, STRONG, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = app.init(&sid, STRONG).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = app.forgot("idp@example.com").await;
    assert_eq!(r.status, 200);
    let token = query(&wait_for_link(&s, "reset").await, "token");
    let r = app.reset(&token, STRONG_3).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(idp.told(), [biz.clone(), pending, biz]);
}

/// A reset proves the owner through the emailed link: it ends the lock that
/// someone's guesses left, and the new password signs in at once.
#[tokio::test]
async fn a_reset_ends_the_lock_and_the_new_password_signs_in_at_once() {
    let s = Server::start().await;
    s.user("relock@example.com", STRONG).await;
    let signin = |p: &str| json!({"email": "relock@example.com", "password": p});
    for _ in 0..5 {
        let (status, _, _) = dev_post(&s, "/_dev/signin", signin(STRONG_2)).await;
        assert_eq!(status, 401);
    }
    let (status, _, body) = dev_post(&s, "/_dev/signin", signin(STRONG)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (429, Some("AUTH.ACCOUNT_LOCKED"))
    );
    let c = s.client("198.51.100.63");
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    assert_eq!(app.forgot("relock@example.com").await.status, 200);
    let token = query(&wait_for_link(&s, "reset").await, "token");
    let r = app.reset(&token, STRONG_3).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let (status, _, body) = dev_post(&s, "/_dev/signin", signin(STRONG_3)).await;
    assert_eq!(status, 200, "{body}");
}
