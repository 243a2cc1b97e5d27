//! The sign-in use case (`handlers::verify`) over any backend: the same
//! answers, Argon2 counts, lockout and rehash whichever adapters hold the
//! accounts, counters and limits.

use std::sync::Arc;

use password::breach::{key_of_password, BreachFilter};
use password::{BreachedConfig, HashingConfig, PasswordConfig, SignInAction};
use secrecy::SecretString;

use super::accounts::{create, email, next};
use crate::adapters::memory::ManualClock;
use crate::app::App;
use crate::channel::KeyRing;
use crate::config::Config;
use crate::handlers::verify::{verify_password, Verdict, VerifyRequest};
use crate::http::ApiError;
use crate::ports::accounts::{AccountStore, MailKind, User, UserStatus};
use crate::ports::{Clock, GuessCounter, Limit, RateLimiter};

const RIGHT: &str = "correct horse battery staple 42";
const WRONG: &str = "correct horse battery staple 43";

/// The adapters under test.
pub struct Backend {
    /// Users and the outbox.
    pub accounts: Arc<dyn AccountStore>,
    /// The guessing cap's counters.
    pub guesses: Arc<dyn GuessCounter>,
    /// Rate-limit buckets.
    pub limiter: Arc<dyn RateLimiter>,
}

fn app_for(backend: &Backend, clock: Arc<ManualClock>, iterations: u32) -> App {
    app_with(backend, clock, iterations, BreachedConfig::default())
}

fn app_with(
    backend: &Backend,
    clock: Arc<ManualClock>,
    iterations: u32,
    breached: BreachedConfig,
) -> App {
    let mut config = Config::default();
    config.limits.verify_per_ip = Limit {
        max: 3,
        window_secs: 300,
    };
    config.password = PasswordConfig {
        hashing: HashingConfig::new(19_456, iterations, 1).expect("hashing above the floor"),
        breached,
        ..PasswordConfig::default()
    };
    let mut app = App::embedded_with_clock(config, KeyRing::empty(), clock).expect("app");
    app.passwords.prepare_dummy().expect("dummy hash");
    app.accounts = backend.accounts.clone();
    app.guesses = backend.guesses.clone();
    app.limiter = backend.limiter.clone();
    app
}

fn by_email(email: &str, password: &str) -> VerifyRequest {
    VerifyRequest {
        email: Some(password::Email::parse(email).expect("email")),
        biz_id: None,
        password: SecretString::from(password.to_owned()),
        client_ip: None,
        user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0".into()),
    }
}

async fn seed(app: &App, status: UserStatus, with_password: bool) -> User {
    let now = app.clock.now_ms();
    let mut user = super::accounts::user(&email(), now);
    user.status = status;
    user.history.clear();
    user.password = if with_password {
        Some(app.passwords.hash_unchecked(RIGHT).await.expect("hash"))
    } else {
        None
    };
    app.accounts
        .apply(create(&user), now)
        .await
        .unwrap()
        .unwrap();
    user
}

/// Runs `req` and counts the Argon2 evaluations it took.
async fn verify(app: &App, req: VerifyRequest) -> (Result<Verdict, ApiError>, u64) {
    let before = app.passwords.argon2_evaluations();
    let verdict = verify_password(app, req).await;
    (verdict, app.passwords.argon2_evaluations() - before)
}

async fn locked_mail_to(accounts: &dyn AccountStore, to: &str) -> usize {
    mail_to(accounts, MailKind::Locked, to).await
}

async fn mail_to(accounts: &dyn AccountStore, kind: MailKind, to: &str) -> usize {
    accounts
        .pending_outbox()
        .await
        .unwrap()
        .iter()
        .filter(|m| m.kind == kind && m.to == to)
        .count()
}

