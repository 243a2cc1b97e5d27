//! Sign-in: the identity provider checks a password kept here (the internal
//! `verify-password` function, local-api's `/_dev/verify-password` and
//! `/_dev/signin`), and the guessing cap that sign-in shares with `change`.
//!
//! Unknown address, wrong password and an account that may not sign in all
//! answer `invalid` after the same work: one user lookup, one counter
//! reservation and one Argon2 evaluation (against a dummy hash when there is
//! no usable one). A locked counter answers `locked` before any Argon2, and
//! unknown addresses have counters too, so `locked` tells nothing either.
//!
//! A correct password found in the breached-password screen answers `ok`
//! with `mustChange` (`signIn: flag`) or `invalid` (`block`), and its owner
//! is emailed once per password. Only a correct password is screened, and
//! `block` counts it on the guessing cap like a wrong one, so neither the
//! answer nor a lock tells a guesser that a leaked password is right.

use std::net::IpAddr;
use std::time::Instant;

use password::{HashScheme, SignInAction};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::mail::{self, user_lang};
use crate::app::App;
use crate::http::json::parse_strict;
use crate::http::{ip_rate_key, ApiError, FieldIssue};
use crate::i18n::Lang;
use crate::observe::{self, audit, metrics};
use crate::ports::accounts::{
    foreign_hash_delta, AccountChange, ChangeRejected, MailKind, OutboxMessage, User, UserStatus,
};
use crate::ports::{Attempt, RateDecision};
use crate::time_fmt::rfc3339;

/// The longest `bizId` looked up.
const BIZ_ID_MAX: usize = 64;
/// The longest `userAgent` accepted (it is shortened before it is kept).
const USER_AGENT_MAX: usize = 1024;

/// What the identity provider sends: one of `email` and `bizId`, the
/// password as typed, and where the end user is, when known.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct VerifyRequest {
    /// The address the user typed.
    pub email: Option<password::Email>,
    /// Or the account's business id.
    pub biz_id: Option<String>,
    /// The password as typed.
    pub password: SecretString,
    /// The end user's IP address: counted against the per-IP limit.
    pub client_ip: Option<IpAddr>,
    /// The end user's `User-Agent`, for the audit event and the lock email.
    pub user_agent: Option<String>,
}

/// The answer to one verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The password is right and the account may sign in.
    Ok {
        /// The account's business id (the token subject).
        biz_id: String,
        /// The user must choose a new password before going on.
        must_change: bool,
    },
    /// Unknown account, wrong password, or an account that may not sign in.
    Invalid,
    /// Too many consecutive failures: nothing is checked until `until_ms`.
    Locked {
        /// End of the lock, Unix ms.
        until_ms: u64,
    },
}

impl Verdict {
    /// The function's JSON answer.
    pub fn to_json(&self) -> Value {
        match self {
            Verdict::Ok {
                biz_id,
                must_change,
            } => json!({ "result": "ok", "bizId": biz_id, "mustChange": must_change }),
            Verdict::Invalid => json!({ "result": "invalid" }),
            Verdict::Locked { until_ms } => {
                json!({ "result": "locked", "lockedUntil": rfc3339(*until_ms) })
            }
        }
    }

    /// Whole seconds until a locked account may try again (at least 1).
    pub fn retry_after_secs(until_ms: u64, now_ms: u64) -> u64 {
        until_ms.saturating_sub(now_ms).div_ceil(1000).max(1)
    }
}

/// The counter key of an account: its business id, hashed like every other
/// key at rest. An unknown `bizId` gets the key it would have.
pub fn account_guess_key(biz_id: &str) -> String {
    crate::token::token_sha256(&format!("user:{biz_id}"))
}

/// The counter key of an address that belongs to no account.
pub fn unknown_email_guess_key(email: &str) -> String {
    crate::token::token_sha256(&format!("email:{email}"))
}

/// The "someone is trying your password" email, in the owner's language.
pub fn locked_notice(app: &App, user: &User, user_agent: Option<&str>, now: u64) -> AccountChange {
    AccountChange {
        outbox: vec![owner_notice(app, user, MailKind::Locked, user_agent, now)],
        ..AccountChange::default()
    }
}

