//! One-time secrets sent by email (init links, reset tokens) and the one
//! form in which they are stored.

use aws_lc_rs::digest::{digest, SHA256};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use zeroize::Zeroizing;

use crate::channel::random_bytes;

/// SHA-256 (hex) of a reset token: the only form in which tokens are stored.
pub fn token_sha256(token: &str) -> String {
    digest(&SHA256, token.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A fresh 256-bit token, base64url.
pub fn new_token() -> Zeroizing<String> {
    Zeroizing::new(URL_SAFE_NO_PAD.encode(random_bytes::<32>()))
}