/// A filter file holding only [`RIGHT`], and the screen settings naming it.
fn breached_right(sign_in: SignInAction) -> BreachedConfig {
    let key = key_of_password(RIGHT).expect("key");
    let path = std::env::temp_dir().join(format!(
        "breached-right-{}-{}.bpf",
        std::process::id(),
        crate::handlers::mail::new_id()
    ));
    let filter = BreachFilter::build(vec![key]).expect("filter");
    std::fs::write(&path, filter.to_bytes()).expect("filter file");
    BreachedConfig {
        filter: Some(path.display().to_string()),
        sign_in,
        ..BreachedConfig::default()
    }
}

/// Sign-in with a correct password found in the breached-password screen:
/// `flag` answers ok with mustChange, stores it, and emails the owner once
/// per password; `block` answers invalid and emails the owner; `off` and a
/// password not in the screen change nothing.
pub async fn breached_sign_in(backend: Backend) {
    let clock = Arc::new(ManualClock::new(super::now_ms()));

    // flag (the default action)
    let app = app_with(
        &backend,
        clock.clone(),
        2,
        breached_right(SignInAction::Flag),
    );
    let ann = seed(&app, UserStatus::Active, true).await;
    for round in 0..2 {
        assert_eq!(
            verify(&app, by_email(&ann.email, RIGHT)).await.0.unwrap(),
            Verdict::Ok {
                biz_id: ann.biz_id.clone(),
                must_change: true,
            },
            "round {round}"
        );
        let stored = app.accounts.user(&ann.biz_id).await.unwrap().unwrap();
        assert!(stored.must_change && stored.breached, "round {round}");
        assert_eq!(stored.password, ann.password, "the hash stays");
        assert_eq!(
            mail_to(app.accounts.as_ref(), MailKind::Breached, &ann.email).await,
            1,
            "one email per password, round {round}"
        );
    }
    // A wrong password is never screened: invalid, as always.
    assert_eq!(
        verify(&app, by_email(&ann.email, WRONG)).await.0.unwrap(),
        Verdict::Invalid
    );

    // block
    let app = app_with(
        &backend,
        clock.clone(),
        2,
        breached_right(SignInAction::Block),
    );
    let bob = seed(&app, UserStatus::Active, true).await;
    for _ in 0..2 {
        assert_eq!(
            verify(&app, by_email(&bob.email, RIGHT)).await.0.unwrap(),
            Verdict::Invalid
        );
    }
    assert_eq!(
        mail_to(app.accounts.as_ref(), MailKind::Breached, &bob.email).await,
        1
    );
    assert!(
        app.accounts
            .user(&bob.biz_id)
            .await
            .unwrap()
            .unwrap()
            .breached
    );
    // Counted like a wrong password: the threshold (5) locks the account,
    // exactly as wrong guesses would, so a lock tells a guesser nothing.
    let mut answers = Vec::new();
    for _ in 0..4 {
        answers.push(verify(&app, by_email(&bob.email, RIGHT)).await.0.unwrap());
    }
    assert_eq!(
        &answers[..3],
        &[Verdict::Invalid, Verdict::Invalid, Verdict::Invalid]
    );
    assert!(
        matches!(answers[3], Verdict::Locked { .. }),
        "{:?}",
        answers[3]
    );
    assert_eq!(
        mail_to(app.accounts.as_ref(), MailKind::Breached, &bob.email).await,
        1,
        "still one breach email"
    );

    // off, and the default screen (RIGHT is not in the bundled list)
    for breached in [breached_right(SignInAction::Off), BreachedConfig::default()] {
        let app = app_with(&backend, clock.clone(), 2, breached);
        let cy = seed(&app, UserStatus::Active, true).await;
        assert_eq!(
            verify(&app, by_email(&cy.email, RIGHT)).await.0.unwrap(),
            Verdict::Ok {
                biz_id: cy.biz_id.clone(),
                must_change: false,
            }
        );
        let stored = app.accounts.user(&cy.biz_id).await.unwrap().unwrap();
        assert!(!stored.must_change && !stored.breached);
        assert_eq!(
            mail_to(app.accounts.as_ref(), MailKind::Breached, &cy.email).await,
            0
        );
    }
}

