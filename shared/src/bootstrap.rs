//! Cold-start wiring shared by every function's `main.rs`: config from the
//! environment (fail fast), key ring, adapters, then the Lambda loop.

use anyhow::Context;

use crate::app::App;
use crate::channel::keyring::pkcs8_from_pem;
use crate::channel::{KeyRing, ServerKey};
use crate::config::Config;
use crate::routes::Route;

/// Far-future expiry for a key given as a file (rotation replaces the file).
const FILE_KEY_EXPIRES_MS: u64 = 4_102_444_800_000; // 2100-01-01

/// Loads `SC_PRIVATE_KEY_FILE` (PKCS#8 PEM) with id `SC_KEY_ID` (default `local`).
pub fn key_ring_from_env() -> anyhow::Result<KeyRing> {
    let path = std::env::var("SC_PRIVATE_KEY_FILE")
        .context("configuration variable SC_PRIVATE_KEY_FILE: missing")?;
    let kid = std::env::var("SC_KEY_ID").unwrap_or_else(|_| "local".into());
    key_ring_from_pem_file(&path, &kid)
}

pub fn key_ring_from_pem_file(path: &str, kid: &str) -> anyhow::Result<KeyRing> {
    let pem = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading key file {path}"))?,
    );
    let der =
        pkcs8_from_pem(&pem).with_context(|| format!("{path} holds no PKCS#8 PEM private key"))?;
    Ok(KeyRing::single(ServerKey::from_pkcs8(
        kid,
        &der,
        FILE_KEY_EXPIRES_MS,
    )?))
}

/// Everything a function's `main` does.
pub async fn run_function(route: Route) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let config = Config::from_env()?;
    let keys = key_ring_from_env()?;
    let app = App::embedded(config, keys)?;
    crate::lambda::serve(app, route).await
}
