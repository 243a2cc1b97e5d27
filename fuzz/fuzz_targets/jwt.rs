//! Fuzz target `jwt`: the checks live in `src/checks.rs`, shared with the
//! regression test that replays the committed corpus (shared/tests/integration/fuzz_corpus.rs).
#![no_main]
#![forbid(unsafe_code)]

libfuzzer_sys::fuzz_target!(|data: &[u8]| fuzz::checks::jwt(data));
