//! The password use cases: change, status, init, forgot, reset.
//!
//! Each route counts the request against its per-IP limit, runs the SCv2
//! checks (failures answer in plaintext), then answers everything sealed.

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::StatusCode;
use password::{Email, PasswordError, PersonalInfo, PolicyContext};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use zeroize::Zeroizing;

use super::mail;
use super::Ctx;
use crate::auth::AuthError;
use crate::channel::random_bytes;
use crate::channel::server::{open_request, seal_response, OpenedRequest};
use crate::http::json::{parse_strict, SecretText};
use crate::http::{
    error_body, success_body, ApiError, ApiRequest, ApiResponse, FieldIssue, SUCCESS_CODE,
};
use crate::i18n;
use crate::ports::accounts::{
    AccountChange, ChangeRejected, ForgotRequest, MailKind, User, UserStatus,
};
use crate::routes::Route;
use crate::time_fmt::rfc3339;

/// A successful answer: status, message code, data.
pub struct Done {
    /// HTTP status of the answer.
    pub status: StatusCode,
    /// Message code, localized when rendered.
    pub message: &'static str,
    /// The `data` of the envelope.
    pub data: Value,
    /// The contract's confirmation shape: `data` also carries `"success": true`
    /// and `message` localized (change, forgot, reset).
    pub confirmation: bool,
}

fn ok(message: &'static str, data: Value) -> Result<Done, ApiError> {
    Ok(Done {
        status: StatusCode::OK,
        message,
        data,
        confirmation: false,
    })
}

/// `200 {"success": true, "message": <message localized>, ...extra}`.
fn confirmed(message: &'static str, extra: Value) -> Result<Done, ApiError> {
    Ok(Done {
        confirmation: true,
        ..ok(message, extra)?
    })
}

/// A domain failure with `status` and `code`, without params or details.
pub fn domain(status: StatusCode, code: &'static str) -> ApiError {
    ApiError::Domain {
        status,
        code,
        params: Map::new(),
        details: Vec::new(),
    }
}

fn invalid_value(field: &str) -> ApiError {
    ApiError::Validation(vec![FieldIssue {
        field: field.into(),
        code: "INVALID_VALUE",
    }])
}

fn password_error(e: PasswordError) -> ApiError {
    match e {
        PasswordError::Policy(violations) => ApiError::Domain {
            status: StatusCode::BAD_REQUEST,
            code: "PASSWORD.POLICY_VIOLATION",
            params: Map::new(),
            details: violations.into_iter().map(|v| (v.code, v.params)).collect(),
        },
        PasswordError::Mismatch => {
            domain(StatusCode::BAD_REQUEST, "AUTH.CURRENT_PASSWORD_INCORRECT")
        }
        PasswordError::Internal(cause) => ApiError::Internal(anyhow::anyhow!(cause)),
    }
}

fn rejected(e: ChangeRejected) -> ApiError {
    match e {
        ChangeRejected::VersionConflict | ChangeRejected::EmailTaken => {
            domain(StatusCode::CONFLICT, "CONFLICT.CONCURRENT_UPDATE")
        }
        ChangeRejected::InitInvalid => domain(StatusCode::BAD_REQUEST, "AUTH.INIT_SESSION_INVALID"),
        ChangeRejected::ResetInvalid => domain(StatusCode::BAD_REQUEST, "AUTH.RESET_TOKEN_INVALID"),
        ChangeRejected::ForgotHandled => ApiError::Internal(anyhow::anyhow!(
            "forgot request consumed by a password change"
        )),
    }
}

