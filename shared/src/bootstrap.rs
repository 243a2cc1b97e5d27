//! Key ring from a PEM file, for embedded use (`local-api`). Deployed
//! functions start through `aws_adapters::bootstrap`.

use anyhow::Context;

use crate::channel::keyring::pkcs8_from_pem;
use crate::channel::{KeyRing, ServerKey};

/// Far-future expiry for a key given as a file (rotation replaces the file).
const FILE_KEY_EXPIRES_MS: u64 = 4_102_444_800_000; // 2100-01-01

/// A one-key ring, named `kid`, from the PKCS#8 PEM private key at `path`.
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
