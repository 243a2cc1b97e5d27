//! Password domain of the password API.
//!
//! * [`Policy`]: hash-free rules (length in code points after NFKC, personal
//!   info, repeats, optional complexity, zxcvbn strength), all failures at once.
//! * [`PasswordService`]: the policy plus same-as-current / reuse checks
//!   (verified in parallel), Argon2id hashing off the async runtime, dummy
//!   verification for unknown users, transparent rehash and pepper rotation.
//! * [`BreachScreen`]: breached-password screening (offline filter, optional
//!   k-anonymity range service).
//! * Domain types with private fields: [`NewPassword`], [`PasswordHash`],
//!   [`Email`], [`PersonalInfo`]. Secrets never appear in `Debug`/`Display`.
//!
//! See `docs/password-policy.md` for the rules and their rationale.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod breach;
mod codes;
mod config;
mod error;
pub mod foreign;
mod history;
mod new_password;
mod normalize;
mod pepper;
mod policy;
mod scheme;
mod service;
mod types;
mod violation;

pub use breach::{BreachFilter, BreachScreen, BreachedConfig, SignInAction};
pub use codes::{all_codes, suggestion_code, warning_code};
pub use config::{
    ConfigError, HashingConfig, PasswordConfig, PolicyConfig, ARGON2_MIN_ITERATIONS,
    ARGON2_MIN_MEMORY_KIB, ARGON2_MIN_PARALLELISM, MAX_HISTORY_DEPTH, MAX_INPUT_BYTES,
    MAX_LENGTH_CEILING, MIN_LENGTH_FLOOR, ZXCVBN_SAFE_CHARS,
};
pub use error::PasswordError;
pub use foreign::{
    import_hash, FirebaseScryptParams, ForeignHashError, ForeignHashInput, HashScheme,
    ImportHashOptions,
};
pub use history::push_history;
pub use new_password::NewPassword;
pub use pepper::{PepperId, PepperRing, MIN_PEPPER_BYTES};
pub use policy::{Evaluation, Policy};
pub use service::{NewHash, PasswordService, PolicyContext, Verified};
pub use types::{field, Email, InvalidEmail, InvalidHash, PasswordHash, PersonalInfo};
pub use violation::Violation;

/// Catalogue codes emitted by this crate, as constants.
pub mod code {
    pub use crate::codes::{
        BREACHED, CONTAINS_PERSONAL_INFO, CURRENT_PASSWORD_INCORRECT, INTERNAL_ERROR,
        LOW_COMPLEXITY, POLICY_VIOLATION, REUSED, REVERSED_PERSONAL_INFO, SAME_AS_CURRENT,
        TOO_LONG, TOO_MANY_REPEATS, TOO_SHORT, WEAK,
    };
}
