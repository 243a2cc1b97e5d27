//! The end-to-end test support: a local-api served on a loopback port
//! ([`Server`]), typed calls of the password routes over a secure session
//! ([`App`]), the AWS adapters against the local emulator ([`emulator`]),
//! the OpenAPI observer every answer is held against ([`contract`]),
//! the app in process without HTTP for the shared crate's suites
//! ([`in_process`]), the verdict of the browser client's node runs
//! ([`node`]), and `template.yaml` as every template test reads it
//! ([`template`]).
//! The suites themselves live in `tests/`.
#![forbid(unsafe_code)]

pub mod app;
pub mod contract;
pub mod emulator;
pub mod in_process;
pub mod node;
mod server;
pub mod template;

pub use app::App;
pub use emulator::{aws_local, aws_local_with, aws_stack};
pub use server::*;
pub use test_support::{emulator_env, root, EMULATOR_TIMEOUT_MS};
