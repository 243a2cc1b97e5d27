//! AWS adapters of the password API.
//!
//! - [`DynamoSessionStore`], [`DynamoReplayGuard`], [`DynamoRateLimiter`]:
//!   the `shared::ports` traits over one DynamoDB table (see
//!   `docs/data-model.md`), same contract as `shared::adapters::memory`.
//! - [`KmsSealer`] / [`KmsKeyStore`]: secrets (SCv2 private keys, the session
//!   data key, the password pepper) sealed by a KMS symmetric key under an
//!   encryption context `{"purpose":..,"kid":..}`, stored in the table and
//!   unsealed once per cold start, each function only those its
//!   `shared::route::Needs` name; created at deploy time by [`admin`].
//! - [`DynamoAccountStore`]: users, email claims, init sessions, reset
//!   tokens, sealed forgot requests and the sealed outbox; every change is
//!   one `TransactWriteItems`.
//! - [`SesMailer`]: the [`Mailer`] port over SES v2.
//! - [`lambda`]: the Lambda shell of the HTTP functions (API Gateway event in,
//!   response out).
//! - [`bootstrap`]: the cold start of every function over these adapters;
//!   [`invite_fn`], [`admin_users_fn`], [`mail_fn`] and [`sweep`]: the
//!   non-HTTP functions.
//!
//! Every SDK failure becomes [`shared::ports::Unavailable`] with context; no
//! secret is ever logged or put in an error message.

mod accounts;
pub mod admin;
pub mod admin_users_fn;
pub mod bootstrap;
mod clients;
pub mod cognito;
pub mod cognito_fn;
mod config;
pub mod deadline;
mod dynamo;
mod error;
mod guess;
pub mod import;
pub mod internal_fn;
pub mod invite_fn;
pub mod jwks;
pub mod key_expiry;
mod kms;
#[cfg(feature = "lambda-http")]
pub mod lambda;
mod mail;
pub mod mail_fn;
mod rate;
pub mod sweep;
pub mod table;
#[cfg(feature = "testing")]
pub mod testing;
pub mod verify_fn;

pub use accounts::{
    sha256_hex, Claim, DynamoAccountStore, StoredOutbox, FORGOT_PENDING_PK, OUTBOX_TTL_MS,
};
pub use clients::AwsClients;
pub use config::{AwsConfig, ConfigError};
pub use dynamo::{DynamoReplayGuard, DynamoSessionStore, SessionSealer};
pub use error::unavailable;
pub use guess::{guess_pk, DynamoGuessCounter, GUESS_SK};
pub use kms::{
    Ensured, KeyInfo, KeyStoreError, KmsKeyStore, KmsSealer, SealContext, DATA_KEY_BYTES,
    PEPPER_BYTES, PURPOSE_OUTBOX_DATA_KEY, PURPOSE_PASSWORD_PEPPER, PURPOSE_SCV2_PRIVATE_KEY,
    PURPOSE_SESSION_DATA_KEY,
};
pub use mail::{Email, Mailer, SesMailer};
pub use rate::DynamoRateLimiter;
