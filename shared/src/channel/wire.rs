//! Envelope layout (all integers big-endian):
//!
//! | offset | size | field |
//! |---|---|---|
//! | 0 | 1 | version `0x02` |
//! | 1 | 1 | type: 1 request, 2 response, 3 key confirmation |
//! | 2 | 8 | timestamp, Unix ms (u64) |
//! | 10 | 12 | nonce |
//! | 22 | n >= 16 | AES-256-GCM ciphertext with its 16-byte tag |
//!
//! `AAD = envelope[0..22] || context`; the context binds the envelope to its
//! session, and to the route (requests) or the request nonce (responses).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use zeroize::Zeroizing;

/// The envelope version byte.
pub const VERSION: u8 = 0x02;
/// Length of the header: version, type, timestamp and nonce.
pub const HEADER_LEN: usize = 22;
/// Length of the AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM tag.
pub const TAG_LEN: usize = 16;
/// Length of the AES-256 session key.
pub const KEY_LEN: usize = 32;
/// Shortest envelope: a header and a tag around an empty plaintext.
pub const MIN_ENVELOPE_LEN: usize = HEADER_LEN + TAG_LEN;
/// Longest envelope accepted.
pub const MAX_ENVELOPE_LEN: usize = 65_536;

/// The type byte of an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum EnvelopeType {
    /// Client to server.
    Request = 0x01,
    /// Server to client, answering a request.
    Response = 0x02,
    /// Server to client, confirming a new session's key.
    KeyConfirmation = 0x03,
}

/// Why an envelope was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Wrong length, version or type: `SC.MALFORMED`.
    #[error("malformed envelope")]
    Malformed,
    /// Authentication failed, whatever the cause: `SC.DECRYPT_FAILED`.
    #[error("envelope could not be opened")]
    DecryptFailed,
}

/// The plaintext header of an envelope, also part of its AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The envelope's type.
    pub kind: EnvelopeType,
    /// When the envelope was sealed, Unix ms.
    pub timestamp_ms: u64,
    /// The AES-GCM nonce.
    pub nonce: [u8; NONCE_LEN],
}

impl Header {
    /// The 22 header bytes as sent.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = VERSION;
        out[1] = self.kind as u8;
        out[2..10].copy_from_slice(&self.timestamp_ms.to_be_bytes());
        out[10..22].copy_from_slice(&self.nonce);
        out
    }

    /// Checks length, version and that the type is the one expected, before any crypto.
    pub fn parse(envelope: &[u8], expected: EnvelopeType) -> Result<Header, WireError> {
        if envelope.len() < MIN_ENVELOPE_LEN || envelope.len() > MAX_ENVELOPE_LEN {
            return Err(WireError::Malformed);
        }
        if envelope[0] != VERSION || envelope[1] != expected as u8 {
            return Err(WireError::Malformed);
        }
        let mut ts = [0u8; 8];
        ts.copy_from_slice(&envelope[2..10]);
        let mut nonce = [0u8; NONCE_LEN];
        nonce.copy_from_slice(&envelope[10..22]);
        Ok(Header {
            kind: expected,
            timestamp_ms: u64::from_be_bytes(ts),
            nonce,
        })
    }
}

/// The AES-256 session key K, kept ready for AES-GCM and wiped on drop.
pub struct SessionKey {
    bytes: Zeroizing<[u8; KEY_LEN]>,
    aead: LessSafeKey,
}

