//! The application state every handler receives, built once per process.

use std::sync::Arc;

use crate::adapters::memory::{
    MemoryRateLimiter, MemoryReplayGuard, MemorySessionStore, SystemClock,
};
use crate::channel::KeyRing;
use crate::config::Config;
use crate::ports::{Clock, RateLimiter, ReplayGuard, SessionStore};

#[derive(Clone)]
pub struct App {
    pub config: Arc<Config>,
    pub clock: Arc<dyn Clock>,
    pub keys: Arc<KeyRing>,
    pub sessions: Arc<dyn SessionStore>,
    pub replay: Arc<dyn ReplayGuard>,
    pub limiter: Arc<dyn RateLimiter>,
}

impl App {
    /// Embedded adapters in process memory: the local default.
    pub fn embedded(config: Config, keys: KeyRing) -> App {
        Self::embedded_with_clock(config, keys, Arc::new(SystemClock))
    }

    pub fn embedded_with_clock(config: Config, keys: KeyRing, clock: Arc<dyn Clock>) -> App {
        App {
            config: Arc::new(config),
            clock,
            keys: Arc::new(keys),
            sessions: Arc::new(MemorySessionStore::default()),
            replay: Arc::new(MemoryReplayGuard::default()),
            limiter: Arc::new(MemoryRateLimiter::default()),
        }
    }
}
