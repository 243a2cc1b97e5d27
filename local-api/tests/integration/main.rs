//! local-api's integration tests, one binary (each link of the whole
//! dependency graph costs seconds): one module per concern. Each starts the
//! `local-api` binary as its own child process, so none shares state.

mod banner;
mod bind;
mod breached;
mod dev_routes;
mod hostile_sweep;
mod observe_stdout;
