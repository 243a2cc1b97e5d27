//! The internal `verify-password` function: the identity provider invokes it
//! (IAM-signed) with `{email | bizId, password, clientIp?, userAgent?}` and
//! gets `{result: ok | invalid | locked, ...}` (docs/api.md#verify-password).

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use shared::handlers::verify::{error_json, handle_json};
use shared::http::ApiError;
use shared::App;

use crate::bootstrap::{app_from_env, cold_start_failed};

/// One invocation: the event re-read as strict JSON, answered as
/// [`handle_json`] does.
pub async fn handle(app: &App, event: Value) -> Value {
    match serde_json::to_vec(&event) {
        Ok(bytes) => handle_json(app, &bytes).await,
        Err(e) => error_json(&ApiError::Internal(e.into())),
    }
}

/// Everything the function's `main` does.
pub async fn run() -> Result<(), lambda_runtime::Error> {
    shared::telemetry::init();
    let app = app_from_env(shared::routes::Needs::VERIFY_PASSWORD)
        .await
        .map_err(cold_start_failed)?;
    // Unknown addresses are checked against it: made before the first one comes.
    app.passwords
        .prepare_dummy()
        .map_err(|e| cold_start_failed(anyhow::anyhow!(e)))?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, lambda_runtime::Error>(handle(app, event.payload).await)
    }))
    .await
}
