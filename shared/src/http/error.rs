//! The one error type of the HTTP layer, and its mapping to status + code.

use http::StatusCode;
use serde_json::{Map, Value};

use crate::channel::{KeyExchangeError, WireError};

/// Secure Channel failures of section 6 (checks 1-6) and session creation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScError {
    /// `X-SC-Version` is not `2`.
    #[error("unsupported secure channel version")]
    UnsupportedVersion,
    /// No unexpired session has this id and client hash.
    #[error("session invalid")]
    SessionInvalid,
    /// The envelope has a wrong length, version or type.
    #[error("malformed envelope")]
    Malformed,
    /// The envelope's timestamp is outside the allowed clock skew.
    #[error("stale timestamp")]
    Stale,
    /// The envelope could not be authenticated.
    #[error("decrypt failed")]
    DecryptFailed,
    /// The envelope's nonce was already used in this session.
    #[error("replayed envelope")]
    Replay,
    /// The key id names no accepted key.
    #[error("unknown key")]
    UnknownKey,
    /// The wrapped session key could not be unwrapped.
    #[error("key exchange failed")]
    KeyExchangeFailed,
}

impl From<WireError> for ScError {
    fn from(e: WireError) -> Self {
        match e {
            WireError::Malformed => ScError::Malformed,
            WireError::DecryptFailed => ScError::DecryptFailed,
        }
    }
}

impl From<KeyExchangeError> for ScError {
    fn from(e: KeyExchangeError) -> Self {
        match e {
            KeyExchangeError::UnknownKey => ScError::UnknownKey,
            KeyExchangeError::Failed => ScError::KeyExchangeFailed,
        }
    }
}

/// One issue of a strict-JSON body: `{"field": "email", "code": "INVALID_TYPE"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldIssue {
    /// The offending field.
    pub field: String,
    /// What is wrong with it.
    pub code: &'static str,
}

