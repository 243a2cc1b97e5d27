//! The `AccountStore` contract, and the fixtures it (and adapter-specific
//! account tests) build on.

use std::sync::Arc;

use base64::Engine;
use password::{PasswordHash, PepperId};

use super::{now_ms, unique};
use crate::ports::accounts::{
    AccountChange, AccountStore, ChangeRejected, ForgotRequest, InitSession, MailKind,
    OutboxMessage, ResetToken, User, UserStatus, MAX_LIVE_RESET_TOKENS,
};
use crate::token::token_sha256 as sha256_hex;

/// A valid Argon2id PHC string (not of any password), told apart by `tag`.
pub fn phc(tag: u8) -> PasswordHash {
    let salt = base64::engine::general_purpose::STANDARD_NO_PAD.encode([tag; 16]);
    let out = base64::engine::general_purpose::STANDARD_NO_PAD.encode([tag ^ 0x5a; 32]);
    PasswordHash::parse(
        &format!("$argon2id$v=19$m=19456,t=2,p=1${salt}${out}"),
        Some(PepperId::new("p1")),
    )
    .unwrap()
}

/// An active user with a password and a history, created at `now`.
pub fn user(email: &str, now: u64) -> User {
    User {
        biz_id: unique("ACC_USR"),
        email: email.to_owned(),
        name: "Ann Example".into(),
        phone: Some("+33 6 12 34 56 78".into()),
        locale: None,
        status: UserStatus::Active,
        password: Some(phc(1)),
        history: vec![phc(2), phc(3)],
        password_changed_at_ms: Some(now),
        must_change: false,
        breached: false,
        created_at_ms: now,
        version: 1,
    }
}

/// `u` as the next change writes it (version bumped).
pub fn next(u: &User) -> User {
    let mut n = u.clone();
    n.version += 1;
    n
}

/// A fresh canonical address.
pub fn email() -> String {
    format!("{}@example.com", unique("u").to_lowercase())
}

