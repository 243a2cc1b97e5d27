//! `POST .../password/status`: the signed-in user's password status.

use serde::Deserialize;
use serde_json::json;

use super::{ok, Done};
use crate::handlers::Ctx;
use crate::http::json::parse_strict;
use crate::http::{ApiError, ApiRequest, ApiResponse};
use crate::ports::accounts::User;
use crate::time_fmt::rfc3339;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct EmptyBody {}

/// `POST .../password/status`: the signed-in user's account and password status.
pub async fn status(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    // Before the session read, the nonce write and the token's user: a
    // caller with forged tokens spends only this bucket.
    ctx.rate_limit(
        "status-ip",
        &ctx.ip_key(),
        ctx.app.config.limits.status_per_ip,
    )
    .await?;
    let (opened, user) = ctx.open_beside(req, ctx.token_user(req)).await?;
    Ok(ctx.seal(&opened, status_opened(ctx, user, &opened.plaintext).await))
}

async fn status_opened(
    ctx: &Ctx<'_>,
    user: Result<User, ApiError>,
    plaintext: &[u8],
) -> Result<Done, ApiError> {
    let user = user?;
    ctx.rate_limit(
        "status-user",
        &user.biz_id,
        ctx.app.config.limits.status_per_user,
    )
    .await?;
    let _: EmptyBody = parse_strict(plaintext)?;
    ok(
        "SUCCESS",
        json!({
            "passwordSet": user.password.is_some(),
            "passwordChangedAt": user.password_changed_at_ms.map(rfc3339),
            "mustChange": user.must_change,
        }),
    )
}
