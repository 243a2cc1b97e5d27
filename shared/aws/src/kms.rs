//! Secrets sealed by a KMS symmetric key, stored in the table.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use shared::channel::keyring::KeyRingError;
use shared::channel::{KeyRing, ServerKey};
use shared::ports::Unavailable;
use zeroize::Zeroizing;

use crate::dynamo::SessionSealer;
use crate::error::{corrupt, unavailable};
use crate::table::{get_b, get_n, get_s, n, s, ttl_secs, EXPIRES_MS, PK, SK, TTL_ATTR, TYPE};
use crate::{AwsClients, AwsConfig};

/// SCv2 RSA private keys (PKCS#8 DER), spec section 1.
pub const PURPOSE_SCV2_PRIVATE_KEY: &str = "scv2-private-key";
/// The password pepper.
pub const PURPOSE_PASSWORD_PEPPER: &str = "password-pepper";
/// The AES-256 data key sealing session keys K at rest.
pub const PURPOSE_SESSION_DATA_KEY: &str = "scv2-session-data-key";
/// The AES-256 data key sealing outbox messages (their links carry raw tokens).
pub const PURPOSE_OUTBOX_DATA_KEY: &str = "outbox-data-key";
/// Length of a data key (AES-256).
pub const DATA_KEY_BYTES: usize = 32;
/// Length of a generated password pepper.
pub const PEPPER_BYTES: usize = 32;

const KEYRING_PK: &str = "KEYRING#scv2";
const PUBLIC_KEY_ATTR: &str = "publicKey";
const ACTIVE_SK: &str = "ACTIVE";

/// The KMS encryption context `{"purpose":..,"kid":..}` of one sealed secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealContext {
    pub purpose: String,
    pub kid: String,
}

impl SealContext {
    pub fn new(purpose: &str, kid: &str) -> Self {
        SealContext {
            purpose: purpose.to_owned(),
            kid: kid.to_owned(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    /// KMS refused to unseal: wrong context, wrong key or tampered blob.
    #[error("KMS refused to unseal the secret (wrong context, key or ciphertext)")]
    Rejected,
    #[error(transparent)]
    KeyRing(#[from] KeyRingError),
    #[error("no active, unexpired SCv2 key in the table: create one with `pwctl admin keys init --kid <kid>`")]
    NoActiveKey,
    /// Created at deploy time, never by a cold start.
    #[error(
        "{0} is not in the table: create it with `pwctl admin keys init` (docs/deployment.md)"
    )]
    Missing(String),
    #[error("SCv2 key {0}: the stored public key is not the private key's")]
    PublicKeyMismatch(String),
    #[error("key id {0} already exists")]
    KidExists(String),
}

/// Seals and unseals small secrets with KMS Encrypt/Decrypt under the
/// configured symmetric key and an encryption context.
#[derive(Debug, Clone)]
pub struct KmsSealer {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsSealer {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> Self {
        KmsSealer {
            client,
            key_id: key_id.into(),
        }
    }

    pub async fn seal(&self, ctx: &SealContext, plaintext: &[u8]) -> Result<Vec<u8>, Unavailable> {
        let out = self
            .client
            .encrypt()
            .key_id(&self.key_id)
            .plaintext(Blob::new(plaintext))
            .encryption_context("purpose", &ctx.purpose)
            .encryption_context("kid", &ctx.kid)
            .send()
            .await
            .map_err(|e| unavailable("kms Encrypt", e))?;
        out.ciphertext_blob
            .map(Blob::into_inner)
            .ok_or_else(|| corrupt("kms Encrypt returned no ciphertext"))
    }

    pub async fn unseal(
        &self,
        ctx: &SealContext,
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        let res = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(sealed))
            .encryption_context("purpose", &ctx.purpose)
            .encryption_context("kid", &ctx.kid)
            .send()
            .await;
        match res {
            Ok(out) => out
                .plaintext
                .map(|b| Zeroizing::new(b.into_inner()))
                .ok_or_else(|| corrupt("kms Decrypt returned no plaintext").into()),
            Err(e)
                if e.as_service_error().is_some_and(|e| {
                    e.is_invalid_ciphertext_exception() || e.is_incorrect_key_exception()
                }) =>
            {
                Err(KeyStoreError::Rejected)
            }
            Err(e) => Err(unavailable("kms Decrypt", e).into()),
        }
    }
}

/// One SCv2 key as stored (never the key material).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub kid: String,
    pub created_at_ms: u64,
    /// End of acceptance for session creation (shortened to the grace end
    /// when the key is retired).
    pub expires_at_ms: u64,
    pub active: bool,
}

struct StoredKey {
    info: KeyInfo,
    sealed: Vec<u8>,
    /// SubjectPublicKeyInfo DER, kept in clear so publishing needs no KMS
    /// call; absent on items written before it existed (backfilled by
    /// `pwctl admin keys init`).
    public_spki: Option<Vec<u8>>,
}

/// Whether [`KmsKeyStore::ensure_secret`] found the secret or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    Existing,
    Created,
}

