//! User administration (`handlers::admin`) over any backend: each action's
//! effect, its refusals (which change nothing), and erasure, whichever
//! adapters hold the accounts, counters and limits.

use std::sync::Arc;

use secrecy::SecretString;
use serde_json::Value;

use super::accounts::email;
use super::signin::Backend;
use crate::adapters::memory::ManualClock;
use crate::app::App;
use crate::channel::KeyRing;
use crate::config::Config;
use crate::handlers::accounts::{create_user, Invitation};
use crate::handlers::admin::{administer, Action};
use crate::handlers::verify::{account_guess_key, verify_password, Verdict, VerifyRequest};
use crate::http::ApiError;
use crate::i18n::Lang;
use crate::ports::accounts::{MailKind, User, UserStatus};
use crate::ports::{Attempt, Limit, RateDecision};
use crate::token::token_sha256;

const RIGHT: &str = "correct horse battery staple 42";
const OPERATOR: &str = "arn:aws:iam::123456789012:user/operator";

/// What an erasure left to look for in the store: the erased user, and the
/// hashes of the links and limit keys that were theirs.
#[derive(Debug)]
pub struct ErasedUser {
    /// The business ids the address had (erased twice).
    pub biz_ids: Vec<String>,
    /// The address.
    pub email: String,
    /// SHA-256 (hex) of the user's init sid and reset token.
    pub link_sha256: Vec<String>,
}

fn app_for(backend: &Backend) -> App {
    let clock = Arc::new(ManualClock::new(super::now_ms()));
    let mut app =
        App::embedded_with_clock(Config::default(), KeyRing::empty(), clock).expect("app");
    app.accounts = backend.accounts.clone();
    app.guesses = backend.guesses.clone();
    app.limiter = backend.limiter.clone();
    app
}

async fn run(app: &App, action: Action, who: &str) -> Result<Value, ApiError> {
    administer(app, action, who, OPERATOR).await
}

fn code(result: Result<Value, ApiError>) -> (u16, &'static str) {
    let err = result.expect_err("refused");
    let parts = err.parts(Lang::En);
    (parts.status.as_u16(), parts.code)
}

/// The secret after `key=` in the one pending `kind` email to `to` whose
/// secret is not in `seen`.
async fn new_secret(
    app: &App,
    kind: MailKind,
    to: &str,
    key: &str,
    seen: &[&str],
) -> Option<String> {
    let pending = app.accounts.pending_outbox().await.unwrap();
    let mut fresh = pending
        .iter()
        .filter(|m| m.kind == kind && m.to == to)
        .map(|m| {
            m.link
                .split_once(&format!("{key}="))
                .expect("secret in link")
                .1
                .to_owned()
        })
        .filter(|secret| !seen.contains(&secret.as_str()));
    let found = fresh.next();
    assert!(fresh.next().is_none(), "one new {kind:?} email");
    found
}

/// The secret of the one pending `kind` email to `to`.
async fn link_secret(app: &App, kind: MailKind, to: &str, key: &str) -> Option<String> {
    new_secret(app, kind, to, key, &[]).await
}

async fn invite(app: &App, address: &str) -> User {
    let invitation = Invitation {
        email: password::Email::parse(address).unwrap(),
        name: "Ann Example".into(),
        phone: None,
        locale: None,
    };
    create_user(app, invitation, None)
        .await
        .expect("invited")
        .user
}

async fn active(app: &App) -> User {
    let hash = app.passwords.hash_unchecked(RIGHT).await.expect("hash");
    let invitation = Invitation {
        email: password::Email::parse(&email()).unwrap(),
        name: "Bo Example".into(),
        phone: None,
        locale: None,
    };
    create_user(app, invitation, Some(hash))
        .await
        .expect("seeded")
        .user
}

