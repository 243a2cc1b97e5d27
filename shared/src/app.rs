//! The application state every handler receives, built once per process.

use std::sync::Arc;

use anyhow::Context;
use password::breach::RangeSource;
use password::{PasswordService, PepperRing};

use crate::adapters::memory::accounts::{MemoryAccountStore, MemoryMailer};
use crate::adapters::memory::{
    MemoryGuessCounter, MemoryRateLimiter, MemoryReplayGuard, MemorySessionStore, SystemClock,
};
use crate::adapters::range_http::HttpRangeSource;
use crate::auth::JwtVerifier;
use crate::channel::{KeyRing, ServerKeys};
use crate::config::Config;
use crate::ports::accounts::{AccountStore, Mailer};
use crate::ports::{
    Clock, GuessCounter, IdentityProvider, NoIdentityProvider, RateLimiter, ReplayGuard,
    SessionStore,
};

/// Configuration and every adapter a handler uses, shared behind `Arc`s.
#[derive(Clone)]
pub struct App {
    /// Settings read at start.
    pub config: Arc<Config>,
    /// Source of the current time.
    pub clock: Arc<dyn Clock>,
    /// The server's SCv2 RSA keys (reloaded while running where deployed).
    pub keys: Arc<ServerKeys>,
    /// Secure Channel sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Records of used envelope nonces.
    pub replay: Arc<dyn ReplayGuard>,
    /// Rate-limit buckets.
    pub limiter: Arc<dyn RateLimiter>,
    /// Consecutive failed password checks: the guessing cap.
    pub guesses: Arc<dyn GuessCounter>,
    /// Users, links, forgot requests and the outbox.
    pub accounts: Arc<dyn AccountStore>,
    /// Delivers rendered emails.
    pub mailer: Arc<dyn Mailer>,
    /// The identity provider told of every password set (Cognito), if any.
    pub idp: Arc<dyn IdentityProvider>,
    /// Password policy checks and hashing.
    pub passwords: Arc<PasswordService>,
    /// Access-token verification.
    pub jwt: Arc<JwtVerifier>,
}

/// The parts of [`App`] that come from configuration rather than adapters.
/// With `breached.rangeUrl` set, its HTTP client is built here, once per
/// process, so local-api and every Lambda function ask the range service
/// alike (and a warm instance reuses the connection and the cache).
pub fn password_service(config: &Config, peppers: PepperRing) -> anyhow::Result<PasswordService> {
    let breached = &config.password.breached;
    let range = match &breached.range_url {
        Some(url) if breached.enabled => Some(Arc::new(
            HttpRangeSource::new(url).context("configuration variable PASSWORD_CONFIG")?,
        ) as Arc<dyn RangeSource>),
        _ => None,
    };
    PasswordService::with_range_source(config.password.clone(), peppers, range)
        .context("configuration variable PASSWORD_CONFIG")
}

/// The access-token verifier for the `JWT_*` settings of `config`.
pub fn jwt_verifier(config: &Config) -> anyhow::Result<JwtVerifier> {
    let jwks = config.jwt.jwks_json.as_deref().unwrap_or(r#"{"keys":[]}"#);
    jwt_verifier_with(config, jwks)
}

/// The access-token verifier for `config` over the JWKS `jwks_json` (the
/// AWS bootstrap passes `JWT_JWKS` merged with what `JWT_JWKS_URL` served).
pub fn jwt_verifier_with(config: &Config, jwks_json: &str) -> anyhow::Result<JwtVerifier> {
    let secret = config
        .jwt
        .hs256_secret
        .as_ref()
        .map(|s| zeroize::Zeroizing::new(s.as_bytes().to_vec()));
    let verifier = JwtVerifier::new(
        jwks_json,
        config.jwt.issuer.clone(),
        config.jwt.audience.clone(),
        secret,
    )
    .context("configuration variable JWT_JWKS")?;
    Ok(match &config.jwt.subject_claim {
        Some(claim) => verifier.with_subject_claim(claim),
        None => verifier,
    })
}

impl App {
    /// Embedded adapters in process memory: the local default.
    pub fn embedded(config: Config, keys: KeyRing) -> anyhow::Result<App> {
        Self::embedded_with_clock(config, keys, Arc::new(SystemClock))
    }

    /// As [`App::embedded`], with the given clock (so tests can move time).
    pub fn embedded_with_clock(
        config: Config,
        keys: KeyRing,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<App> {
        Ok(App {
            passwords: Arc::new(password_service(&config, PepperRing::none())?),
            jwt: Arc::new(jwt_verifier(&config)?),
            config: Arc::new(config),
            clock,
            keys: Arc::new(ServerKeys::fixed(keys)),
            sessions: Arc::new(MemorySessionStore::default()),
            replay: Arc::new(MemoryReplayGuard::default()),
            limiter: Arc::new(MemoryRateLimiter::default()),
            guesses: Arc::new(MemoryGuessCounter::default()),
            accounts: Arc::new(MemoryAccountStore::default()),
            mailer: Arc::new(MemoryMailer::default()),
            idp: Arc::new(NoIdentityProvider),
        })
    }
}
