//! One line of an import file and its validation, by the rules of the
//! invite use case (`handlers::accounts::check_profile`, `password::Email`).

use password::{ForeignHashInput, ImportHashOptions, PasswordHash};
use serde::Deserialize;

use crate::handlers::accounts::{check_profile, new_biz_id};
use crate::ports::accounts::{User, UserStatus};

/// Longest business id kept from a file.
pub const MAX_BIZ_ID_CHARS: usize = 128;

/// The user id nothing may name (see `docs/data-model.md`, email uniqueness).
const RESERVED_BIZ_ID: &str = "ACC_USR_NO_SUCH_USER";

/// A line as read, before validation. No `Debug`: it may hold a hash.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RawRecord {
    /// Address as exported (normalized here).
    #[serde(default)]
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Phone number, if known.
    #[serde(default)]
    pub phone: Option<String>,
    /// Preferred language tag, if known.
    #[serde(default)]
    pub locale: Option<String>,
    /// The id to keep (tokens already issued name it), or none to generate one.
    #[serde(default)]
    pub biz_id: Option<String>,
    /// `Active`, `PendingPassword`, `Locked` or `Disabled`.
    #[serde(default)]
    pub status: String,
    /// The exported hash.
    #[serde(default)]
    pub password_hash: Option<String>,
    /// Its format, where the hash does not name it.
    #[serde(default)]
    pub hash_format: Option<String>,
    /// Its salt, where the format keeps it apart.
    #[serde(default)]
    pub salt: Option<String>,
}

/// A valid line: the user to write, whether its bizId came from the file.
pub struct Candidate {
    /// The user as it will be stored.
    pub user: User,
    /// The bizId was given (else generated: the line is matched by email).
    pub explicit_id: bool,
    /// The stored hash is a foreign one (upgraded at its first sign-in).
    pub foreign: bool,
}

/// A CSV cell left empty means "not given".
fn given(v: Option<String>) -> Option<String> {
    v.filter(|s| !s.trim().is_empty())
}

fn valid_biz_id(id: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "._:@|-".contains(c);
    !id.is_empty()
        && id.chars().count() <= MAX_BIZ_ID_CHARS
        && id.chars().all(ok_char)
        && id != RESERVED_BIZ_ID
}

impl RawRecord {
    /// The user this line stands for, or why not (never the hash or a
    /// password in the reason).
    pub fn validate(self, hashes: &ImportHashOptions, now_ms: u64) -> Result<Candidate, String> {
        let email = password::Email::parse(&self.email)
            .map_err(|_| "email: not a valid address".to_owned())?;
        let phone = given(self.phone);
        let locale = given(self.locale);
        let (name, locale) = check_profile(&self.name, phone.as_deref(), locale.as_deref())
            .map_err(|field| format!("{field}: invalid value"))?;
        let (biz_id, explicit_id) = match given(self.biz_id) {
            Some(id) if valid_biz_id(id.trim()) => (id.trim().to_owned(), true),
            Some(_) => {
                return Err(format!(
                    "bizId: 1-{MAX_BIZ_ID_CHARS} characters of A-Z a-z 0-9 . _ : @ | -"
                ))
            }
            None => (new_biz_id(), false),
        };
        let status = match self.status.trim() {
            "Active" => UserStatus::Active,
            "PendingPassword" => UserStatus::PendingPassword,
            "Locked" => UserStatus::Locked,
            "Disabled" => UserStatus::Disabled,
            "" => return Err("status: missing".to_owned()),
            _ => return Err("status: one of Active, PendingPassword, Locked, Disabled".to_owned()),
        };
        let hash = given(self.password_hash);
        let format = given(self.hash_format);
        let salt = given(self.salt);
        let password = match (status, hash) {
            (UserStatus::PendingPassword, Some(_)) => {
                return Err("passwordHash: a PendingPassword user has no hash".to_owned())
            }
            (UserStatus::Active, None) => {
                return Err("passwordHash: an Active user needs one".to_owned())
            }
            (_, None) if format.is_some() || salt.is_some() => {
                return Err("hashFormat/salt: given without passwordHash".to_owned())
            }
            (_, None) => None,
            (_, Some(hash)) => Some(import(&hash, format.as_deref(), salt.as_deref(), hashes)?),
        };
        let foreign = password.as_ref().is_some_and(PasswordHash::is_foreign);
        Ok(Candidate {
            user: User {
                biz_id,
                email: email.into(),
                name,
                phone,
                locale,
                status,
                password,
                history: Vec::new(),
                // As for an invited or seeded user: no change through the API yet.
                password_changed_at_ms: None,
                must_change: false,
                breached: false,
                created_at_ms: now_ms,
                version: 1,
            },
            explicit_id,
            foreign,
        })
    }
}

fn import(
    hash: &str,
    format: Option<&str>,
    salt: Option<&str>,
    opts: &ImportHashOptions,
) -> Result<PasswordHash, String> {
    let input = ForeignHashInput {
        hash: hash.trim(),
        format,
        salt,
    };
    // The error names the format and what is wrong, never the hash.
    password::import_hash(&input, opts).map_err(|e| format!("passwordHash: {e}"))
}
