//! Configuration: policy rules, Argon2id cost parameters and breached-password
//! screening, validated.

use serde::{Deserialize, Serialize};

/// Hard limits of the product contract.
pub const MIN_LENGTH_FLOOR: usize = 8;
/// Largest accepted password, in code points after NFKC normalization.
pub const MAX_LENGTH_CEILING: usize = 128;
/// The most code points the strength estimator (zxcvbn 3.1) is ever given.
/// Its scoring multiplies without overflow checks: `factorial(l)` over the
/// number of matches in a sequence (21! overflows u64) and `degree^turns`
/// for keyboard paths (keypad degree 5: 5^28 overflows). A candidate of at
/// most 20 code points has at most 20 matches and 19 turns, so every
/// product stays in range (docs/password-policy.md).
pub const ZXCVBN_SAFE_CHARS: usize = 20;
/// Raw input over this many bytes is refused before normalization or hashing.
pub const MAX_INPUT_BYTES: usize = 1024;
/// Largest allowed history depth.
pub const MAX_HISTORY_DEPTH: usize = 24;

/// Argon2id floor (OWASP minimum): m = 19 MiB, t = 2, p = 1.
pub const ARGON2_MIN_MEMORY_KIB: u32 = 19_456;
/// Argon2id floor: iterations (t).
pub const ARGON2_MIN_ITERATIONS: u32 = 2;
/// Argon2id floor: lanes (p).
pub const ARGON2_MIN_PARALLELISM: u32 = 1;
/// Ceilings, so a typo cannot make every login take seconds or exhaust memory.
pub const ARGON2_MAX_MEMORY_KIB: u32 = 1_048_576;
/// Argon2id ceiling: iterations (t).
pub const ARGON2_MAX_ITERATIONS: u32 = 64;
/// Argon2id ceiling: lanes (p).
pub const ARGON2_MAX_PARALLELISM: u32 = 16;

/// A configuration value out of its allowed range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A value outside its documented range.
    #[error("invalid password configuration: {field} = {value} (allowed {allowed})")]
    OutOfRange {
        /// The configuration key, e.g. `minLength`.
        field: &'static str,
        /// The value given.
        value: String,
        /// The allowed range, as text.
        allowed: String,
    },
    /// An unusable breached-password screen (filter file, range service).
    #[error("invalid breached-password screening: {0}")]
    Breached(String),
    /// An unusable pepper ring (the reason names the problem, never a secret).
    #[error("invalid pepper ring: {0}")]
    Pepper(&'static str),
}

fn check<T: PartialOrd + std::fmt::Display>(
    field: &'static str,
    value: T,
    lo: T,
    hi: T,
) -> Result<(), ConfigError> {
    if value < lo || value > hi {
        return Err(ConfigError::OutOfRange {
            field,
            value: value.to_string(),
            allowed: format!("{lo}..={hi}"),
        });
    }
    Ok(())
}

/// Policy rules. Every field has a default; deserialize with missing fields
/// filled from [`PolicyConfig::default`], then call [`PolicyConfig::validate`]
/// (done by [`crate::Policy::new`] and [`crate::PasswordService::new`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyConfig {
    /// Minimum length in code points (8..=128).
    pub min_length: usize,
    /// Maximum length in code points (min_length..=128).
    pub max_length: usize,
    /// How many previous passwords may not be reused (0..=24, 0 = off).
    pub history_depth: usize,
    /// Longest allowed run of one identical character (0 = off, otherwise 2..=128).
    pub max_repeats: usize,
    /// Character classes (lower, upper, digit, other) required (0..=4, 0 = off).
    pub required_classes: usize,
    /// Minimum zxcvbn score (0..=4, 0 = off).
    pub min_score: u8,
    /// Only the first N code points are given to zxcvbn (16..=[`ZXCVBN_SAFE_CHARS`]),
    /// bounding its cost and keeping its arithmetic in range.
    pub zxcvbn_max_chars: usize,
    /// Refuse passwords containing the user's email, name, phone or bizId.
    pub forbid_personal_info: bool,
}

