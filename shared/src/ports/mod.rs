//! Narrow ports: one trait per backend concern. Handlers reach them through
//! `ctx.app`; each Lambda function's IAM policy grants only the actions of
//! the ports its route uses. Adapters live in `adapters/` (embedded) and in
//! the `aws-adapters` crate.

use async_trait::async_trait;

pub mod accounts;

use crate::channel::SessionKey;

/// A store or backend failed; surfaces as 503 `SYSTEM.UNAVAILABLE`.
#[derive(Debug, thiserror::Error)]
#[error("backend unavailable")]
pub struct Unavailable(#[source] pub anyhow::Error);

/// Result of a port call that may find its backend unavailable.
pub type PortResult<T> = Result<T, Unavailable>;

/// Wall clock in Unix milliseconds; injectable so expiry is testable.
pub trait Clock: Send + Sync {
    /// The current time, Unix ms.
    fn now_ms(&self) -> u64;
}

/// A Secure Channel session: the client's key K, bound to its client hash.
#[derive(Clone)]
pub struct ScSession {
    /// Random session id.
    pub id: String,
    /// The client's session key K.
    pub key: SessionKey,
    /// The `X-Client-Hash` the session is bound to.
    pub client_hash: String,
    /// Creation time, Unix ms.
    pub created_at_ms: u64,
    /// Expiry, Unix ms.
    pub expires_at_ms: u64,
}

impl std::fmt::Debug for ScSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScSession")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// Storage of Secure Channel sessions.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session; ids are random, so a collision is an error.
    async fn create(&self, session: &ScSession) -> PortResult<()>;
    /// The session if it exists and has not expired at `now_ms`
    /// (expiry is checked here, not left to a TTL sweeper).
    async fn get(&self, id: &str, now_ms: u64) -> PortResult<Option<ScSession>>;
}

/// Rejects reused envelope nonces within a session.
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
    /// The request fits the limit.
    Allowed,
    /// The request exceeds the limit.
    Limited {
        /// Seconds until a request would fit again.
        retry_after_secs: u64,
    },
}

/// A limit: at most `max` requests per `window_secs`, enforced as a token
/// bucket (GCRA): a burst of at most `max`, after which requests are let
/// through one per `window_secs / max`, whatever the clock's window edges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Requests allowed per window (also the burst).
    pub max: u32,
    /// Window length, seconds.
    pub window_secs: u64,
}

impl Limit {
    /// Time one request costs, rounded up so the rate never exceeds the limit.
    pub fn period_ms(self) -> u64 {
        (self.window_secs.max(1) * 1000).div_ceil(u64::from(self.max.max(1)))
    }

    /// How far the theoretical arrival time may run ahead of now: `max` periods.
    pub fn burst_ms(self) -> u64 {
        self.period_ms() * u64::from(self.max.max(1))
    }
}

/// GCRA, shared by every limiter adapter. `tat_ms` is the key's theoretical
/// arrival time (0 or any past time for an idle key). Returns the new TAT to
/// store when the request is allowed, else the `Limited` decision, whose
/// `Retry-After` is the time until the next request would fit.
pub fn gcra(limit: Limit, tat_ms: u64, now_ms: u64) -> Result<u64, RateDecision> {
    let next = tat_ms.max(now_ms) + limit.period_ms();
    let allowed_until = now_ms + limit.burst_ms();
    if next <= allowed_until {
        Ok(next)
    } else {
        Err(RateDecision::Limited {
            retry_after_secs: (next - allowed_until).div_ceil(1000).max(1),
        })
    }
}

/// Counts requests against rate limits.
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// Counts one request for `key` in `bucket` (atomically) and says whether it fits;
    /// a refused request costs nothing.
    async fn hit(
        &self,
        bucket: &str,
        key: &str,
        limit: Limit,
        now_ms: u64,
    ) -> PortResult<RateDecision>;
}
