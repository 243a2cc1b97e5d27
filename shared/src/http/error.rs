//! The one error type of the HTTP layer, and its mapping to status + code.
//! Every HTTP status the API answers with is chosen in this file: failures in
//! [`ApiError::parts`], successes in [`Success`].

use http::StatusCode;
use serde_json::{Map, Value};

use crate::auth::AuthError;
use crate::channel::{KeyExchangeError, WireError};
use crate::ports::accounts::ChangeRejected;

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
    /// Consecutive failed password checks locked the account for now.
    #[error("account locked")]
    AccountLocked {
        /// Seconds until the lock ends.
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
    /// A domain refusal of a use case (token, account, link, conflict).
    #[error("{0:?}")]
    Refused(Refusal),
    /// The password was refused: policy violations (listed in `details`) or
    /// a wrong current password. Its code is [`password::PasswordError::code`].
    #[error("{0}")]
    Password(password::PasswordError),
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

/// The domain refusals of the use cases, each with one status and code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No bearer token.
    TokenMissing,
    /// The bearer token does not verify.
    TokenInvalid,
    /// The token was issued before the last password change.
    TokenRevoked,
    /// The token's subject is no user.
    UserNotFound,
    /// The account is locked or disabled.
    AccountDisabled,
    /// A password is set, and the body gives no current password.
    CurrentPasswordRequired,
    /// The account already has a password (init).
    PasswordAlreadySet,
    /// The init link is unknown, used or expired.
    InitSessionInvalid,
    /// The reset token is unknown, used or expired.
    ResetTokenInvalid,
    /// The account changed under the request (or the address is taken).
    ConcurrentUpdate,
    /// Sign-in refused: unknown address, wrong password, or an account that
    /// may not sign in (local-api's `/_dev/signin`).
    SigninFailed,
}