/// SCv2 private keys (and other KMS-sealed secrets) kept in the table:
/// `KEYRING#scv2` / `KEY#<kid>` items plus the `KEYRING#scv2` / `ACTIVE`
/// pointer; secrets under `SECRET#<purpose>` / `<kid>`.
#[derive(Debug, Clone)]
pub struct KmsKeyStore {
    dynamodb: aws_sdk_dynamodb::Client,
    table: String,
    sealer: KmsSealer,
}

impl KmsKeyStore {
    pub fn new(
        dynamodb: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        sealer: KmsSealer,
    ) -> Self {
        KmsKeyStore {
            dynamodb,
            table: table.into(),
            sealer,
        }
    }

    pub fn from_clients(clients: &AwsClients, cfg: &AwsConfig) -> Self {
        Self::new(
            clients.dynamodb.clone(),
            &cfg.table_name,
            KmsSealer::new(clients.kms.clone(), &cfg.kms_key_id),
        )
    }

    pub fn sealer(&self) -> &KmsSealer {
        &self.sealer
    }

    async fn query_keyring(&self) -> Result<(Vec<StoredKey>, Option<String>), Unavailable> {
        let mut keys = Vec::new();
        let mut active = None;
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .dynamodb
                .query()
                .table_name(&self.table)
                .key_condition_expression("PK = :pk")
                .expression_attribute_values(":pk", s(KEYRING_PK))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| unavailable("dynamodb Query keyring", e))?;
            for item in out.items() {
                let sk = get_s(item, SK)?;
                if sk == ACTIVE_SK {
                    active = Some(get_s(item, "activeKid")?.to_owned());
                } else if sk.starts_with("KEY#") {
                    keys.push(StoredKey {
                        info: KeyInfo {
                            kid: get_s(item, "kid")?.to_owned(),
                            created_at_ms: get_n(item, "createdAtMs")?,
                            expires_at_ms: get_n(item, EXPIRES_MS)?,
                            active: false,
                        },
                        sealed: get_b(item, "sealedKey")?.to_vec(),
                        public_spki: match item.get(PUBLIC_KEY_ATTR) {
                            None => None,
                            Some(_) => Some(get_b(item, PUBLIC_KEY_ATTR)?.to_vec()),
                        },
                    });
                }
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        for k in &mut keys {
            k.info.active = active.as_deref() == Some(k.info.kid.as_str());
        }
        keys.sort_by_key(|k| k.info.created_at_ms);
        Ok((keys, active))
    }

    /// Every stored SCv2 key, oldest first.
    pub async fn list(&self) -> Result<Vec<KeyInfo>, KeyStoreError> {
        Ok(self
            .query_keyring()
            .await?
            .0
            .into_iter()
            .map(|k| k.info)
            .collect())
    }

    /// Unseals every key still accepted at `now_ms` (once per cold start) into
    /// a `KeyRing` whose active key is the one the `ACTIVE` pointer names.
    pub async fn load_key_ring(&self, now_ms: u64) -> Result<KeyRing, KeyStoreError> {
        let (keys, active) = self.query_keyring().await?;
        let active = active.ok_or(KeyStoreError::NoActiveKey)?;
        let mut ring = Vec::new();
        for k in keys.iter().filter(|k| now_ms < k.info.expires_at_ms) {
            let ctx = SealContext::new(PURPOSE_SCV2_PRIVATE_KEY, &k.info.kid);
            let der = self.sealer.unseal(&ctx, &k.sealed).await?;
            let key = ServerKey::from_pkcs8(&k.info.kid, &der, k.info.expires_at_ms)?;
            // The public-key function publishes the stored copy: it must be this key's.
            if k.public_spki
                .as_deref()
                .is_some_and(|spki| spki != key.public_spki_der())
            {
                return Err(KeyStoreError::PublicKeyMismatch(k.info.kid.clone()));
            }
            ring.push(key);
        }
        if !ring.iter().any(|k| k.kid() == active) {
            return Err(KeyStoreError::NoActiveKey);
        }
        Ok(KeyRing::new(ring, &active)?)
    }

    /// The active key's public half, read in clear (no KMS call): all the
    /// public-key function holds.
    pub async fn load_public_ring(&self, now_ms: u64) -> Result<KeyRing, KeyStoreError> {
        let (keys, active) = self.query_keyring().await?;
        let active = active.ok_or(KeyStoreError::NoActiveKey)?;
        let key = keys
            .iter()
            .find(|k| k.info.kid == active && now_ms < k.info.expires_at_ms)
            .ok_or(KeyStoreError::NoActiveKey)?;
        let spki = key.public_spki.as_deref().ok_or_else(|| {
            KeyStoreError::Missing(format!("the public key of SCv2 key {}", key.info.kid))
        })?;
        Ok(KeyRing::single(ServerKey::public_only(
            &key.info.kid,
            spki,
            key.info.expires_at_ms,
        )?))
    }

