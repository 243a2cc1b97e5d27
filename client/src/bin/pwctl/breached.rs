//! `pwctl admin breached build`: the breached-password filter from a corpus.

use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use clap::{Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use password::breach::{read_corpus, BreachFilter, CorpusFormat};

#[derive(Subcommand)]
pub(crate) enum BreachedCommand {
    /// Build a filter file from the Pwned Passwords download format
    /// (`SHA1HEX:COUNT` per line) or a plain list (one password a line).
    /// Bad lines are counted and reported, never fatal.
    Build {
        /// The corpus (`-` for standard input).
        #[arg(long, value_name = "FILE")]
        input: PathBuf,
        /// Where the filter goes (written whole, then renamed into place).
        #[arg(long, value_name = "FILTER")]
        output: PathBuf,
        /// Keep only hashes seen at least this often (`SHA1HEX:COUNT` input).
        #[arg(long, value_name = "N", default_value_t = 1)]
        min_count: u64,
        /// Input format; `auto` decides from the first non-empty line.
        #[arg(long, value_enum, default_value_t = Format::Auto)]
        format: Format,
    },
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Auto,
    Sha1,
    Plain,
}

pub(crate) fn breached(command: &BreachedCommand) -> anyhow::Result<String> {
    match command {
        BreachedCommand::Build {
            input,
            output,
            min_count,
            format,
        } => build(input, output, *min_count, *format),
    }
}

fn build(input: &Path, output: &Path, min_count: u64, format: Format) -> anyhow::Result<String> {
    let started = Instant::now();
    let format = match format {
        Format::Auto => CorpusFormat::Auto,
        Format::Sha1 => CorpusFormat::Sha1Count,
        Format::Plain => CorpusFormat::Plain,
    };
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("template"));
    let show = |s: &password::breach::CorpusStats| {
        bar.set_message(format!(
            "lines read {}, kept {}, bad {}",
            s.lines, s.kept, s.bad
        ));
        bar.tick();
    };
    let (keys, stats) = if input == Path::new("-") {
        read_corpus(std::io::stdin().lock(), format, min_count, show)
    } else {
        let file = std::fs::File::open(input)
            .with_context(|| format!("cannot open {}", input.display()))?;
        read_corpus(
            BufReader::with_capacity(1 << 20, file),
            format,
            min_count,
            show,
        )
    }
    .context("reading the corpus")?;
    bar.set_message("building the filter");
    let filter = BreachFilter::build(keys)?;
    bar.finish_and_clear();
    let tmp = output.with_extension("partial");
    {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("cannot create {}", tmp.display()))?;
        f.write_all(&filter.to_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, output)
        .with_context(|| format!("cannot move the filter to {}", output.display()))?;
    Ok(format!(
        "lines {}, kept {}, distinct {}, below --min-count {}, bad {}; {} bytes in {:.1} s -> {}",
        stats.lines,
        stats.kept,
        filter.entries(),
        stats.below_min_count,
        stats.bad,
        filter.size_bytes(),
        started.elapsed().as_secs_f64(),
        output.display()
    ))
}
