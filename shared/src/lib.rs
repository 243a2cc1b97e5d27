//! Core library of the password API. Every Lambda function and `local-api`
//! are thin shells around [`routes::handle`].
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapters;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod channel;
pub mod config;
pub mod handlers;
pub mod http;
pub mod i18n;
pub mod lambda;
pub mod observe;
pub mod ports;
pub mod routes;
pub mod telemetry;
pub mod time_fmt;

pub use app::App;
pub use routes::Route;
