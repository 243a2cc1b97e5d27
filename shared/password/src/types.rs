//! Domain types that carry guarantees: fields private, built by `parse`/`new`.

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::pepper::PepperId;
use crate::scheme::{self, ForeignHashError, HashScheme};

/// A stored hash string and the id of the pepper it was made with: our
/// Argon2id PHC string, or a foreign hash (imported, `pepper_id` None; see
/// [`crate::foreign`]) until the next successful sign-in replaces it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPasswordHash", rename_all = "camelCase")]
pub struct PasswordHash {
    phc: String,
    pepper_id: Option<PepperId>,
    // Read from `phc` by `parse`, never stored on its own.
    #[serde(skip)]
    scheme: HashScheme,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawPasswordHash {
    phc: String,
    #[serde(default)]
    pepper_id: Option<PepperId>,
}

impl TryFrom<RawPasswordHash> for PasswordHash {
    type Error = InvalidHash;
    fn try_from(r: RawPasswordHash) -> Result<Self, InvalidHash> {
        PasswordHash::parse(&r.phc, r.pepper_id)
    }
}

/// The stored string is not a supported hash string (an Argon2 PHC string
/// with salt and output, or a foreign form of [`crate::foreign`] within its
/// cost bounds), or a foreign hash names a pepper.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored password hash is not a supported hash string")]
pub struct InvalidHash;

impl From<ForeignHashError> for InvalidHash {
    fn from(_: ForeignHashError) -> Self {
        InvalidHash
    }
}

impl PasswordHash {
    /// Checks that `phc` is an Argon2 PHC string with salt and output, or a
    /// foreign hash string (then `pepper_id` must be None).
    pub fn parse(phc: &str, pepper_id: Option<PepperId>) -> Result<Self, InvalidHash> {
        if !phc.starts_with("$argon2") {
            if pepper_id.is_some() {
                return Err(InvalidHash);
            }
            return Ok(Self::parse_foreign(phc)?);
        }
        let parsed = argon2::PasswordHash::new(phc).map_err(|_| InvalidHash)?;
        let algorithm = argon2::Algorithm::try_from(parsed.algorithm).map_err(|_| InvalidHash)?;
        argon2::Params::try_from(&parsed).map_err(|_| InvalidHash)?;
        if parsed.salt.is_none() || parsed.hash.is_none() {
            return Err(InvalidHash);
        }
        let scheme = match algorithm {
            argon2::Algorithm::Argon2id => HashScheme::Argon2id,
            _ => HashScheme::Argon2Other,
        };
        Ok(Self {
            phc: phc.to_owned(),
            pepper_id,
            scheme,
        })
    }

    /// A hash string of any supported form, without a pepper.
    pub(crate) fn parse_foreign(s: &str) -> Result<Self, ForeignHashError> {
        if s.starts_with("$argon2") {
            return Self::parse(s, None).map_err(|_| ForeignHashError::Malformed {
                format: "argon2",
                reason: "not an Argon2 PHC string with salt and hash",
            });
        }
        let scheme = scheme::parse_stored(s)?;
        Ok(Self {
            phc: s.to_owned(),
            pepper_id: None,
            scheme,
        })
    }

    pub(crate) fn from_trusted(phc: String, pepper_id: Option<PepperId>) -> Self {
        Self {
            phc,
            pepper_id,
            scheme: HashScheme::Argon2id,
        }
    }

    /// The algorithm family, read from the string.
    pub fn scheme(&self) -> HashScheme {
        self.scheme
    }

    /// Anything that is not our Argon2id: replaced on the next sign-in.
    pub fn is_foreign(&self) -> bool {
        self.scheme.is_foreign()
    }

    /// Salted SHA: the password must be changed after the next sign-in.
    pub fn is_legacy(&self) -> bool {
        self.scheme.is_legacy()
    }

    /// The PHC string, for storage.
    pub fn phc(&self) -> &str {
        &self.phc
    }

