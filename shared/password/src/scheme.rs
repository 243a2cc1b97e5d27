//! The stored string form of every hash scheme (the table of
//! [`crate::foreign`]): reading one with its cost bounds, and verifying a
//! password against it. [`crate::types::PasswordHash`] reads through here;
//! the import from exported forms (`foreign`) writes these forms.

use std::fmt;

use argon2::password_hash::{self, PasswordHash as Phc, PasswordVerifier};
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use ctr::cipher::{KeyIvInit, StreamCipher};
use sha2::{Digest, Sha256, Sha512};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Highest bcrypt cost accepted (2^16 rounds: about 4 s; common is 10-12).
pub const MAX_BCRYPT_COST: u32 = 16;
/// Lowest bcrypt cost any implementation makes.
pub const MIN_BCRYPT_COST: u32 = 4;
/// Highest scrypt (and Firebase mem_cost) log2(N) accepted.
pub const MAX_SCRYPT_LOG_N: u8 = 20;
/// Bound on scrypt work and memory: r·p·2^ln (2^23 is ln=20, r=8, p=1: 1 GiB).
pub const MAX_SCRYPT_WORK: u64 = 1 << 23;
/// PBKDF2 iteration bounds (both the PHC forms and Django's).
pub const MIN_PBKDF2_ITERATIONS: u32 = 1_000;
/// See [`MIN_PBKDF2_ITERATIONS`].
pub const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
/// Highest Argon2 memory (KiB) an imported Argon2 hash may ask for (1 GiB).
pub const MAX_ARGON2_MEMORY_KIB: u32 = 1 << 20;
/// Bound on imported Argon2 work: m·t in KiB (1 GiB × 4 passes).
pub const MAX_ARGON2_WORK: u64 = 1 << 22;
/// Highest Argon2 parallelism an imported hash may ask for.
pub const MAX_ARGON2_PARALLELISM: u32 = 16;
/// Longest salt accepted in the hand-made forms (bytes).
const MAX_SALT_BYTES: usize = 1024;

/// The algorithm family of a stored hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum HashScheme {
    /// Argon2id (ours, whatever its parameters).
    #[default]
    Argon2id,
    /// Argon2i or Argon2d (imported).
    Argon2Other,
    /// bcrypt `$2a$`/`$2b$`/`$2y$`.
    Bcrypt,
    /// scrypt PHC.
    Scrypt,
    /// PBKDF2-HMAC-SHA256 PHC.
    Pbkdf2Sha256,
    /// PBKDF2-HMAC-SHA512 PHC.
    Pbkdf2Sha512,
    /// Django's `pbkdf2_sha256$...`.
    DjangoPbkdf2Sha256,
    /// Firebase's modified scrypt.
    FirebaseScrypt,
    /// One SHA-256 over salt and password (legacy).
    Sha256Salted,
    /// One SHA-512 over salt and password (legacy).
    Sha512Salted,
}

impl HashScheme {
    /// The name used in import formats, audit events and logs.
    pub fn name(self) -> &'static str {
        match self {
            HashScheme::Argon2id => "argon2id",
            HashScheme::Argon2Other => "argon2",
            HashScheme::Bcrypt => "bcrypt",
            HashScheme::Scrypt => "scrypt",
            HashScheme::Pbkdf2Sha256 => "pbkdf2-sha256",
            HashScheme::Pbkdf2Sha512 => "pbkdf2-sha512",
            HashScheme::DjangoPbkdf2Sha256 => "django-pbkdf2-sha256",
            HashScheme::FirebaseScrypt => "firebase-scrypt",
            HashScheme::Sha256Salted => "sha256-salted",
            HashScheme::Sha512Salted => "sha512-salted",
        }
    }

    /// Anything that is not our Argon2id.
    pub fn is_foreign(self) -> bool {
        self != HashScheme::Argon2id
    }

    /// Salted SHA: fast hashes, the password must be changed after sign-in.
    pub fn is_legacy(self) -> bool {
        matches!(self, HashScheme::Sha256Salted | HashScheme::Sha512Salted)
    }
}

impl fmt::Display for HashScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where the salt goes in a salted SHA digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaltPosition {
    /// `SHA(salt ‖ password)`.
    Prefix,
    /// `SHA(password ‖ salt)`.
    Suffix,
}