/// The whole contract of sign-in over `backend`.
pub async fn sign_in(backend: Backend) {
    let clock = Arc::new(ManualClock::new(super::now_ms()));
    let app = app_for(&backend, clock.clone(), 2);
    let ann = seed(&app, UserStatus::Active, true).await;

    // Right password, by email and by business id: ok, one Argon2 each.
    let ok = Verdict::Ok {
        biz_id: ann.biz_id.clone(),
        must_change: false,
    };
    assert_eq!(
        verify(&app, by_email(&ann.email, RIGHT)).await.0.unwrap(),
        ok
    );
    let by_id = VerifyRequest {
        email: None,
        biz_id: Some(ann.biz_id.clone()),
        ..by_email(&ann.email, RIGHT)
    };
    let (verdict, evaluations) = verify(&app, by_id).await;
    assert_eq!((verdict.unwrap(), evaluations), (ok.clone(), 1));

    // Wrong password, unknown address, pending and disabled accounts: the
    // same `invalid`, each after exactly one Argon2 evaluation.
    let pending = seed(&app, UserStatus::PendingPassword, false).await;
    let disabled = seed(&app, UserStatus::Disabled, true).await;
    let unknown = email();
    for (address, password) in [
        (ann.email.as_str(), WRONG),
        (unknown.as_str(), RIGHT),
        (pending.email.as_str(), RIGHT),
        (disabled.email.as_str(), RIGHT),
    ] {
        let (verdict, evaluations) = verify(&app, by_email(address, password)).await;
        assert_eq!((verdict.unwrap(), evaluations), (Verdict::Invalid, 1));
    }
    // A success starts the count over: Ann's one failure above is forgotten.
    assert_eq!(
        verify(&app, by_email(&ann.email, RIGHT)).await.0.unwrap(),
        ok
    );

    // 20 concurrent wrong guesses: 5 Argon2 evaluations, then locked.
    let before = app.passwords.argon2_evaluations();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (app, address) = (app.clone(), ann.email.clone());
        tasks.spawn(async move { verify_password(&app, by_email(&address, WRONG)).await });
    }
    let (mut invalid, mut locked) = (0, 0);
    while let Some(verdict) = tasks.join_next().await {
        match verdict.unwrap().unwrap() {
            Verdict::Invalid => invalid += 1,
            Verdict::Locked { until_ms } => {
                assert_eq!(until_ms, clock.now_ms() + 1_000);
                locked += 1;
            }
            Verdict::Ok { .. } => panic!("a wrong password was accepted"),
        }
    }
    assert_eq!((invalid, locked), (5, 15));
    assert_eq!(app.passwords.argon2_evaluations() - before, 5);
    // Locked: even the right password is not checked.
    let (verdict, evaluations) = verify(&app, by_email(&ann.email, RIGHT)).await;
    assert!(matches!(verdict.unwrap(), Verdict::Locked { .. }));
    assert_eq!(evaluations, 0);
    // The owner is told once, in the stored address.
    assert_eq!(locked_mail_to(&*app.accounts, &ann.email).await, 1);

    // After the lock, one more failure locks for 2 s; a success clears it all.
    clock.advance_secs(1);
    assert_eq!(
        verify(&app, by_email(&ann.email, WRONG)).await.0.unwrap(),
        Verdict::Invalid
    );
    assert_eq!(
        verify(&app, by_email(&ann.email, RIGHT)).await.0.unwrap(),
        Verdict::Locked {
            until_ms: clock.now_ms() + 2_000
        }
    );
    clock.advance_secs(2);
    assert_eq!(
        verify(&app, by_email(&ann.email, RIGHT)).await.0.unwrap(),
        ok
    );
    for _ in 0..4 {
        assert_eq!(
            verify(&app, by_email(&ann.email, WRONG)).await.0.unwrap(),
            Verdict::Invalid
        );
    }
    assert_eq!(locked_mail_to(&*app.accounts, &ann.email).await, 1);

    // An unknown address locks the same way, and nobody is emailed.
    let nobody = email();
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(verify(&app, by_email(&nobody, WRONG)).await.0.unwrap());
    }
    assert!(answers[..5].iter().all(|a| *a == Verdict::Invalid));
    assert!(matches!(answers[5], Verdict::Locked { .. }));
    assert_eq!(locked_mail_to(&*app.accounts, &nobody).await, 0);

    // mustChange comes with ok.
    let bob = seed(&app, UserStatus::Active, true).await;
    let mut flagged = next(&bob);
    flagged.must_change = true;
    let change = crate::ports::accounts::AccountChange {
        user: Some((flagged, Some(bob.version))),
        ..Default::default()
    };
    app.accounts
        .apply(change, clock.now_ms())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        verify(&app, by_email(&bob.email, RIGHT)).await.0.unwrap(),
        Verdict::Ok {
            biz_id: bob.biz_id.clone(),
            must_change: true
        }
    );

    // Per end-user address: 3 per 5 min, then 429 before anything is read.
    let ip = Some("198.51.100.7".parse().unwrap());
    for _ in 0..3 {
        let req = VerifyRequest {
            client_ip: ip,
            ..by_email(&bob.email, RIGHT)
        };
        assert!(verify(&app, req).await.0.is_ok());
    }
    let req = VerifyRequest {
        client_ip: ip,
        ..by_email(&bob.email, RIGHT)
    };
    let (refused, evaluations) = verify(&app, req).await;
    assert!(matches!(refused, Err(ApiError::RateLimited { .. })));
    assert_eq!(evaluations, 0);

    // Upgrade on success: the same accounts under stronger settings.
    let stronger = app_for(&backend, clock.clone(), 3);
    let carol = seed(&app, UserStatus::Active, true).await;
    let weak = carol.password.clone().unwrap();
    assert!(stronger.passwords.needs_rehash(&weak));
    let (verdict, evaluations) = verify(&stronger, by_email(&carol.email, RIGHT)).await;
    assert!(matches!(verdict.unwrap(), Verdict::Ok { .. }));
    assert_eq!(evaluations, 2, "one check, one new hash");
    let stored = stronger
        .accounts
        .user(&carol.biz_id)
        .await
        .unwrap()
        .unwrap();
    let fresh = stored.password.clone().unwrap();
    assert_ne!(fresh.phc(), weak.phc());
    assert!(fresh.phc().contains("t=3"), "{}", fresh.phc());
    assert!(!stronger.passwords.needs_rehash(&fresh));
    assert_eq!(stored.version, carol.version + 1);
    assert_eq!(stored.password_changed_at_ms, carol.password_changed_at_ms);
    // The next sign-in needs no rehash, and writes nothing.
    let (verdict, evaluations) = verify(&stronger, by_email(&carol.email, RIGHT)).await;
    assert!(matches!(verdict.unwrap(), Verdict::Ok { .. }));
    assert_eq!(evaluations, 1);
    let again = stronger
        .accounts
        .user(&carol.biz_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(again.version, stored.version);
}

