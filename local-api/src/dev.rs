//! Development-only routes (`/_dev/...`): seed users, mint access tokens,
//! read the delivered emails (after delivering what is pending). They exist only in local-api, never in AWS.
//!
//! A web page the developer visits must not reach them: [`guard`] accepts
//! only a loopback `Host` (no DNS rebinding), no `Origin` outside the CORS
//! allow-list but local-api's own (no cross-site call; the `/demo/` pages
//! sign in through `/_dev/signin`) and JSON bodies (no form or `text/plain`
//! post, which a browser sends without a preflight).

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{HeaderMap, Method, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{json, Value};
use shared::handlers::accounts::{create_user, Invitation};
use shared::handlers::verify::{self, Verdict};
use shared::http::json::{parse_strict, ExposeSecret, SecretString};
use shared::http::{
    error_response, json_response, success_body, ApiError, ApiResponse, CorsPolicy, Refusal,
};
use shared::i18n::Lang;
use shared::App;

use crate::Local;

pub const DEV_KID: &str = "local-dev";

/// The local signing key for `/_dev/token`; its public half is the JWKS.
pub struct DevSigner {
    encoding: EncodingKey,
    jwks: String,
    /// `iss` and `aud` of every token, when the app requires them.
    issuer: Option<String>,
    audience: Option<String>,
}

impl DevSigner {
    pub fn generate() -> anyhow::Result<DevSigner> {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| anyhow::anyhow!("Ed25519 key generation"))?;
        let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
            .map_err(|_| anyhow::anyhow!("Ed25519 key"))?;
        let x = URL_SAFE_NO_PAD.encode(pair.public_key().as_ref());
        let jwks = json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": DEV_KID, "alg": "EdDSA", "use": "sig"}]});
        Ok(DevSigner {
            encoding: EncodingKey::from_ed_der(pkcs8.as_ref()),
            jwks: jwks.to_string(),
            issuer: None,
            audience: None,
        })
    }

    /// Tokens also carry this issuer and audience (the ones the app requires).
    pub fn with_issuer_and_audience(
        self,
        issuer: Option<String>,
        audience: Option<String>,
    ) -> DevSigner {
        DevSigner {
            issuer,
            audience,
            ..self
        }
    }

    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// An EdDSA access token for `biz_id`, issued at `iat`, valid one hour,
    /// with the configured issuer and audience.
    pub fn token(&self, biz_id: &str, iat: u64) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(DEV_KID.into());
        let mut claims = json!({"sub": biz_id, "iat": iat, "exp": iat + 3600});
        if let Some(iss) = &self.issuer {
            claims["iss"] = json!(iss);
        }
        if let Some(aud) = &self.audience {
            claims["aud"] = json!(aud);
        }
        Ok(jsonwebtoken::encode(&header, &claims, &self.encoding)?)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewUser {
    email: String,
    name: String,
    phone: Option<String>,
    password: Option<SecretString>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SigninRequest {
    email: password::Email,
    password: SecretString,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TokenRequest {
    biz_id: String,
    iat: Option<u64>,
}

/// Seeds a user through the same normalization and hashing as the API, without the policy.
pub async fn seed_user(
    app: &App,
    email: &str,
    name: &str,
    phone: Option<String>,
    password: Option<&str>,
) -> Result<Value, ApiError> {
    let hash = match password {
        Some(p) => Some(
            app.passwords
                .hash_unchecked(p)
                .await
                .map_err(|e| ApiError::Internal(anyhow::anyhow!(e.to_string())))?,
        ),
        None => None,
    };
    let invitation = Invitation {
        email: password::Email::parse(email).map_err(|_| ApiError::invalid_value("email"))?,
        name: name.to_owned(),
        phone,
        locale: None,
    };
    let created = create_user(app, invitation, hash).await?;
    let mut data = json!({"bizId": created.user.biz_id, "email": created.user.email});
    if let Some(sid) = created.init_session_id {
        data["initSessionId"] = Value::from(sid);
    }
    Ok(data)
}

/// Whether `host` (a `Host` header or URI authority) names this machine's
/// loopback interface: `localhost`, `127.x.y.z` or `[::1]`, any port.
pub fn is_loopback_host(host: &str) -> bool {
    let port_ok = |p: &str| (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    if let Some(rest) = host.strip_prefix('[') {
        let Some((inner, after)) = rest.split_once(']') else {
            return false;
        };
        let port_fits = after.is_empty() || after.strip_prefix(':').is_some_and(port_ok);
        return port_fits
            && inner
                .parse::<std::net::Ipv6Addr>()
                .is_ok_and(|ip| ip.is_loopback());
    }
    let name = match host.split_once(':') {
        Some((name, port)) if port_ok(port) => name,
        Some(_) => return false,
        None => host,
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether `origin` is this server's own origin as reached through the
/// loopback `host`: a page local-api served itself (the `/demo/` pages, whose
/// sign-in screen posts to `/_dev/signin`). Only a loopback `host` counts,
/// with or without `--unsafe-expose-dev-routes`: under DNS rebinding the page
/// and its `Host` carry the attacker's name, which is never loopback.
fn is_own_loopback_origin(origin: &str, host: &str) -> bool {
    is_loopback_host(host)
        && origin
            .strip_prefix("http://")
            .is_some_and(|rest| rest.eq_ignore_ascii_case(host))
}

/// `application/json`, with at most a `charset=utf-8` parameter.
fn is_json(content_type: &str) -> bool {
    let mut parts = content_type.split(';').map(str::trim);
    let essence = parts.next().unwrap_or_default();
    essence.eq_ignore_ascii_case("application/json")
        && parts.all(|p| {
            p.split_once('=').is_some_and(|(k, v)| {
                k.trim().eq_ignore_ascii_case("charset")
                    && v.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
            })
        })
}

/// The checks every `/_dev` request passes before it is looked at, or the
/// refusal: 400 `GATEWAY.HEADER_MISSING` / `GATEWAY.HEADER_INVALID` naming
/// the headers. `Host` must be loopback (unless `any_host`: local-api was
/// started with `--unsafe-expose-dev-routes`); an `Origin`, when sent, must
/// be on the CORS allow-list or be this server's own loopback origin (its
/// `/demo/` pages); a `POST` must carry
/// `Content-Type: application/json` (optionally `; charset=utf-8`).
pub fn guard(
    method: &Method,
    headers: &HeaderMap,
    authority: Option<&str>,
    cors: &CorsPolicy,
    any_host: bool,
) -> Result<(), ApiError> {
    let text = |name: &str| headers.get(name).map(|v| v.to_str().ok());
    let host = text("host").or(authority.map(Some));
    let mut missing = Vec::new();
    let mut invalid = Vec::new();
    if !any_host {
        match host {
            None => missing.push("Host"),
            Some(Some(h)) if is_loopback_host(h) => {}
            Some(_) => invalid.push("Host"),
        }
    }
    let own_page = text("origin")
        .flatten()
        .zip(host.flatten())
        .is_some_and(|(origin, host)| is_own_loopback_origin(origin, host));
    if headers.contains_key(http::header::ORIGIN)
        && !own_page
        && cors.allowed_origin(headers).is_none()
    {
        invalid.push("Origin");
    }
    if method == Method::POST {
        match text("content-type") {
            None => missing.push("Content-Type"),
            Some(Some(ct)) if is_json(ct) => {}
            Some(_) => invalid.push("Content-Type"),
        }
    }
    if !missing.is_empty() {
        return Err(ApiError::HeaderMissing(missing));
    }
    if !invalid.is_empty() {
        return Err(ApiError::HeaderInvalid(invalid));
    }
    Ok(())
}

/// Answers a `/_dev` route, or `None` when `path` is not one. A request that
/// fails [`guard`] is refused before anything is read or changed.
pub async fn handle(
    local: &Local,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    authority: Option<&str>,
    body: &[u8],
) -> Option<ApiResponse> {
    if !path.starts_with("/_dev/") {
        return None;
    }
    let app = &local.app;
    let now = app.clock.now_ms();
    if let Err(e) = guard(
        method,
        headers,
        authority,
        &app.config.cors,
        local.expose_dev_routes,
    ) {
        return Some(error_response(&e, Lang::En, now, "dev"));
    }
    let result: Result<(StatusCode, Value), ApiError> = match (method, path) {
        (&Method::POST, "/_dev/users") => {
            async {
                let req: NewUser = parse_strict(body)?;
                let data = seed_user(
                    app,
                    &req.email,
                    &req.name,
                    req.phone,
                    req.password.as_ref().map(ExposeSecret::expose_secret),
                )
                .await?;
                Ok((StatusCode::CREATED, data))
            }
            .await
        }
        (&Method::POST, "/_dev/token") => parse_strict::<TokenRequest>(body).and_then(|req| {
            let token = local
                .signer
                .token(&req.biz_id, req.iat.unwrap_or(now / 1000))
                .map_err(ApiError::Internal)?;
            Ok((StatusCode::OK, json!({ "accessToken": token })))
        }),
        (&Method::POST, "/_dev/verify-password") => {
            // The internal function's JSON in and out, verbatim.
            let out = verify::handle_json(app, body).await;
            let status = out["error"]["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            return Some(json_response(status, Lang::En, &out));
        }
        (&Method::POST, "/_dev/signin") => signin(local, body, now).await,
        (_, p) if p.starts_with(ADMIN_USERS) => {
            admin_user(app, method, &p[ADMIN_USERS.len()..], body).await
        }
        (&Method::GET, "/_dev/outbox") => {
            // Whatever earlier requests left pending is answered and sent first.
            local.settle().await;
            let sent: Vec<Value> = local
                .mailbox
                .sent()
                .into_iter()
                .map(|m| json!({"to": m.to, "subject": m.subject, "text": m.text, "html": m.html, "kind": m.kind, "link": m.link}))
                .collect();
            Ok((StatusCode::OK, Value::Array(sent)))
        }
        _ => Err(ApiError::NotFound),
    };
    Some(match result {
        Ok((status, data)) => json_response(
            status,
            Lang::En,
            &success_body(Lang::En, now, "dev", "SUCCESS", data),
        ),
        Err(e) => error_response(&e, Lang::En, now, "dev"),
    })
}

/// Prefix of the user administration routes.
const ADMIN_USERS: &str = "/_dev/admin/users/";

/// The principal `/_dev/admin/users` actions are recorded under when the
/// body names none.
pub const DEV_PRINCIPAL: &str = "local-api";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminBody {
    principal: Option<String>,
}

/// `GET /_dev/admin/users/{user}` (show) and `POST
/// /_dev/admin/users/{user}/{action}` (body `{}` or `{"principal": ...}`):
/// the `admin-users` function's use case, its answer as `data`.
async fn admin_user(
    app: &App,
    method: &Method,
    rest: &str,
    body: &[u8],
) -> Result<(StatusCode, Value), ApiError> {
    use shared::handlers::admin::{administer, Action};
    let (user, action, principal) = match (method, rest.split_once('/')) {
        (&Method::GET, None) => (rest, Action::Show, None),
        (&Method::POST, Some((user, action))) => {
            let action =
                Action::from_name(action).ok_or_else(|| ApiError::invalid_value("action"))?;
            let principal = if body.is_empty() {
                None
            } else {
                parse_strict::<AdminBody>(body)?.principal
            };
            (user, action, principal)
        }
        _ => return Err(ApiError::NotFound),
    };
    let principal = principal.as_deref().unwrap_or(DEV_PRINCIPAL);
    administer(app, action, user, principal)
        .await
        .map(|answer| (StatusCode::OK, answer))
}

/// `/_dev/signin`: the verification, then on `ok` a token like `/_dev/token`'s.
async fn signin(local: &Local, body: &[u8], now: u64) -> Result<(StatusCode, Value), ApiError> {
    let req: SigninRequest = parse_strict(body)?;
    let verdict = verify::verify_password(
        &local.app,
        verify::VerifyRequest {
            email: Some(req.email),
            biz_id: None,
            password: req.password,
            client_ip: None,
            user_agent: None,
        },
    )
    .await?;
    match verdict {
        Verdict::Ok {
            biz_id,
            must_change,
        } => {
            let token = local
                .signer
                .token(&biz_id, now / 1000)
                .map_err(ApiError::Internal)?;
            Ok((
                StatusCode::OK,
                json!({ "accessToken": token, "bizId": biz_id, "mustChange": must_change }),
            ))
        }
        Verdict::Invalid => Err(Refusal::SigninFailed.into()),
        Verdict::Locked { until_ms } => Err(ApiError::AccountLocked {
            retry_after_secs: Verdict::retry_after_secs(until_ms, now),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_hosts_any_port() {
        for ok in [
            "localhost",
            "LOCALHOST:9000",
            "127.0.0.1",
            "127.0.0.1:9000",
            "127.8.9.10:1",
            "[::1]",
            "[::1]:9000",
        ] {
            assert!(is_loopback_host(ok), "{ok}");
        }
        for no in [
            "rebind.attacker.example",
            "rebind.attacker.example:9000",
            "localhost.attacker.example",
            "127.0.0.1.nip.io",
            "10.0.0.1:9000",
            "0.0.0.0:9000",
            "[::2]:9000",
            "[::1]x",
            "::1",
            "localhost:",
            "localhost:abc",
            "localhost:9000:1",
            "",
        ] {
            assert!(!is_loopback_host(no), "{no}");
        }
    }

    #[test]
    fn own_origin_only_through_a_loopback_host() {
        for (origin, host) in [
            ("http://127.0.0.1:9000", "127.0.0.1:9000"),
            ("http://localhost:9000", "LOCALHOST:9000"),
            ("http://[::1]:9000", "[::1]:9000"),
            ("http://localhost", "localhost"),
        ] {
            assert!(is_own_loopback_origin(origin, host), "{origin} {host}");
        }
        for (origin, host) in [
            ("http://127.0.0.1:9001", "127.0.0.1:9000"),
            ("https://127.0.0.1:9000", "127.0.0.1:9000"),
            ("http://localhost:9000", "127.0.0.1:9000"),
            ("http://devbox.lan:9000", "devbox.lan:9000"),
            (
                "http://rebind.attacker.example:9000",
                "rebind.attacker.example:9000",
            ),
            ("null", "127.0.0.1:9000"),
            ("http://127.0.0.1:9000/", "127.0.0.1:9000"),
        ] {
            assert!(!is_own_loopback_origin(origin, host), "{origin} {host}");
        }
    }

    #[test]
    fn only_json_bodies() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
        ] {
            assert!(is_json(ok), "{ok}");
        }
        for no in [
            "text/plain",
            "text/plain;charset=UTF-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin1",
            "application/json; boundary=x",
            "application/jsonx",
            "",
        ] {
            assert!(!is_json(no), "{no}");
        }
    }
}
