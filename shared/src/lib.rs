//! Core library of the password API. Every Lambda function (through
//! `aws_adapters::lambda`) and `local-api` are thin shells around
//! [`dispatch::serve_endpoint`]: it checks the gateway input and calls the
//! route's handler with a [`handlers::Ctx`] (app, gateway values, request id,
//! route). The module map and the direction of imports are in
//! docs/architecture.md.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod adapters;
pub mod app;
pub mod auth;
pub mod bootstrap;
pub mod channel;
pub mod config;
pub mod dispatch;
pub mod handlers;
pub mod http;
pub mod i18n;
pub mod import;
pub mod observe;
pub mod ports;
pub mod route;
pub mod secure_request;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod time_fmt;
pub mod token;

pub use app::App;
