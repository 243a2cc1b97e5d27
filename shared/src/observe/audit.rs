//! Audit events: exactly one per request to a password route that changes or
//! tries to change a password (change, init, forgot, reset), and one per
//! Secure Channel, access-token or rate-limit rejection on any route.
//!
//! An event holds the request id, route, outcome code, the account when
//! known, and where the request came from (client IP and country as the
//! gateway headers gave them, a shortened `User-Agent`). It never holds a
//! password, token, init session id, session key or email address.

use std::net::IpAddr;

use serde_json::{json, Map, Value};

/// The name of every audit event (the `audit` member of its line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Event {
    /// A password change succeeded.
    PasswordChanged,
    /// A password change was refused (policy, wrong current password, ...).
    ChangeRejected,
    /// A first password was set through an init link.
    PasswordInitialized,
    /// A first password was refused.
    InitRejected,
    /// A forgot-password request was accepted (the answer to the client is
    /// the same whether or not the account exists).
    ResetRequested,
    /// A password was reset with an emailed token.
    PasswordReset,
    /// A reset, or a forgot request, was refused.
    ResetRejected,
    /// A rate limit refused the request (any route).
    RateLimited,
    /// A Secure Channel check refused the request (any route).
    SecureChannelRejected,
    /// The access token was missing, invalid or revoked (any route).
    TokenRejected,
}

impl Event {
    /// Every event of the request path.
    pub const ALL: [Event; 10] = [
        Event::PasswordChanged,
        Event::ChangeRejected,
        Event::PasswordInitialized,
        Event::InitRejected,
        Event::ResetRequested,
        Event::PasswordReset,
        Event::ResetRejected,
        Event::RateLimited,
        Event::SecureChannelRejected,
        Event::TokenRejected,
    ];

    /// The `audit` member.
    pub fn name(self) -> &'static str {
        match self {
            Event::PasswordChanged => "password.changed",
            Event::ChangeRejected => "password.change_rejected",
            Event::PasswordInitialized => "password.initialized",
            Event::InitRejected => "password.init_rejected",
            Event::ResetRequested => "password.reset_requested",
            Event::PasswordReset => "password.reset",
            Event::ResetRejected => "password.reset_rejected",
            Event::RateLimited => "rate_limited",
            Event::SecureChannelRejected => "secure_channel.rejected",
            Event::TokenRejected => "token.rejected",
        }
    }
}

/// The events of a route that changes or tries to change a password: one
/// on success, one on any other outcome (declared with the route, in
/// `route.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcomes {
    /// The answer was a success.
    pub ok: Event,
    /// Anything else the request was answered with.
    pub rejected: Event,
}

/// The event of the component that answers a forgot request off the request
/// path (send-mail, sweep-mail, local-api's delivery): whether the address
/// belongs to an active account. Joined to `password.reset_requested` by `forgotId`.
pub const RESET_ANSWERED: &str = "password.reset_answered";

/// A password check for the identity provider succeeded (verify-password).
pub const PASSWORD_VERIFIED: &str = "password.verified";
/// A password check failed: wrong password, unknown account, or locked.
pub const VERIFY_FAILED: &str = "password.verify_failed";
/// Consecutive failures locked an account (or an unknown address) for the
/// first time in an episode.
pub const ACCOUNT_LOCKED: &str = "account.locked";
/// A correct password was found in the breached-password screen at sign-in.
pub const PASSWORD_BREACHED_DETECTED: &str = "password.breached_detected";
/// A verified password's hash was replaced by one with the current settings.
pub const PASSWORD_REHASHED: &str = "password.rehashed";
/// An imported (foreign) hash was verified and replaced by our Argon2id.
pub const PASSWORD_IMPORTED_UPGRADED: &str = "password.imported_upgraded";

/// The envelope code of every success (`http::SUCCESS_CODE`).
const SUCCESS: &str = crate::http::SUCCESS_CODE;

/// Rejections of the access token (the auth layer), whatever the route.
pub const TOKEN_CODES: [&str; 3] = [
    "AUTH.TOKEN_MISSING",
    "AUTH.TOKEN_INVALID",
    "AUTH.TOKEN_REVOKED",
];

/// The code of a rate-limited answer.
pub const RATE_LIMITED_CODE: &str = "REQUEST.RATE_LIMITED";

/// Whether `code` is a Secure Channel rejection.
pub fn is_sc_rejection(code: &str) -> bool {
    code.starts_with("SC.")
}