impl SaltPosition {
    fn as_str(self) -> &'static str {
        match self {
            SaltPosition::Prefix => "prefix",
            SaltPosition::Suffix => "suffix",
        }
    }
}

/// Why a foreign hash was refused. Never carries the hash or the salt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ForeignHashError {
    /// The format name is not one of the supported ones.
    #[error("unknown hash format {0:?}")]
    UnknownFormat(String),
    /// No format given and the hash has no known self-describing prefix.
    #[error("hash format not recognized (give the format)")]
    Undetected,
    /// The string does not have the shape of its format.
    #[error("malformed {format} hash: {reason}")]
    Malformed {
        /// The format.
        format: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// Salted SHA with `allow_legacy` off.
    #[error("legacy salted SHA hashes are not allowed (allow legacy to import them)")]
    LegacyNotAllowed,
    /// A Firebase hash without the project's parameters.
    #[error("firebase-scrypt needs the signer key, salt separator, rounds and mem cost")]
    FirebaseParamsMissing,
    /// A cost outside the accepted bounds (a denial-of-service guard).
    #[error("{format} cost out of range: {reason}")]
    CostOutOfRange {
        /// The format.
        format: &'static str,
        /// Which cost and its bound.
        reason: String,
    },
}

pub(crate) const FIREBASE: &str = "firebase-scrypt";

pub(crate) fn malformed(format: &'static str, reason: &'static str) -> ForeignHashError {
    ForeignHashError::Malformed { format, reason }
}

pub(crate) fn cost(format: &'static str, reason: String) -> ForeignHashError {
    ForeignHashError::CostOutOfRange { format, reason }
}

/// Standard base64, padding optional (exports differ).
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

pub(crate) fn b64(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

pub(crate) fn check_scrypt(
    format: &'static str,
    ln: u8,
    r: u32,
    p: u32,
) -> Result<(), ForeignHashError> {
    if ln > MAX_SCRYPT_LOG_N {
        return Err(cost(format, format!("ln {ln} > {MAX_SCRYPT_LOG_N}")));
    }
    let work = (u64::from(r) * u64::from(p)) << ln;
    if r == 0 || p == 0 || work > MAX_SCRYPT_WORK {
        return Err(cost(
            format,
            format!("r·p·2^ln = {work} not in 1..={MAX_SCRYPT_WORK}"),
        ));
    }
    Ok(())
}

fn check_pbkdf2(format: &'static str, i: u32) -> Result<(), ForeignHashError> {
    if !(MIN_PBKDF2_ITERATIONS..=MAX_PBKDF2_ITERATIONS).contains(&i) {
        return Err(cost(
            format,
            format!("iterations {i} not in {MIN_PBKDF2_ITERATIONS}..={MAX_PBKDF2_ITERATIONS}"),
        ));
    }
    Ok(())
}

/// Which scheme a stored (non-Argon2) string is, checking its shape and
/// cost bounds. Argon2 strings are the caller's (they may be ours).
pub(crate) fn parse_stored(s: &str) -> Result<HashScheme, ForeignHashError> {
    if s.starts_with("$2a$") || s.starts_with("$2b$") || s.starts_with("$2y$") {
        parse_bcrypt(s)
    } else if s.starts_with("$scrypt$") {
        parse_scrypt(s)
    } else if s.starts_with("$pbkdf2-sha256$") || s.starts_with("$pbkdf2-sha512$") {
        parse_pbkdf2(s)
    } else if s.starts_with("pbkdf2_sha256$") {
        Django::parse(s).map(|_| HashScheme::DjangoPbkdf2Sha256)
    } else if s.starts_with("$firescrypt$") {
        Firescrypt::parse(s).map(|_| HashScheme::FirebaseScrypt)
    } else if s.starts_with("$sha256-salted$") || s.starts_with("$sha512-salted$") {
        Salted::parse(s).map(|x| x.scheme)
    } else {
        Err(ForeignHashError::Undetected)
    }
}

fn parse_bcrypt(s: &str) -> Result<HashScheme, ForeignHashError> {
    const F: &str = "bcrypt";
    // $2b$NN$ + 22 salt + 31 hash characters of bcrypt's base64.
    let b = s.as_bytes();
    if b.len() != 60 || b[6] != b'$' {
        return Err(malformed(F, "not $2b$<cost>$ followed by 53 characters"));
    }
    let c: u32 = s[4..6]
        .parse()
        .map_err(|_| malformed(F, "cost is not two digits"))?;
    if !(MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&c) {
        return Err(cost(
            F,
            format!("cost {c} not in {MIN_BCRYPT_COST}..={MAX_BCRYPT_COST}"),
        ));
    }
    let body_ok = b[7..]
        .iter()
        .all(|c| c.is_ascii_alphanumeric() || *c == b'.' || *c == b'/');
    if !body_ok {
        return Err(malformed(F, "salt and hash are not bcrypt base64"));
    }
    Ok(HashScheme::Bcrypt)
}

fn parse_scrypt(s: &str) -> Result<HashScheme, ForeignHashError> {
    const F: &str = "scrypt";
    let phc = Phc::new(s).map_err(|_| malformed(F, "not a PHC string"))?;
    if phc.salt.is_none() || phc.hash.is_none() {
        return Err(malformed(F, "salt or hash missing"));
    }
    let p = scrypt::Params::try_from(&phc).map_err(|_| malformed(F, "bad ln, r or p"))?;
    check_scrypt(F, p.log_n(), p.r(), p.p())?;
    Ok(HashScheme::Scrypt)
}

fn parse_pbkdf2(s: &str) -> Result<HashScheme, ForeignHashError> {
    let phc = Phc::new(s).map_err(|_| malformed("pbkdf2", "not a PHC string"))?;
    let (scheme, f) = match phc.algorithm.as_str() {
        "pbkdf2-sha256" => (HashScheme::Pbkdf2Sha256, "pbkdf2-sha256"),
        "pbkdf2-sha512" => (HashScheme::Pbkdf2Sha512, "pbkdf2-sha512"),
        _ => return Err(malformed("pbkdf2", "unsupported digest")),
    };
    if phc.salt.is_none() || phc.hash.is_none() {
        return Err(malformed(f, "salt or hash missing"));
    }
    let p = pbkdf2::Params::try_from(&phc).map_err(|_| malformed(f, "bad i or l"))?;
    check_pbkdf2(f, p.rounds)?;
    Ok(scheme)
}

/// Django's `pbkdf2_sha256$<iterations>$<salt>$<base64 of 32 bytes>`.
struct Django<'a> {
    iterations: u32,
    salt: &'a str,
    hash: Vec<u8>,
}

