//! DynamoDB implementations of the `shared::ports` traits.

use async_trait::async_trait;
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use shared::channel::SessionKey;
use shared::ports::{PortResult, ReplayGuard, ScSession, SessionStore, Unavailable};
use zeroize::Zeroizing;

use crate::error::{condition_failed, corrupt, unavailable};
use crate::table::{get_b, get_n, get_s, n, s, ttl_secs, EXPIRES_MS, PK, SK, TTL_ATTR, TYPE};

const SEALED_VERSION: u8 = 1;
const TAG_LEN: usize = 16;

/// Seals session keys K (and, under its own data key, outbox messages)
/// before they reach the table: AES-256-GCM under a
/// 32-byte data key that is itself KMS-sealed in the table and unsealed once
/// per cold start (see [`crate::KmsKeyStore::load_secret`]), so a
/// request costs no KMS call. The AAD binds the sealed K to its session id,
/// client hash and lifetime, so an edited item fails to open.
pub struct SessionSealer {
    key_id: String,
    /// `None` when the function was not given this data key (see
    /// `shared::route::Needs`): every seal and open fails.
    key: Option<LessSafeKey>,
}

impl std::fmt::Debug for SessionSealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionSealer")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SessionSealer {
    /// `key_id` names the data key (stored beside each sealed K for rotation).
    pub fn new(key_id: &str, data_key: &[u8]) -> Result<Self, Unavailable> {
        let unbound = UnboundKey::new(&AES_256_GCM, data_key)
            .map_err(|_| corrupt("session data key is not 32 bytes"))?;
        Ok(SessionSealer {
            key_id: key_id.to_owned(),
            key: Some(LessSafeKey::new(unbound)),
        })
    }

    /// A sealer without its key, for a function that must never seal or
    /// open with it: every call fails as unavailable.
    pub fn withheld(key_id: &str) -> Self {
        SessionSealer {
            key_id: key_id.to_owned(),
            key: None,
        }
    }

    fn key(&self) -> PortResult<&LessSafeKey> {
        self.key.as_ref().ok_or_else(|| {
            corrupt("this function does not hold the data key (shared::route::Needs)")
        })
    }

    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    fn aad(&self, s: &ScSession) -> Vec<u8> {
        format!(
            "scv2-session\n{}\n{}\n{}\n{}\n{}",
            self.key_id, s.id, s.client_hash, s.created_at_ms, s.expires_at_ms
        )
        .into_bytes()
    }

    /// `0x01 || nonce(12) || AES-256-GCM(plain, aad) || tag(16)`.
    pub(crate) fn seal_bytes(&self, aad: &[u8], plain: &[u8]) -> PortResult<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        aws_lc_rs::rand::fill(&mut nonce).map_err(|_| corrupt("random nonce"))?;
        let mut body = Zeroizing::new(plain.to_vec());
        let tag = self
            .key()?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut body,
            )
            .map_err(|_| corrupt("seal"))?;
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len() + TAG_LEN);
        out.push(SEALED_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out.extend_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Opens what [`Self::seal_bytes`] sealed under the same `aad`.
    pub(crate) fn open_bytes(&self, aad: &[u8], sealed: &[u8]) -> PortResult<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEALED_VERSION {
            return Err(corrupt("sealed value has a bad layout"));
        }
        let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN].try_into().expect("length");
        let mut buf = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let len = self
            .key()?
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| corrupt("sealed value failed authentication"))?
            .len();
        buf.truncate(len);
        Ok(buf)
    }

    fn seal(&self, session: &ScSession) -> PortResult<Vec<u8>> {
        self.seal_bytes(&self.aad(session), session.key.expose_bytes())
    }

    fn open(&self, sealed: &[u8], session: &ScSession) -> PortResult<SessionKey> {
        if sealed.len() != 1 + NONCE_LEN + 32 + TAG_LEN {
            return Err(corrupt("sealed session key has a bad layout"));
        }
        let plain = self.open_bytes(&self.aad(session), sealed)?;
        SessionKey::from_slice(&plain).ok_or_else(|| corrupt("session key length"))
    }
}

