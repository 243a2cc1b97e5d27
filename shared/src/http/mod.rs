//! The HTTP layer, in one place: gateway headers, the standard envelope,
//! error rendering, strict JSON bodies.

pub mod cors;
pub mod error;
pub mod gateway;
pub mod json;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value};

pub use cors::CorsPolicy;
pub use error::{ApiError, FieldIssue, Refusal, ScError, Success};
pub use gateway::{ip_rate_key, ClientIpSource, Gateway};

use crate::i18n::{self, Lang};

/// A request as every runtime (Lambda, local-api, tests) hands it to the core.
#[derive(Debug, Clone)]
pub struct ApiRequest {
    /// HTTP method.
    pub method: Method,
    /// Request headers.
    pub headers: HeaderMap,
    /// Raw body.
    pub body: Bytes,
    /// Lambda's request id, used when `Cf-Ray` is absent or not believed.
    pub fallback_request_id: Option<String>,
    /// The network peer as the runtime saw it (API Gateway's `sourceIp`);
    /// `None` for in-process callers.
    pub source_ip: Option<std::net::IpAddr>,
}

/// A response as the core hands it back to the runtime.
pub type ApiResponse = http::Response<Bytes>;

/// The `version` of every envelope.
pub const ENVELOPE_VERSION: &str = "2.0.0";
/// The `code` of every success envelope.
pub const SUCCESS_CODE: &str = "2000";
/// `Content-Type` of JSON responses.
pub const JSON_CONTENT_TYPE: &str = "application/json;charset=UTF-8";

/// Builds the standard success envelope. `message_code` is localized.
pub fn success_body(
    lang: Lang,
    now_ms: u64,
    request_id: &str,
    message_code: &str,
    data: Value,
) -> Value {
    serde_json::json!({
        "version": ENVELOPE_VERSION,
        "timestamp": now_ms,
        "success": true,
        "code": SUCCESS_CODE,
        "message": i18n::message(lang, message_code, &Map::new()),
        "data": data,
        "requestId": request_id,
    })
}

/// Builds the standard failure envelope. Causes of 5xx go to the log, never the body.
pub fn error_body(
    err: &ApiError,
    lang: Lang,
    now_ms: u64,
    request_id: &str,
) -> (StatusCode, Value, Option<u64>) {
    if let ApiError::Unavailable(cause) | ApiError::Internal(cause) = err {
        tracing::error!(request_id, error = ?cause, "request failed");
    }
    let parts = err.parts(lang);
    let mut body = serde_json::json!({
        "version": ENVELOPE_VERSION,
        "timestamp": now_ms,
        "success": false,
        "code": parts.code,
        "message": i18n::message(lang, parts.code, &parts.params),
        "requestId": request_id,
    });
    if !parts.details.is_empty() {
        body["details"] = Value::Array(parts.details);
    }
    (parts.status, body, parts.retry_after_secs)
}

/// Every answer, plaintext or sealed: its body and type, the language of
/// its message, and never stored by a cache.
pub fn response(
    status: StatusCode,
    lang: Lang,
    content_type: &'static str,
    body: Bytes,
) -> ApiResponse {
    let mut resp = http::Response::new(body);
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(content_type),
    );
    headers.insert(
        http::header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.tag()),
    );
    headers.insert(
        http::header::CACHE_CONTROL,
        HeaderValue::from_static("no-store"),
    );
    resp
}

/// A plaintext JSON response with `Content-Language`.
pub fn json_response(status: StatusCode, lang: Lang, body: &Value) -> ApiResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    response(status, lang, JSON_CONTENT_TYPE, Bytes::from(bytes))
}

/// A plaintext error response, with `Retry-After` when rate limited.
pub fn error_response(err: &ApiError, lang: Lang, now_ms: u64, request_id: &str) -> ApiResponse {
    let (status, body, retry_after) = error_body(err, lang, now_ms, request_id);
    let mut resp = json_response(status, lang, &body);
    if let Some(secs) = retry_after {
        resp.headers_mut()
            .insert(http::header::RETRY_AFTER, HeaderValue::from(secs));
    }
    resp
}

/// A request id for the envelope: `Cf-Ray` when `ip_source` believes the
/// edge's headers of this request ([`ClientIpSource::trusts`]), else Lambda's,
/// else a fresh one: a caller off the edge never chooses its request id.
pub fn request_id(req: &ApiRequest, ip_source: &ClientIpSource) -> String {
    let believed = ip_source.trusts(req.source_ip);
    req.headers
        .get("cf-ray")
        .filter(|_| believed)
        .and_then(|v| v.to_str().ok())
        .filter(|v| gateway::is_printable_ascii(v, 128))
        .map(str::to_owned)
        .or_else(|| req.fallback_request_id.clone())
        .unwrap_or_else(|| {
            let bytes: [u8; 12] = crate::channel::random_bytes();
            bytes.iter().map(|b| format!("{b:02x}")).collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plaintext and sealed answers are built by [`response`]: each carries its
    /// type, the message's language and `no-store`.
    #[test]
    fn every_answer_has_its_type_language_and_no_store() {
        let sealed = response(
            StatusCode::OK,
            Lang::Ja,
            "application/octet-stream",
            Bytes::from_static(b"x"),
        );
        let plain = json_response(StatusCode::BAD_REQUEST, Lang::Ja, &Value::Null);
        for (resp, kind) in [
            (&sealed, "application/octet-stream"),
            (&plain, JSON_CONTENT_TYPE),
        ] {
            let h = resp.headers();
            assert_eq!(h[http::header::CONTENT_TYPE], kind);
            assert_eq!(h[http::header::CONTENT_LANGUAGE], "ja");
            assert_eq!(h[http::header::CACHE_CONTROL], "no-store");
        }
        assert_eq!(sealed.status(), StatusCode::OK);
        assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
        assert_eq!(plain.body().as_ref(), b"null");
    }
}