impl Default for PolicyConfig {
    fn default() -> Self {
        Self {
            min_length: 8,
            max_length: 128,
            history_depth: 5,
            max_repeats: 3,
            required_classes: 0,
            min_score: 3,
            zxcvbn_max_chars: ZXCVBN_SAFE_CHARS,
            forbid_personal_info: true,
        }
    }
}

impl PolicyConfig {
    /// Checks every value against its allowed range.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check(
            "minLength",
            self.min_length,
            MIN_LENGTH_FLOOR,
            MAX_LENGTH_CEILING,
        )?;
        check(
            "maxLength",
            self.max_length,
            self.min_length,
            MAX_LENGTH_CEILING,
        )?;
        check("historyDepth", self.history_depth, 0, MAX_HISTORY_DEPTH)?;
        if self.max_repeats != 0 {
            check("maxRepeats", self.max_repeats, 2, MAX_LENGTH_CEILING)?;
        }
        check("requiredClasses", self.required_classes, 0, 4)?;
        check("minScore", self.min_score, 0, 4)?;
        check(
            "zxcvbnMaxChars",
            self.zxcvbn_max_chars,
            16,
            ZXCVBN_SAFE_CHARS,
        )?;
        Ok(())
    }
}

/// Argon2id cost parameters; can only be built at or above the floor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawHashingConfig", rename_all = "camelCase")]
pub struct HashingConfig {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

#[derive(Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
struct RawHashingConfig {
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

impl Default for RawHashingConfig {
    fn default() -> Self {
        let d = HashingConfig::default();
        Self {
            memory_kib: d.memory_kib,
            iterations: d.iterations,
            parallelism: d.parallelism,
        }
    }
}

impl TryFrom<RawHashingConfig> for HashingConfig {
    type Error = ConfigError;
    fn try_from(r: RawHashingConfig) -> Result<Self, ConfigError> {
        HashingConfig::new(r.memory_kib, r.iterations, r.parallelism)
    }
}

impl Default for HashingConfig {
    fn default() -> Self {
        Self {
            memory_kib: ARGON2_MIN_MEMORY_KIB,
            iterations: ARGON2_MIN_ITERATIONS,
            parallelism: ARGON2_MIN_PARALLELISM,
        }
    }
}

impl HashingConfig {
    /// Refuses anything below m=19456 KiB, t=2, p=1 (or above the ceilings).
    pub fn new(memory_kib: u32, iterations: u32, parallelism: u32) -> Result<Self, ConfigError> {
        check(
            "memoryKib",
            memory_kib,
            ARGON2_MIN_MEMORY_KIB,
            ARGON2_MAX_MEMORY_KIB,
        )?;
        check(
            "iterations",
            iterations,
            ARGON2_MIN_ITERATIONS,
            ARGON2_MAX_ITERATIONS,
        )?;
        check(
            "parallelism",
            parallelism,
            ARGON2_MIN_PARALLELISM,
            ARGON2_MAX_PARALLELISM,
        )?;
        // Argon2 needs at least 8 KiB per lane.
        check(
            "memoryKib",
            memory_kib,
            8 * parallelism,
            ARGON2_MAX_MEMORY_KIB,
        )?;
        Ok(Self {
            memory_kib,
            iterations,
            parallelism,
        })
    }

    /// Argon2 memory cost in KiB (m).
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }
    /// Argon2 iterations (t).
    pub fn iterations(&self) -> u32 {
        self.iterations
    }
    /// Argon2 lanes (p).
    pub fn parallelism(&self) -> u32 {
        self.parallelism
    }

    pub(crate) fn argon2_params(&self) -> argon2::Params {
        argon2::Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .expect("validated Argon2 parameters")
    }
}

/// What a sign-in does with a correct password found breached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SignInAction {
    /// Answer `ok` with `mustChange: true` and email the owner (default).
    #[default]
    Flag,
    /// Answer `invalid` and email the owner.
    Block,
    /// Do not screen at sign-in.
    Off,
}

