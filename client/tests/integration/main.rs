//! The client crate's integration tests, one binary (each link of the
//! whole dependency graph costs seconds): pwctl's and pwload's command
//! lines, each run as its own child process.

mod pwctl;
mod pwctl_admin;
mod pwload;