/// SHA-256 (hex) of a reset token: the only form in which tokens are stored.
pub fn token_sha256(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh 256-bit token, base64url.
pub fn new_token() -> Zeroizing<String> {
    Zeroizing::new(URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}

/// What the password policy must not find in a user's password: email, name, phone, `biz_id`.
pub fn personal_info(user: &User) -> PersonalInfo {
    PersonalInfo::new(
        Email::parse(&user.email).ok(),
        Some(&user.name),
        user.phone.as_deref(),
        Some(&user.biz_id),
    )
}

pub(crate) fn user_lang(user: &User, fallback: i18n::Lang) -> i18n::Lang {
    user.locale
        .as_deref()
        .and_then(i18n::Lang::from_tag)
        .unwrap_or(fallback)
}

impl Ctx<'_> {
    async fn open(&self, route: Route, req: &ApiRequest) -> Result<OpenedRequest, ApiError> {
        open_request(
            self.app,
            route.method().as_str(),
            route.path(),
            &req.headers,
            &self.gw.client_hash,
            &req.body,
        )
        .await
    }

    /// Seals the outcome of an opened request: success and failure alike.
    fn seal(&self, opened: &OpenedRequest, result: Result<Done, ApiError>) -> ApiResponse {
        let now = self.app.clock.now_ms();
        let lang = self.gw.lang;
        self.facts.code(match &result {
            Ok(_) => SUCCESS_CODE,
            Err(e) => e.parts(lang).code,
        });
        let (status, body, retry_after) = match result {
            Ok(mut done) => {
                if done.confirmation {
                    done.data["success"] = Value::Bool(true);
                    done.data["message"] =
                        Value::from(i18n::message(lang, done.message, &Map::new()));
                }
                (
                    done.status,
                    success_body(lang, now, self.request_id, done.message, done.data),
                    None,
                )
            }
            Err(e) => error_body(&e, lang, now, self.request_id),
        };
        let json = Zeroizing::new(serde_json::to_vec(&body).unwrap_or_default());
        let mut resp = seal_response(opened, now, status, lang, &json);
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(http::header::RETRY_AFTER, http::HeaderValue::from(secs));
        }
        resp
    }

    /// The bearer token's subject, if the token is valid.
    fn token_claims(&self, req: &ApiRequest) -> Result<crate::auth::Claims, ApiError> {
        let header = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        self.app
            .jwt
            .verify(header, self.app.clock.now_ms() / 1000)
            .map_err(|e| match e {
                AuthError::Missing => domain(StatusCode::UNAUTHORIZED, "AUTH.TOKEN_MISSING"),
                AuthError::Invalid => domain(StatusCode::UNAUTHORIZED, "AUTH.TOKEN_INVALID"),
            })
    }

    /// The token's user: present, enabled, and not changed since the token was issued.
    async fn token_user(&self, claims: &crate::auth::Claims) -> Result<User, ApiError> {
        self.facts.biz_id(&claims.sub);
        let user = self
            .app
            .accounts
            .user(&claims.sub)
            .await?
            .ok_or_else(|| domain(StatusCode::NOT_FOUND, "AUTH.USER_NOT_FOUND"))?;
        // `iat` has second precision, so a token from the same second as the change
        // cannot be told from one issued just before it: both are refused. The very
        // token that changed the password is revoked; clients fetch a new one.
        if user
            .password_changed_at_ms
            .is_some_and(|changed| claims.iat <= changed / 1000)
        {
            return Err(domain(StatusCode::UNAUTHORIZED, "AUTH.TOKEN_REVOKED"));
        }
        if matches!(user.status, UserStatus::Locked | UserStatus::Disabled) {
            return Err(domain(StatusCode::FORBIDDEN, "AUTH.ACCOUNT_DISABLED"));
        }
        Ok(user)
    }

    /// The "your password was changed" notice, with a "not you?" link: when,
    /// from which country and on what kind of device, in the owner's language.
    fn changed_notice(
        &self,
        user: &User,
        now: u64,
        req: &ApiRequest,
    ) -> crate::ports::accounts::OutboxMessage {
        let lang = user_lang(user, self.gw.lang);
        let user_agent = req
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok());
        let mut params = mail::change_facts(lang, now, &self.gw.country, user_agent);
        params.insert("name".into(), Value::from(user.name.clone()));
        mail::render(
            MailKind::Changed,
            lang,
            &user.email,
            &self.app.config.links.forgot_url,
            params,
            now,
        )
    }
}

/// The user after `candidate` passes the whole policy (against the user's own
/// data, current password and history): hashed, history pushed, timestamps
/// and version moved. The one path by which change, init and reset set a password.
async fn with_new_password(
    ctx: &Ctx<'_>,
    user: &User,
    candidate: &str,
    now: u64,
) -> Result<User, ApiError> {
    let personal = personal_info(user);
    let policy = PolicyContext {
        personal: &personal,
        current: user.password.as_ref(),
        history: &user.history,
    };
    let hash = ctx
        .facts
        .time_hash(ctx.app.passwords.evaluate_and_hash(candidate, &policy))
        .await
        .map_err(password_error)?
        .hash;
    let mut next = user.clone();
    if let Some(old) = next.password.take() {
        ctx.app.passwords.push_history(&mut next.history, old);
    }
    next.password = Some(hash);
    next.password_changed_at_ms = Some(now);
    next.version += 1;
    if next.status == UserStatus::PendingPassword {
        next.status = UserStatus::Active;
    }
    Ok(next)
}

// ---- change ---------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ChangeBody {
    current_password: Option<SecretText>,
    new_password: SecretText,
}

/// `POST .../password/change`: changes the signed-in user's password.
pub async fn change(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let limits = &ctx.app.config.limits;
    ctx.rate_limit("change-ip", &ctx.ip_key(), limits.change_per_ip)
        .await?;
    let opened = ctx.open(Route::Change, req).await?;
    Ok(ctx.seal(&opened, change_opened(ctx, req, &opened).await))
}

