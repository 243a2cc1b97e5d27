//! `POST .../password/forgot`: records a forgot-password request.

use password::Email;
use serde::Deserialize;
use serde_json::json;

use super::{confirmed, Done};
use crate::handlers::{mail, Ctx};
use crate::http::json::parse_strict;
use crate::http::{ApiError, ApiRequest, ApiResponse};
use crate::ports::accounts::ForgotRequest;
use crate::token::token_sha256;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ForgotBody {
    email: Email,
}

/// `POST .../password/forgot`: records a forgot-password request; the answer is the same for every address.
pub async fn forgot(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    ctx.rate_limit(
        "forgot-ip",
        &ctx.ip_key(),
        ctx.app.config.limits.forgot_per_ip,
    )
    .await?;
    let opened = ctx.open(req).await?;
    Ok(ctx.seal(&opened, forgot_opened(ctx, &opened.plaintext).await))
}

async fn forgot_opened(ctx: &Ctx<'_>, plaintext: &[u8]) -> Result<Done, ApiError> {
    let app = ctx.app;
    let body: ForgotBody = parse_strict(plaintext)?;
    // Counted per address whether or not it belongs to anyone, keyed by its
    // hash (the table holds no address nobody owns).
    ctx.rate_limit(
        "forgot-email",
        &token_sha256(body.email.as_str()),
        app.config.limits.forgot_per_email,
    )
    .await?;
    // One write of one shape whatever the address: the lookup, the token
    // and the email happen off the request path (`accounts::answer_forgot`).
    let request = ForgotRequest {
        id: mail::new_id(),
        email: body.email.into(),
        lang: ctx.gw.lang.tag().to_owned(),
        requested_at_ms: app.clock.now_ms(),
    };
    app.accounts.record_forgot(&request).await?;
    ctx.facts.forgot_id(&request.id);
    confirmed("PASSWORD.RESET_REQUESTED", json!({}))
}
