//! Test support for the adapters of every crate (feature `testing`).

pub mod conformance;