    /// Stores the public key beside every sealed key that lacks it (items
    /// written before it was kept); returns the kids filled in.
    pub async fn backfill_public_keys(&self) -> Result<Vec<String>, KeyStoreError> {
        let (keys, _) = self.query_keyring().await?;
        let mut filled = Vec::new();
        for k in keys.iter().filter(|k| k.public_spki.is_none()) {
            let ctx = SealContext::new(PURPOSE_SCV2_PRIVATE_KEY, &k.info.kid);
            let der = self.sealer.unseal(&ctx, &k.sealed).await?;
            let key = ServerKey::from_pkcs8(&k.info.kid, &der, k.info.expires_at_ms)?;
            self.dynamodb
                .update_item()
                .table_name(&self.table)
                .key(PK, s(KEYRING_PK))
                .key(SK, s(format!("KEY#{}", k.info.kid)))
                .update_expression("SET #pub = :pub")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#pub", PUBLIC_KEY_ATTR)
                .expression_attribute_values(
                    ":pub",
                    AttributeValue::B(key.public_spki_der().to_vec().into()),
                )
                .send()
                .await
                .map_err(|e| unavailable("dynamodb UpdateItem public key", e))?;
            filled.push(k.info.kid.clone());
        }
        Ok(filled)
    }

    /// Generates an RSA-3072 key `kid` accepted until `now + lifetime`, seals
    /// and stores it, makes it active, and shortens the previous active key's
    /// acceptance to `now + grace` (never lengthens it).
    pub async fn rotate(
        &self,
        kid: &str,
        lifetime: Duration,
        grace: Duration,
        now_ms: u64,
    ) -> Result<KeyInfo, KeyStoreError> {
        let (keys, previous) = self.query_keyring().await?;
        if keys.iter().any(|k| k.info.kid == kid) {
            return Err(KeyStoreError::KidExists(kid.to_owned()));
        }
        let expires_at_ms = now_ms + lifetime.as_millis() as u64;
        let owned_kid = kid.to_owned();
        let (_, der) =
            tokio::task::spawn_blocking(move || ServerKey::generate(&owned_kid, expires_at_ms))
                .await
                .map_err(|e| Unavailable(anyhow::Error::new(e).context("key generation task")))??;
        self.store_key(kid, &der, now_ms, expires_at_ms).await?;
        self.set_active(kid, previous.as_deref(), now_ms).await?;
        if let Some(prev) = keys
            .iter()
            .find(|k| Some(k.info.kid.as_str()) == previous.as_deref())
        {
            let retire_at = prev
                .info
                .expires_at_ms
                .min(now_ms + grace.as_millis() as u64);
            self.dynamodb
                .update_item()
                .table_name(&self.table)
                .key(PK, s(KEYRING_PK))
                .key(SK, s(format!("KEY#{}", prev.info.kid)))
                .update_expression("SET #exp = :exp, #ttl = :ttl, retiredAtMs = :now")
                .condition_expression("attribute_exists(PK)")
                .expression_attribute_names("#exp", EXPIRES_MS)
                .expression_attribute_names("#ttl", TTL_ATTR)
                .expression_attribute_values(":exp", n(retire_at))
                .expression_attribute_values(":ttl", n(ttl_secs(retire_at)))
                .expression_attribute_values(":now", n(now_ms))
                .send()
                .await
                .map_err(|e| unavailable("dynamodb UpdateItem retire key", e))?;
        }
        Ok(KeyInfo {
            kid: kid.to_owned(),
            created_at_ms: now_ms,
            expires_at_ms,
            active: true,
        })
    }

