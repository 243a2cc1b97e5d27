//! Adapters for the ports, side by side: `memory` is the embedded default;
//! `range_http` asks the breached-password range service, for local-api and
//! the Lambda functions alike, through the client of `https`.
pub mod https;
pub mod memory;
pub mod range_http;
