//! The server's RSA key pairs: one active, retired ones still accepted until
//! they expire. RSA-OAEP-256 runs in aws-lc-rs (constant time).

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, PrivateDecryptingKey, PublicEncryptingKey,
    OAEP_SHA256_MGF1SHA256,
};
use zeroize::Zeroizing;

use super::wire::{SessionKey, KEY_LEN};

/// Why a wrapped session key could not be unwrapped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyExchangeError {
    /// The `keyId` names no key, or an expired one: `SC.UNKNOWN_KEY`.
    #[error("unknown or expired key id")]
    UnknownKey,
    /// Any OAEP failure, wrong plaintext length included: `SC.KEY_EXCHANGE_FAILED`.
    #[error("key exchange failed")]
    Failed,
}

/// Why a key or key ring could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    /// The key id is not 1-64 characters of `[A-Za-z0-9._-]`.
    #[error("key id {0:?} is not 1-64 characters of [A-Za-z0-9._-]")]
    InvalidKid(String),
    /// The private key is not RSA PKCS#8 of at least 3072 bits.
    #[error("key {0} is not an RSA PKCS#8 private key of at least 3072 bits")]
    Rejected(String),
    /// The public key is not an RSA SubjectPublicKeyInfo of at least 3072 bits.
    #[error("key {0}: the public key is not an RSA SubjectPublicKeyInfo of at least 3072 bits")]
    RejectedPublic(String),
    /// No key has the id chosen as active.
    #[error("the key ring has no key named {0} to make active")]
    NoActive(String),
    /// RSA key generation failed.
    #[error("RSA key generation failed")]
    Generate,
}

