//! Embedded adapters: same contract as the DynamoDB ones (single use, atomic
//! counters, expiry checked in code), held in process memory.

pub mod accounts;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;

use crate::ports::accounts::User;
use crate::ports::{
    gcra, reserve_next, Attempt, Clock, GuessCounter, GuessState, IdentityProvider, Limit, Lockout,
    PortResult, RateDecision, RateLimiter, ReplayGuard, ScSession, SessionStore, Unavailable,
};

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests, benches).
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    /// A clock standing at `now_ms`.
    pub fn new(now_ms: u64) -> Self {
        ManualClock(AtomicU64::new(now_ms))
    }
    /// Moves the clock to `now_ms`.
    pub fn set(&self, now_ms: u64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
    /// Moves the clock forward by `secs` seconds.
    pub fn advance_secs(&self, secs: u64) {
        self.0.fetch_add(secs * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

fn poisoned() -> Unavailable {
    Unavailable(anyhow::anyhow!("in-memory store lock poisoned"))
}

/// Secure Channel sessions in process memory.
#[derive(Default)]
pub struct MemorySessionStore {
    sessions: Mutex<HashMap<String, ScSession>>,
}

#[async_trait]
impl SessionStore for MemorySessionStore {
    async fn create(&self, session: &ScSession) -> PortResult<()> {
        let mut map = self.sessions.lock().map_err(|_| poisoned())?;
        if map.contains_key(&session.id) {
            return Err(Unavailable(anyhow::anyhow!("session id collision")));
        }
        map.insert(session.id.clone(), session.clone());
        Ok(())
    }

    async fn get(&self, id: &str, now_ms: u64) -> PortResult<Option<ScSession>> {
        let mut map = self.sessions.lock().map_err(|_| poisoned())?;
        match map.get(id) {
            Some(s) if now_ms < s.expires_at_ms => Ok(Some(s.clone())),
            Some(_) => {
                map.remove(id);
                Ok(None)
            }
            None => Ok(None),
        }
    }
}

/// Seen (session, nonce) pairs in process memory.
#[derive(Default)]
pub struct MemoryReplayGuard {
    seen: Mutex<HashMap<(String, [u8; 12]), u64>>,
}

#[async_trait]
impl ReplayGuard for MemoryReplayGuard {
    async fn first_use(
        &self,
        session_id: &str,
        nonce: &[u8; 12],
        keep_until_ms: u64,
        now_ms: u64,
    ) -> PortResult<bool> {
        let mut seen = self.seen.lock().map_err(|_| poisoned())?;
        // Sweep expired entries now and then so memory stays bounded.
        if seen.len() > 10_000 {
            seen.retain(|_, until| *until > now_ms);
        }
        let key = (session_id.to_owned(), *nonce);
        match seen.get(&key) {
            Some(until) if *until > now_ms => Ok(false),
            _ => {
                seen.insert(key, keep_until_ms);
                Ok(true)
            }
        }
    }
}

/// One theoretical arrival time per (bucket, key); see [`gcra`].
#[derive(Default)]
pub struct MemoryRateLimiter {
    tats: Mutex<HashMap<(String, String), u64>>,
}

#[async_trait]
impl RateLimiter for MemoryRateLimiter {
    async fn hit(
        &self,
        bucket: &str,
        key: &str,
        limit: Limit,
        now_ms: u64,
    ) -> PortResult<RateDecision> {
        let mut tats = self.tats.lock().map_err(|_| poisoned())?;
        // A TAT in the past is the same as no entry: sweep those now and then.
        if tats.len() > 10_000 {
            tats.retain(|_, tat| *tat > now_ms);
        }
        let tat = tats.entry((bucket.to_owned(), key.to_owned())).or_insert(0);
        match gcra(limit, *tat, now_ms) {
            Ok(next) => {
                *tat = next;
                Ok(RateDecision::Allowed)
            }
            Err(limited) => Ok(limited),
        }
    }

    async fn forget(&self, bucket: &str, key: &str) -> PortResult<()> {
        self.tats
            .lock()
            .map_err(|_| poisoned())?
            .remove(&(bucket.to_owned(), key.to_owned()));
        Ok(())
    }
}

/// One counter per key; see [`reserve_next`].
#[derive(Default)]
pub struct MemoryGuessCounter {
    counters: Mutex<HashMap<String, GuessState>>,
}

#[async_trait]
impl GuessCounter for MemoryGuessCounter {
    async fn reserve(&self, key: &str, lockout: Lockout, now_ms: u64) -> PortResult<Attempt> {
        let mut counters = self.counters.lock().map_err(|_| poisoned())?;
        if counters.len() > 10_000 {
            counters.retain(|_, c| c.expires_at_ms > now_ms);
        }
        match reserve_next(counters.get(key).copied(), lockout, now_ms) {
            Ok(next) => {
                counters.insert(key.to_owned(), next);
                Ok(Attempt::Allowed {
                    failures: next.failures,
                })
            }
            Err(locked) => Ok(locked),
        }
    }

    async fn clear(&self, key: &str) -> PortResult<()> {
        self.counters.lock().map_err(|_| poisoned())?.remove(key);
        Ok(())
    }
}

/// An identity provider that records who it was told of, and can be made to
/// fail (tests of the paths that set a password).
#[derive(Default)]
pub struct RecordingIdentityProvider {
    told: Mutex<Vec<String>>,
    failing: std::sync::atomic::AtomicBool,
}

impl RecordingIdentityProvider {
    /// The `biz_id`s told of a password set, in order.
    pub fn told(&self) -> Vec<String> {
        self.told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// From now on every call fails (`true`) or succeeds.
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }
}

#[async_trait]
impl IdentityProvider for RecordingIdentityProvider {
    async fn password_set(&self, user: &User) -> PortResult<()> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(Unavailable(anyhow::anyhow!(
                "identity provider unavailable"
            )));
        }
        self.told
            .lock()
            .map_err(|_| poisoned())?
            .push(user.biz_id.clone());
        Ok(())
    }
}
