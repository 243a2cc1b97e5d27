//! `POST .../password/change`: the signed-in user changes their password.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use super::{confirmed, with_new_password, Done};
use crate::handlers::Ctx;
use crate::http::json::parse_strict;
use crate::http::{ApiError, ApiRequest, ApiResponse, Refusal};
use crate::ports::accounts::{AccountChange, User};
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
    let verified = match &user.password {
        Some(current) => {
            let given = body
                .current_password
                .as_ref()
                .ok_or(Refusal::CurrentPasswordRequired)?;
            let verified = app.passwords.verify(given.expose_secret(), Some(current));
            Some(ctx.facts.time_check(verified).await?)
        }
        None => None,
    };
    let now = app.clock.now_ms();
    let new = body.new_password.expose_secret();
    let next = with_new_password(ctx, &user, new, verified.as_ref(), now).await?;
    let change = AccountChange {
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