async fn change_opened(
    ctx: &Ctx<'_>,
    req: &ApiRequest,
    opened: &OpenedRequest,
) -> Result<Done, ApiError> {
    let app = ctx.app;
    // The per-user bucket counts only requests that prove to be that user:
    // a stolen or revoked token cannot use up the owner's attempts.
    let user = ctx.token_user(&ctx.token_claims(req)?).await?;
    ctx.rate_limit(
        "change-user",
        &user.biz_id,
        app.config.limits.change_per_user,
    )
    .await?;
    let body: ChangeBody = parse_strict(&opened.plaintext)?;
    if let Some(current) = &user.password {
        let given = body
            .current_password
            .as_ref()
            .ok_or_else(|| domain(StatusCode::BAD_REQUEST, "AUTH.CURRENT_PASSWORD_REQUIRED"))?;
        ctx.facts
            .time_hash(app.passwords.verify(given, Some(current)))
            .await
            .map_err(password_error)?;
    }
    let now = app.clock.now_ms();
    let next = with_new_password(ctx, &user, &body.new_password, now).await?;
    let change = AccountChange {
        outbox: vec![ctx.changed_notice(&next, now, req)],
        revoke_links_of: Some(user.biz_id.clone()),
        user: Some((next, Some(user.version))),
        ..AccountChange::default()
    };
    app.accounts.apply(change, now).await?.map_err(rejected)?;
    confirmed(
        "PASSWORD.CHANGED",
        json!({ "passwordChangedAt": rfc3339(now) }),
    )
}

// ---- status ---------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EmptyBody {}

/// `POST .../password/status`: the signed-in user's account and password status.
pub async fn status(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let opened = ctx.open(Route::Status, req).await?;
    Ok(ctx.seal(&opened, status_opened(ctx, req, &opened).await))
}

async fn status_opened(
    ctx: &Ctx<'_>,
    req: &ApiRequest,
    opened: &OpenedRequest,
) -> Result<Done, ApiError> {
    let user = ctx.token_user(&ctx.token_claims(req)?).await?;
    ctx.rate_limit(
        "status-user",
        &user.biz_id,
        ctx.app.config.limits.status_per_user,
    )
    .await?;
    let _: EmptyBody = parse_strict(&opened.plaintext)?;
    ok(
        "SUCCESS",
        json!({
            "passwordSet": user.password.is_some(),
            "passwordChangedAt": user.password_changed_at_ms.map(rfc3339),
        }),
    )
}

// ---- init -----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct InitBody {
    session_id: String,
    password: SecretText,
}

/// `POST .../password/init`: sets a first password through an emailed init link.
pub async fn init(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    ctx.rate_limit("init-ip", &ctx.ip_key(), ctx.app.config.limits.init_per_ip)
        .await?;
    let opened = ctx.open(Route::Init, req).await?;
    Ok(ctx.seal(&opened, init_opened(ctx, &opened).await))
}

async fn init_opened(ctx: &Ctx<'_>, opened: &OpenedRequest) -> Result<Done, ApiError> {
    let app = ctx.app;
    let body: InitBody = parse_strict(&opened.plaintext)?;
    if body.session_id.is_empty() || body.session_id.len() > 64 {
        return Err(invalid_value("sessionId"));
    }
    // Keyed by the sid's hash: the table never holds a sid.
    ctx.rate_limit(
        "init-sid",
        &token_sha256(&body.session_id),
        app.config.limits.init_per_session,
    )
    .await?;
    let now = app.clock.now_ms();
    let invalid = || domain(StatusCode::BAD_REQUEST, "AUTH.INIT_SESSION_INVALID");
    let init = app
        .accounts
        .init_session(&body.session_id, now)
        .await?
        .ok_or_else(invalid)?;
    ctx.facts.biz_id(&init.biz_id);
    let user = app.accounts.user(&init.biz_id).await?.ok_or_else(invalid)?;
    if user.password.is_some() {
        return Err(domain(StatusCode::CONFLICT, "AUTH.PASSWORD_ALREADY_SET"));
    }
    if matches!(user.status, UserStatus::Locked | UserStatus::Disabled) {
        return Err(domain(StatusCode::FORBIDDEN, "AUTH.ACCOUNT_DISABLED"));
    }
    let next = with_new_password(ctx, &user, &body.password, now).await?;
    let data = json!({
        "bizId": next.biz_id,
        "email": next.email,
        "name": next.name,
        "status": next.status.code(),
        "createdAt": rfc3339(next.created_at_ms),
    });
    let change = AccountChange {
        user: Some((next, Some(user.version))),
        consume_init: Some(body.session_id.clone()),
        revoke_links_of: Some(user.biz_id.clone()),
        ..AccountChange::default()
    };
    app.accounts.apply(change, now).await?.map_err(rejected)?;
    Ok(Done {
        status: StatusCode::CREATED,
        ..ok("SUCCESS", data)?
    })
}

