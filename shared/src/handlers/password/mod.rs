//! The password use cases: change, status, init, forgot, reset.
//!
//! Each route counts the request against its per-IP limit, runs the SCv2
//! checks (failures answer in plaintext), then answers everything sealed.
//! This module holds what they share: the sealed answer, the token's user,
//! the "password changed" notice and the one path that sets a password.

mod change;
mod forgot;
mod init;
mod reset;
mod status;

use password::{PersonalInfo, PolicyContext, Verified};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

pub use change::change;
pub use forgot::forgot;
pub use init::init;
pub use reset::reset;
pub use status::status;

use super::{mail, Ctx};
use crate::http::json::parse_strict;
use crate::http::{
    error_body, success_body, ApiError, ApiRequest, ApiResponse, Refusal, Success, SUCCESS_CODE,
};
use crate::i18n;
use crate::ports::accounts::{MailKind, OutboxMessage, User, UserStatus};
use crate::route::Route;
use crate::secure_request::{check_replay, decrypt_request, seal_response, OpenedRequest};

/// A successful answer: status, message code, data.
pub struct Done {
    /// HTTP status of the answer.
    pub status: Success,
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
        status: Success::Ok,
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

/// What the password policy must not find in a user's password: email, name, phone, `biz_id`.
pub fn personal_info(user: &User) -> PersonalInfo {
    PersonalInfo::new(
        password::Email::parse(&user.email).ok(),
        Some(&user.name),
        user.phone.as_deref(),
        Some(&user.biz_id),
    )
}

impl Ctx<'_> {
    /// Runs the SCv2 checks on `req` under this endpoint's own route.
    async fn open(&self, req: &ApiRequest) -> Result<OpenedRequest, ApiError> {
        let opened = self.decrypt(req).await?;
        check_replay(self.app, &opened).await?;
        Ok(opened)
    }

    /// Like [`Self::open`], with check 6 (the replay guard's write) run beside
    /// `first`, the route's first read: one round trip instead of two. `first`
    /// must change nothing; a replayed request is refused whatever it found.
    async fn open_beside<T>(
        &self,
        req: &ApiRequest,
        first: impl std::future::Future<Output = T>,
    ) -> Result<(OpenedRequest, T), ApiError> {
        let opened = self.decrypt(req).await?;
        let (fresh, found) = tokio::join!(check_replay(self.app, &opened), first);
        fresh?;
        Ok((opened, found))
    }

    /// SCv2 checks 1-5 under this endpoint's own route.
    async fn decrypt(&self, req: &ApiRequest) -> Result<OpenedRequest, ApiError> {
        decrypt_request(
            self.app,
            self.route.method().as_str(),
            self.route.path(),
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
                    done.status.into(),
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

    /// The bearer token's user: the token valid, the user present, enabled,
    /// and not changed since the token was issued.
    async fn token_user(&self, req: &ApiRequest) -> Result<User, ApiError> {
        let header = req
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let claims = self
            .app
            .jwt
            .verify_refreshing(header, self.app.clock.now_ms() / 1000)
            .await?;
        self.facts.biz_id(&claims.sub);
        let user = self
            .app
            .accounts
            .user(&claims.sub)
            .await?
            .ok_or(Refusal::UserNotFound)?;
        // `iat` has second precision, so a token from the same second as the change
        // cannot be told from one issued just before it: both are refused. The very
        // token that changed the password is revoked; clients fetch a new one.
        if user
            .password_changed_at_ms
            .is_some_and(|changed| claims.iat <= changed / 1000)
        {
            return Err(Refusal::TokenRevoked.into());
        }
        if matches!(user.status, UserStatus::Locked | UserStatus::Disabled) {
            return Err(Refusal::AccountDisabled.into());
        }
        Ok(user)
    }

    /// The "your password was changed" notice, with a "not you?" link: when,
    /// from which country and on what kind of device, in the owner's language.
    fn changed_notice(&self, user: &User, now: u64, req: &ApiRequest) -> OutboxMessage {
        let lang = mail::user_lang(user, self.gw.lang);
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
/// `verified_current`: the current password as this request verified it
/// (change), which spares `SAME_AS_CURRENT` its Argon2 evaluation.
async fn with_new_password(
    ctx: &Ctx<'_>,
    user: &User,
    candidate: &str,
    verified_current: Option<&Verified>,
    now: u64,
) -> Result<User, ApiError> {
    let personal = personal_info(user);
    let policy = PolicyContext {
        personal: &personal,
        current: user.password.as_ref(),
        verified_current,
        history: &user.history,
    };
    let hash = ctx
        .facts
        .time_hash(ctx.app.passwords.evaluate_and_hash(candidate, &policy))
        .await?
        .hash;
    // Before anything is written: a failure here changes nothing, and a
    // session the identity provider holds never outlives the old password.
    ctx.app.idp.password_set(user).await?;
    let mut next = user.clone();
    if let Some(old) = next.password.take() {
        let kept = match verified_current {
            Some(v) => v.keep(old),
            None => old,
        };
        ctx.app.passwords.push_history(&mut next.history, kept);
    }
    next.password = Some(hash);
    next.password_changed_at_ms = Some(now);
    next.must_change = false;
    next.breached = false;
    next.version += 1;
    if next.status == UserStatus::PendingPassword {
        next.status = UserStatus::Active;
    }
    Ok(next)
}

/// Parses `plaintext` as the strict JSON body of `route` and drops it: the
/// parse each handler runs on its opened plaintext, reachable for fuzzing.
/// Routes without a password body answer `Ok`.
pub fn check_body(route: Route, plaintext: &[u8]) -> Result<(), ApiError> {
    match route {
        Route::Change => parse_strict::<change::ChangeBody>(plaintext).map(drop),
        Route::Status => parse_strict::<status::EmptyBody>(plaintext).map(drop),
        Route::Init => parse_strict::<init::InitBody>(plaintext).map(drop),
        Route::Forgot => parse_strict::<forgot::ForgotBody>(plaintext).map(drop),
        Route::Reset => parse_strict::<reset::ResetBody>(plaintext).map(drop),
        Route::PublicKey | Route::CreateSession => Ok(()),
    }
}
