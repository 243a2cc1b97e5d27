//! The key ring a process serves with, reloaded while it runs.
//!
//! public-key and create-session are separate functions with separate
//! instance pools, each loading the ring at its cold start. After a rotation
//! a fresh public-key instance publishes the new key while a warm
//! create-session instance does not know it yet. So a ring with a
//! [`KeyRingSource`] reloads:
//!
//! - on a key id it does not know ([`ServerKeys::after_unknown`]), before the
//!   request is answered `SC.UNKNOWN_KEY`: at most once per
//!   [`ReloadPolicy::unknown_kid_every_ms`] per instance, so a key id that
//!   never exists cannot make every request reach the store;
//! - when it is older than [`ReloadPolicy::max_age_ms`] ([`ServerKeys::current`]):
//!   a warm public-key instance stops publishing a retired key, and a warm
//!   create-session instance learns a retired key's shortened expiry.
//!
//! One reload at a time per instance (single flight). A failed reload keeps
//! the ring it had; the next attempt waits for the same interval.
//! `docs/deployment.md` (SCv2 key rotation) gives the reasoning.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::keyring::{is_valid_kid, KeyRing};

/// Where a ring is (re)loaded from: the table and KMS in a deployed function.
#[async_trait]
pub trait KeyRingSource: Send + Sync {
    /// The ring as stored now: keys still accepted at `now_ms`.
    async fn load(&self, now_ms: u64) -> anyhow::Result<KeyRing>;
}

/// How often a ring may be reloaded, per instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadPolicy {
    /// Least time between two reloads (for an unknown key id or an old ring).
    pub unknown_kid_every_ms: u64,
    /// A ring older than this is reloaded at the next request.
    pub max_age_ms: u64,
}

impl ReloadPolicy {
    /// Whether a reload may be tried at `now_ms` after the one tried at `last_ms`.
    fn may_try(&self, last_ms: Option<u64>, now_ms: u64) -> bool {
        last_ms.is_none_or(|last| now_ms.saturating_sub(last) >= self.unknown_kid_every_ms)
    }
}

impl Default for ReloadPolicy {
    /// One reload per 30 s at most for unknown key ids; a refresh every 5
    /// minutes (one Query, plus one KMS Decrypt per key where private keys
    /// are held).
    fn default() -> Self {
        ReloadPolicy {
            unknown_kid_every_ms: 30_000,
            max_age_ms: 300_000,
        }
    }
}

struct Loaded {
    ring: Arc<KeyRing>,
    at_ms: u64,
}

struct Reload {
    source: Arc<dyn KeyRingSource>,
    policy: ReloadPolicy,
    /// When the last reload was tried, if one was; held during a reload
    /// (single flight).
    last_try_ms: tokio::sync::Mutex<Option<u64>>,
}

/// The server's SCv2 key ring, swapped whole when reloaded.
pub struct ServerKeys {
    loaded: RwLock<Loaded>,
    reload: Option<Reload>,
    attempts: AtomicU64,
}

impl ServerKeys {
    /// A ring that never changes (local-api, the embedded app, functions
    /// without SCv2 keys).
    pub fn fixed(ring: KeyRing) -> Self {
        ServerKeys {
            loaded: RwLock::new(Loaded {
                ring: Arc::new(ring),
                at_ms: 0,
            }),
            reload: None,
            attempts: AtomicU64::new(0),
        }
    }

    /// `ring`, loaded at `now_ms` from `source`, which reloads it under `policy`.
    pub fn reloading(
        ring: KeyRing,
        now_ms: u64,
        source: Arc<dyn KeyRingSource>,
        policy: ReloadPolicy,
    ) -> Self {
        ServerKeys {
            loaded: RwLock::new(Loaded {
                ring: Arc::new(ring),
                at_ms: now_ms,
            }),
            reload: Some(Reload {
                source,
                policy,
                // The cold start's load does not count: a key rotated just
                // after it is picked up at once.
                last_try_ms: tokio::sync::Mutex::new(None),
            }),
            attempts: AtomicU64::new(0),
        }
    }

    /// The ring as loaded, without any reload.
    pub fn loaded(&self) -> Arc<KeyRing> {
        self.read(|l| l.ring.clone())
    }

    /// The ring to serve at `now_ms`: reloaded first if it is older than the
    /// policy's maximum age and no other request is reloading it.
    pub async fn current(&self, now_ms: u64) -> Arc<KeyRing> {
        let (ring, at_ms) = self.read(|l| (l.ring.clone(), l.at_ms));
        let Some(reload) = &self.reload else {
            return ring;
        };
        if now_ms.saturating_sub(at_ms) < reload.policy.max_age_ms {
            return ring;
        }
        // Someone else is reloading: serve what is loaded meanwhile.
        let Ok(mut last_try) = reload.last_try_ms.try_lock() else {
            return ring;
        };
        if !reload.policy.may_try(*last_try, now_ms) {
            return ring;
        }
        *last_try = Some(now_ms);
        self.load(reload, now_ms).await.unwrap_or(ring)
    }

