//! A candidate password checked for length only.

use std::fmt;

use secrecy::{ExposeSecret, SecretString};

use crate::codes;
use crate::config::PolicyConfig;
use crate::error::PasswordError;
use crate::normalize::normalize;
use crate::violation::Violation;

/// A candidate password that is NFKC-normalized and within the configured
/// length limits (code points). Debug/Display never show it.
pub struct NewPassword(SecretString);

impl NewPassword {
    /// Normalizes (NFKC) and checks only the length limits of `config`.
    /// The full policy lives in [`crate::Policy`] / [`crate::PasswordService`].
    pub fn parse(raw: &str, config: &PolicyConfig) -> Result<Self, PasswordError> {
        let too_long = || Violation::new(codes::TOO_LONG).with("max", config.max_length);
        let normalized = normalize(raw).ok_or_else(|| PasswordError::Policy(vec![too_long()]))?;
        let n = normalized.chars().count();
        if n < config.min_length {
            return Err(PasswordError::Policy(vec![Violation::new(
                codes::TOO_SHORT,
            )
            .with("min", config.min_length)]));
        }
        if n > config.max_length {
            return Err(PasswordError::Policy(vec![too_long()]));
        }
        Ok(Self::from_normalized(&normalized))
    }

    pub(crate) fn from_normalized(normalized: &str) -> Self {
        Self(SecretString::from(normalized))
    }

    /// The normalized text (what is hashed). Keep its use local.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Length in code points.
    pub fn char_count(&self) -> usize {
        self.0.expose_secret().chars().count()
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_password_parse() {
        let c = PolicyConfig::default();
        assert!(NewPassword::parse("1234567", &c).is_err());
        let p = NewPassword::parse("😀😀😀😀😀😀😀😀", &c).unwrap();
        assert_eq!(p.char_count(), 8);
        assert_eq!(format!("{p:?}"), "NewPassword([redacted])");
        assert!(NewPassword::parse(&"界".repeat(129), &c).is_err());
        assert!(NewPassword::parse(&"界".repeat(128), &c).is_ok());
        // NFKC: fullwidth letters become ASCII.
        let p = NewPassword::parse("ｐａｓｓｗｏｒｄ", &c).unwrap();
        assert_eq!(p.expose_secret(), "password");
    }
}
