//! Password hashes made by other systems (imported users): the stored string
//! forms, their cost bounds, import from the forms other systems export, and
//! verification. A foreign hash is verified once, on the next successful
//! sign-in, and then replaced by our Argon2id (`docs/password-policy.md`).
//!
//! Stored forms (each self-describing, so the scheme is read from the string):
//!
//! | scheme | stored string |
//! |---|---|
//! | bcrypt | `$2a$`/`$2b$`/`$2y$<cost>$<salt+hash>` as made |
//! | scrypt | PHC `$scrypt$ln=..,r=..,p=..$<salt>$<hash>` |
//! | PBKDF2 | PHC `$pbkdf2-sha256$i=..,l=..$<salt>$<hash>` (or `-sha512`) |
//! | Django | `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` as Django stores it |
//! | Argon2 | PHC `$argon2i$`/`$argon2d$`/`$argon2id$...` |
//! | Firebase | `$firescrypt$ln=<mem_cost>,r=<rounds>,p=1$<salt>$<hash>$<salt separator>$<signer key>` (Ory Kratos' form; standard base64) |
//! | salted SHA | `$sha256-salted$pos=prefix\|suffix$<salt>$<digest>` (or `sha512`; standard base64) |

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

use crate::types::PasswordHash;

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

/// One user's hash as another system exported it.
///
/// `format` names (None: detected from a self-describing prefix):
/// `bcrypt`, `scrypt`, `pbkdf2-sha256`, `pbkdf2-sha512`,
/// `django-pbkdf2-sha256`, `argon2` (these take the whole string, no
/// `salt`); `firebase-scrypt` (the base64 `passwordHash` with the base64
/// `salt` of the export, and [`ImportHashOptions::firebase`]);
/// `sha256-salted[-prefix|-suffix]`, `sha512-salted[-prefix|-suffix]` (the
/// digest in hex or base64, the salt as text; without a position the salt
/// is a suffix: `SHA(password ‖ salt)`). The stored forms of the module
/// documentation are accepted too, with or without `format`.
#[derive(Debug, Clone, Copy)]
pub struct ForeignHashInput<'a> {
    /// The hash (or the whole hash string).
    pub hash: &'a str,
    /// The format name, or None to detect it.
    pub format: Option<&'a str>,
    /// The per-user salt, for the formats that keep it apart.
    pub salt: Option<&'a str>,
}

/// Firebase's project-wide hash parameters (console: Password hash parameters).
#[derive(Clone)]
pub struct FirebaseScryptParams {
    signer_key: Zeroizing<Vec<u8>>,
    salt_separator: Vec<u8>,
    rounds: u32,
    mem_cost: u8,
}

impl FirebaseScryptParams {
    /// From the base64 signer key and salt separator, rounds (scrypt r) and
    /// mem cost (scrypt log2 N), as the Firebase console shows them.
    pub fn new(
        signer_key_b64: &str,
        salt_separator_b64: &str,
        rounds: u32,
        mem_cost: u32,
    ) -> Result<Self, ForeignHashError> {
        let signer_key = Zeroizing::new(
            b64(signer_key_b64).ok_or(malformed(FIREBASE, "signer key is not base64"))?,
        );
        if signer_key.is_empty() {
            return Err(malformed(FIREBASE, "signer key is empty"));
        }
        let salt_separator =
            b64(salt_separator_b64).ok_or(malformed(FIREBASE, "salt separator is not base64"))?;
        let mem_cost = u8::try_from(mem_cost).map_err(|_| {
            cost(
                FIREBASE,
                format!("mem cost {mem_cost} > {MAX_SCRYPT_LOG_N}"),
            )
        })?;
        check_scrypt(FIREBASE, mem_cost, rounds, 1)?;
        Ok(Self {
            signer_key,
            salt_separator,
            rounds,
            mem_cost,
        })
    }
}

impl fmt::Debug for FirebaseScryptParams {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FirebaseScryptParams")
            .field("signer_key", &"[redacted]")
            .field("salt_separator_bytes", &self.salt_separator.len())
            .field("rounds", &self.rounds)
            .field("mem_cost", &self.mem_cost)
            .finish()
    }
}