    /// After `seen` did not know `kid`: a newer ring that may, or `None`
    /// (no source, an invalid key id, a reload too recent, or a failed one).
    /// Waits for a reload under way, then uses its ring.
    pub async fn after_unknown(
        &self,
        seen: &Arc<KeyRing>,
        kid: &str,
        now_ms: u64,
    ) -> Option<Arc<KeyRing>> {
        let reload = self.reload.as_ref()?;
        if !is_valid_kid(kid) {
            return None;
        }
        let mut last_try = reload.last_try_ms.lock().await;
        let current = self.loaded();
        if !Arc::ptr_eq(&current, seen) {
            return Some(current);
        }
        if !reload.policy.may_try(*last_try, now_ms) {
            return None;
        }
        *last_try = Some(now_ms);
        self.load(reload, now_ms).await
    }

    /// How many reloads were tried (each one a read of the store).
    pub fn reload_attempts(&self) -> u64 {
        self.attempts.load(Ordering::Relaxed)
    }

    async fn load(&self, reload: &Reload, now_ms: u64) -> Option<Arc<KeyRing>> {
        self.attempts.fetch_add(1, Ordering::Relaxed);
        match reload.source.load(now_ms).await {
            Ok(ring) => {
                let ring = Arc::new(ring);
                if let Ok(mut loaded) = self.loaded.write() {
                    *loaded = Loaded {
                        ring: ring.clone(),
                        at_ms: now_ms,
                    };
                }
                tracing::info!(active_kid = %ring.active().kid(), "SCv2 key ring reloaded");
                Some(ring)
            }
            Err(err) => {
                // The chain names the call, never a key.
                tracing::warn!(error = %format!("{err:#}"), "SCv2 key ring reload failed: the loaded ring stays");
                None
            }
        }
    }

    fn read<T>(&self, f: impl FnOnce(&Loaded) -> T) -> T {
        // A poisoned lock still holds a whole ring (swaps are single writes).
        match self.loaded.read() {
            Ok(l) => f(&l),
            Err(poisoned) => f(&poisoned.into_inner()),
        }
    }
}

impl std::fmt::Debug for ServerKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKeys")
            .field("ring", &self.loaded())
            .field("reloads", &self.reload.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::channel::ServerKey;

    /// A source serving whatever ring `next` names, counting loads.
    struct Source {
        next: Mutex<Option<&'static str>>,
        loads: AtomicU64,
    }

    #[async_trait]
    impl KeyRingSource for Source {
        async fn load(&self, _now_ms: u64) -> anyhow::Result<KeyRing> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            let kid = self
                .next
                .lock()
                .unwrap()
                .ok_or_else(|| anyhow::anyhow!("store down"))?;
            Ok(ring(kid))
        }
    }

    /// A ring of one published key named `kid` (one RSA key made per run).
    fn ring(kid: &str) -> KeyRing {
        static SPKI: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
        let spki = SPKI.get_or_init(|| {
            let (key, _) = ServerKey::generate("k", u64::MAX).unwrap();
            key.public_spki_der().to_vec()
        });
        KeyRing::single(ServerKey::public_only(kid, spki, u64::MAX).unwrap())
    }

    fn keys(next: Option<&'static str>) -> (Arc<Source>, ServerKeys) {
        let source = Arc::new(Source {
            next: Mutex::new(next),
            loads: AtomicU64::new(0),
        });
        let keys = ServerKeys::reloading(ring("k1"), 0, source.clone(), ReloadPolicy::default());
        (source, keys)
    }

    #[tokio::test]
    async fn an_unknown_kid_reloads_once_per_interval() {
        let (source, keys) = keys(Some("k2"));
        let seen = keys.loaded();
        let newer = keys.after_unknown(&seen, "k2", 1_000).await.unwrap();
        assert_eq!(newer.active().kid(), "k2");
        // A request that saw the old ring gets the new one without a load.
        assert!(Arc::ptr_eq(
            &keys.after_unknown(&seen, "k2", 1_001).await.unwrap(),
            &newer
        ));
        // A key id that never exists: no second load within the interval.
        assert!(keys.after_unknown(&newer, "nope", 1_002).await.is_none());
        assert!(keys.after_unknown(&newer, "nope", 30_999).await.is_none());
        assert_eq!(source.loads.load(Ordering::SeqCst), 1);
        assert!(keys.after_unknown(&newer, "nope", 31_000).await.is_some());
        assert_eq!(source.loads.load(Ordering::SeqCst), 2);
        // Not a key id at all: never a load.
        assert!(keys.after_unknown(&newer, "k/1", 900_000).await.is_none());
        assert_eq!(keys.reload_attempts(), 2);
    }

    #[tokio::test]
    async fn a_failed_reload_keeps_the_ring_and_waits_the_interval() {
        let (source, keys) = keys(None);
        let seen = keys.loaded();
        assert!(keys.after_unknown(&seen, "k2", 30_000).await.is_none());
        assert_eq!(keys.loaded().active().kid(), "k1");
        assert!(keys.after_unknown(&seen, "k2", 40_000).await.is_none());
        assert_eq!(source.loads.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_old_ring_is_refreshed_and_a_fixed_one_never() {
        let (source, keys) = keys(Some("k2"));
        assert_eq!(keys.current(299_999).await.active().kid(), "k1");
        assert_eq!(keys.current(300_000).await.active().kid(), "k2");
        assert_eq!(keys.current(300_001).await.active().kid(), "k2");
        assert_eq!(source.loads.load(Ordering::SeqCst), 1);
        let fixed = ServerKeys::fixed(ring("k1"));
        assert_eq!(fixed.current(u64::MAX).await.active().kid(), "k1");
        let seen = fixed.loaded();
        assert!(fixed.after_unknown(&seen, "k2", u64::MAX).await.is_none());
    }
}
