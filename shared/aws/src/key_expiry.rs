//! The days left on the active SCv2 key: after its expiry, cold starts that
//! load the ring fail and no session can be made. sweep-mail publishes them
//! each run (`ScKeyDaysLeft`, alarmed below 14 days in the template) and
//! `pwctl admin keys check` prints them. Read from the key ring's clear
//! attributes: nothing is unsealed.

use shared::observe::metrics::key_expiry_emf;
use shared::ports::Unavailable;

use crate::KmsKeyStore;

const DAY_MS: u64 = 86_400_000;

/// The active key and what is left of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyExpiry {
    /// The active key, if the ring names one that is stored.
    pub kid: Option<String>,
    /// Its end of acceptance (Unix ms).
    pub expires_at_ms: Option<u64>,
    /// Whole days to it, 0 once passed or without an active key.
    pub days_left: u64,
}

/// Whole days from `now_ms` to `expires_at_ms`, rounded down; 0 once passed.
pub fn days_between(now_ms: u64, expires_at_ms: u64) -> u64 {
    expires_at_ms.saturating_sub(now_ms) / DAY_MS
}

/// The active key's expiry, from one Query of the ring (no KMS call).
pub async fn active_key_expiry(store: &KmsKeyStore, now_ms: u64) -> Result<KeyExpiry, Unavailable> {
    let keys = store
        .list()
        .await
        .map_err(|e| Unavailable(anyhow::Error::new(e)))?;
    Ok(match keys.into_iter().find(|k| k.active) {
        Some(k) => KeyExpiry {
            days_left: days_between(now_ms, k.expires_at_ms),
            expires_at_ms: Some(k.expires_at_ms),
            kid: Some(k.kid),
        },
        None => KeyExpiry {
            kid: None,
            expires_at_ms: None,
            days_left: 0,
        },
    })
}

/// Publishes `ScKeyDaysLeft` (sweep-mail, each run). A ring that cannot be
/// read publishes nothing, and the alarm counts the missing day as breaching.
pub async fn publish(store: &KmsKeyStore, now_ms: u64) -> Option<KeyExpiry> {
    match active_key_expiry(store, now_ms).await {
        Ok(expiry) => {
            shared::observe::emit(&key_expiry_emf(
                shared::observe::namespace(),
                now_ms,
                expiry.days_left,
            ));
            Some(expiry)
        }
        Err(e) => {
            tracing::warn!(
                error = format!("{:#}", e.0),
                "the SCv2 key ring could not be read for its expiry"
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_days_rounded_down_and_zero_once_passed() {
        let now = 1_800_000_000_000;
        assert_eq!(days_between(now, now + 14 * DAY_MS), 14);
        assert_eq!(days_between(now, now + 14 * DAY_MS - 1), 13);
        assert_eq!(days_between(now, now + DAY_MS - 1), 0);
        assert_eq!(days_between(now, now), 0);
        assert_eq!(days_between(now, now - DAY_MS), 0);
    }

    #[test]
    fn the_document_is_the_one_the_alarm_watches() {
        let doc = key_expiry_emf("PasswordApi", 1_800_000_000_000, 13);
        assert_eq!(doc["ScKeyDaysLeft"], 13);
        assert_eq!(doc["Function"], "sweep-mail");
        let m = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(m["Namespace"], "PasswordApi");
        assert_eq!(m["Dimensions"], serde_json::json!([["Function"]]));
        assert_eq!(m["Metrics"][0]["Name"], "ScKeyDaysLeft");
    }
}
