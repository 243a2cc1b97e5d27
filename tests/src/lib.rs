//! Support crate of the end-to-end tests (the tests live in `tests/`).
#![forbid(unsafe_code)]
