//! `POST .../password/reset`: a new password with an emailed reset token.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::{confirmed, with_new_password, Done};
use crate::handlers::verify::account_guess_key;
use crate::handlers::Ctx;
use crate::http::json::parse_strict;
use crate::http::{ApiError, ApiRequest, ApiResponse, Refusal};
use crate::ports::accounts::{foreign_hash_delta, AccountChange, UserStatus};
use crate::time_fmt::rfc3339;
use crate::token::token_sha256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct ResetBody {
    token: SecretString,
    new_password: SecretString,
}

/// `POST .../password/reset`: sets a new password with an emailed reset token.
pub async fn reset(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    ctx.rate_limit(
        "reset-ip",
        &ctx.ip_key(),
        ctx.app.config.limits.reset_per_ip,
    )
    .await?;
    let opened = ctx.open(req).await?;
    Ok(ctx.seal(&opened, reset_opened(ctx, req, &opened.plaintext).await))
}

async fn reset_opened(ctx: &Ctx<'_>, req: &ApiRequest, plaintext: &[u8]) -> Result<Done, ApiError> {
    let app = ctx.app;
    let body: ResetBody = parse_strict(plaintext)?;
    let token = body.token.expose_secret();
    if token.is_empty() || token.len() > 128 {
        return Err(ApiError::invalid_value("token"));
    }
    let hash = token_sha256(token);
    ctx.rate_limit("reset-token", &hash, app.config.limits.reset_per_token)
        .await?;
    let now = app.clock.now_ms();
    let invalid = || Refusal::ResetTokenInvalid;
    let token = app
        .accounts
        .reset_token(&hash, now)
        .await?
        .ok_or_else(invalid)?;
    ctx.facts.biz_id(&token.biz_id);
    let user = app
        .accounts
        .user(&token.biz_id)
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(invalid)?;
    let next = with_new_password(ctx, &user, body.new_password.expose_secret(), None, now).await?;
    let change = AccountChange {
        foreign_hash_delta: foreign_hash_delta(user.password.as_ref(), next.password.as_ref()),
        outbox: vec![ctx.changed_notice(&next, now, req)],
        consume_reset: Some(hash),
        revoke_links_of: Some(user.biz_id.clone()),
        user: Some((next, Some(user.version))),
        ..AccountChange::default()
    };
    app.accounts.apply(change, now).await??;
    // The emailed link proved the owner: a lock from someone's guesses ends
    // with the old password, so the owner can sign in with the new one.
    app.guesses.clear(&account_guess_key(&user.biz_id)).await?;
    confirmed(
        "PASSWORD.CHANGED",
        json!({ "passwordChangedAt": rfc3339(now) }),
    )
}
