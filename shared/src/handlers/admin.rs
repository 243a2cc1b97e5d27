//! User administration by an operator: the internal `admin-users` function
//! (IAM), `pwctl admin users` and local-api's `/_dev/admin/users`. Every
//! action, refused or not, writes one `admin.user_<action>` audit event
//! naming the operator's principal. This is an operator interface: unlike
//! the public routes it says when a user does not exist.

use serde_json::{json, Value};

use super::accounts::{invitation_change, reset_link};
use super::verify::{account_guess_key, unknown_email_guess_key};
use crate::app::App;
use crate::http::{ApiError, Refusal};
use crate::i18n::Lang;
use crate::observe::{self, audit};
use crate::ports::accounts::{AccountChange, Erased, User, UserStatus};
use crate::time_fmt::rfc3339;
use crate::token::token_sha256;

/// What an operator can do to a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// The profile, status, flags and dates (never a hash).
    Show,
    /// A pending user's new init link; the previous one stops working.
    ResendInvite,
    /// Status `Locked`: no sign-in, change, reset; tokens refused.
    Lock,
    /// Back from `Locked`, and the sign-in guessing counter cleared.
    Unlock,
    /// Status `Disabled`: as locked, undone only by `enable`.
    Disable,
    /// Back from `Disabled`.
    Enable,
    /// Sets `mustChange`: the user is asked to choose a new password.
    RequireChange,
    /// The reset email, as if the user had asked for it.
    SendReset,
    /// Erases every item of the user; the address may be invited again.
    Delete,
}

impl Action {
    /// Every action, in the order the docs list them.
    pub const ALL: [Action; 9] = [
        Action::Show,
        Action::ResendInvite,
        Action::Lock,
        Action::Unlock,
        Action::Disable,
        Action::Enable,
        Action::RequireChange,
        Action::SendReset,
        Action::Delete,
    ];

    /// Its name on the command line, in URLs and in events.
    pub fn name(self) -> &'static str {
        match self {
            Action::Show => "show",
            Action::ResendInvite => "resend-invite",
            Action::Lock => "lock",
            Action::Unlock => "unlock",
            Action::Disable => "disable",
            Action::Enable => "enable",
            Action::RequireChange => "require-change",
            Action::SendReset => "send-reset",
            Action::Delete => "delete",
        }
    }

    /// The action called `name`, if any.
    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Longest principal kept in an event (an IAM ARN is far shorter).
const MAX_PRINCIPAL: usize = 512;

/// The answer to an action: `{action, changed, user}` (and `erased` for
/// `delete`). Nothing secret: no hash, token or link.
pub async fn administer(
    app: &App,
    action: Action,
    who: &str,
    principal: &str,
) -> Result<Value, ApiError> {
    let principal = principal.trim();
    let now = app.clock.now_ms();
    if principal.is_empty()
        || principal.len() > MAX_PRINCIPAL
        || principal.chars().any(char::is_control)
    {
        let err = ApiError::invalid_value("principal");
        // Who asked is unknown: the event still records the attempt.
        emit(action, None, "-", &err, now);
        return Err(err);
    }
    let user = match find(app, who).await {
        Ok(user) => user,
        Err(err) => {
            emit(action, None, principal, &err, now);
            return Err(err);
        }
    };
    let result = act(app, action, &user, now).await;
    match &result {
        Ok(answer) => observe::emit(&audit::admin_user(
            action.name(),
            Some(&user.biz_id),
            principal,
            crate::http::SUCCESS_CODE,
            answer["changed"] == true,
            now,
        )),
        Err(err) => emit(action, Some(&user.biz_id), principal, err, now),
    }
    result
}

fn emit(action: Action, biz_id: Option<&str>, principal: &str, err: &ApiError, now: u64) {
    let code = err.parts(Lang::En).code;
    observe::emit(&audit::admin_user(
        action.name(),
        biz_id,
        principal,
        code,
        false,
        now,
    ));
}