/// An email to the account's owner about its password (locked, breached),
/// in the owner's language, with the link to choose a new one.
fn owner_notice(
    app: &App,
    user: &User,
    kind: MailKind,
    user_agent: Option<&str>,
    now: u64,
) -> OutboxMessage {
    let lang = user_lang(user, Lang::En);
    let mut params = mail::change_facts(lang, now, "", user_agent);
    params.insert("name".into(), Value::from(user.name.clone()));
    mail::render(
        kind,
        lang,
        &user.email,
        &app.config.links.forgot_url,
        params,
        now,
    )
}

/// Counts a failed check of `user`'s password: on the first lock of an
/// episode the owner is told, and `account.locked` is audited.
pub async fn failed_check(
    app: &App,
    attempt: Attempt,
    user: Option<&User>,
    user_agent: Option<&str>,
    now: u64,
) -> Result<(), ApiError> {
    if !attempt.first_lock(app.config.lockout) {
        return Ok(());
    }
    if let Some(user) = user.filter(|u| u.password.is_some()) {
        app.accounts
            .apply(locked_notice(app, user, user_agent, now), now)
            .await?
            .map_err(|rejected| ApiError::Internal(rejected.into()))?;
    }
    let lock = app.config.lockout.lock_ms(app.config.lockout.threshold);
    observe::emit(&audit::account_locked(
        user.map(|u| u.biz_id.as_str()),
        now + lock.unwrap_or(0),
        now,
    ));
    Ok(())
}

fn validate(req: &VerifyRequest) -> Result<(), ApiError> {
    let mut issues = Vec::new();
    match (&req.email, &req.biz_id) {
        (Some(_), Some(_)) => issues.push(("bizId", "INVALID_VALUE")),
        (None, None) => issues.push(("email", "MISSING_FIELD")),
        (None, Some(id)) if id.is_empty() || id.len() > BIZ_ID_MAX => {
            issues.push(("bizId", "INVALID_VALUE"));
        }
        _ => {}
    }
    if req
        .user_agent
        .as_ref()
        .is_some_and(|ua| ua.len() > USER_AGENT_MAX)
    {
        issues.push(("userAgent", "INVALID_VALUE"));
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(
            issues
                .into_iter()
                .map(|(field, code)| FieldIssue {
                    field: field.into(),
                    code,
                })
                .collect(),
        ))
    }
}

/// Parses the function's strict JSON input.
pub fn parse_request(bytes: &[u8]) -> Result<VerifyRequest, ApiError> {
    let req: VerifyRequest = parse_strict(bytes)?;
    validate(&req)?;
    Ok(req)
}

/// Counts the attempt against the end user's address, when the IdP gave one.
async fn limit_client_ip(app: &App, client_ip: Option<IpAddr>, now: u64) -> Result<(), ApiError> {
    let Some(ip) = client_ip else {
        return Ok(());
    };
    let limit = app.config.limits.verify_per_ip;
    match app
        .limiter
        .hit("verify-ip", &ip_rate_key(ip), limit, now)
        .await?
    {
        RateDecision::Allowed => Ok(()),
        RateDecision::Limited { retry_after_secs } => {
            Err(ApiError::RateLimited { retry_after_secs })
        }
    }
}

/// The account the request names, if any, and the key of its guess counter.
async fn lookup(app: &App, req: &VerifyRequest) -> Result<(Option<User>, String), ApiError> {
    match (&req.email, &req.biz_id) {
        (Some(email), _) => {
            let user = app.accounts.user_by_email(email.as_str()).await?;
            let key = match &user {
                Some(u) => account_guess_key(&u.biz_id),
                None => unknown_email_guess_key(email.as_str()),
            };
            Ok((user, key))
        }
        (None, Some(biz_id)) => Ok((app.accounts.user(biz_id).await?, account_guess_key(biz_id))),
        (None, None) => Err(ApiError::invalid_value("email")),
    }
}

