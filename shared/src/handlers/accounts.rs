//! Account creation (the internal `invite-user` function, and local-api's
//! `/_dev/users`), the answer to forgot requests and outbox delivery (the
//! `send-mail` function, and local-api's in-process delivery).

use serde::Deserialize;
use serde_json::{Map, Value};

use super::mail::{self, user_lang};
use crate::app::App;
use crate::channel::random_bytes;
use crate::config::Config;
use crate::http::ApiError;
use crate::i18n::Lang;
use crate::observe::{self, audit, metrics};
use crate::ports::accounts::{
    AccountChange, AccountStore, ChangeRejected, ForgotRequest, InitSession, MailKind, ResetToken,
    User, UserStatus,
};
use crate::ports::{PortResult, Unavailable};
use crate::token::{new_token, token_sha256};

/// What a trusted backend sends to invite a user.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    /// The user's email address.
    pub email: password::Email,
    /// The user's display name.
    pub name: String,
    /// The user's phone number, if known.
    pub phone: Option<String>,
    /// The user's preferred language tag, if known.
    pub locale: Option<String>,
}

/// The result of an invitation or a seeded user.
#[derive(Debug)]
pub struct Created {
    /// The user as stored.
    pub user: User,
    /// The init `sid`, when the user has no password yet.
    pub init_session_id: Option<String>,
}

/// `ACC_USR_` and 12 random hex digits.
pub fn new_biz_id() -> String {
    let b: [u8; 6] = random_bytes();
    format!(
        "ACC_USR_{}",
        b.iter().map(|x| format!("{x:02X}")).collect::<String>()
    )
}

/// A profile's name, phone and locale as stored, or the field that breaks
/// the rules: name 1-128 characters once trimmed, phone 5-20 digits and at
/// most 32 bytes, locale a supported language tag (stored canonical).
pub fn check_profile(
    name: &str,
    phone: Option<&str>,
    locale: Option<&str>,
) -> Result<(String, Option<String>), &'static str> {
    let name = name.trim().to_owned();
    if name.is_empty() || name.chars().count() > 128 {
        return Err("name");
    }
    if let Some(phone) = phone {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        if !(5..=20).contains(&digits) || phone.len() > 32 {
            return Err("phone");
        }
    }
    let locale = match locale {
        None => None,
        Some(tag) => Some(Lang::from_tag(tag).ok_or("locale")?.tag().to_owned()),
    };
    Ok((name, locale))
}

/// The invitation of a pending `user`: its init session and the email with
/// the link, as a change (without the user itself) that the caller
/// completes; the init `sid` with it.
pub fn invitation_change(config: &Config, user: &User, now: u64) -> (AccountChange, String) {
    let sid = new_token();
    let mut params = Map::new();
    params.insert("name".into(), Value::from(user.name.clone()));
    let lang = user_lang(user, Lang::En);
    let link = config.links.init(sid.as_str());
    let change = AccountChange {
        outbox: vec![mail::render(
            MailKind::Init,
            lang,
            &user.email,
            &link,
            params,
            now,
        )],
        new_init: Some(InitSession {
            sid: sid.to_string(),
            biz_id: user.biz_id.clone(),
            expires_at_ms: now + config.init_session_ttl_secs * 1000,
        }),
        ..AccountChange::default()
    };
    (change, sid.to_string())
}

/// Creates a user: pending with an init link by email when `password` is
/// `None`, active with that (already hashed) password otherwise.
pub async fn create_user(
    app: &App,
    invitation: Invitation,
    password: Option<password::PasswordHash>,
) -> Result<Created, ApiError> {
    let (name, locale) = check_profile(
        &invitation.name,
        invitation.phone.as_deref(),
        invitation.locale.as_deref(),
    )
    .map_err(ApiError::invalid_value)?;
    let now = app.clock.now_ms();
    let has_password = password.is_some();
    let user = User {
        biz_id: new_biz_id(),
        email: invitation.email.into(),
        name,
        phone: invitation.phone,
        locale,
        status: if has_password {
            UserStatus::Active
        } else {
            UserStatus::PendingPassword
        },
        password,
        history: Vec::new(),
        // Only a change through the API moves it: a password given at
        // creation (local seeding) revokes no token issued before it.
        password_changed_at_ms: None,
        must_change: false,
        breached: false,
        created_at_ms: now,
        version: 1,
    };
    let (mut change, init_session_id) = if has_password {
        (AccountChange::default(), None)
    } else {
        let (change, sid) = invitation_change(&app.config, &user, now);
        (change, Some(sid))
    };
    change.user = Some((user.clone(), None));
    match app.accounts.apply(change, now).await? {
        Ok(()) => Ok(Created {
            user,
            init_session_id,
        }),
        Err(taken @ ChangeRejected::EmailTaken) => Err(taken.into()),
        Err(other) => Err(ApiError::Internal(anyhow::anyhow!(
            "unexpected rejection {other}"
        ))),
    }
}