/// The one event a request answered with `code` calls for, if any, given the
/// route's own [`Outcomes`]. Rejections by the channel, the token or a rate
/// limit come first, on any route; then each password route's success or
/// refusal. Routes without outcomes (public key, session creation, status)
/// emit nothing else (their metrics count them).
pub fn event_for(outcomes: Option<Outcomes>, code: &str) -> Option<Event> {
    if is_sc_rejection(code) {
        return Some(Event::SecureChannelRejected);
    }
    if TOKEN_CODES.contains(&code) {
        return Some(Event::TokenRejected);
    }
    if code == RATE_LIMITED_CODE {
        return Some(Event::RateLimited);
    }
    outcomes.map(|o| if code == SUCCESS { o.ok } else { o.rejected })
}

/// The longest `userAgent` kept, in characters.
pub const USER_AGENT_MAX: usize = 160;

/// `User-Agent` cut to [`USER_AGENT_MAX`] characters.
pub fn short_user_agent(ua: &str) -> String {
    ua.chars().take(USER_AGENT_MAX).collect()
}

/// Where a request came from.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    /// The client address: the checked gateway's, else the network peer's.
    pub client_ip: Option<IpAddr>,
    /// `cf-ipcountry`, once the gateway headers were checked (`XX` when the
    /// edge headers are not believed, `gateway::UNKNOWN_COUNTRY`).
    pub country: Option<String>,
    /// The `User-Agent` header, when printable.
    pub user_agent: Option<String>,
}

/// One request's event line.
pub struct Record<'a> {
    /// The event.
    pub event: Event,
    /// The envelope's request id.
    pub request_id: &'a str,
    /// The route's path.
    pub route: &'a str,
    /// HTTP status of the answer.
    pub status: u16,
    /// The envelope code of the answer.
    pub code: &'a str,
    /// The account, when known.
    pub biz_id: Option<&'a str>,
    /// The forgot request written (forgot only).
    pub forgot_id: Option<&'a str>,
    /// Where it came from.
    pub origin: &'a Origin,
    /// When, in ms since the epoch.
    pub now_ms: u64,
}

fn put(map: &mut Map<String, Value>, key: &str, value: Option<impl Into<Value>>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v.into());
    }
}

impl Record<'_> {
    /// The JSON line.
    pub fn to_json(&self) -> Value {
        let mut m = match json!({
            "audit": self.event.name(),
            "time": crate::time_fmt::rfc3339(self.now_ms),
            "requestId": self.request_id,
            "route": self.route,
            "status": self.status,
            "code": self.code,
        }) {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        put(&mut m, "bizId", self.biz_id);
        put(&mut m, "forgotId", self.forgot_id);
        put(
            &mut m,
            "clientIp",
            self.origin
                .client_ip
                .map(|ip| ip.to_canonical().to_string()),
        );
        put(&mut m, "country", self.origin.country.clone());
        put(
            &mut m,
            "userAgent",
            self.origin.user_agent.as_deref().map(short_user_agent),
        );
        Value::Object(m)
    }
}