/// The user named by an address (it contains `@`) or a business id. A
/// malformed name is `VALIDATION.INVALID_VALUE` (field `user`), an unknown
/// one 404 `AUTH.USER_NOT_FOUND`.
pub async fn find(app: &App, who: &str) -> Result<User, ApiError> {
    let who = who.trim();
    let found = if who.contains('@') {
        let email = password::Email::parse(who).map_err(|_| ApiError::invalid_value("user"))?;
        app.accounts.user_by_email(email.as_str()).await?
    } else {
        // Business ids are `ACC_USR_` and hex digits; anything else names nobody
        // and never reaches a key.
        let well_formed = who.len() <= 64
            && !who.is_empty()
            && who
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        if !well_formed {
            return Err(ApiError::invalid_value("user"));
        }
        app.accounts.user(who).await?
    };
    found.ok_or_else(|| Refusal::UserNotFound.into())
}

/// What an operator sees of a user: never a hash.
pub fn profile(user: &User) -> Value {
    json!({
        "bizId": user.biz_id,
        "email": user.email,
        "name": user.name,
        "phone": user.phone,
        "locale": user.locale,
        "status": user.status,
        "statusCode": user.status.code(),
        "hasPassword": user.password.is_some(),
        "importedHash": user.password.as_ref().is_some_and(password::PasswordHash::is_foreign),
        "previousPasswords": user.history.len(),
        "mustChange": user.must_change,
        "breached": user.breached,
        "createdAt": rfc3339(user.created_at_ms),
        "passwordChangedAt": user.password_changed_at_ms.map(rfc3339),
        "version": user.version,
    })
}

/// The status a user returns to from `Locked` or `Disabled`.
fn restored(user: &User) -> UserStatus {
    if user.password.is_some() {
        UserStatus::Active
    } else {
        UserStatus::PendingPassword
    }
}

/// The user's status forbids the action.
fn wrong_status() -> ApiError {
    ApiError::invalid_value("status")
}

async fn act(app: &App, action: Action, user: &User, now: u64) -> Result<Value, ApiError> {
    use UserStatus::{Active, Disabled, Locked, PendingPassword};
    let status = user.status;
    let next_status = match (action, status) {
        (Action::Show, _) => return Ok(answer(action, false, user)),
        (Action::ResendInvite, _) => return resend_invite(app, user, now).await,
        (Action::SendReset, _) => return send_reset(app, user, now).await,
        (Action::Delete, _) => return delete(app, user, now).await,
        (Action::RequireChange, _) => return require_change(app, user, now).await,
        (Action::Lock, Active | PendingPassword) => Locked,
        (Action::Lock, Locked) | (Action::Disable, Disabled) => status,
        (Action::Disable, _) => Disabled,
        (Action::Enable, Disabled) | (Action::Unlock, Locked) => restored(user),
        (Action::Enable, Active | PendingPassword) => status,
        (Action::Unlock, Active | PendingPassword) => status,
        (Action::Lock | Action::Unlock, Disabled) | (Action::Enable, Locked) => {
            return Err(wrong_status())
        }
    };
    if action == Action::Unlock {
        // Also ends a lock from failed sign-ins, whatever the status.
        app.guesses.clear(&account_guess_key(&user.biz_id)).await?;
    }
    if next_status == status {
        return Ok(answer(action, false, user));
    }
    let mut next = user.clone();
    next.status = next_status;
    write(app, user, next, AccountChange::default(), now)
        .await
        .map(|next| answer(action, true, &next))
}

/// Writes `next` (with `change`) under the version of `user` as read.
async fn write(
    app: &App,
    user: &User,
    mut next: User,
    mut change: AccountChange,
    now: u64,
) -> Result<User, ApiError> {
    next.version = user.version + 1;
    change.user = Some((next.clone(), Some(user.version)));
    app.accounts.apply(change, now).await??;
    Ok(next)
}

fn answer(action: Action, changed: bool, user: &User) -> Value {
    json!({ "action": action.name(), "changed": changed, "user": profile(user) })
}

