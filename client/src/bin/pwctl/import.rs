//! `pwctl admin import`: users from another system into the table
//! (`docs/migration.md`), through `shared::import` and its DynamoDB writer.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use shared::import::{self, FileFormat, ImportOptions, LineError, Progress, Records, Summary};

/// Line errors kept for the `--json` summary (all are printed to stderr).
const MAX_JSON_ERRORS: usize = 100;

/// The foreign-hash settings of one import (also `local-api --import`).
#[derive(Args, Debug)]
pub(crate) struct HashFlags {
    /// Firebase: the project's base64 signer key (console: Password hash parameters).
    #[arg(
        long,
        value_name = "B64",
        env = "PWCTL_FIREBASE_SIGNER_KEY",
        hide_env_values = true
    )]
    firebase_signer_key: Option<String>,
    /// Firebase: the base64 salt separator.
    #[arg(long, value_name = "B64")]
    firebase_salt_separator: Option<String>,
    /// Firebase: rounds.
    #[arg(long, value_name = "N")]
    firebase_rounds: Option<u32>,
    /// Firebase: mem cost.
    #[arg(long, value_name = "N")]
    firebase_mem_cost: Option<u32>,
    /// Accept salted SHA-256/SHA-512 hashes (fast to crack: upgraded at the first sign-in).
    #[arg(long)]
    allow_legacy_sha: bool,
}

impl HashFlags {
    fn options(&self) -> anyhow::Result<password::ImportHashOptions> {
        import::hash_options(
            self.firebase_signer_key.as_deref(),
            self.firebase_salt_separator.as_deref(),
            self.firebase_rounds,
            self.firebase_mem_cost,
            self.allow_legacy_sha,
        )
        .map_err(anyhow::Error::msg)
    }
}

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// JSON Lines or CSV file, one user a line (docs/migration.md).
    file: PathBuf,
    /// File format; by default from the extension (.csv, else JSON Lines).
    #[arg(long, value_parser = ["jsonl", "csv"])]
    format: Option<String>,
    /// Check every line, lookups included, and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Send users imported without a password their invitation (init link by email).
    #[arg(long)]
    invite: bool,
    /// Checkpoint file (default FILE.import-checkpoint); a rerun continues after it.
    #[arg(long, value_name = "PATH")]
    checkpoint: Option<PathBuf>,
    /// Batches written at the same time.
    #[arg(long, default_value_t = import::DEFAULT_IN_FLIGHT, value_name = "N")]
    in_flight: usize,
    #[command(flatten)]
    hashes: HashFlags,
}

/// The checkpoint of `file` unless one is named.
fn checkpoint_path(file: &Path, named: Option<&Path>) -> PathBuf {
    named.map_or_else(
        || {
            let mut p = file.as_os_str().to_owned();
            p.push(".import-checkpoint");
            PathBuf::from(p)
        },
        Path::to_path_buf,
    )
}

/// Progress bar on stderr (hidden when it is not a terminal, or with
/// `--json`) and the line errors, printed as they come.
struct Bar {
    bar: ProgressBar,
    started: Instant,
    errors: Vec<LineError>,
    errors_dropped: u64,
}

impl Bar {
    fn new(visible: bool) -> Self {
        let target = if visible {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("template"));
        bar.enable_steady_tick(Duration::from_millis(200));
        Bar {
            bar,
            started: Instant::now(),
            errors: Vec::new(),
            errors_dropped: 0,
        }
    }

    fn rate(&self, s: &Summary) -> f64 {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        // Counts stay far below 2^52: exact as f64.
        let done = u32::try_from(s.imported + s.skipped + s.failed).unwrap_or(u32::MAX);
        f64::from(done) / secs
    }
}

impl Progress for Bar {
    fn update(&mut self, s: &Summary) {
        self.bar.set_message(format!(
            "lines {}, imported {}, skipped {}, failed {} ({:.0} lines/s)",
            s.lines,
            s.imported,
            s.skipped,
            s.failed,
            self.rate(s)
        ));
    }

    fn failed(&mut self, e: &LineError) {
        self.bar
            .suspend(|| eprintln!("line {}: {}", e.line, e.reason));
        if self.errors.len() < MAX_JSON_ERRORS {
            self.errors.push(e.clone());
        } else {
            self.errors_dropped += 1;
        }
    }
}

/// Runs the import; exit 0 when every line was imported or skipped, 1 when
/// a line failed, 2 when the run stopped (file, options, store).
pub(crate) async fn run(args: &ImportArgs, json_out: bool) -> ExitCode {
    match import_file(args, json_out).await {
        Ok(0) => ExitCode::SUCCESS,
        Ok(_) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn import_file(args: &ImportArgs, json_out: bool) -> anyhow::Result<u64> {
    let format =
        FileFormat::pick(args.format.as_deref(), &args.file).map_err(anyhow::Error::msg)?;
    let records = Records::open(&args.file, format)
        .with_context(|| format!("cannot read {}", args.file.display()))?;
    let checkpoint =
        (!args.dry_run).then(|| checkpoint_path(&args.file, args.checkpoint.as_deref()));
    let invite = if args.invite {
        Some(shared::config::Config::from_env()?)
    } else {
        None
    };
    let opts = ImportOptions {
        dry_run: args.dry_run,
        invite,
        hashes: args.hashes.options()?,
        checkpoint: checkpoint.clone(),
        in_flight: args.in_flight,
    };
    let writer = aws_adapters::import::DynamoImportWriter::from_env(args.invite).await?;
    let mut bar = Bar::new(!json_out && std::io::stderr().is_terminal());
    let summary = import::run(
        records,
        Arc::new(writer),
        &opts,
        &shared::adapters::memory::SystemClock,
        &mut bar,
    )
    .await?;
    bar.bar.finish_and_clear();
    // Finished: the next run checks every line again (each one skipped).
    if let Some(path) = &checkpoint {
        match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    let rate = bar.rate(&summary);
    // Reported as found: lines that fail validation at once, conflicts
    // after their lookup. Listed in file order.
    bar.errors.sort_by_key(|e| e.line);
    if json_out {
        let mut out = serde_json::to_value(&summary)?;
        out["linesPerSecond"] = json!((rate * 10.0).round() / 10.0);
        out["errors"] = serde_json::to_value(&bar.errors)?;
        out["errorsNotListed"] = json!(bar.errors_dropped);
        println!("{out}");
    } else {
        println!(
            "{}{} lines read: imported {}, skipped {} (already there), failed {}; \
             {} on a foreign hash, {} invited; {:.0} lines/s",
            if summary.dry_run { "dry run: " } else { "" },
            summary.lines,
            summary.imported,
            summary.skipped,
            summary.failed,
            summary.foreign,
            summary.invited,
            rate
        );
    }
    Ok(summary.failed)
}