/// The off-path answer to forgot request `forgot_id`: `biz_id` is the active
/// account the address belongs to (a reset link was sent), `None` when none.
pub fn reset_answered(forgot_id: &str, biz_id: Option<&str>, now_ms: u64) -> Value {
    let mut m = match json!({
        "audit": RESET_ANSWERED,
        "time": crate::time_fmt::rfc3339(now_ms),
        "forgotId": forgot_id,
        "accountExists": biz_id.is_some(),
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    };
    put(&mut m, "bizId", biz_id);
    Value::Object(m)
}

fn event(name: &str, now_ms: u64, biz_id: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("audit".into(), Value::from(name));
    m.insert("time".into(), Value::from(crate::time_fmt::rfc3339(now_ms)));
    put(&mut m, "bizId", biz_id);
    m
}

/// `password.verified` for `biz_id`, with where the sign-in came from (so a
/// stuffed credential's success can be told from the owner's).
pub fn password_verified(
    biz_id: &str,
    client_ip: Option<IpAddr>,
    user_agent: Option<&str>,
    now_ms: u64,
) -> Value {
    let mut m = event(PASSWORD_VERIFIED, now_ms, Some(biz_id));
    put(&mut m, "clientIp", client_ip.map(|ip| ip.to_string()));
    put(&mut m, "userAgent", user_agent.map(short_user_agent));
    Value::Object(m)
}

/// `password.verify_failed`: the account when one was found (operators may
/// know; the caller never does), whether the counter refused it, and where
/// the attempt came from.
pub fn verify_failed(
    biz_id: Option<&str>,
    locked: bool,
    client_ip: Option<IpAddr>,
    user_agent: Option<&str>,
    now_ms: u64,
) -> Value {
    let mut m = event(VERIFY_FAILED, now_ms, biz_id);
    m.insert("accountExists".into(), Value::from(biz_id.is_some()));
    m.insert("locked".into(), Value::from(locked));
    put(&mut m, "clientIp", client_ip.map(|ip| ip.to_string()));
    put(&mut m, "userAgent", user_agent.map(short_user_agent));
    Value::Object(m)
}

/// `account.locked`, until `until_ms`.
pub fn account_locked(biz_id: Option<&str>, until_ms: u64, now_ms: u64) -> Value {
    let mut m = event(ACCOUNT_LOCKED, now_ms, biz_id);
    m.insert("accountExists".into(), Value::from(biz_id.is_some()));
    m.insert(
        "lockedUntil".into(),
        Value::from(crate::time_fmt::rfc3339(until_ms)),
    );
    Value::Object(m)
}

/// `password.breached_detected` for `biz_id`: what the sign-in answered
/// (`flag`: ok with mustChange; `block`: invalid) and where it came from.
pub fn breached_detected(
    biz_id: &str,
    action: &str,
    client_ip: Option<IpAddr>,
    user_agent: Option<&str>,
    now_ms: u64,
) -> Value {
    let mut m = event(PASSWORD_BREACHED_DETECTED, now_ms, Some(biz_id));
    m.insert("action".into(), Value::from(action));
    put(&mut m, "clientIp", client_ip.map(|ip| ip.to_string()));
    put(&mut m, "userAgent", user_agent.map(short_user_agent));
    Value::Object(m)
}

/// `password.rehashed` for `biz_id`.
pub fn password_rehashed(biz_id: &str, now_ms: u64) -> Value {
    Value::Object(event(PASSWORD_REHASHED, now_ms, Some(biz_id)))
}

/// `password.imported_upgraded` for `biz_id`: the imported hash of `scheme`
/// (its name, never the hash) was replaced at sign-in.
pub fn password_imported_upgraded(biz_id: &str, scheme: &str, now_ms: u64) -> Value {
    let mut m = event(PASSWORD_IMPORTED_UPGRADED, now_ms, Some(biz_id));
    m.insert("scheme".into(), Value::from(scheme));
    Value::Object(m)
}

/// Prefix of the events of an operator's action on a user
/// (`admin.user_show`, `admin.user_lock`, ...).
pub const ADMIN_USER_PREFIX: &str = "admin.user_";

/// `admin.user_<action>` (dashes become underscores): the operator's
/// principal, the user when found, the outcome code and whether anything
/// was changed.
pub fn admin_user(
    action: &str,
    biz_id: Option<&str>,
    principal: &str,
    code: &str,
    changed: bool,
    now_ms: u64,
) -> Value {
    let name = format!("{ADMIN_USER_PREFIX}{}", action.replace('-', "_"));
    let mut m = event(&name, now_ms, biz_id);
    m.insert("principal".into(), Value::from(principal));
    m.insert("code".into(), Value::from(code));
    m.insert("changed".into(), Value::from(changed));
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_holds_what_is_known_and_a_short_agent() {
        let origin = Origin {
            client_ip: Some("::ffff:203.0.113.9".parse().unwrap()),
            country: Some("JP".into()),
            user_agent: Some("x".repeat(1000)),
        };
        let line = Record {
            event: Event::PasswordChanged,
            request_id: "ray-1",
            route: "/web/v1/system/auth/password/change",
            status: 200,
            code: "2000",
            biz_id: Some("ACC_USR_1"),
            forgot_id: None,
            origin: &origin,
            now_ms: 0,
        }
        .to_json();
        assert_eq!(line["audit"], "password.changed");
        assert_eq!(line["route"], "/web/v1/system/auth/password/change");
        assert_eq!(line["clientIp"], "203.0.113.9");
        assert_eq!(line["country"], "JP");
        assert_eq!(line["bizId"], "ACC_USR_1");
        assert_eq!(line["userAgent"].as_str().unwrap().len(), USER_AGENT_MAX);
        assert!(line.get("forgotId").is_none());
        let answered = reset_answered("f1", None, 0);
        assert_eq!(answered["accountExists"], false);
        assert!(answered.get("bizId").is_none());
    }
}