/// `kid` is 1-64 characters of `[A-Za-z0-9._-]`.
pub fn is_valid_kid(kid: &str) -> bool {
    (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// One RSA key of the server, named by its `kid`, with its expiry.
pub struct ServerKey {
    kid: String,
    /// `None` for a published-only key (the public-key function holds no
    /// private key).
    decrypting: Option<OaepPrivateDecryptingKey>,
    public_spki_der: Vec<u8>,
    expires_at_ms: u64,
}

impl ServerKey {
    /// A key from a PKCS#8 DER private key; the RSA key must be at least 3072 bits.
    pub fn from_pkcs8(
        kid: &str,
        pkcs8_der: &[u8],
        expires_at_ms: u64,
    ) -> Result<Self, KeyRingError> {
        if !is_valid_kid(kid) {
            return Err(KeyRingError::InvalidKid(kid.to_owned()));
        }
        let private = PrivateDecryptingKey::from_pkcs8(pkcs8_der)
            .map_err(|_| KeyRingError::Rejected(kid.to_owned()))?;
        Self::from_private(kid, private, expires_at_ms)
    }

    /// The public half only, from its SubjectPublicKeyInfo DER: publishable,
    /// but every unwrap fails.
    pub fn public_only(
        kid: &str,
        spki_der: &[u8],
        expires_at_ms: u64,
    ) -> Result<Self, KeyRingError> {
        if !is_valid_kid(kid) {
            return Err(KeyRingError::InvalidKid(kid.to_owned()));
        }
        let public = PublicEncryptingKey::from_der(spki_der)
            .map_err(|_| KeyRingError::RejectedPublic(kid.to_owned()))?;
        if public.key_size_bits() < 3072 {
            return Err(KeyRingError::RejectedPublic(kid.to_owned()));
        }
        Ok(ServerKey {
            kid: kid.to_owned(),
            decrypting: None,
            public_spki_der: spki_der.to_vec(),
            expires_at_ms,
        })
    }

    /// Generates a fresh RSA-3072 key; returns it with its PKCS#8 DER (to seal and store).
    pub fn generate(
        kid: &str,
        expires_at_ms: u64,
    ) -> Result<(Self, Zeroizing<Vec<u8>>), KeyRingError> {
        if !is_valid_kid(kid) {
            return Err(KeyRingError::InvalidKid(kid.to_owned()));
        }
        let private =
            PrivateDecryptingKey::generate(KeySize::Rsa3072).map_err(|_| KeyRingError::Generate)?;
        let pkcs8: Pkcs8V1Der = private.as_der().map_err(|_| KeyRingError::Generate)?;
        let der = Zeroizing::new(pkcs8.as_ref().to_vec());
        Ok((Self::from_private(kid, private, expires_at_ms)?, der))
    }

    fn from_private(
        kid: &str,
        private: PrivateDecryptingKey,
        expires_at_ms: u64,
    ) -> Result<Self, KeyRingError> {
        if private.key_size_bits() < 3072 {
            return Err(KeyRingError::Rejected(kid.to_owned()));
        }
        let spki: PublicKeyX509Der = private
            .public_key()
            .as_der()
            .map_err(|_| KeyRingError::Rejected(kid.to_owned()))?;
        let public_spki_der = spki.as_ref().to_vec();
        let decrypting = OaepPrivateDecryptingKey::new(private)
            .map_err(|_| KeyRingError::Rejected(kid.to_owned()))?;
        Ok(ServerKey {
            kid: kid.to_owned(),
            decrypting: Some(decrypting),
            public_spki_der,
            expires_at_ms,
        })
    }

    /// The key id.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as DER SubjectPublicKeyInfo, as published.
    pub fn public_spki_der(&self) -> &[u8] {
        &self.public_spki_der
    }

    /// When the key stops being accepted, Unix ms.
    pub fn expires_at_ms(&self) -> u64 {
        self.expires_at_ms
    }

    /// RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) of exactly 32 bytes.
    /// Every failure is the same opaque error.
    pub fn unwrap_session_key(&self, ciphertext: &[u8]) -> Result<SessionKey, KeyExchangeError> {
        let plain = self.oaep_decrypt(ciphertext)?;
        if plain.len() != KEY_LEN {
            return Err(KeyExchangeError::Failed);
        }
        SessionKey::from_slice(&plain).ok_or(KeyExchangeError::Failed)
    }

    /// RSA-OAEP (SHA-256, MGF1-SHA-256, empty label) of any length: the
    /// decryption [`Self::unwrap_session_key`] runs before its length check.
    pub fn oaep_decrypt(&self, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>, KeyExchangeError> {
        // A public-only key (the public-key function's) decrypts nothing.
        let decrypting = self.decrypting.as_ref().ok_or(KeyExchangeError::Failed)?;
        let mut out = Zeroizing::new(vec![0u8; decrypting.min_output_size()]);
        let len = decrypting
            .decrypt(&OAEP_SHA256_MGF1SHA256, ciphertext, &mut out, None)
            .map_err(|_| KeyExchangeError::Failed)?
            .len();
        out.truncate(len);
        Ok(out)
    }
}

impl std::fmt::Debug for ServerKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerKey")
            .field("kid", &self.kid)
            .field("expires_at_ms", &self.expires_at_ms)
            .finish_non_exhaustive()
    }
}

/// The keys the server accepts for session creation.
#[derive(Debug)]
pub struct KeyRing {
    keys: Vec<ServerKey>,
    active: usize,
}

impl KeyRing {
    /// A ring of `keys` whose active (published) key is `active_kid`.
    pub fn new(keys: Vec<ServerKey>, active_kid: &str) -> Result<Self, KeyRingError> {
        let active = keys
            .iter()
            .position(|k| k.kid == active_kid)
            .ok_or_else(|| KeyRingError::NoActive(active_kid.to_owned()))?;
        Ok(KeyRing { keys, active })
    }

    /// A ring of one key, which is also the active one.
    pub fn single(key: ServerKey) -> Self {
        KeyRing {
            keys: vec![key],
            active: 0,
        }
    }

    /// No key: the ring of a function that holds no SCv2 key
    /// (`shared::route::ScKeys::None`), which never serves public-key or
    /// session creation. Every `find` fails.
    pub fn empty() -> Self {
        KeyRing {
            keys: Vec::new(),
            active: 0,
        }
    }

    /// The key published by the public-key endpoint.
    ///
    /// # Panics
    /// On [`KeyRing::empty`], which no route that publishes a key is given.
    pub fn active(&self) -> &ServerKey {
        self.keys
            .get(self.active)
            .expect("the empty key ring of a function without SCv2 keys has no active key")
    }

    /// Every key of the ring.
    pub fn keys(&self) -> &[ServerKey] {
        &self.keys
    }

    /// Finds a key that is still accepted at `now_ms`.
    pub fn find(&self, kid: &str, now_ms: u64) -> Result<&ServerKey, KeyExchangeError> {
        self.keys
            .iter()
            .find(|k| k.kid == kid && now_ms < k.expires_at_ms)
            .ok_or(KeyExchangeError::UnknownKey)
    }

    /// Unwraps the client's session key K, sent under key `kid` still accepted at `now_ms`.
    pub fn unwrap_session_key(
        &self,
        kid: &str,
        ciphertext: &[u8],
        now_ms: u64,
    ) -> Result<SessionKey, KeyExchangeError> {
        self.find(kid, now_ms)?.unwrap_session_key(ciphertext)
    }
}

/// Decodes a PEM `PRIVATE KEY` block (PKCS#8) into DER.
pub fn pkcs8_from_pem(pem: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::Engine;
    let body: String = pem
        .lines()
        .map(str::trim)
        .skip_while(|l| *l != "-----BEGIN PRIVATE KEY-----")
        .skip(1)
        .take_while(|l| *l != "-----END PRIVATE KEY-----")
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .ok()
        .filter(|d| !d.is_empty())
        .map(Zeroizing::new)
}

/// Encodes PKCS#8 DER as a PEM `PRIVATE KEY` block.
pub fn pkcs8_to_pem(der: &[u8]) -> Zeroizing<String> {
    use base64::Engine;
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(der));
    let mut pem = Zeroizing::new(String::from("-----BEGIN PRIVATE KEY-----\n"));
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        pem.push('\n');
    }
    pem.push_str("-----END PRIVATE KEY-----\n");
    pem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_charset_and_length() {
        assert!(is_valid_kid("k2026-11"));
        assert!(is_valid_kid("a.b_c-D9"));
        assert!(is_valid_kid(&"a".repeat(64)));
        assert!(!is_valid_kid(""));
        assert!(!is_valid_kid(&"a".repeat(65)));
        assert!(!is_valid_kid("k/1"));
        assert!(!is_valid_kid("k 1"));
    }

    #[test]
    fn retired_key_accepted_until_expiry_and_active_is_published() {
        let (a, _) = ServerKey::generate("old", 1_000).unwrap();
        let (b, _) = ServerKey::generate("new", 10_000).unwrap();
        let ring = KeyRing::new(vec![a, b], "new").unwrap();
        assert_eq!(ring.active().kid(), "new");
        assert!(ring.find("old", 999).is_ok());
        assert_eq!(
            ring.find("old", 1_000).unwrap_err(),
            KeyExchangeError::UnknownKey
        );
        assert_eq!(
            ring.find("nope", 0).unwrap_err(),
            KeyExchangeError::UnknownKey
        );
        assert!(KeyRing::new(vec![], "x").is_err());
    }

    #[test]
    fn a_public_only_key_publishes_but_never_unwraps() {
        let (full, _) = ServerKey::generate("k", 10).unwrap();
        let public = ServerKey::public_only("k", full.public_spki_der(), 10).unwrap();
        assert_eq!(public.public_spki_der(), full.public_spki_der());
        assert_eq!(public.expires_at_ms(), 10);
        assert_eq!(
            public.unwrap_session_key(&[0u8; 384]).unwrap_err(),
            KeyExchangeError::Failed
        );
        assert!(ServerKey::public_only("k", b"not a key", 10).is_err());
        assert!(ServerKey::public_only("k/1", full.public_spki_der(), 10).is_err());
    }

    #[test]
    fn pem_round_trip() {
        let (_, der) = ServerKey::generate("k", 1).unwrap();
        let pem = pkcs8_to_pem(&der);
        assert_eq!(pkcs8_from_pem(&pem).unwrap().as_slice(), der.as_slice());
        assert!(pkcs8_from_pem("garbage").is_none());
    }
}