/// Checks one password for the identity provider.
pub async fn verify_password(app: &App, req: VerifyRequest) -> Result<Verdict, ApiError> {
    let started = Instant::now();
    let now = app.clock.now_ms();
    limit_client_ip(app, req.client_ip, now).await?;
    let (found, key) = lookup(app, &req).await?;
    let user_agent = req.user_agent.as_deref();
    let attempt = app.guesses.reserve(&key, app.config.lockout, now).await?;
    if let Attempt::Locked { until_ms } = attempt {
        emit_metrics(app, "locked", started, None);
        observe::emit(&audit::verify_failed(
            found.as_ref().map(|u| u.biz_id.as_str()),
            true,
            req.client_ip,
            user_agent,
            now,
        ));
        return Ok(Verdict::Locked { until_ms });
    }
    // Only an active account's hash is checked; any other answers like an unknown one.
    let stored = found
        .as_ref()
        .filter(|u| u.status == UserStatus::Active)
        .and_then(|u| u.password.as_ref());
    let hashing = Instant::now();
    let checked = app
        .passwords
        .verify(req.password.expose_secret(), stored)
        .await;
    let hash_ms = Some(elapsed_ms(hashing));
    match (checked, found) {
        (Ok(verified), Some(user)) => {
            let breached = breached_at_sign_in(app, &verified).await;
            let action = app.passwords.breach_sign_in();
            if breached {
                observe::emit(&metrics::breached_emf(
                    observe::namespace(),
                    now,
                    action_name(action),
                ));
                observe::emit(&audit::breached_detected(
                    &user.biz_id,
                    action_name(action),
                    req.client_ip,
                    user_agent,
                    now,
                ));
            }
            if breached && action == SignInAction::Block {
                // Answered and counted like a wrong password, so that
                // neither the answer nor the counter confirms to a guesser
                // that a leaked password is right. No rehash of a password
                // that may not be used.
                let matched = verified.matched_scheme();
                after_sign_in(app, &user, None, matched, true, user_agent, now).await?;
                failed_check(app, attempt, Some(&user), user_agent, now).await?;
                emit_metrics(app, "invalid", started, hash_ms);
                return Ok(Verdict::Invalid);
            }
            app.guesses.clear(&key).await?;
            // A legacy (salted SHA) hash proves the password but says little
            // about its strength: its owner chooses a new one now.
            let legacy = verified.matched_scheme().is_legacy();
            let matched = verified.matched_scheme();
            after_sign_in(
                app,
                &user,
                verified.rehash,
                matched,
                breached,
                user_agent,
                now,
            )
            .await?;
            emit_metrics(app, "ok", started, hash_ms);
            observe::emit(&audit::password_verified(
                &user.biz_id,
                req.client_ip,
                user_agent,
                now,
            ));
            Ok(Verdict::Ok {
                biz_id: user.biz_id,
                must_change: user.must_change || breached || legacy,
            })
        }
        (Ok(_), None) => Err(ApiError::Internal(anyhow::anyhow!(
            "a verified password without a user"
        ))),
        (Err(password::PasswordError::Mismatch), found) => {
            failed_check(app, attempt, found.as_ref(), user_agent, now).await?;
            emit_metrics(app, "invalid", started, hash_ms);
            observe::emit(&audit::verify_failed(
                found.as_ref().map(|u| u.biz_id.as_str()),
                false,
                req.client_ip,
                user_agent,
                now,
            ));
            Ok(Verdict::Invalid)
        }
        (Err(other), _) => Err(other.into()),
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn emit_metrics(app: &App, outcome: &str, started: Instant, hash_ms: Option<u64>) {
    observe::emit(&metrics::verify_emf(
        observe::namespace(),
        app.clock.now_ms(),
        outcome,
        elapsed_ms(started),
        hash_ms,
    ));
}

/// Whether the password a sign-in just proved is in the breach screen. A
/// range service that fails never fails a sign-in: the screen's verdict
/// then is the offline filter's.
async fn breached_at_sign_in(app: &App, verified: &password::Verified) -> bool {
    if app.passwords.breach_sign_in() == SignInAction::Off {
        return false;
    }
    match app.passwords.is_breached(verified).await {
        Ok(found) => found,
        Err(e) => {
            tracing::warn!(error = %e, "breached-password screening unavailable at sign-in");
            false
        }
    }
}

fn action_name(action: SignInAction) -> &'static str {
    match action {
        SignInAction::Block => "block",
        SignInAction::Flag | SignInAction::Off => "flag",
    }
}

/// Stores what a successful sign-in learned, in one conditional write if
/// the user is unchanged since it was read (a concurrent change wins, and
/// the next sign-in tries again): the fresh hash of a verified password,
/// and for a breached one `mustChange` with the owner's email, sent once
/// per password (`User::breached`). A fresh hash that replaces an imported
/// one (`matched` foreign) moves the count of users on a foreign hash down
/// in the same write, and a legacy one also sets `mustChange`.
async fn after_sign_in(
    app: &App,
    user: &User,
    fresh: Option<password::PasswordHash>,
    matched: HashScheme,
    breached: bool,
    user_agent: Option<&str>,
    now: u64,
) -> Result<(), ApiError> {
    let newly_breached = breached && !user.breached;
    if fresh.is_none() && !newly_breached {
        return Ok(());
    }
    let rehashed = fresh.is_some();
    let upgraded = rehashed && matched.is_foreign();
    let mut next = user.clone();
    if let Some(fresh) = fresh {
        next.password = Some(fresh);
        if matched.is_legacy() {
            next.must_change = true;
        }
    }
    let mut change = AccountChange {
        foreign_hash_delta: foreign_hash_delta(user.password.as_ref(), next.password.as_ref()),
        ..AccountChange::default()
    };
    if newly_breached {
        next.must_change = true;
        next.breached = true;
        change
            .outbox
            .push(owner_notice(app, user, MailKind::Breached, user_agent, now));
    }
    next.version += 1;
    change.user = Some((next, Some(user.version)));
    match app.accounts.apply(change, now).await? {
        Ok(()) => {
            if upgraded {
                imported_upgraded(app, &user.biz_id, matched, now).await;
            } else if rehashed {
                observe::emit(&audit::password_rehashed(&user.biz_id, now));
            }
            Ok(())
        }
        Err(ChangeRejected::VersionConflict) => Ok(()),
        Err(other) => Err(ApiError::Internal(other.into())),
    }
}

/// Audits and counts an imported hash replaced at sign-in (in place of
/// `password.rehashed`), with the users still on one: read after the write,
/// and left out of the document when the read fails (the sign-in stands).
async fn imported_upgraded(app: &App, biz_id: &str, scheme: HashScheme, now: u64) {
    observe::emit(&audit::password_imported_upgraded(
        biz_id,
        scheme.name(),
        now,
    ));
    let remaining = match app.accounts.foreign_hash_users().await {
        Ok(n) => Some(n),
        Err(e) => {
            tracing::warn!(error = %e.0, "count of users on a foreign hash unavailable");
            None
        }
    };
    observe::emit(&metrics::imported_upgraded_emf(
        observe::namespace(),
        app.clock.now_ms(),
        remaining,
    ));
}

/// The function's JSON in and out: `{"result": ...}`, or
/// `{"error": {status, code, details}}` with the API error code (never the
/// cause, which is logged).
pub async fn handle_json(app: &App, input: &[u8]) -> Value {
    let outcome = match parse_request(input) {
        Ok(req) => verify_password(app, req).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(verdict) => verdict.to_json(),
        Err(err) => {
            if err.parts(Lang::En).status.is_server_error() {
                // An invocation that answers an error still succeeds for
                // Lambda: this document is what the errors alarm watches.
                let pepper_missing = matches!(&err, ApiError::Internal(cause)
                    if matches!(cause.downcast_ref(), Some(password::PasswordError::UnknownPepper(_))));
                observe::emit(&metrics::verify_error_emf(
                    observe::namespace(),
                    app.clock.now_ms(),
                    pepper_missing,
                ));
            }
            error_json(&err)
        }
    }
}

/// `{"error": {status, code, details}}` of an internal function's failure.
pub fn error_json(err: &ApiError) -> Value {
    let parts = err.parts(Lang::En);
    if parts.status.is_server_error() {
        tracing::error!(code = parts.code, error = ?err, "verification failed");
    } else {
        tracing::warn!(code = parts.code, "verification refused");
    }
    let mut error = Map::new();
    error.insert("status".into(), Value::from(parts.status.as_u16()));
    error.insert("code".into(), Value::from(parts.code));
    error.insert("details".into(), Value::from(parts.details));
    if let Some(secs) = parts.retry_after_secs {
        error.insert("retryAfter".into(), Value::from(secs));
    }
    json!({ "error": error })
}
