//! Key administration against the configured table and KMS key
//! (`TABLE_NAME`, `KMS_KEY_ID`, `AWS_*` from the environment), for `pwctl
//! admin keys`: the only place that seals a key. Functions only unseal.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{
    AwsClients, AwsConfig, Ensured, KeyStoreError, KmsKeyStore, DATA_KEY_BYTES, PEPPER_BYTES,
    PURPOSE_OUTBOX_DATA_KEY, PURPOSE_PASSWORD_PEPPER, PURPOSE_SESSION_DATA_KEY,
};

/// The first SCv2 key `init` creates when the table has no usable one.
#[derive(Debug, Clone)]
pub struct FirstKey {
    pub kid: String,
    pub lifetime: Duration,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

async fn store() -> anyhow::Result<KmsKeyStore> {
    let cfg = AwsConfig::from_env()?;
    let clients = AwsClients::from_env(&cfg).await;
    Ok(KmsKeyStore::from_clients(&clients, &cfg))
}

/// One line per key: kid, creation, expiry (RFC 3339), and the active marker.
pub async fn list_keys() -> anyhow::Result<Vec<String>> {
    let keys = store().await?.list().await?;
    Ok(keys
        .into_iter()
        .map(|k| {
            format!(
                "{}\tcreated {}\texpires {}{}",
                k.kid,
                shared::time_fmt::rfc3339(k.created_at_ms),
                shared::time_fmt::rfc3339(k.expires_at_ms),
                if k.active { "\tactive" } else { "" }
            )
        })
        .collect())
}

/// Generates a new RSA-3072 key, seals and stores it, makes it active; the
/// previous key stays accepted for `grace`.
pub async fn rotate_key(kid: &str, lifetime: Duration, grace: Duration) -> anyhow::Result<String> {
    let info = store()
        .await?
        .rotate(kid, lifetime, grace, now_ms())
        .await?;
    Ok(format!(
        "{} active until {}",
        info.kid,
        shared::time_fmt::rfc3339(info.expires_at_ms)
    ))
}

/// Deploy time, idempotent: creates the data keys (session, outbox) and the
/// pepper (if `PASSWORD_PEPPER_ID` is set) that are missing, stores the
/// public key beside every SCv2 key that lacks it, and creates `first` as
/// the active SCv2 key if none is usable. One line per step.
pub async fn init_keys(first: Option<FirstKey>) -> anyhow::Result<Vec<String>> {
    let cfg = AwsConfig::from_env()?;
    let clients = AwsClients::from_env(&cfg).await;
    let store = KmsKeyStore::from_clients(&clients, &cfg);
    init_keys_with(&store, &cfg, first, now_ms()).await
}

/// [`init_keys`] over a given store and settings (tests, emulator stacks).
pub async fn init_keys_with(
    store: &KmsKeyStore,
    cfg: &AwsConfig,
    first: Option<FirstKey>,
    now_ms: u64,
) -> anyhow::Result<Vec<String>> {
    let mut secrets = vec![
        (
            PURPOSE_SESSION_DATA_KEY,
            cfg.session_data_key_id.as_str(),
            DATA_KEY_BYTES,
        ),
        (
            PURPOSE_OUTBOX_DATA_KEY,
            cfg.outbox_data_key_id.as_str(),
            DATA_KEY_BYTES,
        ),
    ];
    if let Some(pepper) = cfg.pepper_id.as_deref() {
        secrets.push((PURPOSE_PASSWORD_PEPPER, pepper, PEPPER_BYTES));
    }
    let mut lines = Vec::new();
    for (purpose, kid, len) in secrets {
        let done = match store.ensure_secret(purpose, kid, len).await? {
            Ensured::Created => "created",
            Ensured::Existing => "present",
        };
        lines.push(format!("{purpose} {kid}: {done}"));
    }
    for kid in store.backfill_public_keys().await? {
        lines.push(format!("scv2 key {kid}: public key stored"));
    }
    match store.load_public_ring(now_ms).await {
        Ok(ring) => lines.push(format!("scv2 key {}: active", ring.active().kid())),
        Err(KeyStoreError::NoActiveKey) => match first {
            Some(first) => {
                let info = store
                    .rotate(&first.kid, first.lifetime, Duration::ZERO, now_ms)
                    .await?;
                lines.push(format!(
                    "scv2 key {}: created, active until {}",
                    info.kid,
                    shared::time_fmt::rfc3339(info.expires_at_ms)
                ));
            }
            None => anyhow::bail!(
                "no active, unexpired SCv2 key: rerun with --kid <kid> to create the first one"
            ),
        },
        Err(e) => return Err(e.into()),
    }
    Ok(lines)
}

/// Unseals the key ring as a cold start would.
pub async fn check_keys() -> anyhow::Result<String> {
    let store = store().await?;
    let now = now_ms();
    let ring = store.load_key_ring(now).await?;
    let expiry = crate::key_expiry::active_key_expiry(&store, now).await?;
    let mut line = format!(
        "{} key(s), active {}, expires {} ({} days left)",
        ring.keys().len(),
        ring.active().kid(),
        expiry
            .expires_at_ms
            .map_or_else(|| "?".to_owned(), shared::time_fmt::rfc3339),
        expiry.days_left
    );
    // The ScKeyDaysLeft alarm's threshold.
    if expiry.days_left < 14 {
        line.push_str("; rotate it now (docs/operations.md#scv2-key-expiry)");
    }
    Ok(line)
}

/// What [`bootstrap_stack`] sets up besides the table settings of the
/// environment (`TABLE_NAME`, `SES_FROM_ADDRESS`, the data key ids).
#[derive(Debug, Clone)]
pub struct StackSpec {
    /// The KMS alias of the sealing key, created with its key if missing.
    pub kms_alias: String,
    /// Lifetime of the first SCv2 key, if one is created.
    pub key_lifetime: Duration,
}

/// Idempotent bootstrap of a stack without CloudFormation (the local
/// emulator): the table ([`crate::table::ensure_table`]), the KMS key behind
/// `spec.kms_alias`, the SES sender identity, then [`init_keys_with`] with a
/// first SCv2 key `k-local-<epoch seconds>`. Returns the KMS key id and one
/// line per step.
pub async fn bootstrap_stack(spec: &StackSpec) -> anyhow::Result<(String, Vec<String>)> {
    let mut cfg = AwsConfig::from_lookup(|k| match k {
        "KMS_KEY_ID" => Some(spec.kms_alias.clone()),
        _ => std::env::var(k).ok(),
    })?;
    let clients = AwsClients::from_env(&cfg).await;
    crate::table::ensure_table(&clients.dynamodb, &cfg.table_name).await?;
    let mut lines = vec![format!("table {}: ready", cfg.table_name)];
    let key_id = ensure_kms_key(&clients.kms, &spec.kms_alias).await?;
    lines.push(format!("kms {} ({key_id}): ready", spec.kms_alias));
    ensure_sender(&clients.ses, &cfg.ses_from_address).await?;
    lines.push(format!("ses {}: verified", cfg.ses_from_address));
    cfg.kms_key_id.clone_from(&key_id);
    let store = KmsKeyStore::from_clients(&clients, &cfg);
    let now = now_ms();
    let first = FirstKey {
        kid: format!("k-local-{}", now / 1000),
        lifetime: spec.key_lifetime,
    };
    lines.extend(init_keys_with(&store, &cfg, Some(first), now).await?);
    Ok((key_id, lines))
}

/// The id of the symmetric key behind `alias`, created (key and alias) if missing.
async fn ensure_kms_key(kms: &aws_sdk_kms::Client, alias: &str) -> anyhow::Result<String> {
    use aws_sdk_kms::types::{KeySpec, KeyUsageType};
    let mut pages = kms.list_aliases().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| crate::unavailable("kms ListAliases", e))?;
        let target = page
            .aliases()
            .iter()
            .find(|a| a.alias_name() == Some(alias))
            .and_then(|a| a.target_key_id());
        if let Some(id) = target {
            return Ok(id.to_owned());
        }
    }
    let created = kms
        .create_key()
        .description("password-api local sealing key")
        .key_spec(KeySpec::SymmetricDefault)
        .key_usage(KeyUsageType::EncryptDecrypt)
        .send()
        .await
        .map_err(|e| crate::unavailable("kms CreateKey", e))?;
    let id = created
        .key_metadata()
        .map(|m| m.key_id().to_owned())
        .ok_or_else(|| anyhow::anyhow!("kms CreateKey returned no key id"))?;
    kms.create_alias()
        .alias_name(alias)
        .target_key_id(&id)
        .send()
        .await
        .map_err(|e| crate::unavailable("kms CreateAlias", e))?;
    Ok(id)
}

/// Registers the sender address as an SES identity (kept if it exists).
async fn ensure_sender(ses: &aws_sdk_sesv2::Client, sender: &str) -> anyhow::Result<()> {
    match ses
        .create_email_identity()
        .email_identity(sender)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e)
            if e.as_service_error()
                .is_some_and(|e| e.is_already_exists_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(crate::unavailable("ses CreateEmailIdentity", e).into()),
    }
}
