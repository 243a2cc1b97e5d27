//! The SCv2 key ring: `KEYRING#scv2` / `KEY#<kid>` items (sealed private
//! key, clear public key) plus the `KEYRING#scv2` / `ACTIVE` pointer.

use super::*;

const KEYRING_PK: &str = "KEYRING#scv2";
const PUBLIC_KEY_ATTR: &str = "publicKey";
const ACTIVE_SK: &str = "ACTIVE";

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

/// One stored key unsealed and checked in full: the PKCS#8 parse runs
/// aws-lc's consistency check (n = pq, d, the CRT values), and the public
/// half kept in clear must be this key's, since the public-key function
/// publishes that copy.
async fn unseal_key(sealer: &KmsSealer, k: StoredKey) -> Result<ServerKey, KeyStoreError> {
    let ctx = SealContext::new(PURPOSE_SCV2_PRIVATE_KEY, &k.info.kid);
    let der = sealer.unseal(&ctx, &k.sealed).await?;
    let key = ServerKey::from_pkcs8(&k.info.kid, &der, k.info.expires_at_ms)?;
    if k.public_spki
        .as_deref()
        .is_some_and(|spki| spki != key.public_spki_der())
    {
        return Err(KeyStoreError::PublicKeyMismatch(k.info.kid));
    }
    Ok(key)
}

impl KmsKeyStore {
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
        // Every accepted key is unsealed at once: after a rotation the ring
        // holds retired keys until their grace ends, and one KMS call after
        // another made the cold start grow by a round trip per key (six keys:
        // 43-61 ms instead of 23 ms, docs/deployment.md). Dropping the set on
        // the first error cancels the rest.
        let mut unsealing = tokio::task::JoinSet::new();
        for (at, k) in keys
            .into_iter()
            .filter(|k| now_ms < k.info.expires_at_ms)
            .enumerate()
        {
            let sealer = self.sealer.clone();
            unsealing
                .spawn(async move { Ok::<_, KeyStoreError>((at, unseal_key(&sealer, k).await?)) });
        }
        let mut ring = Vec::new();
        while let Some(joined) = unsealing.join_next().await {
            ring.push(joined.map_err(|e| {
                Unavailable(anyhow::Error::new(e).context("SCv2 key unsealing task"))
            })??);
        }
        // Oldest first, as stored.
        ring.sort_by_key(|(at, _)| *at);
        let ring: Vec<ServerKey> = ring.into_iter().map(|(_, key)| key).collect();
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
            Err(e) if condition_failed(&e) => Err(KeyStoreError::KidExists(kid.to_owned())),
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
            Err(e) if condition_failed(&e) => {
                Err(corrupt("concurrent key rotation changed the active key").into())
            }
            Err(e) => Err(unavailable("dynamodb PutItem active key", e).into()),
        }
    }
}
