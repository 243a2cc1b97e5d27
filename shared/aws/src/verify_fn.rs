//! The internal `verify-password` function: the identity provider invokes it
//! (IAM-signed) with `{email | bizId, password, clientIp?, userAgent?}` and
//! gets `{result: ok | invalid | locked, ...}` (docs/api.md#verify-password).

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use shared::handlers::verify::{error_json, handle_json};
use shared::http::ApiError;
use shared::App;

use crate::bootstrap::{cold_start_failed, verifying_app};

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
    let app = verifying_app().await.map_err(cold_start_failed)?;
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        Ok::<_, lambda_runtime::Error>(handle(app, event.payload).await)
    }))
    .await
}