/// The `breached` section of `PASSWORD_CONFIG`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct BreachedConfig {
    /// Screen new passwords (change, init, reset) and sign-ins at all.
    pub enabled: bool,
    /// A filter file built by `pwctl admin breached build`; unset: the bundled one.
    pub filter: Option<String>,
    /// Base URL of a Pwned Passwords compatible range service, to which
    /// `{prefix}` is appended (e.g. `https://api.pwnedpasswords.com/range/`);
    /// unset: offline only.
    pub range_url: Option<String>,
    /// How long a range request may take (50..=5000 ms).
    pub timeout_ms: u64,
    /// When the range service fails or is slow: refuse the password change
    /// with 503 (`true`) or go on with the offline verdict (`false`).
    pub fail_closed: bool,
    /// What a sign-in with a breached password answers.
    pub sign_in: SignInAction,
}

impl Default for BreachedConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            filter: None,
            range_url: None,
            timeout_ms: 500,
            fail_closed: false,
            sign_in: SignInAction::Flag,
        }
    }
}

impl BreachedConfig {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(50..=5000).contains(&self.timeout_ms) {
            return Err(ConfigError::OutOfRange {
                field: "breached.timeoutMs",
                value: self.timeout_ms.to_string(),
                allowed: "50..=5000".into(),
            });
        }
        if let Some(url) = &self.range_url {
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::OutOfRange {
                    field: "breached.rangeUrl",
                    value: "(not an http(s) URL)".into(),
                    allowed: "an http:// or https:// URL".into(),
                });
            }
        }
        Ok(())
    }
}

/// Everything the [`crate::PasswordService`] needs besides the peppers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase", deny_unknown_fields)]
pub struct PasswordConfig {
    /// The hash-free rules.
    pub policy: PolicyConfig,
    /// Argon2id parameters.
    pub hashing: HashingConfig,
    /// Breached-password screening.
    pub breached: BreachedConfig,
}

impl PasswordConfig {
    /// Checks the policy and screening values (hashing values are checked when built).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.policy.validate()?;
        self.breached.validate()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        PasswordConfig::default().validate().unwrap();
        assert_eq!(
            HashingConfig::default(),
            HashingConfig::new(19_456, 2, 1).unwrap()
        );
    }

    #[test]
    fn refuses_argon_params_below_floor() {
        assert!(HashingConfig::new(19_455, 2, 1).is_err());
        assert!(HashingConfig::new(19_456, 1, 1).is_err());
        assert!(HashingConfig::new(19_456, 2, 0).is_err());
        assert!(HashingConfig::new(65_536, 3, 2).is_ok());
        let err = serde_json::from_str::<HashingConfig>(r#"{"memoryKib": 4096}"#).unwrap_err();
        assert!(err.to_string().contains("memoryKib"), "{err}");
        let ok: HashingConfig = serde_json::from_str(r#"{"iterations": 3}"#).unwrap();
        assert_eq!(ok.iterations(), 3);
        assert_eq!(ok.memory_kib(), 19_456);
    }

    #[test]
    fn refuses_history_depth_above_24_and_bad_lengths() {
        let mut c = PolicyConfig {
            history_depth: 25,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        c.history_depth = 24;
        c.validate().unwrap();
        c.history_depth = 0;
        c.validate().unwrap();
        c.min_length = 7;
        assert!(c.validate().is_err());
        c.min_length = 129;
        assert!(c.validate().is_err());
        c.min_length = 12;
        c.max_length = 10;
        assert!(c.validate().is_err());
        c.max_length = 129;
        assert!(c.validate().is_err());
    }

    #[test]
    fn policy_config_deserializes_with_defaults() {
        let c: PasswordConfig =
            serde_json::from_str(r#"{"policy": {"historyDepth": 10, "requiredClasses": 3}}"#)
                .unwrap();
        assert_eq!(c.policy.history_depth, 10);
        assert_eq!(c.policy.required_classes, 3);
        assert_eq!(c.policy.min_length, 8);
        assert_eq!(c.hashing, HashingConfig::default());
        assert!(serde_json::from_str::<PasswordConfig>(r#"{"policy": {"bogus": 1}}"#).is_err());
    }
}
