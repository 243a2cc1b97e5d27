//! Test helpers every crate's tests may use: the repository root and the
//! local AWS emulator. No workspace dependency, so any crate can take it as
//! a dev-dependency without a cycle.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The repository's root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("tests/support sits two levels below the root")
        .to_owned()
}

/// Bound of one call against the emulator in tests that are not about
/// timeouts: it serializes every request, so a busy run can queue a call
/// for seconds past the production default.
pub const EMULATOR_TIMEOUT_MS: u64 = 20_000;

/// Starts and bootstraps the local AWS emulator (`infra/emulator.sh up`,
/// idempotent) and returns the variables of `infra/emulator.sh env`
/// (endpoint, region, credentials, table, KMS key, sender).
pub fn emulator_env() -> HashMap<String, String> {
    let emulator = |verb: &str| {
        Command::new("bash")
            .arg(root().join("infra/emulator.sh"))
            .arg(verb)
            .output()
            .expect("bash runs infra/emulator.sh")
    };
    let up = emulator("up");
    assert!(
        up.status.success(),
        "emulator.sh up: {}",
        String::from_utf8_lossy(&up.stderr)
    );
    String::from_utf8(emulator("env").stdout)
        .expect("emulator.sh env prints UTF-8")
        .lines()
        .filter_map(|l| l.strip_prefix("export ")?.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
