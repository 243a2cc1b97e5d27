//! The internal `invite-user` function: a trusted backend invokes it with
//! `{email, name, phone?, locale?}`; the user is created pending, with an
//! init link in the outbox.

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::{json, Value};
use shared::handlers::accounts::{create_user, Invitation};
use shared::http::json::parse_strict;
use shared::http::ApiError;
use shared::App;

use crate::bootstrap::{app_from_env, cold_start_failed};
use crate::internal_fn::{answer, FunctionFailed};

/// `{bizId, email, status}`, or for a refused invitation (bad event, taken
/// address: a 4xx) `{"error": {status, code, details}}` with the API error
/// code. An internal error (a 5xx) fails the invocation
/// ([`crate::internal_fn`]).
pub async fn handle(app: &App, event: Value) -> Result<Value, FunctionFailed> {
    answer(invite(app, event).await, "invitation")
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
