//! Server side of an SCv2 call: the six checks of section 6 in order, then
//! sealing the answer in the form it was asked. Above [`crate::channel`]
//! (pure SCv2 crypto and wire format): it reads the session store and
//! answers in the HTTP layer's terms.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use zeroize::Zeroizing;

use crate::app::App;
use crate::channel::wire::{
    request_context, response_context, EnvelopeType, Header, HEADER_LEN, NONCE_LEN,
};
use crate::channel::{random_bytes, BodyForm};
use crate::http::{ApiError, ApiResponse, ScError};
use crate::i18n::Lang;
use crate::ports::ScSession;

/// A request that passed checks 1-6: its plaintext is the route's JSON.
pub struct OpenedRequest {
    /// The session the request was sealed under.
    pub session: ScSession,
    /// The request's nonce, bound into the response's AAD.
    pub request_nonce: [u8; NONCE_LEN],
    /// How the body was sent; the response is sent the same way.
    pub form: BodyForm,
    /// The decrypted body, wiped on drop.
    pub plaintext: Zeroizing<Vec<u8>>,
    /// Until when check 6 keeps the (session, nonce) pair: past it the
    /// timestamp is stale anyway.
    replay_until_ms: u64,
}

/// How the body was sent: raw bytes under `application/octet-stream`, base64 text otherwise.
pub fn body_form(headers: &HeaderMap) -> BodyForm {
    let raw = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/octet-stream")
        })
        .unwrap_or(false);
    if raw {
        BodyForm::Raw
    } else {
        BodyForm::Base64
    }
}

/// Length of the envelope a body carries, known without decoding it: the
/// 64 KiB cap is on the envelope, whichever transport form carries it (a
/// base64 body may then be up to `ceil(65536 / 3) * 4` bytes). A body that
/// is not valid base64 is refused later as malformed.
pub fn envelope_len(headers: &HeaderMap, body: &[u8]) -> usize {
    match body_form(headers) {
        BodyForm::Raw => body.len(),
        BodyForm::Base64 => {
            let padding = body
                .iter()
                .rev()
                .take(2)
                .take_while(|&&b| b == b'=')
                .count();
            (body.len() / 4 * 3 + body.len() % 4 * 3 / 4).saturating_sub(padding)
        }
    }
}

/// The SC headers must be present and well formed (gateway rules), before check 1.
pub fn check_sc_headers(headers: &HeaderMap) -> Result<(), ApiError> {
    let mut missing = Vec::new();
    let mut invalid = Vec::new();
    let version_ok = |v: &str| (1..=3).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit());
    let session_ok = |v: &str| {
        (1..=128).contains(&v.len())
            && v.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    for (name, ok) in [
        ("X-SC-Session-Id", &session_ok as &dyn Fn(&str) -> bool),
        ("X-SC-Version", &version_ok),
    ] {
        match headers.get(name).map(|v| v.to_str()) {
            None => missing.push(name),
            Some(Ok(v)) if ok(v) => {}
            Some(_) => invalid.push(name),
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

/// Runs checks 1-6 of section 6 for the documented `route` path and `method`.
/// Store failures surface as 503 `SYSTEM.UNAVAILABLE`, never as a protocol error.
pub async fn open_request(
    app: &App,
    method: &str,
    route: &str,
    headers: &HeaderMap,
    client_hash: &str,
    body: &[u8],
) -> Result<OpenedRequest, ApiError> {
    let opened = decrypt_request(app, method, route, headers, client_hash, body).await?;
    check_replay(app, &opened).await?;
    Ok(opened)
}

/// Checks 1-5 of section 6: the request decrypts under its session and
/// route. Check 6 ([`check_replay`]) must follow before the request is
/// acted on; a route may run it beside its first read.
pub async fn decrypt_request(
    app: &App,
    method: &str,
    route: &str,
    headers: &HeaderMap,
    client_hash: &str,
    body: &[u8],
) -> Result<OpenedRequest, ApiError> {
    check_sc_headers(headers)?;
    let header_str = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    // 1. version
    if header_str("x-sc-version") != "2" {
        return Err(ScError::UnsupportedVersion.into());
    }
    // 2. session exists, not expired, same client hash (a mismatch looks unknown)
    let session_id = header_str("x-sc-session-id");
    let now = app.clock.now_ms();
    let session = app
        .sessions
        .get(session_id, now)
        .await?
        .filter(|s| {
            use subtle::ConstantTimeEq;
            bool::from(s.client_hash.as_bytes().ct_eq(client_hash.as_bytes()))
        })
        .ok_or(ApiError::Sc(ScError::SessionInvalid))?;
    // 3. well formed: decode the transport form, then length, version, type.
    // The buffer is ours to decrypt in place, and is wiped when dropped.
    let form = body_form(headers);
    let mut envelope = Zeroizing::new(match form {
        BodyForm::Raw => body.to_vec(),
        BodyForm::Base64 => STANDARD
            .decode(body)
            .map_err(|_| ApiError::Sc(ScError::Malformed))?,
    });
    let header = Header::parse(&envelope, EnvelopeType::Request).map_err(ScError::from)?;
    // 4. timestamp within the window
    let skew_ms = app.config.max_clock_skew_secs * 1000;
    if now.abs_diff(header.timestamp_ms) > skew_ms {
        return Err(ScError::Stale.into());
    }
    // 5. AES-GCM opens under this session and route
    let context = request_context(&session.id, method, route);
    let plain_len = session
        .key
        .open_in_place(&mut envelope, EnvelopeType::Request, &context)
        .map_err(ScError::from)?
        .1
        .len();
    envelope.copy_within(HEADER_LEN..HEADER_LEN + plain_len, 0);
    envelope.truncate(plain_len);
    let plaintext = envelope;
    Ok(OpenedRequest {
        session,
        request_nonce: header.nonce,
        form,
        plaintext,
        replay_until_ms: header.timestamp_ms.max(now) + skew_ms + 1000,
    })
}

/// Check 6: the (session, nonce) pair not seen in the window. Records it,
/// so it runs once per request, only after checks 1-5 passed.
pub async fn check_replay(app: &App, opened: &OpenedRequest) -> Result<(), ApiError> {
    let first = app
        .replay
        .first_use(
            &opened.session.id,
            &opened.request_nonce,
            opened.replay_until_ms,
            app.clock.now_ms(),
        )
        .await?;
    if first {
        Ok(())
    } else {
        Err(ScError::Replay.into())
    }
}

/// Seals a standard-envelope JSON answer to an opened request, in its form.
pub fn seal_response(
    opened: &OpenedRequest,
    now_ms: u64,
    status: StatusCode,
    lang: Lang,
    json: &[u8],
) -> ApiResponse {
    let header = Header {
        kind: EnvelopeType::Response,
        timestamp_ms: now_ms,
        nonce: random_bytes(),
    };
    let envelope = opened.session.key.seal(
        &header,
        &response_context(&opened.session.id, &opened.request_nonce),
        json,
    );
    let (body, content_type) = match opened.form {
        BodyForm::Raw => (Bytes::from(envelope), "application/octet-stream"),
        BodyForm::Base64 => (
            Bytes::from(STANDARD.encode(envelope)),
            "text/plain;charset=UTF-8",
        ),
    };
    crate::http::response(status, lang, content_type, body)
}