impl<'a> Django<'a> {
    const F: &'static str = "django-pbkdf2-sha256";

    fn parse(s: &'a str) -> Result<Self, ForeignHashError> {
        let mut it = s.split('$');
        let (Some("pbkdf2_sha256"), Some(i), Some(salt), Some(h), None) =
            (it.next(), it.next(), it.next(), it.next(), it.next())
        else {
            return Err(malformed(Self::F, "not pbkdf2_sha256$<iter>$<salt>$<hash>"));
        };
        let iterations: u32 = i
            .parse()
            .map_err(|_| malformed(Self::F, "iterations not a number"))?;
        check_pbkdf2(Self::F, iterations)?;
        if salt.is_empty() || salt.len() > MAX_SALT_BYTES {
            return Err(malformed(Self::F, "salt empty or too long"));
        }
        let hash = b64(h).ok_or(malformed(Self::F, "hash is not base64"))?;
        if hash.len() != 32 {
            return Err(malformed(Self::F, "hash is not 32 bytes"));
        }
        Ok(Self {
            iterations,
            salt,
            hash,
        })
    }

    fn verify(&self, pw: &[u8]) -> bool {
        let mut out = Zeroizing::new([0u8; 32]);
        pbkdf2::pbkdf2_hmac::<Sha256>(pw, self.salt.as_bytes(), self.iterations, out.as_mut());
        out.ct_eq(&self.hash).into()
    }
}

/// Firebase's modified scrypt, all of it in one string.
pub(crate) struct Firescrypt {
    pub(crate) ln: u8,
    pub(crate) r: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) hash: Vec<u8>,
    pub(crate) separator: Vec<u8>,
    pub(crate) signer_key: Zeroizing<Vec<u8>>,
}

