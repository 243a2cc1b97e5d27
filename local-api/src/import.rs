//! `--import FILE`: users loaded into the embedded store at start, with the
//! parser and pipeline of `pwctl admin import` (`shared::import`), so every
//! foreign-hash format can be tried over HTTP (`/_dev/signin`, the SCv2 routes).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use shared::import::{self, FileFormat, ImportOptions, LineError, Progress, Records, Summary};
use shared::App;

/// The import flags (the same hash flags as `pwctl admin import`).
#[derive(Args, Debug, Default)]
pub struct ImportFlags {
    /// Load users from this JSON Lines or CSV file at start (docs/migration.md).
    #[arg(long, value_name = "FILE")]
    pub import: Option<PathBuf>,
    /// Its format; by default from the extension (.csv, else JSON Lines).
    #[arg(long, value_parser = ["jsonl", "csv"], requires = "import")]
    pub import_format: Option<String>,
    /// Send the imported users without a password their invitation (see /_dev/outbox).
    #[arg(long, requires = "import")]
    pub import_invite: bool,
    /// Firebase: the project's base64 signer key.
    #[arg(long, value_name = "B64", requires = "import")]
    pub firebase_signer_key: Option<String>,
    /// Firebase: the base64 salt separator.
    #[arg(long, value_name = "B64", requires = "import")]
    pub firebase_salt_separator: Option<String>,
    /// Firebase: rounds.
    #[arg(long, value_name = "N", requires = "import")]
    pub firebase_rounds: Option<u32>,
    /// Firebase: mem cost.
    #[arg(long, value_name = "N", requires = "import")]
    pub firebase_mem_cost: Option<u32>,
    /// Accept salted SHA-256/SHA-512 hashes.
    #[arg(long, requires = "import")]
    pub allow_legacy_sha: bool,
}

/// Prints each line that failed to stderr.
struct Report;

impl Progress for Report {
    fn update(&mut self, _: &Summary) {}
    fn failed(&mut self, e: &LineError) {
        eprintln!("import: line {}: {}", e.line, e.reason);
    }
}

impl ImportFlags {
    /// Imports the file into `app`'s store, if one was named; the summary line.
    pub async fn load(&self, app: &App) -> anyhow::Result<Option<String>> {
        let Some(path) = &self.import else {
            return Ok(None);
        };
        let format =
            FileFormat::pick(self.import_format.as_deref(), path).map_err(anyhow::Error::msg)?;
        let records = Records::open(path, format)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let hashes = import::hash_options(
            self.firebase_signer_key.as_deref(),
            self.firebase_salt_separator.as_deref(),
            self.firebase_rounds,
            self.firebase_mem_cost,
            self.allow_legacy_sha,
        )
        .map_err(anyhow::Error::msg)?;
        let opts = ImportOptions {
            dry_run: false,
            invite: self.import_invite.then(|| (*app.config).clone()),
            hashes,
            checkpoint: None,
            in_flight: 1,
        };
        let writer = Arc::new(import::StoreWriter::new(app.accounts.clone()));
        let s = import::run(records, writer, &opts, app.clock.as_ref(), &mut Report).await?;
        Ok(Some(format!(
            "imported {} users from {} ({} lines: {} skipped, {} failed; {} on a foreign hash, {} invited)",
            s.imported,
            path.display(),
            s.lines,
            s.skipped,
            s.failed,
            s.foreign,
            s.invited
        )))
    }
}
