//! The password crate's integration tests, one binary (each link of the
//! whole dependency graph costs seconds): one module per concern.

mod breached;
mod policy;
mod props;
mod service;