async fn resend_invite(app: &App, user: &User, now: u64) -> Result<Value, ApiError> {
    match user.status {
        UserStatus::PendingPassword => {}
        _ if user.password.is_some() => return Err(Refusal::PasswordAlreadySet.into()),
        _ => return Err(Refusal::AccountDisabled.into()),
    }
    let (mut change, _sid) = invitation_change(&app.config, user, now);
    // The previous link stops working in the same transaction.
    change.revoke_links_of = Some(user.biz_id.clone());
    let next = write(app, user, user.clone(), change, now).await?;
    Ok(answer(Action::ResendInvite, true, &next))
}

async fn send_reset(app: &App, user: &User, now: u64) -> Result<Value, ApiError> {
    match user.status {
        UserStatus::Active => {}
        UserStatus::PendingPassword => return Err(wrong_status()),
        UserStatus::Locked | UserStatus::Disabled => return Err(Refusal::AccountDisabled.into()),
    }
    let (reset, message) = reset_link(&app.config, user, Lang::En, now);
    let change = AccountChange {
        new_reset: Some(reset),
        outbox: vec![message],
        ..AccountChange::default()
    };
    // Under the version read: a user changed meanwhile is asked about again.
    let next = write(app, user, user.clone(), change, now).await?;
    Ok(answer(Action::SendReset, true, &next))
}

async fn require_change(app: &App, user: &User, now: u64) -> Result<Value, ApiError> {
    if user.password.is_none() {
        return Err(wrong_status());
    }
    if user.must_change {
        return Ok(answer(Action::RequireChange, false, user));
    }
    let mut next = user.clone();
    next.must_change = true;
    let next = write(app, user, next, AccountChange::default(), now).await?;
    Ok(answer(Action::RequireChange, true, &next))
}

/// Erasure: the counters and rate-limit buckets derived from the user
/// first (each idempotent), then the account's items, the profile last;
/// then the buckets of the links that erasure named.
async fn delete(app: &App, user: &User, now: u64) -> Result<Value, ApiError> {
    app.guesses.clear(&account_guess_key(&user.biz_id)).await?;
    app.guesses
        .clear(&unknown_email_guess_key(&user.email))
        .await?;
    for bucket in USER_BUCKETS {
        app.limiter.forget(bucket, &user.biz_id).await?;
    }
    app.limiter
        .forget("forgot-email", &token_sha256(&user.email))
        .await?;
    let erased: Erased = app.accounts.erase_user(user, now).await??;
    for sha in &erased.init_sid_sha256 {
        app.limiter.forget("init-sid", sha).await?;
    }
    for sha in &erased.reset_sha256 {
        app.limiter.forget("reset-token", sha).await?;
    }
    let mut answer = answer(Action::Delete, true, user);
    answer["erased"] = json!({
        "links": erased.init_sid_sha256.len() + erased.reset_sha256.len(),
        "messages": erased.messages,
        "forgotRequests": erased.forgot_requests,
    });
    Ok(answer)
}

/// The rate-limit buckets keyed by the user's business id.
const USER_BUCKETS: [&str; 2] = ["change-user", "status-user"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_one_name() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
        }
        assert_eq!(Action::from_name("Lock"), None);
        assert_eq!(Action::from_name(""), None);
    }

    #[test]
    fn the_event_names_the_action_and_the_principal() {
        let e = audit::admin_user("resend-invite", Some("ACC_USR_1"), "arn:x", "2000", true, 0);
        assert_eq!(e["audit"], "admin.user_resend_invite");
        assert_eq!(e["principal"], "arn:x");
        assert_eq!(e["bizId"], "ACC_USR_1");
        assert_eq!(e["code"], "2000");
        assert_eq!(e["changed"], true);
        let refused = audit::admin_user("lock", None, "-", "AUTH.USER_NOT_FOUND", false, 0);
        assert!(refused.get("bizId").is_none());
    }
}
