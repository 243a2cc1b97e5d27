//! Server-side pepper (Argon2 `secret`), identified so it can be rotated.

use std::collections::HashMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::config::ConfigError;

/// Smallest accepted pepper, in bytes.
pub const MIN_PEPPER_BYTES: usize = 16;

/// Identifier of one pepper, stored beside each PHC string.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PepperId(String);

impl PepperId {
    /// Wraps an identifier as stored beside a hash.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    /// The identifier as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PepperId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The peppers known to this process: the active one (used for new hashes)
/// and older ones kept so hashes made before a rotation still verify.
/// Unsealing (KMS) happens elsewhere; this takes plain bytes.
#[derive(Clone, Default)]
pub struct PepperRing {
    active: Option<PepperId>,
    secrets: HashMap<PepperId, Zeroizing<Vec<u8>>>,
}

impl PepperRing {
    /// No pepper at all: hashes are plain Argon2id.
    pub fn none() -> Self {
        Self::default()
    }

    /// The active id, if any, must be present in `secrets`; every secret must
    /// be at least [`MIN_PEPPER_BYTES`] long.
    pub fn new(
        active: Option<PepperId>,
        secrets: HashMap<PepperId, Zeroizing<Vec<u8>>>,
    ) -> Result<Self, ConfigError> {
        if let Some(id) = &active {
            if !secrets.contains_key(id) {
                return Err(ConfigError::Pepper("active pepper id has no secret"));
            }
        }
        if secrets.values().any(|s| s.len() < MIN_PEPPER_BYTES) {
            return Err(ConfigError::Pepper("pepper shorter than 16 bytes"));
        }
        if secrets.values().any(|s| s.len() > argon2::MAX_SECRET_LEN) {
            return Err(ConfigError::Pepper("pepper too long"));
        }
        Ok(Self { active, secrets })
    }

    /// The pepper new hashes are made with, if any.
    pub fn active(&self) -> Option<&PepperId> {
        self.active.as_ref()
    }

    pub(crate) fn secret(&self, id: &PepperId) -> Option<&[u8]> {
        self.secrets.get(id).map(|s| s.as_slice())
    }
}

impl fmt::Debug for PepperRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<&str> = self.secrets.keys().map(PepperId::as_str).collect();
        ids.sort_unstable();
        f.debug_struct("PepperRing")
            .field("active", &self.active)
            .field("ids", &ids)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_ring() {
        let mut m = HashMap::new();
        m.insert(PepperId::new("k1"), Zeroizing::new(vec![7u8; 32]));
        assert!(PepperRing::new(Some(PepperId::new("k2")), m.clone()).is_err());
        let ring = PepperRing::new(Some(PepperId::new("k1")), m).unwrap();
        let dbg = format!("{ring:?}");
        assert!(dbg.contains("k1") && !dbg.contains("7, 7"), "{dbg}");
        let mut short = HashMap::new();
        short.insert(PepperId::new("s"), Zeroizing::new(vec![1u8; 8]));
        assert!(PepperRing::new(None, short).is_err());
    }
}
