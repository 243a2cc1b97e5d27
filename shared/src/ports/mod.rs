//! Narrow ports: each function gets only the traits it uses, so its IAM
//! policy can grant only the matching actions. Adapters live in `adapters/`.

use async_trait::async_trait;

pub mod accounts;

use crate::channel::SessionKey;

/// A store or backend failed; surfaces as 503 `SYSTEM.UNAVAILABLE`.
#[derive(Debug, thiserror::Error)]
#[error("backend unavailable")]
pub struct Unavailable(#[source] pub anyhow::Error);

pub type PortResult<T> = Result<T, Unavailable>;

/// Wall clock in Unix milliseconds; injectable so expiry is testable.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// A Secure Channel session: the client's key K, bound to its client hash.
#[derive(Clone)]
pub struct ScSession {
    pub id: String,
    pub key: SessionKey,
    pub client_hash: String,
    pub created_at_ms: u64,
    pub expires_at_ms: u64,
}

impl std::fmt::Debug for ScSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScSession")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session; ids are random, so a collision is an error.
    async fn create(&self, session: &ScSession) -> PortResult<()>;
    /// The session if it exists and has not expired at `now_ms`
    /// (expiry is checked here, not left to a TTL sweeper).
    async fn get(&self, id: &str, now_ms: u64) -> PortResult<Option<ScSession>>;
}

#[async_trait]
pub trait ReplayGuard: Send + Sync {
    /// Atomically records (session, nonce); false if it was already recorded
    /// and has not expired. The record is kept until `keep_until_ms`.
    async fn first_use(
        &self,
        session_id: &str,
        nonce: &[u8; 12],
        keep_until_ms: u64,
        now_ms: u64,
    ) -> PortResult<bool>;
}

/// Outcome of counting one request against a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    Allowed,
    Limited { retry_after_secs: u64 },
}

/// A limit: at most `max` requests per `window_secs` fixed window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub max: u32,
    pub window_secs: u64,
}

#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request for `key` in `bucket` (atomically) and says whether it fits.
    async fn hit(
        &self,
        bucket: &str,
        key: &str,
        limit: Limit,
        now_ms: u64,
    ) -> PortResult<RateDecision>;
}

/// Fixed-window arithmetic shared by every limiter adapter.
pub fn window_of(limit: Limit, now_ms: u64) -> (u64, u64) {
    let window_ms = limit.window_secs.max(1) * 1000;
    let start = now_ms - now_ms % window_ms;
    let end = start + window_ms;
    (start, end)
}

/// Decision for the `count`-th request in the window ending at `end_ms`.
pub fn decide(limit: Limit, count: u64, end_ms: u64, now_ms: u64) -> RateDecision {
    if count <= u64::from(limit.max) {
        RateDecision::Allowed
    } else {
        RateDecision::Limited {
            retry_after_secs: end_ms.saturating_sub(now_ms).div_ceil(1000).max(1),
        }
    }
}
