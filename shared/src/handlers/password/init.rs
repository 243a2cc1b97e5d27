//! `POST .../password/init`: a first password through an emailed init link.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::{ok, with_new_password, Done};
use crate::handlers::Ctx;
use crate::http::json::parse_strict;
use crate::http::{ApiError, ApiRequest, ApiResponse, Refusal, Success};
use crate::ports::accounts::{foreign_hash_delta, AccountChange, UserStatus};
use crate::time_fmt::rfc3339;
use crate::token::token_sha256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct InitBody {
    session_id: String,
    password: SecretString,
}

/// `POST .../password/init`: sets a first password through an emailed init link.
pub async fn init(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    ctx.rate_limit("init-ip", &ctx.ip_key(), ctx.app.config.limits.init_per_ip)
        .await?;
    let opened = ctx.open(req).await?;
    Ok(ctx.seal(&opened, init_opened(ctx, &opened.plaintext).await))
}

async fn init_opened(ctx: &Ctx<'_>, plaintext: &[u8]) -> Result<Done, ApiError> {
    let app = ctx.app;
    let body: InitBody = parse_strict(plaintext)?;
    if body.session_id.is_empty() || body.session_id.len() > 64 {
        return Err(ApiError::invalid_value("sessionId"));
    }
    // Keyed by the sid's hash: the table never holds a sid.
    ctx.rate_limit(
        "init-sid",
        &token_sha256(&body.session_id),
        app.config.limits.init_per_session,
    )
    .await?;
    let now = app.clock.now_ms();
    let invalid = || Refusal::InitSessionInvalid;
    let init = app
        .accounts
        .init_session(&body.session_id, now)
        .await?
        .ok_or_else(invalid)?;
    ctx.facts.biz_id(&init.biz_id);
    let user = app.accounts.user(&init.biz_id).await?.ok_or_else(invalid)?;
    if user.password.is_some() {
        return Err(Refusal::PasswordAlreadySet.into());
    }
    if matches!(user.status, UserStatus::Locked | UserStatus::Disabled) {
        return Err(Refusal::AccountDisabled.into());
    }
    let next = with_new_password(ctx, &user, body.password.expose_secret(), None, now).await?;
    let data = json!({
        "bizId": next.biz_id,
        "email": next.email,
        "name": next.name,
        "status": next.status.code(),
        "createdAt": rfc3339(next.created_at_ms),
    });
    let change = AccountChange {
        foreign_hash_delta: foreign_hash_delta(user.password.as_ref(), next.password.as_ref()),
        user: Some((next, Some(user.version))),
        consume_init: Some(body.session_id.clone()),
        revoke_links_of: Some(user.biz_id.clone()),
        ..AccountChange::default()
    };
    app.accounts.apply(change, now).await??;
    Ok(Done {
        status: Success::Created,
        ..ok("SUCCESS", data)?
    })
}