/// A fresh random single-use secret (sid or reset token).
pub fn token() -> String {
    let mut b = [0u8; 32];
    aws_lc_rs::rand::fill(&mut b).unwrap();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// An outbox message of `kind` to `to`, carrying `link`.
pub fn message(kind: MailKind, to: &str, link: &str, now: u64) -> OutboxMessage {
    OutboxMessage {
        id: unique("m"),
        kind,
        to: to.to_owned(),
        subject: "Your link".into(),
        text: format!("Open {link}"),
        html: format!("<a href=\"{link}\">{link}</a>"),
        link: link.to_owned(),
        created_at_ms: now,
    }
}

/// The change that creates `u`.
pub fn create(u: &User) -> AccountChange {
    AccountChange {
        user: Some((u.clone(), None)),
        ..AccountChange::default()
    }
}

/// Applies `c`; panics if the store is unavailable.
pub async fn apply(
    store: &dyn AccountStore,
    c: AccountChange,
    now: u64,
) -> Result<(), ChangeRejected> {
    store.apply(c, now).await.unwrap()
}

/// Runs the account contract; returns the raw single-use secrets and
/// links it handed to the store (none may be at rest in clear).
pub async fn account_store(store: Arc<dyn AccountStore>) -> Vec<String> {
    let mut secrets = Vec::new();
    let now = now_ms();

    // -- users and email uniqueness
    let ann = user(&email(), now);
    let sid = token();
    let link = format!("https://app.example.com/password/init?sid={sid}");
    secrets.extend([sid.clone(), link.clone()]);
    let init_mail = message(MailKind::Init, &ann.email, &link, now);
    let mut pending_ann = ann.clone();
    pending_ann.status = UserStatus::PendingPassword;
    pending_ann.password = None;
    pending_ann.history.clear();
    pending_ann.password_changed_at_ms = None;
    let change = AccountChange {
        user: Some((pending_ann.clone(), None)),
        new_init: Some(InitSession {
            sid: sid.clone(),
            biz_id: ann.biz_id.clone(),
            expires_at_ms: now + 60_000,
        }),
        outbox: vec![init_mail.clone()],
        ..AccountChange::default()
    };
    assert_eq!(apply(&*store, change, now).await, Ok(()));
    let got = store.user(&ann.biz_id).await.unwrap().expect("stored");
    assert_eq!(got.email, ann.email);
    assert_eq!(got.status, UserStatus::PendingPassword);
    assert!(got.password.is_none() && got.history.is_empty());
    assert_eq!(got.phone, ann.phone);
    assert_eq!(got.locale, None);
    let by_email = store.user_by_email(&ann.email).await.unwrap().unwrap();
    assert_eq!(by_email.biz_id, ann.biz_id);
    assert!(store.user_by_email(&email()).await.unwrap().is_none());
    assert!(store.user(&unique("ACC_USR")).await.unwrap().is_none());
    // Another user with the same address is refused.
    let twin = user(&ann.email, now);
    assert_eq!(
        apply(&*store, create(&twin), now).await,
        Err(ChangeRejected::EmailTaken)
    );
    assert!(store.user(&twin.biz_id).await.unwrap().is_none());

    // Concurrent creations of one address: exactly one wins.
    let contested = email();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (store, u) = (store.clone(), user(&contested, now));
        tasks.spawn(async move { store.apply(create(&u), now).await.unwrap() });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(r.unwrap());
    }
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(ChangeRejected::EmailTaken))));

    // -- init sessions: single use, expiry decided at `now`
    let found = store.init_session(&sid, now).await.unwrap().expect("init");
    assert_eq!(found.biz_id, ann.biz_id);
    assert!(store
        .init_session(&sid, now + 60_000)
        .await
        .unwrap()
        .is_none());
    assert!(store.init_session(&token(), now).await.unwrap().is_none());
    // Single-use items are checked first: a stale version still reads InitInvalid.
    let stale = AccountChange {
        user: Some((next(&ann), Some(99))),
        consume_init: Some(sid.clone()),
        ..AccountChange::default()
    };
    assert_eq!(
        apply(&*store, stale, now + 60_000).await,
        Err(ChangeRejected::InitInvalid),
        "expired init refused while still present"
    );
    let mut active = next(&pending_ann);
    active.status = UserStatus::Active;
    active.password = Some(phc(4));
    let first = AccountChange {
        user: Some((active.clone(), Some(1))),
        consume_init: Some(sid.clone()),
        ..AccountChange::default()
    };
    assert_eq!(apply(&*store, first, now).await, Ok(()));
    assert!(store.init_session(&sid, now).await.unwrap().is_none());
    let again = AccountChange {
        user: Some((next(&active), Some(2))),
        consume_init: Some(sid.clone()),
        ..AccountChange::default()
    };
    assert_eq!(
        apply(&*store, again, now).await,
        Err(ChangeRejected::InitInvalid)
    );
    let got = store.user(&ann.biz_id).await.unwrap().unwrap();
    assert_eq!(got.version, 2);
    assert_eq!(got.password, Some(phc(4)));
    assert_eq!(got.status, UserStatus::Active);

    // -- optimistic versions: the stale writer loses, nothing is written
    let v3 = next(&active);
    assert_eq!(
        apply(
            &*store,
            AccountChange {
                user: Some((v3.clone(), Some(2))),
                ..Default::default()
            },
            now
        )
        .await,
        Ok(())
    );
    let mut stale_write = next(&active);
    stale_write.name = "Stale".into();
    let lost = AccountChange {
        user: Some((stale_write, Some(2))),
        outbox: vec![message(MailKind::Changed, &ann.email, "https://x", now)],
        ..AccountChange::default()
    };
    assert_eq!(
        apply(&*store, lost, now).await,
        Err(ChangeRejected::VersionConflict)
    );
    let got = store.user(&ann.biz_id).await.unwrap().unwrap();
    assert_eq!((got.version, got.name.as_str()), (3, "Ann Example"));
    // An update never moves the address (no flow does): one carrying
    // another address, free or someone else's, is refused and writes
    // nothing; both claims stay as they were.
    for other in [contested.clone(), email()] {
        let mut moved = next(&v3);
        moved.email = other.clone();
        assert_eq!(
            apply(
                &*store,
                AccountChange {
                    user: Some((moved, Some(3))),
                    outbox: vec![message(MailKind::Changed, &other, "https://x", now)],
                    ..Default::default()
                },
                now
            )
            .await,
            Err(ChangeRejected::VersionConflict)
        );
        let got = store.user(&ann.biz_id).await.unwrap().unwrap();
        assert_eq!((got.version, got.email.as_str()), (3, ann.email.as_str()));
        let owner = store.user_by_email(&other).await.unwrap();
        assert_ne!(owner.map(|u| u.biz_id), Some(ann.biz_id.clone()));
        let queued = store.pending_outbox().await.unwrap();
        assert!(!queued.iter().any(|m| m.to == other));
    }
    assert_eq!(
        store
            .user_by_email(&ann.email)
            .await
            .unwrap()
            .unwrap()
            .biz_id,
        ann.biz_id
    );

    // -- reset tokens
    let bob = user(&email(), now);
    assert_eq!(apply(&*store, create(&bob), now).await, Ok(()));
    let issue = |u: &User, raw: &str, expires: u64| AccountChange {
        new_reset: Some(ResetToken {
            token_sha256: sha256_hex(raw),
            biz_id: u.biz_id.clone(),
            expires_at_ms: expires,
        }),
        outbox: vec![message(
            MailKind::Reset,
            &u.email,
            &format!("https://app.example.com/password/reset?token={raw}"),
            now,
        )],
        ..AccountChange::default()
    };
    let consume = |u: &User, raw: &str| AccountChange {
        consume_reset: Some(sha256_hex(raw)),
        revoke_links_of: Some(u.biz_id.clone()),
        user: Some((next(u), Some(u.version))),
        ..AccountChange::default()
    };
    let t1 = token();
    secrets.extend([
        t1.clone(),
        format!("https://app.example.com/password/reset?token={t1}"),
    ]);
    assert_eq!(
        apply(&*store, issue(&bob, &t1, now + 60_000), now).await,
        Ok(())
    );
    let found = store
        .reset_token(&sha256_hex(&t1), now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.biz_id, bob.biz_id);
    // 20 concurrent consumptions of one token: exactly one succeeds.
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (store, c) = (store.clone(), consume(&bob, &t1));
        tasks.spawn(async move { store.apply(c, now).await.unwrap() });
    }
    let mut results = Vec::new();
    while let Some(r) = tasks.join_next().await {
        results.push(r.unwrap());
    }
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(results
        .iter()
        .all(|r| matches!(r, Ok(()) | Err(ChangeRejected::ResetInvalid))));
    assert!(store
        .reset_token(&sha256_hex(&t1), now)
        .await
        .unwrap()
        .is_none());
    let bob = store.user(&bob.biz_id).await.unwrap().unwrap();
    assert_eq!(bob.version, 2);

    // Expired: refused while the item is still present.
    let t2 = token();
    secrets.push(t2.clone());
    assert_eq!(
        apply(&*store, issue(&bob, &t2, now + 1_000), now).await,
        Ok(())
    );
    assert!(store
        .reset_token(&sha256_hex(&t2), now + 999)
        .await
        .unwrap()
        .is_some());
    assert!(store
        .reset_token(&sha256_hex(&t2), now + 1_000)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        apply(&*store, consume(&bob, &t2), now + 1_000).await,
        Err(ChangeRejected::ResetInvalid)
    );

    // Revocation: using one token revokes the user's others, not another user's.
    let (t3, t4, t5) = (token(), token(), token());
    secrets.extend([t3.clone(), t4.clone(), t5.clone()]);
    assert_eq!(
        apply(&*store, issue(&bob, &t3, now + 60_000), now).await,
        Ok(())
    );
    assert_eq!(
        apply(&*store, issue(&bob, &t4, now + 60_000), now).await,
        Ok(())
    );
    let carl = user(&email(), now);
    assert_eq!(apply(&*store, create(&carl), now).await, Ok(()));
    assert_eq!(
        apply(&*store, issue(&carl, &t5, now + 60_000), now).await,
        Ok(())
    );
    assert!(store
        .reset_token(&sha256_hex(&t4), now)
        .await
        .unwrap()
        .is_some());
    assert_eq!(apply(&*store, consume(&bob, &t3), now).await, Ok(()));
    assert!(store
        .reset_token(&sha256_hex(&t3), now)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .reset_token(&sha256_hex(&t4), now)
        .await
        .unwrap()
        .is_none());
    let bob = store.user(&bob.biz_id).await.unwrap().unwrap();
    assert_eq!(
        apply(&*store, consume(&bob, &t4), now).await,
        Err(ChangeRejected::ResetInvalid)
    );
    assert!(store
        .reset_token(&sha256_hex(&t5), now)
        .await
        .unwrap()
        .is_some());
    // A token issued after the revocation is valid.
    let t6 = token();
    secrets.push(t6.clone());
    assert_eq!(
        apply(&*store, issue(&bob, &t6, now + 60_000), now).await,
        Ok(())
    );
    assert_eq!(apply(&*store, consume(&bob, &t6), now).await, Ok(()));

    // -- a password set by any path revokes the user's reset tokens and
    // pending init sessions, in the same change (not another user's).
    let dora = user(&email(), now);
    let (t7, t8, sid2, sid3) = (token(), token(), token(), token());
    secrets.extend([t7.clone(), t8.clone(), sid2.clone(), sid3.clone()]);
    let init_of = |u: &User, sid: &str| AccountChange {
        new_init: Some(InitSession {
            sid: sid.to_owned(),
            biz_id: u.biz_id.clone(),
            expires_at_ms: now + 60_000,
        }),
        ..AccountChange::default()
    };
    let mut pending_dora = dora.clone();
    pending_dora.password = None;
    let mut created = init_of(&pending_dora, &sid2);
    created.user = Some((pending_dora.clone(), None));
    assert_eq!(apply(&*store, created, now).await, Ok(()));
    assert_eq!(apply(&*store, init_of(&carl, &sid3), now).await, Ok(()));
    assert_eq!(
        apply(&*store, issue(&dora, &t7, now + 60_000), now).await,
        Ok(())
    );
    assert_eq!(
        apply(&*store, issue(&carl, &t8, now + 60_000), now).await,
        Ok(())
    );
    let password_set = AccountChange {
        user: Some((next(&pending_dora), Some(1))),
        revoke_links_of: Some(dora.biz_id.clone()),
        ..AccountChange::default()
    };
    assert_eq!(apply(&*store, password_set, now).await, Ok(()));
    assert!(store
        .reset_token(&sha256_hex(&t7), now)
        .await
        .unwrap()
        .is_none());
    assert!(store.init_session(&sid2, now).await.unwrap().is_none());
    assert!(store
        .reset_token(&sha256_hex(&t8), now)
        .await
        .unwrap()
        .is_some());
    assert!(store.init_session(&sid3, now).await.unwrap().is_some());
    // The init path: consuming one sid revokes the rest with it.
    let erin = user(&email(), now);
    let (sid4, sid5) = (token(), token());
    secrets.extend([sid4.clone(), sid5.clone()]);
    let mut pending_erin = erin.clone();
    pending_erin.password = None;
    let mut created = init_of(&pending_erin, &sid4);
    created.user = Some((pending_erin.clone(), None));
    assert_eq!(apply(&*store, created, now).await, Ok(()));
    assert_eq!(apply(&*store, init_of(&erin, &sid5), now).await, Ok(()));
    let first_password = AccountChange {
        user: Some((next(&pending_erin), Some(1))),
        consume_init: Some(sid4.clone()),
        revoke_links_of: Some(erin.biz_id.clone()),
        ..AccountChange::default()
    };
    assert_eq!(apply(&*store, first_password, now).await, Ok(()));
    assert!(store.init_session(&sid4, now).await.unwrap().is_none());
    assert!(store.init_session(&sid5, now).await.unwrap().is_none());

    // -- live reset tokens are capped per user: the oldest go, so the
    // revoking change stays within one transaction however many were asked.
    let fay = user(&email(), now);
    assert_eq!(apply(&*store, create(&fay), now).await, Ok(()));
    let many: Vec<String> = (0..55).map(|_| token()).collect();
    for (i, raw) in many.iter().enumerate() {
        let change = AccountChange {
            new_reset: Some(ResetToken {
                token_sha256: sha256_hex(raw),
                biz_id: fay.biz_id.clone(),
                expires_at_ms: now + 60_000 + i as u64,
            }),
            ..AccountChange::default()
        };
        assert_eq!(apply(&*store, change, now).await, Ok(()), "token {i}");
    }
    let mut live = 0;
    for (i, raw) in many.iter().enumerate() {
        let found = store.reset_token(&sha256_hex(raw), now).await.unwrap();
        assert_eq!(
            found.is_some(),
            i >= many.len() - MAX_LIVE_RESET_TOKENS,
            "token {i}"
        );
        live += usize::from(found.is_some());
    }
    assert_eq!(live, MAX_LIVE_RESET_TOKENS);
    let newest = many.last().unwrap();
    assert_eq!(apply(&*store, consume(&fay, newest), now).await, Ok(()));
    for raw in &many {
        assert!(store
            .reset_token(&sha256_hex(raw), now)
            .await
            .unwrap()
            .is_none());
    }
    secrets.extend(many);

    // -- forgot requests: pending oldest first, answered exactly once
    let forgot = |email: &str, at: u64| ForgotRequest {
        id: crate::handlers::mail::new_id(),
        email: email.to_owned(),
        lang: "ja".into(),
        requested_at_ms: at,
    };
    let asked = email();
    secrets.push(asked.clone());
    let (f1, f2) = (forgot(&asked, now), forgot(&fay.email, now + 1));
    store.record_forgot(&f2).await.unwrap();
    store.record_forgot(&f1).await.unwrap();
    let pending: Vec<(String, String, String, u64)> = store
        .pending_forgot()
        .await
        .unwrap()
        .into_iter()
        .map(|f| (f.id, f.email, f.lang, f.requested_at_ms))
        .filter(|(id, ..)| *id == f1.id || *id == f2.id)
        .collect();
    let expected: Vec<(String, String, String, u64)> = [&f1, &f2]
        .iter()
        .map(|f| {
            (
                f.id.clone(),
                f.email.clone(),
                f.lang.clone(),
                f.requested_at_ms,
            )
        })
        .collect();
    assert_eq!(pending, expected);
    let answer = |f: &ForgotRequest| AccountChange {
        consume_forgot: Some(f.clone()),
        ..AccountChange::default()
    };
    assert_eq!(apply(&*store, answer(&f1), now).await, Ok(()));
    assert_eq!(
        apply(&*store, answer(&f1), now).await,
        Err(ChangeRejected::ForgotHandled)
    );
    let left: Vec<String> = store
        .pending_forgot()
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.id)
        .collect();
    assert!(!left.contains(&f1.id) && left.contains(&f2.id));
    assert_eq!(apply(&*store, answer(&f2), now).await, Ok(()));

    // An empty change is a successful no-op.
    assert_eq!(apply(&*store, AccountChange::default(), now).await, Ok(()));

    // -- outbox: pending oldest first, delivery marked once
    let pending = store.pending_outbox().await.unwrap();
    let ids: Vec<&str> = pending.iter().map(|m| m.id.as_str()).collect();
    assert!(ids.contains(&init_mail.id.as_str()));
    assert!(pending
        .windows(2)
        .all(|w| w[0].created_at_ms <= w[1].created_at_ms));
    let first = pending.iter().find(|m| m.id == init_mail.id).unwrap();
    assert_eq!(first.link, init_mail.link);
    assert_eq!(first.to, init_mail.to);
    assert_eq!(first.text, init_mail.text);
    assert_eq!(first.html, init_mail.html);
    assert_eq!(first.subject, init_mail.subject);
    assert_eq!(first.kind, MailKind::Init);
    // The refused changes above left no message behind.
    assert!(!pending.iter().any(|m| m.link == "https://x"));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..10 {
        let (store, id) = (store.clone(), init_mail.id.clone());
        tasks.spawn(async move { store.mark_delivered(&id).await.unwrap() });
    }
    let mut wins = 0;
    while let Some(r) = tasks.join_next().await {
        wins += usize::from(r.unwrap());
    }
    assert_eq!(wins, 1, "exactly one delivery claim wins");
    assert!(!store.mark_delivered(&init_mail.id).await.unwrap());
    let after = store.pending_outbox().await.unwrap();
    assert!(!after.iter().any(|m| m.id == init_mail.id));
    assert_eq!(after.len(), pending.len() - 1);
    secrets
}