/// A new reset token of `user` and the email that carries it, in the
/// user's language (else `fallback`); sent only to the stored address.
pub fn reset_link(
    config: &Config,
    user: &User,
    fallback: Lang,
    now: u64,
) -> (ResetToken, crate::ports::accounts::OutboxMessage) {
    let token = new_token();
    let mut params = Map::new();
    params.insert(
        "minutes".into(),
        Value::from(config.reset_token_ttl_secs / 60),
    );
    params.insert("name".into(), Value::from(user.name.clone()));
    let reset = ResetToken {
        token_sha256: token_sha256(&token),
        biz_id: user.biz_id.clone(),
        expires_at_ms: now + config.reset_token_ttl_secs * 1000,
    };
    let message = mail::render(
        MailKind::Reset,
        user_lang(user, fallback),
        &user.email,
        &config.links.reset(&token),
        params,
        now,
    );
    (reset, message)
}

/// Answers one forgot request, off the request path: for an active account
/// a reset token and its email, for any other address nothing; either way
/// the request is consumed in the same transaction, so a retried or
/// concurrent answer issues nothing twice. `true` when this call answered it,
/// `false` when another already had.
///
/// A request made before the account's password was last set (answered
/// late: a stream retry, the sweep) is dropped the same way, with no link:
/// the password change revoked every link, and must not be followed by one
/// asked for before it.
pub async fn answer_forgot(
    accounts: &dyn AccountStore,
    config: &Config,
    request: &ForgotRequest,
    now: u64,
) -> PortResult<bool> {
    let mut change = AccountChange {
        consume_forgot: Some(request.clone()),
        ..AccountChange::default()
    };
    let user = accounts.user_by_email(&request.email).await?;
    let predates_change = |u: &User| {
        u.password_changed_at_ms
            .is_some_and(|changed| request.requested_at_ms < changed)
    };
    if user.as_ref().is_some_and(predates_change) {
        tracing::info!(request_id = %request.id, "forgot request predates the last password change: dropped");
    }
    let active = user.filter(|u| u.status == UserStatus::Active && !predates_change(u));
    let biz_id = active.as_ref().map(|u| u.biz_id.clone());
    if let Some(user) = active {
        let fallback = Lang::from_tag(&request.lang).unwrap_or(Lang::En);
        let (new_reset, message) = reset_link(config, &user, fallback, now);
        change.new_reset = Some(new_reset);
        change.outbox.push(message);
    }
    match accounts.apply(change, now).await? {
        Ok(()) => {
            // Whether the address has an account: for operators, never the client.
            observe::emit(&audit::reset_answered(&request.id, biz_id.as_deref(), now));
            Ok(true)
        }
        Err(ChangeRejected::ForgotHandled) => Ok(false),
        Err(other) => Err(Unavailable(anyhow::anyhow!(
            "forgot request not answered: {other}"
        ))),
    }
}

/// Answers every pending forgot request, then delivers every pending outbox
/// message once: each is claimed before it is sent, so a retry never sends
/// it twice; a failed send releases nothing and is reported (returned) for
/// the caller to retry.
pub async fn deliver_outbox(app: &App) -> Result<usize, ApiError> {
    let mut sent = 0;
    let result = deliver_pending(app, &mut sent).await;
    // The document send-mail writes per batch, when anything happened.
    let failed = u64::from(result.is_err());
    if sent > 0 || failed > 0 {
        let emf = metrics::mail_emf(
            observe::namespace(),
            app.clock.now_ms(),
            sent as u64,
            failed,
        );
        observe::emit(&emf);
    }
    result.map(|()| sent)
}

async fn deliver_pending(app: &App, sent: &mut usize) -> Result<(), ApiError> {
    for request in app.accounts.pending_forgot().await? {
        answer_forgot(&*app.accounts, &app.config, &request, app.clock.now_ms()).await?;
    }
    for message in app.accounts.pending_outbox().await? {
        if !app.accounts.mark_delivered(&message.id).await? {
            continue;
        }
        app.mailer.send(&message).await?;
        tracing::info!(message_id = %message.id, kind = ?message.kind, "email delivered");
        *sent += 1;
    }
    Ok(())
}
