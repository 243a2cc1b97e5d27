//! SCv2 client: fetches the public key, performs the handshake, and seals /
//! opens calls. Used by `pwctl`, the end-to-end tests and the benches.
#![forbid(unsafe_code)]

use aws_lc_rs::rsa::{OaepPublicEncryptingKey, PublicEncryptingKey, OAEP_SHA256_MGF1SHA256};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use serde_json::Value;
use shared::channel::wire::{
    confirmation_context, request_context, response_context, EnvelopeType, Header,
};
use shared::channel::{random_bytes, BodyForm, SessionKey};
use std::sync::Arc;

pub const PUBLIC_KEY_ROUTE: &str = "/web/v1/secure-channel/public-key";
pub const SESSION_ROUTE: &str = "/web/v1/secure-channel/session";

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("HTTP transport: {0}")]
    Transport(#[from] reqwest::Error),
    #[error("server answered {status} {code}")]
    Api {
        status: u16,
        code: String,
        body: Value,
    },
    #[error("protocol: {0}")]
    Protocol(&'static str),
}

/// The gateway headers a client (or Cloudflare, in production) sends.
#[derive(Debug, Clone)]
pub struct Identity {
    pub client_hash: String,
    pub accept_language: String,
    pub ip: String,
    pub country: String,
}

impl Default for Identity {
    fn default() -> Self {
        Identity {
            client_hash: "pwctl-device".into(),
            accept_language: "en".into(),
            ip: "127.0.0.1".into(),
            country: "XX".into(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PublicKeyInfo {
    pub key_id: String,
    pub spki_der: Vec<u8>,
    pub expires_at: String,
}

/// An established session: its id and the key K only this client and the server hold.
#[derive(Debug, Clone)]
pub struct SecureSession {
    pub id: String,
    pub key: SessionKey,
    pub expires_at: String,
}

/// A decoded answer: HTTP status, and the standard envelope (decrypted when it was sealed).
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
    pub encrypted: bool,
}

/// One sealed call, ready to send (tests tamper with its parts).
#[derive(Debug, Clone)]
pub struct SealedRequest<'a> {
    pub method: &'a str,
    pub route: &'a str,
    pub request_nonce: [u8; 12],
    pub envelope: &'a [u8],
    pub form: BodyForm,
    pub extra: HeaderMap,
}

/// Sees every answer the client receives, opened: `(method, route, reply)`.
/// Tests use it to hold each answer against the contract; an application may log.
pub type Observer = Arc<dyn Fn(&str, &str, &Reply) + Send + Sync>;

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    pub identity: Identity,
    observer: Option<Observer>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base_url", &self.base_url)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

fn header(name: &'static str, value: &str) -> Option<(HeaderName, HeaderValue)> {
    Some((
        HeaderName::from_static(name),
        HeaderValue::from_str(value).ok()?,
    ))
}

/// Wraps K for the server: RSA-OAEP, SHA-256, MGF1-SHA-256, empty label.
pub fn wrap_key(spki_der: &[u8], key: &[u8]) -> Result<Vec<u8>, ClientError> {
    let public = PublicEncryptingKey::from_der(spki_der)
        .map_err(|_| ClientError::Protocol("bad public key"))?;
    let oaep = OaepPublicEncryptingKey::new(public)
        .map_err(|_| ClientError::Protocol("bad public key"))?;
    let mut out = vec![0u8; oaep.ciphertext_size()];
    let ct = oaep
        .encrypt(&OAEP_SHA256_MGF1SHA256, key, &mut out, None)
        .map_err(|_| ClientError::Protocol("OAEP encrypt failed"))?;
    Ok(ct.to_vec())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl Client {
    pub fn new(base_url: &str, identity: Identity) -> Client {
        Client {
            http: reqwest::Client::new(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            identity,
            observer: None,
        }
    }

    /// The same client, with `observer` shown every answer.
    pub fn with_observer(mut self, observer: Observer) -> Client {
        self.observer = Some(observer);
        self
    }

    fn observed(&self, method: &str, route: &str, reply: Reply) -> Reply {
        if let Some(observe) = &self.observer {
            observe(method, route, &reply);
        }
        reply
    }

    pub fn url(&self, route: &str) -> String {
        format!("{}{}", self.base_url, route)
    }

    /// Every gateway header, as Cloudflare and a well-behaved client send them.
    pub fn gateway_headers(&self) -> HeaderMap {
        let ray = format!("{:016x}-LCL", u64::from_be_bytes(random_bytes()));
        [
            header("accept", "application/json"),
            header("x-client-hash", &self.identity.client_hash),
            header("accept-language", &self.identity.accept_language),
            header("cf-connecting-ip", &self.identity.ip),
            header("cf-ray", &ray),
            header("cf-ipcountry", &self.identity.country),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    async fn plain_reply(resp: reqwest::Response) -> Result<Reply, ClientError> {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok(Reply {
            status,
            headers,
            body,
            encrypted: false,
        })
    }

    fn api_error(reply: Reply) -> ClientError {
        ClientError::Api {
            status: reply.status,
            code: reply.body["code"].as_str().unwrap_or("").to_owned(),
            body: reply.body,
        }
    }

    pub async fn public_key(&self) -> Result<PublicKeyInfo, ClientError> {
        let resp = self
            .http
            .get(self.url(PUBLIC_KEY_ROUTE))
            .headers(self.gateway_headers())
            .send()
            .await?;
        let reply = self.observed("GET", PUBLIC_KEY_ROUTE, Self::plain_reply(resp).await?);
        if reply.status != 200 {
            return Err(Self::api_error(reply));
        }
        let data = &reply.body["data"];
        Ok(PublicKeyInfo {
            key_id: data["keyId"]
                .as_str()
                .ok_or(ClientError::Protocol("keyId"))?
                .to_owned(),
            spki_der: STANDARD
                .decode(
                    data["publicKey"]
                        .as_str()
                        .ok_or(ClientError::Protocol("publicKey"))?,
                )
                .map_err(|_| ClientError::Protocol("publicKey is not base64"))?,
            expires_at: data["expiresAt"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// POSTs a session-creation body as given (tests use it to send bad ones).
    pub async fn create_session_raw(&self, body: &Value) -> Result<Reply, ClientError> {
        let resp = self
            .http
            .post(self.url(SESSION_ROUTE))
            .headers(self.gateway_headers())
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(body).unwrap_or_default())
            .send()
            .await?;
        Ok(self.observed("POST", SESSION_ROUTE, Self::plain_reply(resp).await?))
    }

    /// The whole handshake of section 7, steps 1-2, key confirmation checked.
    pub async fn handshake(&self) -> Result<SecureSession, ClientError> {
        let pk = self.public_key().await?;
        let raw_key: [u8; 32] = random_bytes();
        let key = SessionKey::from_bytes(raw_key);
        let wrapped = wrap_key(&pk.spki_der, key.expose_bytes())?;
        let reply = self
            .create_session_raw(&serde_json::json!({
                "keyId": pk.key_id,
                "encryptedKey": STANDARD.encode(wrapped),
            }))
            .await?;
        if reply.status != 201 {
            return Err(Self::api_error(reply));
        }
        let data = &reply.body["data"];
        let id = data["sessionId"]
            .as_str()
            .ok_or(ClientError::Protocol("sessionId"))?
            .to_owned();
        let confirmation = STANDARD
            .decode(
                data["keyConfirmation"]
                    .as_str()
                    .ok_or(ClientError::Protocol("keyConfirmation"))?,
            )
            .map_err(|_| ClientError::Protocol("keyConfirmation is not base64"))?;
        let (_, plain) = key
            .open(
                &confirmation,
                EnvelopeType::KeyConfirmation,
                &confirmation_context(&id),
            )
            .map_err(|_| ClientError::Protocol("key confirmation does not open: server lacks K"))?;
        if !plain.is_empty() {
            return Err(ClientError::Protocol("key confirmation is not empty"));
        }
        Ok(SecureSession {
            id,
            key,
            expires_at: data["expiresAt"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Seals a request envelope for `route` (a fresh nonce, the current time).
    pub fn seal_request(
        session: &SecureSession,
        method: &str,
        route: &str,
        json: &[u8],
    ) -> (Header, Vec<u8>) {
        let header = Header {
            kind: EnvelopeType::Request,
            timestamp_ms: now_ms(),
            nonce: random_bytes(),
        };
        let envelope =
            session
                .key
                .seal(&header, &request_context(&session.id, method, route), json);
        (header, envelope)
    }

    /// Sends an already-sealed envelope and decodes the answer.
    pub async fn send_envelope(
        &self,
        session: &SecureSession,
        req: SealedRequest<'_>,
    ) -> Result<Reply, ClientError> {
        let (method, route) = (req.method, req.route);
        let reply = self.exchange(session, req).await?;
        Ok(self.observed(method, route, reply))
    }

    async fn exchange(
        &self,
        session: &SecureSession,
        req: SealedRequest<'_>,
    ) -> Result<Reply, ClientError> {
        let SealedRequest {
            method,
            route,
            request_nonce,
            envelope,
            form,
            extra,
        } = req;
        let request_nonce = &request_nonce;
        let (content_type, body) = match form {
            BodyForm::Raw => ("application/octet-stream", envelope.to_vec()),
            BodyForm::Base64 => (
                "application/json;charset=UTF-8",
                STANDARD.encode(envelope).into_bytes(),
            ),
        };
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| ClientError::Protocol("method"))?;
        let mut headers = self.gateway_headers();
        headers.insert(
            "x-sc-session-id",
            HeaderValue::from_str(&session.id).map_err(|_| ClientError::Protocol("session id"))?,
        );
        headers.insert("x-sc-version", HeaderValue::from_static("2"));
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        headers.extend(extra);
        let resp = self
            .http
            .request(method, self.url(route))
            .headers(headers)
            .body(body)
            .send()
            .await?;
        let status = resp.status().as_u16();
        let resp_headers = resp.headers().clone();
        let ct = resp_headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = resp.bytes().await?;
        if ct.starts_with("application/json") {
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Ok(Reply {
                status,
                headers: resp_headers,
                body,
                encrypted: false,
            });
        }
        let envelope = if ct.starts_with("application/octet-stream") {
            bytes.to_vec()
        } else {
            STANDARD
                .decode(&bytes)
                .map_err(|_| ClientError::Protocol("response is not base64"))?
        };
        let (_, plain) = session
            .key
            .open(
                &envelope,
                EnvelopeType::Response,
                &response_context(&session.id, request_nonce),
            )
            .map_err(|_| ClientError::Protocol("response does not open"))?;
        let body = serde_json::from_slice(&plain)
            .map_err(|_| ClientError::Protocol("response is not JSON"))?;
        Ok(Reply {
            status,
            headers: resp_headers,
            body,
            encrypted: true,
        })
    }

    /// Seals `json`, sends it to `route`, opens the answer.
    pub async fn call(
        &self,
        session: &SecureSession,
        method: &str,
        route: &str,
        json: &Value,
        form: BodyForm,
        extra: HeaderMap,
    ) -> Result<Reply, ClientError> {
        let plain = serde_json::to_vec(json).unwrap_or_default();
        let (header, envelope) = Self::seal_request(session, method, route, &plain);
        let req = SealedRequest {
            method,
            route,
            request_nonce: header.nonce,
            envelope: &envelope,
            form,
            extra,
        };
        self.send_envelope(session, req).await
    }
}