impl SessionKey {
    /// A key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> SessionKey {
        let bytes = Zeroizing::new(bytes);
        // AES-256 accepts any 32-byte key, so this cannot fail.
        let unbound = UnboundKey::new(&AES_256_GCM, bytes.as_slice()).expect("32-byte AES key");
        SessionKey {
            bytes,
            aead: LessSafeKey::new(unbound),
        }
    }

    /// A key from a slice; `None` unless it is exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<SessionKey> {
        let arr: [u8; KEY_LEN] = bytes.try_into().ok()?;
        Some(SessionKey::from_bytes(arr))
    }

    /// The raw key bytes, for sealing the key at rest.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }

    /// Builds an envelope of `header` sealing `plaintext` under `context`.
    pub fn seal(&self, header: &Header, context: &[u8], plaintext: &[u8]) -> Vec<u8> {
        let head = header.to_bytes();
        let mut out = Vec::with_capacity(HEADER_LEN + plaintext.len() + TAG_LEN);
        out.extend_from_slice(&head);
        out.extend_from_slice(plaintext);
        let mut aad = Vec::with_capacity(HEADER_LEN + context.len());
        aad.extend_from_slice(&head);
        aad.extend_from_slice(context);
        let (_, body) = out.split_at_mut(HEADER_LEN);
        let tag = self.seal_detached(header.nonce, &aad, body);
        out.extend_from_slice(&tag);
        out
    }

    /// AES-256-GCM of `body` in place under `nonce` and `aad`, returning the
    /// tag: the one sealing call of the channel (envelopes build on it).
    pub fn seal_detached(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        body: &mut [u8],
    ) -> [u8; TAG_LEN] {
        let tag = self
            .aead
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::from(aad), body)
            .expect("AES-GCM seal of an in-range plaintext");
        let mut out = [0u8; TAG_LEN];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Opens `ciphertext || tag` in place under `nonce` and `aad`: the one
    /// opening call of the channel. On success the plaintext is the returned
    /// prefix of `sealed`; every failure is [`WireError::DecryptFailed`].
    pub fn open_detached<'a>(
        &self,
        nonce: [u8; NONCE_LEN],
        aad: &[u8],
        sealed: &'a mut [u8],
    ) -> Result<&'a mut [u8], WireError> {
        self.aead
            .open_in_place(Nonce::assume_unique_for_key(nonce), Aad::from(aad), sealed)
            .map_err(|_| WireError::DecryptFailed)
    }

    /// Parses and opens an envelope of the `expected` type under `context`,
    /// returning a wiped-on-drop copy of the plaintext.
    pub fn open(
        &self,
        envelope: &[u8],
        expected: EnvelopeType,
        context: &[u8],
    ) -> Result<(Header, Zeroizing<Vec<u8>>), WireError> {
        let mut buf = Zeroizing::new(envelope.to_vec());
        let (header, len) = {
            let (header, plain) = self.open_in_place(&mut buf, expected, context)?;
            (header, plain.len())
        };
        buf.copy_within(HEADER_LEN..HEADER_LEN + len, 0);
        buf.truncate(len);
        Ok((header, buf))
    }

    /// Opens an envelope in its own buffer: on success the plaintext is the
    /// returned slice of `envelope` (the caller decides how the buffer is wiped).
    pub fn open_in_place<'a>(
        &self,
        envelope: &'a mut [u8],
        expected: EnvelopeType,
        context: &[u8],
    ) -> Result<(Header, &'a [u8]), WireError> {
        let header = Header::parse(envelope, expected)?;
        let mut aad = Vec::with_capacity(HEADER_LEN + context.len());
        aad.extend_from_slice(&envelope[..HEADER_LEN]);
        aad.extend_from_slice(context);
        let plain = self.open_detached(header.nonce, &aad, &mut envelope[HEADER_LEN..])?;
        Ok((header, plain))
    }
}

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(<redacted>)")
    }
}

impl Clone for SessionKey {
    fn clone(&self) -> Self {
        SessionKey::from_bytes(*self.bytes)
    }
}

/// Request context: `sessionId LF METHOD LF route`.
pub fn request_context(session_id: &str, method: &str, route: &str) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(session_id.len() + method.len() + route.len() + 2);
    ctx.extend_from_slice(session_id.as_bytes());
    ctx.push(b'\n');
    ctx.extend_from_slice(method.to_ascii_uppercase().as_bytes());
    ctx.push(b'\n');
    ctx.extend_from_slice(route.as_bytes());
    ctx
}

/// Response context: `sessionId LF <12 nonce bytes of the request>`.
pub fn response_context(session_id: &str, request_nonce: &[u8; NONCE_LEN]) -> Vec<u8> {
    let mut ctx = Vec::with_capacity(session_id.len() + 1 + NONCE_LEN);
    ctx.extend_from_slice(session_id.as_bytes());
    ctx.push(b'\n');
    ctx.extend_from_slice(request_nonce);
    ctx
}

/// Key-confirmation context: the session id alone.
pub fn confirmation_context(session_id: &str) -> Vec<u8> {
    session_id.as_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SessionKey {
        SessionKey::from_bytes(core::array::from_fn(|i| i as u8))
    }

    #[test]
    fn seal_then_open_round_trips_and_binds_context() {
        let header = Header {
            kind: EnvelopeType::Request,
            timestamp_ms: 42,
            nonce: [7; 12],
        };
        let env = key().seal(&header, b"ctx", b"hello");
        assert_eq!(env.len(), HEADER_LEN + 5 + TAG_LEN);
        let (h, pt) = key().open(&env, EnvelopeType::Request, b"ctx").unwrap();
        assert_eq!(h, header);
        assert_eq!(pt.as_slice(), b"hello");
        assert_eq!(
            key()
                .open(&env, EnvelopeType::Request, b"ctx2")
                .unwrap_err(),
            WireError::DecryptFailed
        );
        assert_eq!(
            key()
                .open(&env, EnvelopeType::Response, b"ctx")
                .unwrap_err(),
            WireError::Malformed
        );
    }

    #[test]
    fn length_limits_are_checked_before_crypto() {
        assert_eq!(
            Header::parse(&[2u8; MIN_ENVELOPE_LEN - 1], EnvelopeType::Request),
            Err(WireError::Malformed)
        );
        let mut ok = vec![0u8; MIN_ENVELOPE_LEN];
        ok[0] = VERSION;
        ok[1] = 1;
        assert!(Header::parse(&ok, EnvelopeType::Request).is_ok());
        let mut big = vec![0u8; MAX_ENVELOPE_LEN + 1];
        big[0] = VERSION;
        big[1] = 1;
        assert_eq!(
            Header::parse(&big, EnvelopeType::Request),
            Err(WireError::Malformed)
        );
        big.pop();
        assert!(Header::parse(&big, EnvelopeType::Request).is_ok());
    }

    #[test]
    fn method_is_upper_cased_in_the_context() {
        assert_eq!(request_context("s", "post", "/r"), b"s\nPOST\n/r".to_vec());
    }
}
