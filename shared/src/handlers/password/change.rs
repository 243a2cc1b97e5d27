//! `POST .../password/change`: the signed-in user changes their password.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use password::Verified;

use super::{confirmed, with_new_password, Done};
use crate::handlers::verify::{account_guess_key, failed_check, Verdict};
use crate::handlers::Ctx;
use crate::http::json::parse_strict;
use crate::http::{ApiError, ApiRequest, ApiResponse, Refusal};
use crate::ports::accounts::{foreign_hash_delta, AccountChange, User};
use crate::ports::Attempt;
use crate::time_fmt::rfc3339;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ChangeBody {
    current_password: Option<SecretString>,
    new_password: SecretString,
}

/// `POST .../password/change`: changes the signed-in user's password.
pub async fn change(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let limits = &ctx.app.config.limits;
    ctx.rate_limit("change-ip", &ctx.ip_key(), limits.change_per_ip)
        .await?;
    let (opened, user) = ctx.open_beside(req, ctx.token_user(req)).await?;
    Ok(ctx.seal(
        &opened,
        change_opened(ctx, req, user, &opened.plaintext).await,
    ))
}

async fn change_opened(
    ctx: &Ctx<'_>,
    req: &ApiRequest,
    user: Result<User, ApiError>,
    plaintext: &[u8],
) -> Result<Done, ApiError> {
    let app = ctx.app;
    // The per-user bucket counts only requests that prove to be that user:
    // a stolen or revoked token cannot use up the owner's attempts.
    let user = user?;
    ctx.rate_limit(
        "change-user",
        &user.biz_id,
        app.config.limits.change_per_user,
    )
    .await?;
    let body: ChangeBody = parse_strict(plaintext)?;
    let now = app.clock.now_ms();
    let verified = match &user.password {
        Some(current) => {
            let given = body
                .current_password
                .as_ref()
                .ok_or(Refusal::CurrentPasswordRequired)?;
            Some(check_current(ctx, req, &user, given, current, now).await?)
        }
        None => None,
    };
    let new = body.new_password.expose_secret();
    let next = with_new_password(ctx, &user, new, verified.as_ref(), now).await?;
    let change = AccountChange {
        foreign_hash_delta: foreign_hash_delta(user.password.as_ref(), next.password.as_ref()),
        outbox: vec![ctx.changed_notice(&next, now, req)],
        revoke_links_of: Some(user.biz_id.clone()),
        user: Some((next, Some(user.version))),
        ..AccountChange::default()
    };
    app.accounts.apply(change, now).await??;
    confirmed(
        "PASSWORD.CHANGED",
        json!({ "passwordChangedAt": rfc3339(now) }),
    )
}

/// Checks the current password under the guessing cap that sign-in shares:
/// a locked account is refused before Argon2, a wrong password counts (and
/// may lock), a right one starts the count over.
async fn check_current(
    ctx: &Ctx<'_>,
    req: &ApiRequest,
    user: &User,
    given: &SecretString,
    current: &password::PasswordHash,
    now: u64,
) -> Result<Verified, ApiError> {
    let app = ctx.app;
    let key = account_guess_key(&user.biz_id);
    let attempt = app.guesses.reserve(&key, app.config.lockout, now).await?;
    if let Attempt::Locked { until_ms } = attempt {
        return Err(ApiError::AccountLocked {
            retry_after_secs: Verdict::retry_after_secs(until_ms, now),
        });
    }
    let checked = app.passwords.verify(given.expose_secret(), Some(current));
    match ctx.facts.time_check(checked).await {
        Ok(verified) => {
            app.guesses.clear(&key).await?;
            Ok(verified)
        }
        Err(e) => {
            if matches!(e, password::PasswordError::Mismatch) {
                let user_agent = req
                    .headers
                    .get(http::header::USER_AGENT)
                    .and_then(|v| v.to_str().ok());
                failed_check(app, attempt, Some(user), user_agent, now).await?;
            }
            Err(e.into())
        }
    }
}