/// What an import run allows and knows besides each user's hash.
#[derive(Debug, Clone, Default)]
pub struct ImportHashOptions {
    /// The project's Firebase parameters, for `firebase-scrypt`.
    pub firebase: Option<FirebaseScryptParams>,
    /// Whether salted SHA hashes may be imported (they are fast to crack).
    pub allow_legacy: bool,
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

const FIREBASE: &str = "firebase-scrypt";

fn malformed(format: &'static str, reason: &'static str) -> ForeignHashError {
    ForeignHashError::Malformed { format, reason }
}

fn cost(format: &'static str, reason: String) -> ForeignHashError {
    ForeignHashError::CostOutOfRange { format, reason }
}

/// Standard base64, padding optional (exports differ).
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn b64(s: &str) -> Option<Vec<u8>> {
    B64.decode(s).ok()
}

fn check_scrypt(format: &'static str, ln: u8, r: u32, p: u32) -> Result<(), ForeignHashError> {
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
struct Firescrypt {
    ln: u8,
    r: u32,
    salt: Vec<u8>,
    hash: Vec<u8>,
    separator: Vec<u8>,
    signer_key: Zeroizing<Vec<u8>>,
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

    fn encode(&self) -> String {
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
struct Salted {
    scheme: HashScheme,
    pos: SaltPosition,
    salt: Vec<u8>,
    digest: Vec<u8>,
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

    fn encode(&self) -> String {
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

fn check_argon2(s: &str) -> Result<(), ForeignHashError> {
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

/// Turns one exported hash into the hash to store (`pepper_id` None), after
/// checking its shape and cost bounds. The import does no hashing.
pub fn import_hash(
    input: &ForeignHashInput<'_>,
    opts: &ImportHashOptions,
) -> Result<PasswordHash, ForeignHashError> {
    let h = input.hash.trim();
    let format = match input.format {
        Some(f) => f.trim().to_ascii_lowercase(),
        None => detect(h)?.to_owned(),
    };
    let no_salt = |name: &'static str| -> Result<(), ForeignHashError> {
        match input.salt {
            Some(s) if !s.is_empty() => Err(malformed(name, "the salt is inside the hash string")),
            _ => Ok(()),
        }
    };
    let (stored, want) = match format.as_str() {
        "bcrypt" => (
            no_salt("bcrypt").map(|()| h.to_owned())?,
            &[HashScheme::Bcrypt][..],
        ),
        "scrypt" => (
            no_salt("scrypt").map(|()| h.to_owned())?,
            &[HashScheme::Scrypt][..],
        ),
        "pbkdf2-sha256" => (
            no_salt("pbkdf2-sha256").map(|()| h.to_owned())?,
            &[HashScheme::Pbkdf2Sha256][..],
        ),
        "pbkdf2-sha512" => (
            no_salt("pbkdf2-sha512").map(|()| h.to_owned())?,
            &[HashScheme::Pbkdf2Sha512][..],
        ),
        "django-pbkdf2-sha256" => (
            no_salt("django-pbkdf2-sha256").map(|()| h.to_owned())?,
            &[HashScheme::DjangoPbkdf2Sha256][..],
        ),
        "argon2" | "argon2i" | "argon2d" | "argon2id" => {
            no_salt("argon2")?;
            if !h.starts_with("$argon2") {
                return Err(malformed("argon2", "not an Argon2 PHC string"));
            }
            check_argon2(h)?;
            (
                h.to_owned(),
                &[HashScheme::Argon2id, HashScheme::Argon2Other][..],
            )
        }
        FIREBASE => (
            firebase(h, input.salt, opts)?,
            &[HashScheme::FirebaseScrypt][..],
        ),
        f @ ("sha256-salted"
        | "sha256-salted-prefix"
        | "sha256-salted-suffix"
        | "sha512-salted"
        | "sha512-salted-prefix"
        | "sha512-salted-suffix") => {
            if !opts.allow_legacy {
                return Err(ForeignHashError::LegacyNotAllowed);
            }
            (
                salted(f, h, input.salt)?,
                &[HashScheme::Sha256Salted, HashScheme::Sha512Salted][..],
            )
        }
        other => return Err(unknown_format(other)),
    };
    let hash = PasswordHash::parse_foreign(&stored).map_err(|e| match e {
        // The format was declared: the string is not in its form.
        ForeignHashError::Undetected => malformed(want[0].name(), "not in this format's form"),
        e => e,
    })?;
    if !want.contains(&hash.scheme()) {
        return Err(ForeignHashError::Malformed {
            format: want[0].name(),
            reason: "the hash is of another format",
        });
    }
    if hash.scheme().is_legacy() && !opts.allow_legacy {
        return Err(ForeignHashError::LegacyNotAllowed);
    }
    Ok(hash)
}

fn unknown_format(f: &str) -> ForeignHashError {
    // An operator's typo, not a secret; bounded in case a column slipped.
    let shown: String = f.chars().take(32).collect();
    ForeignHashError::UnknownFormat(shown)
}

fn detect(h: &str) -> Result<&'static str, ForeignHashError> {
    let table: [(&str, &str); 11] = [
        ("$2a$", "bcrypt"),
        ("$2b$", "bcrypt"),
        ("$2y$", "bcrypt"),
        ("$scrypt$", "scrypt"),
        ("$pbkdf2-sha256$", "pbkdf2-sha256"),
        ("$pbkdf2-sha512$", "pbkdf2-sha512"),
        ("pbkdf2_sha256$", "django-pbkdf2-sha256"),
        ("$argon2", "argon2"),
        ("$firescrypt$", FIREBASE),
        ("$sha256-salted$", "sha256-salted"),
        ("$sha512-salted$", "sha512-salted"),
    ];
    table
        .iter()
        .find(|(p, _)| h.starts_with(p))
        .map(|(_, f)| *f)
        .ok_or(ForeignHashError::Undetected)
}

fn firebase(
    h: &str,
    salt: Option<&str>,
    opts: &ImportHashOptions,
) -> Result<String, ForeignHashError> {
    if h.starts_with("$firescrypt$") {
        return Ok(h.to_owned());
    }
    let p = opts
        .firebase
        .as_ref()
        .ok_or(ForeignHashError::FirebaseParamsMissing)?;
    let salt = salt
        .filter(|s| !s.is_empty())
        .ok_or(malformed(FIREBASE, "salt missing"))?;
    let f = Firescrypt {
        ln: p.mem_cost,
        r: p.rounds,
        salt: b64(salt).ok_or(malformed(FIREBASE, "salt is not base64"))?,
        hash: b64(h).ok_or(malformed(FIREBASE, "hash is not base64"))?,
        separator: p.salt_separator.clone(),
        signer_key: p.signer_key.clone(),
    };
    Ok(f.encode())
}

fn salted(format: &str, h: &str, salt: Option<&str>) -> Result<String, ForeignHashError> {
    let (scheme, len) = if format.starts_with("sha512") {
        (HashScheme::Sha512Salted, 64)
    } else {
        (HashScheme::Sha256Salted, 32)
    };
    let f = scheme.name();
    if h.starts_with('$') {
        return match salt {
            Some(s) if !s.is_empty() => Err(malformed(f, "the salt is inside the hash string")),
            _ => Ok(h.to_owned()),
        };
    }
    let salt = salt
        .filter(|s| !s.is_empty())
        .ok_or(malformed(f, "salt missing"))?;
    let digest = if h.len() == 2 * len && h.bytes().all(|c| c.is_ascii_hexdigit()) {
        hex(h)
    } else {
        b64(h).ok_or(malformed(f, "digest is neither hex nor base64"))?
    };
    let pos = if format.ends_with("-prefix") {
        SaltPosition::Prefix
    } else {
        SaltPosition::Suffix
    };
    let s = Salted {
        scheme,
        pos,
        salt: salt.as_bytes().to_vec(),
        digest,
    };
    if s.digest.len() != len {
        return Err(malformed(f, "digest has the wrong length"));
    }
    Ok(s.encode())
}

fn hex(h: &str) -> Vec<u8> {
    let nib = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    };
    h.as_bytes()
        .chunks(2)
        .map(|p| nib(p[0]) << 4 | nib(p[1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(s: &str) -> PasswordHash {
        PasswordHash::parse(s, None).unwrap()
    }

    fn ok(h: &PasswordHash, pw: &str) -> bool {
        verify(h.scheme(), h.phc(), pw.as_bytes()).unwrap()
    }

    // Published vectors, each checked with the right and a wrong password.
    const BCRYPT_U: &str = "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"; // crypt_blowfish: "U*U"
    const SCRYPT_RFC7914: &str = "$scrypt$ln=10,r=8,p=16$TmFDbA$/bq+HJ00cgB4VucZDQHp/nxq18vII3gw53N2Y0s3MWIurzDZLiKjiG/xCSedmDDaxyevuUqD7m2DYMvfoswGQA"; // "password", RFC 7914 §12
    const PBKDF2_RFC7914: &str = "$pbkdf2-sha256$i=80000,l=64$TmFDbA$TdzY9guYviGDDO5e8icB+WQaRBjQTAQUrv8Ih2s0q1ah1CWhIlgzVJrbhBtRybMXaicr3ruh0HhHj2Kzl/M8jQ"; // "Password", RFC 7914 §11
                                                                                                                                                              // python3 -c "hashlib.pbkdf2_hmac('sha512', b'password', b'salt', 1000, 64)"
    const PBKDF2_512: &str = "$pbkdf2-sha512$i=1000,l=64$c2FsdA$r+bFUweFtsxrHGRTOEcxvV7kMu5Un9QvtmlXea2KHFv1neacSPd078QAfVKY+QM8AkHVq2kwXntk7O642DTP7A";
    const ARGON2I_REF: &str =
        "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA"; // "password", phc-winner-argon2 test.c
    const FB_KEY: &str =
        "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";
    const FB_HASH: &str =
        "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==";
    const FB_SALT: &str = "42xEC+ixf3L2lw==";

    fn firebase_opts() -> ImportHashOptions {
        ImportHashOptions {
            firebase: Some(FirebaseScryptParams::new(FB_KEY, "Bw==", 8, 14).unwrap()),
            allow_legacy: false,
        }
    }

    fn import(
        hash: &str,
        format: Option<&str>,
        salt: Option<&str>,
    ) -> Result<PasswordHash, ForeignHashError> {
        let opts = ImportHashOptions {
            allow_legacy: true,
            ..firebase_opts()
        };
        import_hash(&ForeignHashInput { hash, format, salt }, &opts)
    }

    #[test]
    fn published_vectors_verify() {
        for (s, pw, scheme) in [
            (BCRYPT_U, "U*U", HashScheme::Bcrypt),
            (SCRYPT_RFC7914, "password", HashScheme::Scrypt),
            (PBKDF2_RFC7914, "Password", HashScheme::Pbkdf2Sha256),
            (PBKDF2_512, "password", HashScheme::Pbkdf2Sha512),
        ] {
            let h = stored(s);
            assert_eq!(h.scheme(), scheme);
            assert!(h.is_foreign() && !h.is_legacy());
            assert!(ok(&h, pw), "{scheme}");
            assert!(!ok(&h, &format!("{pw}x")), "{scheme}");
        }
        // $2b$ and $2y$ are the same algorithm as $2a$ for such input.
        for v in ["$2b$", "$2y$"] {
            let h = stored(&BCRYPT_U.replacen("$2a$", v, 1));
            assert!(ok(&h, "U*U") && !ok(&h, "U*U*"));
        }
        let a = stored(ARGON2I_REF);
        assert_eq!(a.scheme(), HashScheme::Argon2Other);
        assert!(a.is_foreign());
    }

    #[test]
    fn firebase_readme_vector() {
        let h = import(FB_HASH, Some("firebase-scrypt"), Some(FB_SALT)).unwrap();
        assert_eq!(h.scheme(), HashScheme::FirebaseScrypt);
        assert!(h
            .phc()
            .starts_with("$firescrypt$ln=14,r=8,p=1$42xEC+ixf3L2lw==$"));
        assert!(ok(&h, "user1password"));
        assert!(!ok(&h, "user1passwore"));
        // The stored form is accepted as is, with or without the format.
        let again = import(h.phc(), None, None).unwrap();
        assert_eq!(again, h);
    }

    #[test]
    fn salted_sha_both_positions() {
        use sha2::Digest;
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        let suffix = hex(&Sha256::digest(b"pw-1salt"));
        let h = import(&suffix, Some("sha256-salted"), Some("salt")).unwrap();
        assert_eq!(h.scheme(), HashScheme::Sha256Salted);
        assert!(h.is_legacy() && h.phc().starts_with("$sha256-salted$pos=suffix$c2FsdA==$"));
        assert!(ok(&h, "pw-1") && !ok(&h, "pw-2"));
        let prefix = STANDARD.encode(Sha512::digest(b"saltpw-1"));
        let h = import(&prefix, Some("sha512-salted-prefix"), Some("salt")).unwrap();
        assert_eq!(h.scheme(), HashScheme::Sha512Salted);
        assert!(ok(&h, "pw-1") && !ok(&h, "pw-2"));
        // The prefix digest does not verify as a suffix one.
        let wrong = import(&prefix, Some("sha512-salted-suffix"), Some("salt")).unwrap();
        assert!(!ok(&wrong, "pw-1"));
    }

    #[test]
    fn django_form() {
        // python3: base64.b64encode(hashlib.pbkdf2_hmac('sha256', 'lètmein'.encode(), b'seasalt', 1000))
        let s = "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";
        let h = import(s, Some("django-pbkdf2-sha256"), None).unwrap();
        assert_eq!(h.scheme(), HashScheme::DjangoPbkdf2Sha256);
        assert!(ok(&h, "lètmein") && !ok(&h, "letmein"));
    }

    #[test]
    fn detection_and_declared_format_must_agree() {
        assert_eq!(
            import(BCRYPT_U, None, None).unwrap().scheme(),
            HashScheme::Bcrypt
        );
        assert_eq!(
            import(ARGON2I_REF, None, None).unwrap().scheme(),
            HashScheme::Argon2Other
        );
        assert!(matches!(
            import(BCRYPT_U, Some("scrypt"), None),
            Err(ForeignHashError::Malformed {
                format: "scrypt",
                ..
            })
        ));
        assert_eq!(import("abc", None, None), Err(ForeignHashError::Undetected));
        assert!(
            matches!(import(BCRYPT_U, Some("md5"), None), Err(ForeignHashError::UnknownFormat(f)) if f == "md5")
        );
        assert!(matches!(
            import(BCRYPT_U, Some("bcrypt"), Some("salt")),
            Err(ForeignHashError::Malformed { .. })
        ));
    }

    #[test]
    fn legacy_and_firebase_need_options() {
        let none = ImportHashOptions::default();
        let d = "a".repeat(64);
        let input = ForeignHashInput {
            hash: &d,
            format: Some("sha256-salted"),
            salt: Some("s"),
        };
        assert_eq!(
            import_hash(&input, &none),
            Err(ForeignHashError::LegacyNotAllowed)
        );
        let stored_form = import(&d, Some("sha256-salted"), Some("s")).unwrap();
        let detected = ForeignHashInput {
            hash: stored_form.phc(),
            format: None,
            salt: None,
        };
        assert_eq!(
            import_hash(&detected, &none),
            Err(ForeignHashError::LegacyNotAllowed)
        );
        let fb = ForeignHashInput {
            hash: FB_HASH,
            format: Some("firebase-scrypt"),
            salt: Some(FB_SALT),
        };
        assert_eq!(
            import_hash(&fb, &none),
            Err(ForeignHashError::FirebaseParamsMissing)
        );
        let no_salt = ForeignHashInput { salt: None, ..fb };
        assert!(matches!(
            import_hash(&no_salt, &firebase_opts()),
            Err(ForeignHashError::Malformed {
                reason: "salt missing",
                ..
            })
        ));
    }

    #[test]
    fn absurd_costs_are_refused() {
        let out_of_range = |r: Result<PasswordHash, ForeignHashError>| {
            matches!(r, Err(ForeignHashError::CostOutOfRange { .. }))
        };
        assert!(out_of_range(import(
            &BCRYPT_U.replacen("$05$", "$17$", 1),
            None,
            None
        )));
        assert!(out_of_range(import(
            &BCRYPT_U.replacen("$05$", "$03$", 1),
            None,
            None
        )));
        assert!(out_of_range(import(
            &SCRYPT_RFC7914.replacen("ln=10", "ln=21", 1),
            None,
            None
        )));
        assert!(out_of_range(import(
            &SCRYPT_RFC7914.replacen("p=16", "p=9999", 1),
            None,
            None
        )));
        assert!(out_of_range(import(
            &PBKDF2_RFC7914.replacen("i=80000", "i=10000001", 1),
            None,
            None
        )));
        assert!(out_of_range(import(
            &PBKDF2_RFC7914.replacen("i=80000", "i=999", 1),
            None,
            None
        )));
        let dj = "pbkdf2_sha256$999$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";
        assert!(out_of_range(import(dj, None, None)));
        assert!(out_of_range(import(
            &ARGON2I_REF.replacen("m=65536,t=2", "m=2097152,t=1", 1),
            None,
            None
        )));
        assert!(out_of_range(import(
            &ARGON2I_REF.replacen("t=2", "t=100", 1),
            None,
            None
        )));
        assert!(matches!(
            FirebaseScryptParams::new(FB_KEY, "Bw==", 8, 21),
            Err(ForeignHashError::CostOutOfRange { .. })
        ));
        // The same bounds hold on read: an item cannot carry what import refuses.
        assert!(PasswordHash::parse(&BCRYPT_U.replacen("$05$", "$31$", 1), None).is_err());
    }

    #[test]
    fn malformed_strings_are_refused_and_errors_carry_no_secret() {
        for (s, fmt) in [
            ("$2b$05$short", "bcrypt"),
            ("$scrypt$ln=10,r=8,p=1$c2FsdA", "scrypt"),
            ("$pbkdf2-sha1$i=1000$c2FsdA$c2FsdA", "pbkdf2-sha256"),
            (
                "pbkdf2_sha256$1000$seasalt$not base64!",
                "django-pbkdf2-sha256",
            ),
            ("pbkdf2_sha256$1000$$AAAA", "django-pbkdf2-sha256"),
            (
                "$firescrypt$ln=14,r=8,p=2$YQ==$YQ==$Bw==$YQ==",
                "firebase-scrypt",
            ),
            (
                "$firescrypt$ln=14,r=8,p=1$YQ==$YWI=$Bw==$YQ==",
                "firebase-scrypt",
            ),
            ("$sha256-salted$pos=middle$c2FsdA==$AAAA", "sha256-salted"),
            ("$sha256-salted$pos=suffix$c2FsdA==$AAAA", "sha256-salted"),
            ("$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ", "argon2"),
        ] {
            let e = import(s, Some(fmt), None).unwrap_err();
            assert!(matches!(e, ForeignHashError::Malformed { .. }), "{s}: {e}");
            let msg = e.to_string();
            assert!(!msg.contains("c2FsdA") && !msg.contains("seasalt"), "{msg}");
            assert!(PasswordHash::parse(s, None).is_err(), "{s}");
        }
        // A salted digest of the wrong length (hex of 31 bytes).
        let e = import(&"ab".repeat(31), Some("sha256-salted"), Some("s3cr3t-salt")).unwrap_err();
        assert!(!e.to_string().contains("s3cr3t") && !e.to_string().contains("abab"));
        // A foreign hash never carries a pepper.
        assert!(PasswordHash::parse(BCRYPT_U, Some(crate::PepperId::new("k1"))).is_err());
    }

    #[test]
    fn every_form_round_trips_through_serde() {
        let salted = import(&"ab".repeat(32), Some("sha256-salted"), Some("s")).unwrap();
        let salted512 = import(&"cd".repeat(64), Some("sha512-salted-prefix"), Some("s")).unwrap();
        let fb = import(FB_HASH, Some("firebase-scrypt"), Some(FB_SALT)).unwrap();
        let dj = stored("pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=");
        for h in [
            stored(BCRYPT_U),
            stored(SCRYPT_RFC7914),
            stored(PBKDF2_RFC7914),
            stored(PBKDF2_512),
            stored(ARGON2I_REF),
            dj,
            fb,
            salted,
            salted512,
        ] {
            let json = serde_json::to_string(&h).unwrap();
            assert!(
                !json.contains("scheme") && !json.contains("pepperId\":\""),
                "{json}"
            );
            let back: PasswordHash = serde_json::from_str(&json).unwrap();
            assert_eq!(back, h);
            assert_eq!(back.scheme(), h.scheme());
            assert_eq!(back.pepper_id(), None);
        }
    }

    #[test]
    fn firebase_params_debug_hides_the_signer_key() {
        let dbg = format!("{:?}", firebase_opts());
        assert!(
            !dbg.contains("jxspr8") && dbg.contains("rounds: 8"),
            "{dbg}"
        );
    }
}
