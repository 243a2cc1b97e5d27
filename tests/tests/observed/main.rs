//! The tests that read what the process writes besides answers: its audit
//! and metric lines and its log lines. Their captures are process-wide, so
//! they share one binary apart from the other end-to-end tests (tests/e2e)
//! and take turns (`capture::SERIAL`).

mod capture;
mod no_secrets_in_logs;
mod observe_events;