impl Firescrypt {
    fn parse(s: &str) -> Result<Self, ForeignHashError> {
        let mut it = s.split('$');
        let (
            Some(""),
            Some("firescrypt"),
            Some(params),
            Some(salt),
            Some(hash),
            Some(sep),
            Some(key),
            None,
        ) = (
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
        )
        else {
            return Err(malformed(
                FIREBASE,
                "not $firescrypt$ln=..,r=..,p=1$salt$hash$separator$signer key",
            ));
        };
        let (mut ln, mut r, mut p) = (None, None, None);
        for kv in params.split(',') {
            match kv.split_once('=') {
                Some(("ln", v)) => ln = v.parse::<u8>().ok(),
                Some(("r", v)) => r = v.parse::<u32>().ok(),
                Some(("p", v)) => p = v.parse::<u32>().ok(),
                _ => return Err(malformed(FIREBASE, "unknown parameter")),
            }
        }
        let (Some(ln), Some(r), Some(1)) = (ln, r, p) else {
            return Err(malformed(FIREBASE, "needs ln, r and p=1"));
        };
        check_scrypt(FIREBASE, ln, r, 1)?;
        let d = |v: &str, what| b64(v).ok_or(malformed(FIREBASE, what));
        let out = Self {
            ln,
            r,
            salt: d(salt, "salt is not base64")?,
            hash: d(hash, "hash is not base64")?,
            separator: d(sep, "salt separator is not base64")?,
            signer_key: Zeroizing::new(d(key, "signer key is not base64")?),
        };
        if out.salt.is_empty() || out.salt.len() > MAX_SALT_BYTES {
            return Err(malformed(FIREBASE, "salt empty or too long"));
        }
        if out.signer_key.is_empty() || out.hash.len() != out.signer_key.len() {
            return Err(malformed(FIREBASE, "hash and signer key differ in length"));
        }
        Ok(out)
    }

    pub(crate) fn encode(&self) -> String {
        format!(
            "$firescrypt$ln={},r={},p=1${}${}${}${}",
            self.ln,
            self.r,
            STANDARD.encode(&self.salt),
            STANDARD.encode(&self.hash),
            STANDARD.encode(&self.separator),
            STANDARD.encode(self.signer_key.as_slice()),
        )
    }

    /// scrypt(password, salt ‖ separator, N=2^ln, r, p=1) keys AES-256-CTR
    /// (zero IV), which encrypts the signer key: that is the hash.
    fn verify(&self, pw: &[u8]) -> Result<bool, String> {
        let params = scrypt::Params::new(self.ln, self.r, 1, 32).map_err(|e| e.to_string())?;
        let mut salt = Vec::with_capacity(self.salt.len() + self.separator.len());
        salt.extend_from_slice(&self.salt);
        salt.extend_from_slice(&self.separator);
        let mut key = Zeroizing::new([0u8; 32]);
        scrypt::scrypt(pw, &salt, &params, key.as_mut()).map_err(|e| e.to_string())?;
        let mut out = Zeroizing::new(self.signer_key.to_vec());
        ctr::Ctr128BE::<aes::Aes256>::new(key.as_ref().into(), &[0u8; 16].into())
            .apply_keystream(out.as_mut_slice());
        Ok(out.ct_eq(&self.hash).into())
    }
}

/// `$sha256-salted$pos=prefix|suffix$<salt>$<digest>`.
pub(crate) struct Salted {
    pub(crate) scheme: HashScheme,
    pub(crate) pos: SaltPosition,
    pub(crate) salt: Vec<u8>,
    pub(crate) digest: Vec<u8>,
}

