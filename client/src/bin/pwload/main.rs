//! `pwload`: load generator for the password API, on loopback targets only.
//!
//! N virtual users, each seeded through local-api's `/_dev` routes with its
//! own address, SCv2 session, token and password, run a weighted mix of
//! routes concurrently until `--requests` or `--duration` is spent, then
//! report throughput, latency percentiles and outcome counts per route.
//! The `verify` route signs the users in as an identity provider does
//! (`/_dev/verify-password`, one Argon2 evaluation each); `--wrong-every K`
//! makes every Kth sign-in of each user a wrong password.
//! `--sweep 1,2,4,8` repeats the run at each concurrency; `--plot FILE.png`
//! draws it. Exit status: 0 after a run, 1 when the run failed, 2 on bad
//! usage (a non-loopback target included).
#![forbid(unsafe_code)]

mod plot;
mod report;
mod run;
mod target;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Parser;

use report::Report;
use run::Budget;
use users::Dev;

#[derive(Parser)]
#[command(about = "Load generator for the password API (loopback targets only)")]
struct Cli {
    /// Base URL of a local-api (its /_dev routes seed the users).
    #[arg(long, default_value = "http://127.0.0.1:9000", env = "PWLOAD_URL")]
    url: String,
    /// Concurrent virtual users.
    #[arg(long, default_value_t = 2)]
    users: usize,
    /// Routes and weights: `route[=weight],...` of status, change, forgot, reset, verify.
    #[arg(long, default_value = "change")]
    mix: String,
    /// Stop after this many requests in all (default 100 without --duration).
    #[arg(long)]
    requests: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long)]
    duration: Option<f64>,
    /// Run once per concurrency in this list instead of --users, e.g. 1,2,4,8.
    #[arg(long, value_delimiter = ',')]
    sweep: Vec<usize>,
    /// With --sweep: draw latency and throughput against concurrency (PNG).
    #[arg(long, requires = "sweep")]
    plot: Option<PathBuf>,
    /// With verify: every Kth sign-in of each user sends a wrong password
    /// (0: none). K >= 2, so the next, right one clears the failure count
    /// and no account nears the lock (5 consecutive failures).
    #[arg(long, default_value_t = 0, value_parser = wrong_every)]
    wrong_every: u32,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    json: bool,
}

fn wrong_every(s: &str) -> Result<u32, String> {
    match s.parse::<u32>() {
        Ok(1) => {
            Err("1 would make every sign-in wrong and lock the accounts: 0 or 2 and more".into())
        }
        Ok(k) => Ok(k),
        Err(e) => Err(e.to_string()),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let base = match target::loopback_only(&cli.url) {
        Ok(base) => base,
        Err(why) => {
            eprintln!("pwload: {why}");
            return ExitCode::from(2);
        }
    };
    match load(&cli, Dev::new(base)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pwload: {e:#}");
            ExitCode::from(1)
        }
    }
}

async fn load(cli: &Cli, dev: Dev) -> Result<()> {
    let mix = run::schedule(&cli.mix)?;
    if cli.wrong_every > 0 && !mix.contains(&run::Route::Verify) {
        anyhow::bail!("--wrong-every applies to the verify route, which the mix does not name");
    }
    let budget = Budget {
        requests: match (cli.requests, cli.duration) {
            (None, None) => Some(100),
            (r, _) => r,
        },
        duration: cli.duration.map(Duration::from_secs_f64),
    };
    let levels = if cli.sweep.is_empty() {
        vec![cli.users]
    } else {
        cli.sweep.clone()
    };
    if levels.contains(&0) {
        anyhow::bail!("a run needs at least one user");
    }
    let mut reports = Vec::new();
    for users in levels {
        let (samples, elapsed) = run::run(&dev, users, &mix, budget, cli.wrong_every).await?;
        let report = Report::new(&cli.url, users, &cli.mix, &samples, elapsed);
        if !cli.json {
            println!("{}", report.table());
        }
        reports.push(report);
    }
    if let Some(file) = &cli.plot {
        plot::sweep(&reports, file)?;
        if !cli.json {
            println!("plot: {}", file.display());
        }
    }
    if cli.json {
        let out = if cli.sweep.is_empty() {
            serde_json::to_string_pretty(&reports[0])?
        } else {
            serde_json::to_string_pretty(&serde_json::json!({ "sweep": reports }))?
        };
        println!("{out}");
    }
    Ok(())
}