    /// The pepper the hash was made with, if any.
    pub fn pepper_id(&self) -> Option<&PepperId> {
        self.pepper_id.as_ref()
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHash")
            .field("phc", &"[redacted]")
            .field("pepper_id", &self.pepper_id)
            .finish()
    }
}

/// Why an email address was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid email address")]
pub struct InvalidEmail;

/// Maximum email length in bytes.
pub const MAX_EMAIL_BYTES: usize = 255;

/// A pragmatic email address: trimmed, one `@`, non-empty local part, a
/// domain containing a dot, no whitespace or control characters, at most
/// 255 bytes. The whole address is lowercased: this is the one canonical
/// form, stored and looked up (nobody can own `Ann@x.io` and `ann@x.io` as
/// two accounts; see docs/data-model.md).
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email {
    value: String,
    at: usize,
}

impl Email {
    /// Trims and checks `raw` (see the type).
    pub fn parse(raw: &str) -> Result<Self, InvalidEmail> {
        let s = raw.trim();
        if s.is_empty() || s.len() > MAX_EMAIL_BYTES {
            return Err(InvalidEmail);
        }
        if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(InvalidEmail);
        }
        let (local, domain) = s.split_once('@').ok_or(InvalidEmail)?;
        if local.is_empty() || domain.contains('@') {
            return Err(InvalidEmail);
        }
        let labels_ok = domain.split('.').all(|l| !l.is_empty());
        if !domain.contains('.') || !labels_ok {
            return Err(InvalidEmail);
        }
        let value = s.to_lowercase();
        if value.len() > MAX_EMAIL_BYTES {
            return Err(InvalidEmail);
        }
        let at = value.find('@').ok_or(InvalidEmail)?;
        Ok(Self { at, value })
    }

    /// The canonical (lowercased) address.
    pub fn as_str(&self) -> &str {
        &self.value
    }
    /// The part before `@`, lowercased.
    pub fn local_part(&self) -> &str {
        &self.value[..self.at]
    }
    /// The part after `@`, lowercased.
    pub fn domain(&self) -> &str {
        &self.value[self.at + 1..]
    }
}

impl TryFrom<String> for Email {
    type Error = InvalidEmail;
    fn try_from(s: String) -> Result<Self, InvalidEmail> {
        Email::parse(&s)
    }
}

impl From<Email> for String {
    fn from(e: Email) -> String {
        e.value
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl fmt::Debug for Email {
    // Personal data: logs get a masked form only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let first = self.local_part().chars().next().unwrap_or('*');
        write!(f, "Email({first}***@{})", self.domain())
    }
}

/// Field names used in the `{field}` param of personal-info violations.
pub mod field {
    /// The e-mail address (its local part).
    pub const EMAIL: &str = "email";
    /// The user's name.
    pub const NAME: &str = "name";
    /// The phone number.
    pub const PHONE: &str = "phone";
    /// The business id.
    pub const BIZ_ID: &str = "bizId";
}

/// Minimum length (code points) of a personal fragment worth checking.
pub const MIN_FRAGMENT_CHARS: usize = 3;

/// The user's own data that a password may not contain. Built once per
/// request; the lowercased, NFKC-normalized fragments are precomputed.
#[derive(Clone, Default)]
pub struct PersonalInfo {
    email: Option<Email>,
    name: Option<String>,
    phone: Option<String>,
    biz_id: Option<String>,
    fragments: Vec<(&'static str, String)>,
}

fn fold(s: &str) -> String {
    s.nfkc().collect::<String>().to_lowercase()
}

fn split_alnum(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| !c.is_alphanumeric())
        .filter(|p| !p.is_empty())
}

/// Splits at boundaries between digits and non-digits: "smith92" -> ["smith", "92"].
fn split_digit_runs(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev: Option<bool> = None;
    for (i, c) in s.char_indices() {
        let d = c.is_numeric();
        if prev.is_some_and(|p| p != d) {
            out.push(&s[start..i]);
            start = i;
        }
        prev = Some(d);
    }
    if start < s.len() {
        out.push(&s[start..]);
    }
    out
}

impl PersonalInfo {
    /// Builds the fragments to look for from whichever fields are known.
    pub fn new(
        email: Option<Email>,
        name: Option<&str>,
        phone: Option<&str>,
        biz_id: Option<&str>,
    ) -> Self {
        let mut frags: Vec<(&'static str, String)> = Vec::new();
        let mut push = |field: &'static str, s: &str| {
            if s.chars().count() >= MIN_FRAGMENT_CHARS
                && !frags.iter().any(|(f, t)| *f == field && t == s)
            {
                frags.push((field, s.to_owned()));
            }
        };
        if let Some(e) = &email {
            let local = fold(e.local_part());
            push(field::EMAIL, &local);
            for piece in local.split(['.', '_', '-', '+']) {
                push(field::EMAIL, piece);
                for run in split_digit_runs(piece) {
                    push(field::EMAIL, run);
                }
            }
        }
        if let Some(n) = name {
            let n = fold(n);
            let parts: Vec<&str> = split_alnum(&n).collect();
            for p in &parts {
                push(field::NAME, p);
            }
            if parts.len() > 1 {
                push(field::NAME, &parts.concat());
            }
        }
        if let Some(p) = phone {
            let digits: String = fold(p).chars().filter(char::is_ascii_digit).collect();
            push(field::PHONE, &digits);
            // Without a country code / trunk prefix: the subscriber number.
            if digits.len() > 8 {
                push(field::PHONE, &digits[digits.len() - 8..]);
            }
        }
        if let Some(b) = biz_id {
            let b = fold(b.trim());
            push(field::BIZ_ID, &b);
            for p in split_alnum(&b) {
                push(field::BIZ_ID, p);
            }
        }
        Self {
            email,
            name: name.map(str::to_owned),
            phone: phone.map(str::to_owned),
            biz_id: biz_id.map(str::to_owned),
            fragments: frags,
        }
    }

