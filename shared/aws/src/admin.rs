//! SCv2 key administration against the configured table and KMS key
//! (`TABLE_NAME`, `KMS_KEY_ID`, `AWS_*` from the environment), for `pwctl admin keys`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::{AwsClients, AwsConfig, KmsKeyStore};

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

/// Unseals the key ring as a cold start would.
pub async fn check_keys() -> anyhow::Result<String> {
    let ring = store().await?.load_key_ring(now_ms()).await?;
    Ok(format!(
        "{} key(s), active {}",
        ring.keys().len(),
        ring.active().kid()
    ))
}
