//! Secrets sealed by a KMS symmetric key, stored in the table: the SCv2
//! key ring in [`keyring`], the other secrets (pepper, data keys) here.

mod keyring;

pub use keyring::KeyInfo;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use shared::channel::keyring::KeyRingError;
use shared::channel::{KeyRing, ServerKey};
use shared::ports::Unavailable;
use zeroize::Zeroizing;

use crate::dynamo::SessionSealer;
use crate::error::{condition_failed, corrupt, unavailable};
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
            Err(e) if condition_failed(&e) => {
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
