//! The answer of an internal (IAM-invoked) function whose use case returns
//! an [`ApiError`]: a refusal (a 4xx) is a successful invocation carrying
//! `{"error": {status, code, details}}`; an internal error (a 5xx) fails the
//! invocation, so Lambda's `Errors` metric and its alarm count it. The
//! cause is logged, never returned.

use serde_json::{json, Value};
use shared::http::ApiError;
use shared::i18n::Lang;

/// An internal failure of `what` (e.g. "invitation"): the API error code
/// only.
#[derive(Debug, thiserror::Error)]
#[error("{what} failed: {code}")]
pub struct FunctionFailed {
    pub what: &'static str,
    pub code: &'static str,
}

/// The function's answer for `outcome` (see the module doc).
pub fn answer(
    outcome: Result<Value, ApiError>,
    what: &'static str,
) -> Result<Value, FunctionFailed> {
    let err = match outcome {
        Ok(v) => return Ok(v),
        Err(err) => err,
    };
    let parts = err.parts(Lang::En);
    if parts.status.is_server_error() {
        tracing::error!(code = parts.code, error = ?err, "{what} failed");
        return Err(FunctionFailed {
            what,
            code: parts.code,
        });
    }
    tracing::warn!(code = parts.code, "{what} refused");
    Ok(json!({ "error": {
        "status": parts.status.as_u16(),
        "code": parts.code,
        "details": parts.details,
    }}))
}