impl Refusal {
    fn status_and_code(self) -> (StatusCode, &'static str) {
        match self {
            Refusal::TokenMissing => (StatusCode::UNAUTHORIZED, "AUTH.TOKEN_MISSING"),
            Refusal::TokenInvalid => (StatusCode::UNAUTHORIZED, "AUTH.TOKEN_INVALID"),
            Refusal::TokenRevoked => (StatusCode::UNAUTHORIZED, "AUTH.TOKEN_REVOKED"),
            Refusal::UserNotFound => (StatusCode::NOT_FOUND, "AUTH.USER_NOT_FOUND"),
            Refusal::AccountDisabled => (StatusCode::FORBIDDEN, "AUTH.ACCOUNT_DISABLED"),
            Refusal::CurrentPasswordRequired => {
                (StatusCode::BAD_REQUEST, "AUTH.CURRENT_PASSWORD_REQUIRED")
            }
            Refusal::PasswordAlreadySet => (StatusCode::CONFLICT, "AUTH.PASSWORD_ALREADY_SET"),
            Refusal::InitSessionInvalid => (StatusCode::BAD_REQUEST, "AUTH.INIT_SESSION_INVALID"),
            Refusal::ResetTokenInvalid => (StatusCode::BAD_REQUEST, "AUTH.RESET_TOKEN_INVALID"),
            Refusal::ConcurrentUpdate => (StatusCode::CONFLICT, "CONFLICT.CONCURRENT_UPDATE"),
            Refusal::SigninFailed => (StatusCode::UNAUTHORIZED, "AUTH.SIGNIN_FAILED"),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(r: Refusal) -> Self {
        ApiError::Refused(r)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        ApiError::Refused(match e {
            AuthError::Missing => Refusal::TokenMissing,
            AuthError::Invalid => Refusal::TokenInvalid,
        })
    }
}

impl From<password::PasswordError> for ApiError {
    fn from(e: password::PasswordError) -> Self {
        match e {
            password::PasswordError::Internal(cause) => ApiError::Internal(anyhow::anyhow!(cause)),
            e @ password::PasswordError::UnknownPepper(_) => ApiError::Internal(e.into()),
            e @ password::PasswordError::ScreeningUnavailable(_) => ApiError::Unavailable(e.into()),
            refused => ApiError::Password(refused),
        }
    }
}

impl From<ChangeRejected> for ApiError {
    fn from(e: ChangeRejected) -> Self {
        match e {
            ChangeRejected::VersionConflict | ChangeRejected::EmailTaken => {
                Refusal::ConcurrentUpdate.into()
            }
            ChangeRejected::InitInvalid => Refusal::InitSessionInvalid.into(),
            ChangeRejected::ResetInvalid => Refusal::ResetTokenInvalid.into(),
            ChangeRejected::ForgotHandled => ApiError::Internal(anyhow::anyhow!(
                "forgot request consumed by a password change"
            )),
        }
    }
}

/// The status of a successful answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Success {
    /// 200.
    Ok,
    /// 201: something was created (a session, a first password).
    Created,
}

impl From<Success> for StatusCode {
    fn from(s: Success) -> StatusCode {
        match s {
            Success::Ok => StatusCode::OK,
            Success::Created => StatusCode::CREATED,
        }
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

/// A violation's params with its zxcvbn feedback also rendered in `lang`:
/// `warning` (a `PASSWORD.WARNING.*` code) gains `warningMessage`, and
/// `suggestions` (`PASSWORD.SUGGESTION.*` codes) gains `suggestionMessages`,
/// in the same order. The codes stay for clients that branch on them.
fn with_hint_messages(lang: crate::i18n::Lang, params: &Map<String, Value>) -> Map<String, Value> {
    use crate::i18n::message;
    let mut out = params.clone();
    let none = Map::new();
    if let Some(code) = params.get("warning").and_then(Value::as_str) {
        out.insert(
            "warningMessage".into(),
            Value::from(message(lang, code, &none)),
        );
    }
    if let Some(codes) = params.get("suggestions").and_then(Value::as_array) {
        let texts: Vec<Value> = codes
            .iter()
            .filter_map(Value::as_str)
            .map(|code| Value::from(message(lang, code, &none)))
            .collect();
        out.insert("suggestionMessages".into(), Value::from(texts));
    }
    out
}

impl ApiError {
    /// A body field whose value is refused: `VALIDATION.INVALID_PARAMETER`
    /// with one `INVALID_VALUE` issue.
    pub fn invalid_value(field: &str) -> Self {
        ApiError::Validation(vec![FieldIssue {
            field: field.into(),
            code: "INVALID_VALUE",
        }])
    }

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
                    details: names
                        .iter()
                        .map(|h| serde_json::json!({ "header": h }))
                        .collect(),
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
            ApiError::AccountLocked { retry_after_secs } => ErrorParts {
                params: one("retryAfter", Value::from(*retry_after_secs)),
                retry_after_secs: Some(*retry_after_secs),
                ..simple(StatusCode::TOO_MANY_REQUESTS, "AUTH.ACCOUNT_LOCKED")
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
                    ScError::UnsupportedVersion => {
                        (StatusCode::BAD_REQUEST, "SC.UNSUPPORTED_VERSION")
                    }
                    ScError::SessionInvalid => (StatusCode::UNAUTHORIZED, "SC.SESSION_INVALID"),
                    ScError::Malformed => (StatusCode::BAD_REQUEST, "SC.MALFORMED"),
                    ScError::Stale => (StatusCode::BAD_REQUEST, "SC.STALE"),
                    ScError::DecryptFailed => (StatusCode::BAD_REQUEST, "SC.DECRYPT_FAILED"),
                    ScError::Replay => (StatusCode::BAD_REQUEST, "SC.REPLAY"),
                    ScError::UnknownKey => (StatusCode::BAD_REQUEST, "SC.UNKNOWN_KEY"),
                    ScError::KeyExchangeFailed => {
                        (StatusCode::BAD_REQUEST, "SC.KEY_EXCHANGE_FAILED")
                    }
                };
                simple(status, code)
            }
            ApiError::Refused(r) => {
                let (status, code) = r.status_and_code();
                simple(status, code)
            }
            ApiError::Password(e) => {
                let status = match e {
                    password::PasswordError::Internal(_)
                    | password::PasswordError::UnknownPepper(_) => {
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                    _ => StatusCode::BAD_REQUEST,
                };
                ErrorParts {
                    details: e
                        .violations()
                        .iter()
                        .map(|v| {
                            let (c, p) = (v.code, &v.params);
                            let params = with_hint_messages(lang, p);
                            serde_json::json!({ "code": c, "message": message(lang, c, p), "params": params })
                        })
                        .collect(),
                    ..simple(status, e.code())
                }
            }
            ApiError::Unavailable(_) => {
                simple(StatusCode::SERVICE_UNAVAILABLE, "SYSTEM.UNAVAILABLE")
            }
            ApiError::Internal(_) => {
                simple(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM.INTERNAL_ERROR")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{template, Lang};

    #[test]
    fn weak_password_hints_are_rendered_in_every_language() {
        let weak = password::Violation::new("PASSWORD.WEAK")
            .with("score", 1)
            .with("minScore", 3)
            .with("warning", "PASSWORD.WARNING.TOP_100")
            .with(
                "suggestions",
                vec![
                    Value::from("PASSWORD.SUGGESTION.ADD_WORDS"),
                    Value::from("PASSWORD.SUGGESTION.AVOID_SEQUENCES"),
                ],
            );
        let err = ApiError::Password(password::PasswordError::Policy(vec![weak]));
        for lang in Lang::ALL {
            let parts = err.parts(lang);
            let params = &parts.details[0]["params"];
            assert_eq!(params["warning"], "PASSWORD.WARNING.TOP_100");
            assert_eq!(
                params["warningMessage"],
                template(lang, "PASSWORD.WARNING.TOP_100").unwrap(),
                "{lang:?}"
            );
            let texts: Vec<&str> = ["ADD_WORDS", "AVOID_SEQUENCES"]
                .iter()
                .map(|s| template(lang, &format!("PASSWORD.SUGGESTION.{s}")).unwrap())
                .collect();
            assert_eq!(params["suggestionMessages"], serde_json::json!(texts));
        }
    }

    #[test]
    fn violations_without_feedback_gain_nothing() {
        let short = password::Violation::new("PASSWORD.TOO_SHORT").with("min", 12);
        let err = ApiError::Password(password::PasswordError::Policy(vec![short]));
        let parts = err.parts(Lang::En);
        assert_eq!(parts.details[0]["params"], serde_json::json!({ "min": 12 }));
    }
}