/// Reset emails queued for `to`.
async fn queued_resets(store: &dyn AccountStore, to: &str) -> usize {
    store
        .pending_outbox()
        .await
        .unwrap()
        .iter()
        .filter(|m| m.to == to && m.kind == MailKind::Reset)
        .count()
}

/// `answer_forgot` over the store: a forgot request made before the
/// account's last password change is consumed with no link and no email; one
/// made after it gets a reset token and its email.
pub async fn forgot_request_before_a_password_change(store: Arc<dyn AccountStore>) {
    use crate::handlers::accounts::answer_forgot;
    let config = crate::config::Config::default();
    let now = now_ms();
    // Its password was set at `now`.
    let ann = user(&email(), now);
    assert_eq!(apply(&*store, create(&ann), now).await, Ok(()));
    let request = |at: u64| ForgotRequest {
        id: crate::handlers::mail::new_id(),
        email: ann.email.clone(),
        lang: "en".into(),
        requested_at_ms: at,
    };
    let pending = |id: String| {
        let store = store.clone();
        async move {
            store
                .pending_forgot()
                .await
                .unwrap()
                .iter()
                .any(|f| f.id == id)
        }
    };

    // Asked before the change, answered after it (a stream retry, the sweep).
    for stale in [request(now - 60_000), request(now - 1)] {
        store.record_forgot(&stale).await.unwrap();
        assert!(answer_forgot(&*store, &config, &stale, now + 1_000)
            .await
            .unwrap());
        assert!(!pending(stale.id.clone()).await, "the request is consumed");
        assert_eq!(
            queued_resets(&*store, &ann.email).await,
            0,
            "no reset link for a request that predates the password change"
        );
        // Answering it again issues nothing either.
        assert!(!answer_forgot(&*store, &config, &stale, now + 2_000)
            .await
            .unwrap());
    }

    // Asked after the change (or in its millisecond): answered with a link.
    let fresh = request(now);
    store.record_forgot(&fresh).await.unwrap();
    assert!(answer_forgot(&*store, &config, &fresh, now + 1_000)
        .await
        .unwrap());
    assert!(!pending(fresh.id.clone()).await);
    assert_eq!(queued_resets(&*store, &ann.email).await, 1);
}
