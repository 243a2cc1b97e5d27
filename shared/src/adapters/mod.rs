//! Adapters for the ports, side by side: `memory` is the embedded default;
//! `range_http` asks the breached-password range service, for local-api and
//! the Lambda functions alike.
pub mod memory;
pub mod range_http;