    /// Seals a PKCS#8 DER key and stores it (not active); fails if `kid` exists.
    pub async fn store_key(
        &self,
        kid: &str,
        pkcs8_der: &[u8],
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Result<(), KeyStoreError> {
        // Refuse anything that is not a valid key before sealing it.
        let key = ServerKey::from_pkcs8(kid, pkcs8_der, expires_at_ms)?;
        let ctx = SealContext::new(PURPOSE_SCV2_PRIVATE_KEY, kid);
        let sealed = self.sealer.seal(&ctx, pkcs8_der).await?;
        let res = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .item(PK, s(KEYRING_PK))
            .item(SK, s(format!("KEY#{kid}")))
            .item(TYPE, s("ScKey"))
            .item("kid", s(kid))
            .item("sealedKey", AttributeValue::B(sealed.into()))
            .item(
                PUBLIC_KEY_ATTR,
                AttributeValue::B(key.public_spki_der().to_vec().into()),
            )
            .item("createdAtMs", n(now_ms))
            .item(EXPIRES_MS, n(expires_at_ms))
            .item(TTL_ATTR, n(ttl_secs(expires_at_ms)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(KeyStoreError::KidExists(kid.to_owned()))
            }
            Err(e) => Err(unavailable("dynamodb PutItem key", e).into()),
        }
    }

    /// Points `ACTIVE` at `kid`, if it still points at `expected` (optimistic
    /// concurrency between two rotations).
    pub async fn set_active(
        &self,
        kid: &str,
        expected: Option<&str>,
        now_ms: u64,
    ) -> Result<(), KeyStoreError> {
        let mut put = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .item(PK, s(KEYRING_PK))
            .item(SK, s(ACTIVE_SK))
            .item(TYPE, s("ScKeyActive"))
            .item("activeKid", s(kid))
            .item("updatedAtMs", n(now_ms));
        put = match expected {
            Some(prev) => put
                .condition_expression("activeKid = :prev")
                .expression_attribute_values(":prev", s(prev)),
            None => put.condition_expression("attribute_not_exists(PK)"),
        };
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(corrupt("concurrent key rotation changed the active key").into())
            }
            Err(e) => Err(unavailable("dynamodb PutItem active key", e).into()),
        }
    }

    /// The sealed secret `purpose`/`kid`, unsealed; `None` if not stored.
    async fn read_secret(
        &self,
        purpose: &str,
        kid: &str,
        len: usize,
    ) -> Result<Option<Zeroizing<Vec<u8>>>, KeyStoreError> {
        let out = self
            .dynamodb
            .get_item()
            .table_name(&self.table)
            .key(PK, s(format!("SECRET#{purpose}")))
            .key(SK, s(kid))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("dynamodb GetItem secret", e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let secret = self
            .sealer
            .unseal(&SealContext::new(purpose, kid), get_b(item, "sealedValue")?)
            .await?;
        if secret.len() != len {
            return Err(corrupt("stored secret has an unexpected length").into());
        }
        Ok(Some(secret))
    }

    /// The secret `purpose`/`kid` (a data key, the pepper) as a cold start
    /// loads it: read and unsealed, never created (a missing one names the
    /// command that creates it).
    pub async fn load_secret(
        &self,
        purpose: &str,
        kid: &str,
        len: usize,
    ) -> Result<Zeroizing<Vec<u8>>, KeyStoreError> {
        self.read_secret(purpose, kid, len).await?.ok_or_else(|| {
            KeyStoreError::Missing(format!("sealed secret SECRET#{purpose} / {kid}"))
        })
    }

    /// Deploy time (`pwctl admin keys init`): checks that the secret
    /// `purpose`/`kid` unseals, or generates `len` random bytes, seals and
    /// stores them (first writer wins).
    pub async fn ensure_secret(
        &self,
        purpose: &str,
        kid: &str,
        len: usize,
    ) -> Result<Ensured, KeyStoreError> {
        if self.read_secret(purpose, kid, len).await?.is_some() {
            return Ok(Ensured::Existing);
        }
        let mut secret = Zeroizing::new(vec![0u8; len]);
        aws_lc_rs::rand::fill(&mut secret).map_err(|_| corrupt("random secret"))?;
        let sealed = self
            .sealer
            .seal(&SealContext::new(purpose, kid), &secret)
            .await?;
        let res = self
            .dynamodb
            .put_item()
            .table_name(&self.table)
            .item(PK, s(format!("SECRET#{purpose}")))
            .item(SK, s(kid))
            .item(TYPE, s("SealedSecret"))
            .item("purpose", s(purpose))
            .item("sealedValue", AttributeValue::B(sealed.into()))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await;
        match res {
            Ok(_) => Ok(Ensured::Created),
            // Another run won the race: its secret must unseal.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                self.load_secret(purpose, kid, len).await?;
                Ok(Ensured::Existing)
            }
            Err(e) => Err(unavailable("dynamodb PutItem secret", e).into()),
        }
    }

    /// The session sealer over the data key `kid` (loaded once per cold start).
    pub async fn session_sealer(&self, kid: &str) -> Result<SessionSealer, KeyStoreError> {
        let key = self
            .load_secret(PURPOSE_SESSION_DATA_KEY, kid, DATA_KEY_BYTES)
            .await?;
        Ok(SessionSealer::new(kid, &key)?)
    }

    /// The outbox sealer over the data key `kid` (loaded once per cold start).
    pub async fn outbox_sealer(&self, kid: &str) -> Result<SessionSealer, KeyStoreError> {
        let key = self
            .load_secret(PURPOSE_OUTBOX_DATA_KEY, kid, DATA_KEY_BYTES)
            .await?;
        Ok(SessionSealer::new(kid, &key)?)
    }
}