    /// The e-mail address, if known.
    pub fn email(&self) -> Option<&Email> {
        self.email.as_ref()
    }
    /// The name, if known.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }
    /// The phone number, if known.
    pub fn phone(&self) -> Option<&str> {
        self.phone.as_deref()
    }
    /// The business id, if known.
    pub fn biz_id(&self) -> Option<&str> {
        self.biz_id.as_deref()
    }

    /// (field, lowercased fragment) pairs, each at least 3 code points.
    pub(crate) fn fragments(&self) -> &[(&'static str, String)] {
        &self.fragments
    }
}

impl fmt::Debug for PersonalInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonalInfo")
            .field("email", &self.email)
            .field("name", &self.name.as_ref().map(|_| "[redacted]"))
            .field("phone", &self.phone.as_ref().map(|_| "[redacted]"))
            .field("biz_id", &self.biz_id.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_parse() {
        let e = Email::parse("  John.Smith92+tag@Example.COM ").unwrap();
        assert_eq!(e.as_str(), "john.smith92+tag@example.com");
        assert_eq!(e.local_part(), "john.smith92+tag");
        assert_eq!(e.domain(), "example.com");
        for bad in [
            "",
            "a",
            "@x.com",
            "a@",
            "a@b",
            "a@@b.com",
            "a@b@c.com",
            "a b@c.com",
            "a@.com",
            "a@b.",
            "a@b..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        let long = format!("{}@x.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
        let ok = format!("{}@x.com", "a".repeat(249));
        assert!(Email::parse(&ok).is_ok());
        assert!(!format!("{e:?}").contains("smith"));
        // One canonical form: addresses differing only in case are equal.
        assert_eq!(
            Email::parse("ANN@X.IO").unwrap(),
            Email::parse("ann@x.io").unwrap()
        );
        let json = serde_json::to_string(&e).unwrap();
        let back: Email = serde_json::from_str(&json).unwrap();
        assert_eq!(back, e);
        assert!(serde_json::from_str::<Email>("\"nope\"").is_err());
    }

    #[test]
    fn fragments() {
        let p = PersonalInfo::new(
            Some(Email::parse("john.smith92+tag@example.com").unwrap()),
            Some("Nguyễn Văn An"),
            Some("+84 912-345-678"),
            Some("ACME-2024"),
        );
        let f: Vec<&str> = p.fragments().iter().map(|(_, s)| s.as_str()).collect();
        for want in [
            "john.smith92+tag",
            "john",
            "smith92",
            "smith",
            "tag",
            "nguyễn",
            "văn",
            "nguyễnvănan",
            "84912345678",
            "12345678",
            "acme-2024",
            "acme",
            "2024",
        ] {
            assert!(f.contains(&want), "{want} missing from {f:?}");
        }
        assert!(!f.contains(&"an"), "short parts are ignored");
        assert!(!f.contains(&"92"));
        let dbg = format!("{p:?}");
        assert!(!dbg.contains("Nguy") && !dbg.contains("912"), "{dbg}");
    }

    #[test]
    fn password_hash_parse_and_debug() {
        assert!(PasswordHash::parse("not a phc", None).is_err());
        assert!(PasswordHash::parse("$argon2id$v=19$m=19456,t=2,p=1", None).is_err());
        let phc = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        let h = PasswordHash::parse(phc, Some(PepperId::new("k1"))).unwrap();
        assert!(!format!("{h:?}").contains("argon2id"));
        let json = serde_json::to_string(&h).unwrap();
        assert!(json.contains("pepperId"), "{json}");
        let back: PasswordHash = serde_json::from_str(&json).unwrap();
        assert_eq!(back, h);
        assert!(serde_json::from_str::<PasswordHash>(r#"{"phc":"x"}"#).is_err());
        let nopep: PasswordHash = serde_json::from_str(&format!(r#"{{"phc":"{phc}"}}"#)).unwrap();
        assert_eq!(nopep.pepper_id(), None);
    }
}
