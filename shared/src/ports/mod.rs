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
    /// Drops the bucket of `key` (an erased user's keys): it is full again.
    async fn forget(&self, bucket: &str, key: &str) -> PortResult<()>;
}

/// The guessing cap: how many consecutive failed password checks an account
/// takes before each further one locks it, and the longest lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lockout {
    /// Consecutive failures allowed before the first lock.
    pub threshold: u32,
    /// The longest lock, seconds.
    pub max_lock_secs: u64,
}

impl Lockout {
    /// The lock that the `failures`-th consecutive failure brings, ms:
    /// none below the threshold, then min(2^(failures − threshold) s, max).
    pub fn lock_ms(self, failures: u32) -> Option<u64> {
        let over = failures.checked_sub(self.threshold)?;
        let secs = 1u64.checked_shl(over).unwrap_or(u64::MAX);
        Some(secs.min(self.max_lock_secs).saturating_mul(1000))
    }
}

/// The answer to one reserved attempt at a password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    /// The password may be checked. `failures` counts this attempt (it is
    /// counted as failed until [`GuessCounter::clear`] says otherwise).
    Allowed {
        /// Consecutive failures including this attempt.
        failures: u32,
    },
    /// The account is locked: no password is checked until `until_ms`.
    Locked {
        /// When the lock ends, Unix ms.
        until_ms: u64,
    },
}

impl Attempt {
    /// Whether this attempt is the one that locked the account first in its
    /// episode (the owner is told once).
    pub fn first_lock(self, lockout: Lockout) -> bool {
        matches!(self, Attempt::Allowed { failures } if failures == lockout.threshold)
    }
}

/// How long a counter nobody touches is kept before it starts over.
pub const GUESS_COUNTER_TTL_MS: u64 = 24 * 3600 * 1000;

/// A stored guess counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuessState {
    /// Consecutive failures counted.
    pub failures: u32,
    /// The lock's end, Unix ms (0: never locked).
    pub locked_until_ms: u64,
    /// When the counter starts over, Unix ms.
    pub expires_at_ms: u64,
}

/// The reservation rule, shared by every adapter: the state to store for one
/// more attempt, or the lock that refuses it. An expired counter is none.
pub fn reserve_next(
    stored: Option<GuessState>,
    lockout: Lockout,
    now_ms: u64,
) -> Result<GuessState, Attempt> {
    let current = stored
        .filter(|s| s.expires_at_ms > now_ms)
        .unwrap_or_default();
    if current.locked_until_ms > now_ms {
        return Err(Attempt::Locked {
            until_ms: current.locked_until_ms,
        });
    }
    let failures = current.failures.saturating_add(1);
    let locked_until_ms = lockout
        .lock_ms(failures)
        .map_or(current.locked_until_ms, |lock| now_ms + lock);
    Ok(GuessState {
        failures,
        locked_until_ms,
        expires_at_ms: locked_until_ms.max(now_ms) + GUESS_COUNTER_TTL_MS,
    })
}

/// Consecutive failed password checks per account (or per unknown address).
///
/// An attempt is counted as failed *before* the password is checked, and
/// the attempt that reaches the threshold locks the account in the same
/// atomic write: however many guesses arrive at once, at most `threshold`
/// are checked before the lock, then one per lock period.
#[async_trait]
pub trait GuessCounter: Send + Sync {
    /// Counts one attempt for `key` unless it is locked at `now_ms`.
    async fn reserve(&self, key: &str, lockout: Lockout, now_ms: u64) -> PortResult<Attempt>;
    /// The password was right: the count and any lock start over.
    async fn clear(&self, key: &str) -> PortResult<()>;
}

/// The identity provider that signs users in with the passwords kept here,
/// where this deployment runs one (Cognito). Told before a password is set.
#[async_trait]
pub trait IdentityProvider: Send + Sync {
    /// A password of `user` is about to be set: every session the user holds
    /// there ends (refresh tokens revoked), and the user is made known there
    /// if it was not (so that it can sign in). Idempotent.
    async fn password_set(&self, user: &accounts::User) -> PortResult<()>;
}

/// No identity provider is run by this deployment: nothing to tell.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoIdentityProvider;

#[async_trait]
impl IdentityProvider for NoIdentityProvider {
    async fn password_set(&self, _user: &accounts::User) -> PortResult<()> {
        Ok(())
    }
}