/// Every failure a route can answer with. The status, code and params of each
/// variant are decided in `parts` and nowhere else.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// These required gateway headers are absent.
    #[error("gateway header missing")]
    HeaderMissing(Vec<&'static str>),
    /// These gateway headers are malformed.
    #[error("gateway header invalid")]
    HeaderInvalid(Vec<&'static str>),
    /// The body is larger than the largest envelope.
    #[error("payload too large")]
    PayloadTooLarge,
    /// Too many requests; retry later.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until a request would fit again.
        retry_after_secs: u64,
    },
    /// No route has this path.
    #[error("route not found")]
    NotFound,
    /// The route does not take this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The body failed strict JSON validation.
    #[error("invalid parameters")]
    Validation(Vec<FieldIssue>),
    /// A Secure Channel check failed.
    #[error("secure channel: {0}")]
    Sc(#[from] ScError),
    /// A domain failure with its own code (password policy, auth ...).
    #[error("{code}")]
    Domain {
        /// HTTP status.
        status: StatusCode,
        /// Error code, localized when rendered.
        code: &'static str,
        /// Placeholder values for the message.
        params: Map<String, Value>,
        /// Each item: `(code, params)`, localized when rendered.
        details: Vec<(&'static str, Map<String, Value>)>,
    },
    /// A store or backend failed: 503.
    #[error("backend unavailable")]
    Unavailable(#[source] anyhow::Error),
    /// An unexpected failure: 500.
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl From<crate::ports::Unavailable> for ApiError {
    fn from(e: crate::ports::Unavailable) -> Self {
        ApiError::Unavailable(e.0)
    }
}

/// What the renderer needs: status, code, message params, raw details.
pub struct ErrorParts {
    /// HTTP status.
    pub status: StatusCode,
    /// Error code.
    pub code: &'static str,
    /// Placeholder values for the message.
    pub params: Map<String, Value>,
    /// Items of the `details` array.
    pub details: Vec<Value>,
    /// Seconds for `Retry-After`, when rate limited.
    pub retry_after_secs: Option<u64>,
}

fn one(name: &str, value: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(name.to_owned(), value);
    m
}

impl ApiError {
    /// The status, code and params of this error, with details localized in `lang`.
    pub fn parts(&self, lang: crate::i18n::Lang) -> ErrorParts {
        use crate::i18n::message;
        let simple = |status, code| ErrorParts {
            status,
            code,
            params: Map::new(),
            details: Vec::new(),
            retry_after_secs: None,
        };
        match self {
            ApiError::HeaderMissing(names) | ApiError::HeaderInvalid(names) => {
                let code = if matches!(self, ApiError::HeaderMissing(_)) {
                    "GATEWAY.HEADER_MISSING"
                } else {
                    "GATEWAY.HEADER_INVALID"
                };
                ErrorParts {
                    status: StatusCode::BAD_REQUEST,
                    code,
                    params: one("headers", Value::from(names.clone())),
                    details: names.iter().map(|h| serde_json::json!({ "header": h })).collect(),
                    retry_after_secs: None,
                }
            }
            ApiError::PayloadTooLarge => ErrorParts {
                params: one("max", Value::from(crate::channel::wire::MAX_ENVELOPE_LEN)),
                ..simple(StatusCode::PAYLOAD_TOO_LARGE, "REQUEST.PAYLOAD_TOO_LARGE")
            },
            ApiError::RateLimited { retry_after_secs } => ErrorParts {
                params: one("retryAfter", Value::from(*retry_after_secs)),
                retry_after_secs: Some(*retry_after_secs),
                ..simple(StatusCode::TOO_MANY_REQUESTS, "REQUEST.RATE_LIMITED")
            },
            ApiError::NotFound => simple(StatusCode::NOT_FOUND, "REQUEST.NOT_FOUND"),
            ApiError::MethodNotAllowed => {
                simple(StatusCode::METHOD_NOT_ALLOWED, "REQUEST.METHOD_NOT_ALLOWED")
            }
            ApiError::Validation(issues) => ErrorParts {
                details: issues
                    .iter()
                    .map(|i| {
                        let text = message(
                            lang,
                            &format!("VALIDATION.{}", i.code),
                            &one("field", Value::from(i.field.clone())),
                        );
                        serde_json::json!({ "field": i.field, "code": i.code, "message": text })
                    })
                    .collect(),
                ..simple(StatusCode::BAD_REQUEST, "VALIDATION.INVALID_PARAMETER")
            },
            ApiError::Sc(e) => {
                let (status, code) = match e {
                    ScError::UnsupportedVersion => (StatusCode::BAD_REQUEST, "SC.UNSUPPORTED_VERSION"),
                    ScError::SessionInvalid => (StatusCode::UNAUTHORIZED, "SC.SESSION_INVALID"),
                    ScError::Malformed => (StatusCode::BAD_REQUEST, "SC.MALFORMED"),
                    ScError::Stale => (StatusCode::BAD_REQUEST, "SC.STALE"),
                    ScError::DecryptFailed => (StatusCode::BAD_REQUEST, "SC.DECRYPT_FAILED"),
                    ScError::Replay => (StatusCode::BAD_REQUEST, "SC.REPLAY"),
                    ScError::UnknownKey => (StatusCode::BAD_REQUEST, "SC.UNKNOWN_KEY"),
                    ScError::KeyExchangeFailed => (StatusCode::BAD_REQUEST, "SC.KEY_EXCHANGE_FAILED"),
                };
                simple(status, code)
            }
            ApiError::Domain {
                status,
                code,
                params,
                details,
            } => ErrorParts {
                status: *status,
                code,
                params: params.clone(),
                details: details
                    .iter()
                    .map(|(c, p)| {
                        serde_json::json!({ "code": c, "message": message(lang, c, p), "params": p })
                    })
                    .collect(),
                retry_after_secs: None,
            },
            ApiError::Unavailable(_) => simple(StatusCode::SERVICE_UNAVAILABLE, "SYSTEM.UNAVAILABLE"),
            ApiError::Internal(_) => simple(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM.INTERNAL_ERROR"),
        }
    }
}