impl Salted {
    fn parse(s: &str) -> Result<Self, ForeignHashError> {
        let mut it = s.split('$');
        let (Some(""), Some(alg), Some(pos), Some(salt), Some(digest), None) = (
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
            it.next(),
        ) else {
            return Err(malformed(
                "salted-sha",
                "not $sha256-salted$pos=..$salt$digest",
            ));
        };
        let (scheme, len) = match alg {
            "sha256-salted" => (HashScheme::Sha256Salted, 32),
            "sha512-salted" => (HashScheme::Sha512Salted, 64),
            _ => return Err(malformed("salted-sha", "unknown digest")),
        };
        let f = scheme.name();
        let pos = match pos {
            "pos=prefix" => SaltPosition::Prefix,
            "pos=suffix" => SaltPosition::Suffix,
            _ => return Err(malformed(f, "pos is not prefix or suffix")),
        };
        let salt = b64(salt).ok_or(malformed(f, "salt is not base64"))?;
        let digest = b64(digest).ok_or(malformed(f, "digest is not base64"))?;
        if salt.is_empty() || salt.len() > MAX_SALT_BYTES {
            return Err(malformed(f, "salt empty or too long"));
        }
        if digest.len() != len {
            return Err(malformed(f, "digest has the wrong length"));
        }
        Ok(Self {
            scheme,
            pos,
            salt,
            digest,
        })
    }

    pub(crate) fn encode(&self) -> String {
        format!(
            "${}$pos={}${}${}",
            self.scheme.name(),
            self.pos.as_str(),
            STANDARD.encode(&self.salt),
            STANDARD.encode(&self.digest)
        )
    }

    fn digest<D: Digest>(&self, pw: &[u8]) -> Vec<u8> {
        let mut d = D::new();
        match self.pos {
            SaltPosition::Prefix => {
                d.update(&self.salt);
                d.update(pw);
            }
            SaltPosition::Suffix => {
                d.update(pw);
                d.update(&self.salt);
            }
        }
        d.finalize().to_vec()
    }

    fn verify(&self, pw: &[u8]) -> bool {
        let got = match self.scheme {
            HashScheme::Sha512Salted => self.digest::<Sha512>(pw),
            _ => self.digest::<Sha256>(pw),
        };
        got.ct_eq(&self.digest).into()
    }
}

/// Verifies `pw` against a stored non-Argon2 string of `scheme`. The error
/// is internal (a string that passed `parse_stored` does not fail here) and
/// never carries the password or the hash.
pub(crate) fn verify(scheme: HashScheme, s: &str, pw: &[u8]) -> Result<bool, String> {
    let verified = |r: password_hash::Result<()>| match r {
        Ok(()) => Ok(true),
        Err(password_hash::Error::Password) => Ok(false),
        Err(e) => Err(e.to_string()),
    };
    match scheme {
        HashScheme::Bcrypt => bcrypt::verify(pw, s).map_err(|e| e.to_string()),
        HashScheme::Scrypt => {
            let phc = Phc::new(s).map_err(|e| e.to_string())?;
            verified(scrypt::Scrypt.verify_password(pw, &phc))
        }
        HashScheme::Pbkdf2Sha256 | HashScheme::Pbkdf2Sha512 => {
            let phc = Phc::new(s).map_err(|e| e.to_string())?;
            verified(pbkdf2::Pbkdf2.verify_password(pw, &phc))
        }
        HashScheme::DjangoPbkdf2Sha256 => {
            Ok(Django::parse(s).map_err(|e| e.to_string())?.verify(pw))
        }
        HashScheme::FirebaseScrypt => Firescrypt::parse(s).map_err(|e| e.to_string())?.verify(pw),
        HashScheme::Sha256Salted | HashScheme::Sha512Salted => {
            Ok(Salted::parse(s).map_err(|e| e.to_string())?.verify(pw))
        }
        HashScheme::Argon2id | HashScheme::Argon2Other => {
            Err("Argon2 is verified by the service".into())
        }
    }
}

pub(crate) fn check_argon2(s: &str) -> Result<(), ForeignHashError> {
    const F: &str = "argon2";
    let phc = Phc::new(s).map_err(|_| malformed(F, "not a PHC string"))?;
    let p = argon2::Params::try_from(&phc).map_err(|_| malformed(F, "bad m, t or p"))?;
    let (m, t, par) = (p.m_cost(), p.t_cost(), p.p_cost());
    if m > MAX_ARGON2_MEMORY_KIB
        || u64::from(m) * u64::from(t) > MAX_ARGON2_WORK
        || par > MAX_ARGON2_PARALLELISM
    {
        return Err(cost(
            F,
            format!(
                "m={m},t={t},p={par} exceeds m<={MAX_ARGON2_MEMORY_KIB}, m·t<={MAX_ARGON2_WORK}, p<={MAX_ARGON2_PARALLELISM}"
            ),
        ));
    }
    Ok(())
}
