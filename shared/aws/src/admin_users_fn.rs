//! The internal `admin-users` function: an operator (`pwctl admin users`,
//! or any IAM principal allowed to invoke it) sends `{action, user,
//! principal?}` and gets the use case's answer
//! (`shared::handlers::admin`). Not on the HTTP API.

use lambda_runtime::{service_fn, LambdaEvent};
use serde::Deserialize;
use serde_json::Value;
use shared::handlers::admin::{administer, Action};
use shared::http::json::parse_strict;
use shared::http::ApiError;
use shared::App;

use crate::bootstrap::{app_from_env, cold_start_failed};
use crate::internal_fn::{answer, FunctionFailed};

/// The principal an event without one is recorded under. Lambda does not
/// pass the invoker's identity to the function; CloudTrail records it.
pub const UNNAMED_PRINCIPAL: &str = "unnamed-invoker";

/// What the operator sends.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminEvent {
    /// One of `shared::handlers::admin::Action`'s names.
    pub action: String,
    /// The user's address or business id.
    pub user: String,
    /// Who asks (an IAM ARN), for the audit event.
    pub principal: Option<String>,
}

/// The answer, or for a refusal (bad event, unknown user, a status that
/// forbids the action: a 4xx) `{"error": {status, code, details}}`; an
/// internal error (a 5xx) fails the invocation ([`crate::internal_fn`]).
pub async fn handle(app: &App, event: Value) -> Result<Value, FunctionFailed> {
    answer(act(app, event).await, "user administration")
}

async fn act(app: &App, event: Value) -> Result<Value, ApiError> {
    let bytes = serde_json::to_vec(&event).map_err(|e| ApiError::Internal(e.into()))?;
    let event: AdminEvent = parse_strict(&bytes)?;
    let action =
        Action::from_name(&event.action).ok_or_else(|| ApiError::invalid_value("action"))?;
    let principal = event.principal.as_deref().unwrap_or(UNNAMED_PRINCIPAL);
    administer(app, action, &event.user, principal).await
}

/// Everything the function's `main` does.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let app = app_from_env(shared::route::Needs::ADMIN_USERS)
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