fn session_pk(id: &str) -> String {
    format!("SESSION#{id}")
}

/// `SessionStore` over DynamoDB: item `SESSION#<id>` / `SESSION`.
#[derive(Debug)]
pub struct DynamoSessionStore {
    client: Client,
    table: String,
    sealer: SessionSealer,
}

impl DynamoSessionStore {
    pub fn new(client: Client, table: impl Into<String>, sealer: SessionSealer) -> Self {
        DynamoSessionStore {
            client,
            table: table.into(),
            sealer,
        }
    }
}

#[async_trait]
impl SessionStore for DynamoSessionStore {
    async fn create(&self, session: &ScSession) -> PortResult<()> {
        let sealed = self.sealer.seal(session)?;
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(session_pk(&session.id)))
            .item(SK, s("SESSION"))
            .item(TYPE, s("ScSession"))
            .item("sealedKey", AttributeValue::B(sealed.into()))
            .item("sealKid", s(self.sealer.key_id()))
            .item("clientHash", s(&session.client_hash))
            .item("createdAtMs", n(session.created_at_ms))
            .item(EXPIRES_MS, n(session.expires_at_ms))
            .item(TTL_ATTR, n(ttl_secs(session.expires_at_ms)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Err(corrupt("session id collision")),
            Err(e) => Err(unavailable("dynamodb PutItem session", e)),
        }
    }

    async fn get(&self, id: &str, now_ms: u64) -> PortResult<Option<ScSession>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(session_pk(id)))
            .key(SK, s("SESSION"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("dynamodb GetItem session", e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let expires_at_ms = get_n(item, EXPIRES_MS)?;
        // TTL deletion lags by up to days: expiry is decided here.
        if now_ms >= expires_at_ms {
            return Ok(None);
        }
        if get_s(item, "sealKid")? != self.sealer.key_id() {
            return Err(corrupt("session sealed under another data key"));
        }
        let mut session = ScSession {
            id: id.to_owned(),
            key: SessionKey::from_bytes([0; 32]),
            client_hash: get_s(item, "clientHash")?.to_owned(),
            created_at_ms: get_n(item, "createdAtMs")?,
            expires_at_ms,
        };
        session.key = self.sealer.open(get_b(item, "sealedKey")?, &session)?;
        Ok(Some(session))
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut acc, b| {
            let _ = write!(acc, "{b:02x}");
            acc
        })
}

/// `ReplayGuard` over DynamoDB: item `NONCE#<sid>#<hex nonce>` / `NONCE`,
/// written with `attribute_not_exists(PK) OR expiresAtMs <= :now` so exactly
/// one concurrent writer wins and an expired record may be reused.
#[derive(Debug, Clone)]
pub struct DynamoReplayGuard {
    client: Client,
    table: String,
}

impl DynamoReplayGuard {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoReplayGuard {
            client,
            table: table.into(),
        }
    }
}

#[async_trait]
impl ReplayGuard for DynamoReplayGuard {
    async fn first_use(
        &self,
        session_id: &str,
        nonce: &[u8; 12],
        keep_until_ms: u64,
        now_ms: u64,
    ) -> PortResult<bool> {
        let res = self
            .client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(format!("NONCE#{session_id}#{}", hex(nonce))))
            .item(SK, s("NONCE"))
            .item(TYPE, s("ReplayNonce"))
            .item(EXPIRES_MS, n(keep_until_ms))
            .item(TTL_ATTR, n(ttl_secs(keep_until_ms)))
            .condition_expression("attribute_not_exists(PK) OR #exp <= :now")
            .expression_attribute_names("#exp", EXPIRES_MS)
            .expression_attribute_values(":now", n(now_ms))
            .send()
            .await;
        match res {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(unavailable("dynamodb PutItem nonce", e)),
        }
    }
}
