//! `GET /public-key` and `POST /session` (SCv2 sections 2 and 3).

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http::HeaderValue;
use serde::Deserialize;
use serde_json::json;

use super::Ctx;
use crate::channel::wire::{confirmation_context, EnvelopeType, Header};
use crate::channel::{random_bytes, KeyExchangeError};
use crate::http::json::parse_strict;
use crate::http::{json_response, success_body, ApiError, ApiResponse, ScError, Success};
use crate::ports::ScSession;
use crate::time_fmt::rfc3339;

/// `GET .../secure-channel/public-key`: the active RSA public key and its id.
pub async fn public_key(ctx: &Ctx<'_>) -> Result<ApiResponse, ApiError> {
    let app = ctx.app;
    ctx.rate_limit(
        "public-key",
        &ctx.ip_key(),
        app.config.limits.public_key_per_ip,
    )
    .await?;
    let ring = app.keys.current(app.clock.now_ms()).await;
    let key = ring.active();
    let data = json!({
        "keyId": key.kid(),
        "algorithm": "RSA-OAEP-256",
        "publicKey": STANDARD.encode(key.public_spki_der()),
        "expiresAt": rfc3339(key.expires_at_ms()),
    });
    let body = success_body(
        ctx.gw.lang,
        app.clock.now_ms(),
        ctx.request_id,
        "SUCCESS",
        data,
    );
    let mut resp = json_response(Success::Ok.into(), ctx.gw.lang, &body);
    let cache = format!("public, max-age={}", app.config.public_key_max_age_secs);
    if let Ok(v) = HeaderValue::from_str(&cache) {
        resp.headers_mut().insert(http::header::CACHE_CONTROL, v);
    }
    Ok(resp)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct CreateSessionBody {
    key_id: String,
    encrypted_key: String,
}

/// `POST .../secure-channel/session`: unwraps the client's key K and opens a session.
pub async fn create_session(ctx: &Ctx<'_>, body: &[u8]) -> Result<ApiResponse, ApiError> {
    let app = ctx.app;
    ctx.rate_limit("session", &ctx.ip_key(), app.config.limits.session_per_ip)
        .await?;
    let req: CreateSessionBody = parse_strict(body)?;
    let now = app.clock.now_ms();
    let mut ring = app.keys.current(now).await;
    if ring.find(&req.key_id, now).is_err() {
        // Rotated since this instance loaded its ring (public-key runs
        // elsewhere): reload, within the per-instance limit, before refusing.
        if let Some(newer) = app.keys.after_unknown(&ring, &req.key_id, now).await {
            ring = newer;
        }
    }
    let server_key = ring.find(&req.key_id, now).map_err(ScError::from)?;
    // Undecodable text is one more way for OAEP to fail: same answer.
    let ciphertext = STANDARD
        .decode(req.encrypted_key.as_bytes())
        .map_err(|_| ScError::from(KeyExchangeError::Failed))?;
    let key = server_key
        .unwrap_session_key(&ciphertext)
        .map_err(ScError::from)?;

    let session_id = URL_SAFE_NO_PAD.encode(random_bytes::<16>());
    let expires_at_ms = now + app.config.session_ttl_secs * 1000;
    let confirmation = key.seal(
        &Header {
            kind: EnvelopeType::KeyConfirmation,
            timestamp_ms: now,
            nonce: random_bytes(),
        },
        &confirmation_context(&session_id),
        b"",
    );
    let session = ScSession {
        id: session_id.clone(),
        key,
        client_hash: ctx.gw.client_hash.clone(),
        created_at_ms: now,
        expires_at_ms,
    };
    app.sessions.create(&session).await?;
    let data = json!({
        "sessionId": session_id,
        "expiresAt": rfc3339(expires_at_ms),
        "keyConfirmation": STANDARD.encode(confirmation),
    });
    let body = success_body(ctx.gw.lang, now, ctx.request_id, "SUCCESS", data);
    Ok(json_response(Success::Created.into(), ctx.gw.lang, &body))
}