// ---- forgot ---------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ForgotBody {
    email: String,
}

/// `POST .../password/forgot`: records a forgot-password request; the answer is the same for every address.
pub async fn forgot(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    ctx.rate_limit(
        "forgot-ip",
        &ctx.ip_key(),
        ctx.app.config.limits.forgot_per_ip,
    )
    .await?;
    let opened = ctx.open(Route::Forgot, req).await?;
    Ok(ctx.seal(&opened, forgot_opened(ctx, &opened).await))
}

async fn forgot_opened(ctx: &Ctx<'_>, opened: &OpenedRequest) -> Result<Done, ApiError> {
    let app = ctx.app;
    let body: ForgotBody = parse_strict(&opened.plaintext)?;
    if body.email.len() > 255 {
        return Err(invalid_value("email"));
    }
    let email = Email::parse(&body.email).map_err(|_| invalid_value("email"))?;
    let canonical = super::accounts::canonical_email(&email);
    // Counted per address whether or not it belongs to anyone, keyed by its
    // hash (the table holds no address nobody owns).
    ctx.rate_limit(
        "forgot-email",
        &token_sha256(&canonical),
        app.config.limits.forgot_per_email,
    )
    .await?;
    // One write of one shape whatever the address: the lookup, the token
    // and the email happen off the request path (`accounts::answer_forgot`).
    let request = ForgotRequest {
        id: mail::new_id(),
        email: canonical,
        lang: ctx.gw.lang.tag().to_owned(),
        requested_at_ms: app.clock.now_ms(),
    };
    app.accounts.record_forgot(&request).await?;
    ctx.facts.forgot_id(&request.id);
    confirmed("PASSWORD.RESET_REQUESTED", json!({}))
}

// ---- reset ----------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ResetBody {
    token: SecretText,
    new_password: SecretText,
}

/// `POST .../password/reset`: sets a new password with an emailed reset token.
pub async fn reset(ctx: &Ctx<'_>, req: &ApiRequest) -> Result<ApiResponse, ApiError> {
    ctx.rate_limit(
        "reset-ip",
        &ctx.ip_key(),
        ctx.app.config.limits.reset_per_ip,
    )
    .await?;
    let opened = ctx.open(Route::Reset, req).await?;
    Ok(ctx.seal(&opened, reset_opened(ctx, req, &opened).await))
}

async fn reset_opened(
    ctx: &Ctx<'_>,
    req: &ApiRequest,
    opened: &OpenedRequest,
) -> Result<Done, ApiError> {
    let app = ctx.app;
    let body: ResetBody = parse_strict(&opened.plaintext)?;
    if body.token.is_empty() || body.token.len() > 128 {
        return Err(invalid_value("token"));
    }
    let hash = token_sha256(&body.token);
    ctx.rate_limit("reset-token", &hash, app.config.limits.reset_per_token)
        .await?;
    let now = app.clock.now_ms();
    let invalid = || domain(StatusCode::BAD_REQUEST, "AUTH.RESET_TOKEN_INVALID");
    let token = app
        .accounts
        .reset_token(&hash, now)
        .await?
        .ok_or_else(invalid)?;
    ctx.facts.biz_id(&token.biz_id);
    let user = app
        .accounts
        .user(&token.biz_id)
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(invalid)?;
    let next = with_new_password(ctx, &user, &body.new_password, now).await?;
    let change = AccountChange {
        outbox: vec![ctx.changed_notice(&next, now, req)],
        consume_reset: Some(hash),
        revoke_links_of: Some(user.biz_id.clone()),
        user: Some((next, Some(user.version))),
        ..AccountChange::default()
    };
    app.accounts.apply(change, now).await?.map_err(rejected)?;
    confirmed(
        "PASSWORD.CHANGED",
        json!({ "passwordChangedAt": rfc3339(now) }),
    )
}

/// Parses `plaintext` as the strict JSON body of `route` and drops it: the
/// parse each handler runs on its opened plaintext, reachable for fuzzing.
/// Routes without a password body answer `Ok`.
pub fn check_body(route: Route, plaintext: &[u8]) -> Result<(), ApiError> {
    match route {
        Route::Change => parse_strict::<ChangeBody>(plaintext).map(drop),
        Route::Status => parse_strict::<EmptyBody>(plaintext).map(drop),
        Route::Init => parse_strict::<InitBody>(plaintext).map(drop),
        Route::Forgot => parse_strict::<ForgotBody>(plaintext).map(drop),
        Route::Reset => parse_strict::<ResetBody>(plaintext).map(drop),
        Route::PublicKey | Route::CreateSession => Ok(()),
    }
}
