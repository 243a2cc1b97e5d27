//! The shared crate's integration tests, one binary (each link of the whole
//! dependency graph costs seconds): one module per concern, each building
//! its own in-process app, so none shares state.

mod breached_range;
mod edge;
mod envelope_props;
mod fuzz_corpus;
mod secure_request;
mod session_creation;
mod unavailable;
mod vectors;
mod wycheproof;