async fn signs_in(app: &App, user: &User) -> bool {
    let req = VerifyRequest {
        email: Some(password::Email::parse(&user.email).unwrap()),
        biz_id: None,
        password: SecretString::from(RIGHT.to_owned()),
        client_ip: None,
        user_agent: None,
    };
    matches!(verify_password(app, req).await, Ok(Verdict::Ok { .. }))
}

async fn stored(app: &App, user: &User) -> User {
    app.accounts
        .user(&user.biz_id)
        .await
        .unwrap()
        .expect("stored")
}

/// `show`, `resend-invite`, `lock`/`unlock`, `disable`/`enable`,
/// `require-change`, `send-reset` and their refusals.
pub async fn user_admin(backend: Backend) {
    let app = app_for(&backend);

    // show: by address or id, never a hash.
    let bo = active(&app).await;
    let shown = run(&app, Action::Show, &bo.email.to_uppercase())
        .await
        .unwrap();
    assert_eq!(shown["user"]["bizId"], bo.biz_id.as_str());
    assert_eq!(shown["user"]["status"], "Active");
    assert_eq!(shown["user"]["hasPassword"], true);
    assert_eq!(shown["changed"], false);
    assert!(!shown.to_string().contains("argon2"), "{shown}");
    let by_id = run(&app, Action::Show, &bo.biz_id).await.unwrap();
    assert_eq!(by_id["user"], shown["user"]);

    // Bad input and unknown users: clear errors, nothing written.
    assert_eq!(
        code(run(&app, Action::Lock, &email()).await),
        (404, "AUTH.USER_NOT_FOUND")
    );
    assert_eq!(
        code(run(&app, Action::Lock, "ACC_USR_000000000000").await),
        (404, "AUTH.USER_NOT_FOUND")
    );
    for bad in ["", "USER#x", "a@", "x".repeat(65).as_str(), "a b"] {
        assert_eq!(
            code(run(&app, Action::Lock, bad).await),
            (400, "VALIDATION.INVALID_PARAMETER"),
            "{bad:?}"
        );
    }
    for principal in ["", "  ", "a\nb"] {
        let r = administer(&app, Action::Lock, &bo.biz_id, principal).await;
        assert_eq!(code(r), (400, "VALIDATION.INVALID_PARAMETER"));
    }
    // Active users have no invitation to send again.
    assert_eq!(
        code(run(&app, Action::ResendInvite, &bo.biz_id).await),
        (409, "AUTH.PASSWORD_ALREADY_SET")
    );
    assert_eq!(
        stored(&app, &bo).await.version,
        bo.version,
        "refusals change nothing"
    );

    // resend-invite: a new link, the previous one dead at once.
    let ann = invite(&app, &email()).await;
    let first = link_secret(&app, MailKind::Init, &ann.email, "sid")
        .await
        .expect("invited");
    let now = app.clock.now_ms();
    assert!(app
        .accounts
        .init_session(&first, now)
        .await
        .unwrap()
        .is_some());
    let resent = run(&app, Action::ResendInvite, &ann.email).await.unwrap();
    assert_eq!(resent["changed"], true);
    assert!(!resent.to_string().contains(&first));
    let second = new_secret(&app, MailKind::Init, &ann.email, "sid", &[&first])
        .await
        .unwrap();
    assert_ne!(first, second);
    assert!(app
        .accounts
        .init_session(&first, now)
        .await
        .unwrap()
        .is_none());
    let live = app
        .accounts
        .init_session(&second, now)
        .await
        .unwrap()
        .expect("new link");
    assert_eq!(live.biz_id, ann.biz_id);
    // A pending user has no password to reset or to require a change of.
    assert_eq!(
        code(run(&app, Action::SendReset, &ann.biz_id).await),
        (400, "VALIDATION.INVALID_PARAMETER")
    );
    assert_eq!(
        code(run(&app, Action::RequireChange, &ann.biz_id).await),
        (400, "VALIDATION.INVALID_PARAMETER")
    );

    // lock / unlock: unlock restores the status and clears the guess counter.
    let lockout = app.config.lockout;
    let key = account_guess_key(&bo.biz_id);
    for _ in 0..lockout.threshold {
        app.guesses.reserve(&key, lockout, now).await.unwrap();
    }
    assert!(matches!(
        app.guesses.reserve(&key, lockout, now).await.unwrap(),
        Attempt::Locked { .. }
    ));
    let locked = run(&app, Action::Lock, &bo.biz_id).await.unwrap();
    assert_eq!(locked["user"]["status"], "Locked");
    assert_eq!(stored(&app, &bo).await.status, UserStatus::Locked);
    assert_eq!(
        run(&app, Action::Lock, &bo.biz_id).await.unwrap()["changed"],
        false
    );
    assert!(!signs_in(&app, &bo).await);
    assert_eq!(
        code(run(&app, Action::Enable, &bo.biz_id).await),
        (400, "VALIDATION.INVALID_PARAMETER")
    );
    assert_eq!(
        code(run(&app, Action::SendReset, &bo.biz_id).await),
        (403, "AUTH.ACCOUNT_DISABLED")
    );
    let unlocked = run(&app, Action::Unlock, &bo.biz_id).await.unwrap();
    assert_eq!(unlocked["user"]["status"], "Active");
    assert_eq!(
        app.guesses.reserve(&key, lockout, now).await.unwrap(),
        Attempt::Allowed { failures: 1 },
        "unlock clears the guess counter"
    );
    app.guesses.clear(&key).await.unwrap();
    assert!(signs_in(&app, &bo).await);
    // A locked pending user returns to pending.
    run(&app, Action::Lock, &ann.biz_id).await.unwrap();
    let back = run(&app, Action::Unlock, &ann.biz_id).await.unwrap();
    assert_eq!(back["user"]["status"], "PendingPassword");

    // disable / enable.
    let disabled = run(&app, Action::Disable, &bo.email).await.unwrap();
    assert_eq!(disabled["user"]["status"], "Disabled");
    assert!(!signs_in(&app, &bo).await);
    assert_eq!(
        code(run(&app, Action::SendReset, &bo.biz_id).await),
        (403, "AUTH.ACCOUNT_DISABLED")
    );
    assert_eq!(
        code(run(&app, Action::Unlock, &bo.biz_id).await),
        (400, "VALIDATION.INVALID_PARAMETER")
    );
    assert_eq!(
        code(run(&app, Action::Lock, &bo.biz_id).await),
        (400, "VALIDATION.INVALID_PARAMETER")
    );
    assert_eq!(stored(&app, &bo).await.status, UserStatus::Disabled);
    assert_eq!(
        run(&app, Action::Enable, &bo.biz_id).await.unwrap()["user"]["status"],
        "Active"
    );
    assert!(signs_in(&app, &bo).await);

    // require-change: sets mustChange, once.
    let required = run(&app, Action::RequireChange, &bo.biz_id).await.unwrap();
    assert_eq!(required["user"]["mustChange"], true);
    assert!(stored(&app, &bo).await.must_change);
    assert_eq!(
        run(&app, Action::RequireChange, &bo.biz_id).await.unwrap()["changed"],
        false
    );

    // send-reset: the reset email with a working token.
    assert!(link_secret(&app, MailKind::Reset, &bo.email, "token")
        .await
        .is_none());
    run(&app, Action::SendReset, &bo.biz_id).await.unwrap();
    let token = link_secret(&app, MailKind::Reset, &bo.email, "token")
        .await
        .expect("reset mail");
    let found = app
        .accounts
        .reset_token(&token_sha256(&token), now)
        .await
        .unwrap();
    assert_eq!(found.expect("live token").biz_id, bo.biz_id);
}

