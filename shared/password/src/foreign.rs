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

use zeroize::Zeroizing;

use crate::scheme::{
    b64, check_argon2, check_scrypt, cost, malformed, Firescrypt, Salted, FIREBASE,
};
pub use crate::scheme::{
    ForeignHashError, HashScheme, SaltPosition, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_PARALLELISM,
    MAX_ARGON2_WORK, MAX_BCRYPT_COST, MAX_PBKDF2_ITERATIONS, MAX_SCRYPT_LOG_N, MAX_SCRYPT_WORK,
    MIN_BCRYPT_COST, MIN_PBKDF2_ITERATIONS,
};
use crate::types::PasswordHash;

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
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use sha2::{Sha256, Sha512};

    use super::*;
    use crate::scheme::verify;

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