/// Every format of the password crate's fixture of foreign hashes
/// (`shared/password/tests/data/foreign-hashes.json`), imported as an
/// import run stores it (counter +1). Returns (format, hash, password).
pub(super) fn imported_fixture() -> Vec<(String, password::PasswordHash, String)> {
    let text = include_str!("../../../password/tests/data/foreign-hashes.json");
    let entries: Vec<serde_json::Value> = serde_json::from_str(text).expect("fixture");
    entries
        .iter()
        .map(|e| {
            let s = |k: &str| e.get(k).and_then(serde_json::Value::as_str);
            let firebase = e.get("firebase").map(|f| {
                let fs = |k: &str| f[k].as_str().expect("firebase string");
                let fu =
                    |k: &str| u32::try_from(f[k].as_u64().expect("firebase number")).expect("u32");
                password::FirebaseScryptParams::new(
                    fs("signerKey"),
                    fs("saltSeparator"),
                    fu("rounds"),
                    fu("memCost"),
                )
                .expect("firebase params")
            });
            let opts = password::ImportHashOptions {
                firebase,
                allow_legacy: true,
            };
            let format = s("format").expect("format");
            let input = password::ForeignHashInput {
                hash: s("hash").expect("hash"),
                format: Some(format),
                salt: s("salt"),
            };
            let hash = password::import_hash(&input, &opts).expect("fixture imports");
            (
                format.to_owned(),
                hash,
                s("password").expect("password").to_owned(),
            )
        })
        .collect()
}

