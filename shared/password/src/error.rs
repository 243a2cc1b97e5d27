//! The one error type of password operations.

use crate::codes;
use crate::violation::Violation;

/// Failure of a password operation. `Display` never includes secrets.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// One or more rules failed; all are listed.
    #[error("password policy violated: {}", codes_of(.0))]
    Policy(Vec<Violation>),
    /// The candidate does not match (or the user is unknown).
    #[error("password does not match")]
    Mismatch,
    /// A stored hash names a pepper this process has not loaded (a rotation
    /// that dropped a pepper still in use): alarm-worthy, never a mismatch.
    #[error("stored hash names pepper {0}, which is not loaded")]
    UnknownPepper(crate::pepper::PepperId),
    /// The breached-password range service failed and screening fails closed.
    #[error("breached-password screening unavailable: {0}")]
    ScreeningUnavailable(crate::breach::RangeError),
    /// Hashing failed or a task died.
    #[error("internal password error: {0}")]
    Internal(String),
}

fn codes_of(v: &[Violation]) -> String {
    v.iter().map(|v| v.code).collect::<Vec<_>>().join(", ")
}

impl PasswordError {
    /// The catalogue code for a response.
    pub fn code(&self) -> &'static str {
        match self {
            PasswordError::Policy(_) => codes::POLICY_VIOLATION,
            PasswordError::Mismatch => codes::CURRENT_PASSWORD_INCORRECT,
            PasswordError::ScreeningUnavailable(_) => codes::UNAVAILABLE,
            PasswordError::UnknownPepper(_) | PasswordError::Internal(_) => codes::INTERNAL_ERROR,
        }
    }

    /// The violations, when this is a policy error.
    pub fn violations(&self) -> &[Violation] {
        match self {
            PasswordError::Policy(v) => v,
            _ => &[],
        }
    }
}
