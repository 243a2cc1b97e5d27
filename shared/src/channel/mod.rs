//! Secure Channel v2: envelope wire format, key ring, session keys. Pure
//! crypto without I/O; the server-side request checks are in
//! [`crate::secure_request`].

pub mod keyring;
pub mod live;
pub mod wire;

pub use keyring::{KeyExchangeError, KeyRing, ServerKey};
pub use live::{KeyRingSource, ReloadPolicy, ServerKeys};
pub use wire::{EnvelopeType, Header, SessionKey, WireError};

/// Where a secure body came from: the response is sent back in the same form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyForm {
    /// `application/octet-stream`, the raw envelope bytes.
    Raw,
    /// Any other content type: standard base64 (padded) of the envelope.
    Base64,
}

/// Fills `buf` with cryptographically secure random bytes.
pub fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The system RNG failing is unrecoverable for a crypto service.
    aws_lc_rs::rand::fill(&mut buf).expect("system random number generator failed");
    buf
}
