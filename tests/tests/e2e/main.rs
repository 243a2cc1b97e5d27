//! The end-to-end tests, one binary (each link of the whole dependency graph
//! costs seconds): one module per concern. Each starts its own in-process
//! local-api, emulator stack or child process, so none shares state; the
//! tests that read the process's audit, metric and log lines are in
//! `tests/observed`.

mod aws_account_flows;
mod aws_calls;
mod changed_email;
mod contract;
mod emulator_faults;
mod envelope_size;
mod handshake;
mod hashing_cost;
mod jwt_attacks;
mod password_flows;
mod repo_docs;
mod spec_client;
mod stream_filter;
mod template_drift;
mod template_edge;
mod template_loader;
mod watch_stack;
mod web_client;
mod web_codes;
mod web_package;
