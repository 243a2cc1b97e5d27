//! Development-only routes (`/_dev/...`): seed users, mint access tokens,
//! read the delivered emails (after delivering what is pending). They exist only in local-api, never in AWS.

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use http::{Method, StatusCode};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::{json, Value};
use shared::handlers::accounts::{create_user, Invitation};
use shared::http::json::{parse_strict, ExposeSecret, SecretString};
use shared::http::{error_response, json_response, success_body, ApiError, ApiResponse};
use shared::i18n::Lang;
use shared::App;

use crate::Local;

pub const DEV_KID: &str = "local-dev";

/// The local signing key for `/_dev/token`; its public half is the JWKS.
pub struct DevSigner {
    encoding: EncodingKey,
    jwks: String,
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
        })
    }

    pub fn jwks(&self) -> &str {
        &self.jwks
    }

    /// An EdDSA access token for `biz_id`, issued at `iat`, valid one hour.
    pub fn token(&self, biz_id: &str, iat: u64) -> anyhow::Result<String> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(DEV_KID.into());
        let claims = json!({"sub": biz_id, "iat": iat, "exp": iat + 3600});
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

/// Answers a `/_dev` route, or `None` when `path` is not one.
pub async fn handle(
    local: &Local,
    method: &Method,
    path: &str,
    body: &[u8],
) -> Option<ApiResponse> {
    let app = &local.app;
    let now = app.clock.now_ms();
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
        _ if path.starts_with("/_dev/") => Err(ApiError::NotFound),
        _ => return None,
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