/// `delete`: every item of the user goes, counters and limit buckets too,
/// and the address can be invited again. Returns what the store must no
/// longer hold (the DynamoDB test scans the table for it).
pub async fn user_erasure(backend: Backend) -> ErasedUser {
    let app = app_for(&backend);
    let now = app.clock.now_ms();
    let cy = active(&app).await;
    run(&app, Action::SendReset, &cy.biz_id).await.unwrap();
    let token = link_secret(&app, MailKind::Reset, &cy.email, "token")
        .await
        .unwrap();
    let limit = Limit {
        max: 1,
        window_secs: 3600,
    };
    for (bucket, key) in [
        ("change-user", cy.biz_id.clone()),
        ("status-user", cy.biz_id.clone()),
        ("forgot-email", token_sha256(&cy.email)),
        ("reset-token", token_sha256(&token)),
    ] {
        app.limiter.hit(bucket, &key, limit, now).await.unwrap();
        assert!(matches!(
            app.limiter.hit(bucket, &key, limit, now).await.unwrap(),
            RateDecision::Limited { .. }
        ));
    }
    let key = account_guess_key(&cy.biz_id);
    app.guesses
        .reserve(&key, app.config.lockout, now)
        .await
        .unwrap();

    let answer = run(&app, Action::Delete, &cy.email).await.unwrap();
    assert_eq!(answer["changed"], true);
    assert_eq!(answer["erased"]["links"], 1);
    assert_eq!(answer["erased"]["messages"], 1);
    assert!(app.accounts.user(&cy.biz_id).await.unwrap().is_none());
    assert!(app
        .accounts
        .user_by_email(&cy.email)
        .await
        .unwrap()
        .is_none());
    assert!(app
        .accounts
        .reset_token(&token_sha256(&token), now)
        .await
        .unwrap()
        .is_none());
    assert!(!app
        .accounts
        .pending_outbox()
        .await
        .unwrap()
        .iter()
        .any(|m| m.to == cy.email));
    for (bucket, key) in [
        ("change-user", cy.biz_id.clone()),
        ("status-user", cy.biz_id.clone()),
        ("forgot-email", token_sha256(&cy.email)),
        ("reset-token", token_sha256(&token)),
    ] {
        assert_eq!(
            app.limiter.hit(bucket, &key, limit, now).await.unwrap(),
            RateDecision::Allowed,
            "{bucket}"
        );
        app.limiter.forget(bucket, &key).await.unwrap();
    }
    assert_eq!(
        app.guesses
            .reserve(&key, app.config.lockout, now)
            .await
            .unwrap(),
        Attempt::Allowed { failures: 1 }
    );
    app.guesses.clear(&key).await.unwrap();
    // Gone: a second delete names nobody.
    assert_eq!(
        code(run(&app, Action::Delete, &cy.biz_id).await),
        (404, "AUTH.USER_NOT_FOUND")
    );

    // A user on an imported hash leaves the count of such users.
    let (_, foreign, _) = super::signin::imported_fixture().remove(0);
    let mut imported = super::accounts::user(&email(), now);
    imported.password = Some(foreign);
    let mut change = super::accounts::create(&imported);
    change.foreign_hash_delta = 1;
    app.accounts.apply(change, now).await.unwrap().unwrap();
    let count = app.accounts.foreign_hash_users().await.unwrap();
    run(&app, Action::Delete, &imported.biz_id).await.unwrap();
    assert_eq!(app.accounts.foreign_hash_users().await.unwrap(), count - 1);

    // The address is free: invited again, as a new user.
    let again = invite(&app, &cy.email).await;
    assert_ne!(again.biz_id, cy.biz_id);
    // And erased again, pending with its invitation (init link and mail).
    let sid = link_secret(&app, MailKind::Init, &cy.email, "sid")
        .await
        .unwrap();
    let erased = run(&app, Action::Delete, &again.biz_id).await.unwrap();
    assert_eq!(erased["erased"]["links"], 1);
    assert!(app
        .accounts
        .init_session(&sid, now)
        .await
        .unwrap()
        .is_none());
    ErasedUser {
        biz_ids: vec![cy.biz_id, again.biz_id],
        email: cy.email,
        link_sha256: vec![token_sha256(&token), token_sha256(&sid)],
    }
}
