//! The internal `invite-user` function: a trusted backend invokes it with
//! `{email, name, phone?, locale?}`; the user is created pending, with an
//! init link in the outbox.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};
use shared::handlers::accounts::{create_user, Invitation};
use shared::http::json::parse_strict;
use shared::http::ApiError;
use shared::i18n::Lang;
use shared::App;

use crate::bootstrap::{app_from_env, cold_start_failed};

/// An internal failure of an invitation: the invocation fails (a function
/// error, counted by Lambda's `Errors` metric and its alarm). It carries
/// the API error code only; the cause is logged.
#[derive(Debug, thiserror::Error)]
#[error("invitation failed: {code}")]
pub struct InviteFailed {
    pub code: &'static str,
}

/// `{bizId, email, status}`, or for a refused invitation (bad event, taken
/// address: a 4xx) `{"error": {status, code, details}}` with the API error
/// code. An internal error (a 5xx) is [`InviteFailed`].
pub async fn handle(app: &App, event: Value) -> Result<Value, InviteFailed> {
    match invite(app, event).await {
        Ok(v) => Ok(v),
        Err(err) => {
            let parts = err.parts(Lang::En);
            if parts.status.is_server_error() {
                tracing::error!(code = parts.code, error = ?err, "invitation failed");
                return Err(InviteFailed { code: parts.code });
            }
            tracing::warn!(code = parts.code, "invitation refused");
            Ok(json!({ "error": {
                "status": parts.status.as_u16(),
                "code": parts.code,
                "details": parts.details,
            }}))
        }
    }
}

async fn invite(app: &App, event: Value) -> Result<Value, ApiError> {
    let bytes = serde_json::to_vec(&event).map_err(|e| ApiError::Internal(e.into()))?;
    let invitation: Invitation = parse_strict(&bytes)?;
    let created = create_user(app, invitation, None).await?;
    tracing::info!(biz_id = %created.user.biz_id, "user invited");
    Ok(json!({
        "bizId": created.user.biz_id,
        "email": created.user.email,
        "status": created.user.status,
    }))
}

/// Everything the function's `main` does.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let app = app_from_env(shared::route::Needs::INVITE_USER)
        .await
        .map_err(cold_start_failed)?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(app, event.payload)
            .await
            .map_err(lambda_runtime::Error::from)
    }))
    .await
}