/// A user imported with each foreign hash signs in with the right password
/// (a legacy one with `mustChange`), is refused with a wrong one, and is
/// then stored as Argon2id under the active pepper, the count of users on
/// a foreign hash moved down in the same write.
pub async fn imported_sign_in(backend: Backend) {
    let clock = Arc::new(ManualClock::new(super::now_ms()));
    // Some fixture passwords are in the bundled breached list: not screened here.
    let off = BreachedConfig {
        sign_in: SignInAction::Off,
        ..BreachedConfig::default()
    };
    let mut app = app_with(&backend, clock.clone(), 2, off);
    let ring = password::PepperRing::new(
        Some(password::PepperId::new("p1")),
        [(
            password::PepperId::new("p1"),
            zeroize::Zeroizing::new(vec![9u8; 32]),
        )]
        .into_iter()
        .collect(),
    )
    .expect("pepper ring");
    app.passwords = Arc::new(
        password::PasswordService::new(app.config.password.clone(), ring).expect("service"),
    );
    let count = || async { app.accounts.foreign_hash_users().await.expect("count") };
    let start = count().await;
    for (format, hash, right) in imported_fixture() {
        let now = clock.now_ms();
        let mut user = super::accounts::user(&email(), now);
        user.history.clear();
        user.password = Some(hash.clone());
        let change = crate::ports::accounts::AccountChange {
            foreign_hash_delta: 1,
            ..super::accounts::create(&user)
        };
        app.accounts.apply(change, now).await.unwrap().unwrap();
        assert_eq!(count().await, start + 1, "{format}: imported");

        let wrong = format!("{right}!");
        assert_eq!(
            verify(&app, by_email(&user.email, &wrong)).await.0.unwrap(),
            Verdict::Invalid,
            "{format}: a wrong password"
        );
        let stored = app.accounts.user(&user.biz_id).await.unwrap().unwrap();
        assert_eq!(stored.password.as_ref(), Some(&hash), "{format}: unchanged");
        assert_eq!(count().await, start + 1);

        assert_eq!(
            verify(&app, by_email(&user.email, &right)).await.0.unwrap(),
            Verdict::Ok {
                biz_id: user.biz_id.clone(),
                must_change: hash.is_legacy(),
            },
            "{format}: the right password"
        );
        let stored = app.accounts.user(&user.biz_id).await.unwrap().unwrap();
        let fresh = stored.password.clone().expect("a hash");
        assert_eq!(fresh.scheme(), password::HashScheme::Argon2id, "{format}");
        assert_eq!(
            fresh.pepper_id().map(password::PepperId::as_str),
            Some("p1")
        );
        assert!(!app.passwords.needs_rehash(&fresh), "{format}");
        assert_eq!(stored.must_change, hash.is_legacy(), "{format}");
        assert_eq!(stored.version, user.version + 1);
        assert_eq!(count().await, start, "{format}: upgraded");

        // Then an ordinary sign-in: one evaluation, nothing written.
        let (verdict, evaluations) = verify(&app, by_email(&user.email, &right)).await;
        assert!(matches!(verdict.unwrap(), Verdict::Ok { .. }), "{format}");
        assert_eq!(evaluations, 1, "{format}");
        let again = app.accounts.user(&user.biz_id).await.unwrap().unwrap();
        assert_eq!(again.version, stored.version);
        assert_eq!(count().await, start);
    }
}
