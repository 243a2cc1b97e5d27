//! Readers of an import file, one record at a time (the file is never held
//! whole): JSON Lines, or CSV with a header row. Each record comes with its
//! line number; a bad one with a reason that quotes no value from the line.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::record::RawRecord;

/// Longest JSON line read (a user's record is far shorter).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The layout of an import file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// One JSON object a line.
    Jsonl,
    /// A header row naming the fields, then one user a row.
    Csv,
}

impl FileFormat {
    /// From a name (`jsonl`, `csv`), or from the file's extension (`.csv`,
    /// else JSON Lines).
    pub fn pick(name: Option<&str>, path: &Path) -> Result<Self, String> {
        match name {
            Some("jsonl" | "json") => Ok(FileFormat::Jsonl),
            Some("csv") => Ok(FileFormat::Csv),
            Some(other) => Err(format!("unknown format {other:?} (jsonl or csv)")),
            None if path
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("csv")) =>
            {
                Ok(FileFormat::Csv)
            }
            None => Ok(FileFormat::Jsonl),
        }
    }
}

/// One record of the file: its line number (1-based, the line it starts on)
/// and the record or why it cannot be read.
pub type ReadRecord = (u64, Result<RawRecord, String>);

/// Streams the records of a file.
pub enum Records<R: Read> {
    /// JSON Lines.
    Jsonl {
        /// The file.
        input: BufReader<R>,
        /// Lines read so far.
        line: u64,
        /// The buffer each line is read into.
        buf: Vec<u8>,
    },
    /// CSV with headers.
    Csv {
        /// The CSV reader.
        input: Box<csv::Reader<R>>,
        /// The header row.
        headers: csv::StringRecord,
        /// The record each row is read into.
        record: csv::StringRecord,
    },
}

impl Records<std::fs::File> {
    /// Opens `path` in `format`.
    pub fn open(path: &Path, format: FileFormat) -> std::io::Result<Self> {
        Records::new(std::fs::File::open(path)?, format)
    }
}

impl<R: Read> Records<R> {
    /// Reads `input` in `format` (CSV: its header row first).
    pub fn new(input: R, format: FileFormat) -> std::io::Result<Self> {
        Ok(match format {
            FileFormat::Jsonl => Records::Jsonl {
                input: BufReader::with_capacity(64 * 1024, input),
                line: 0,
                buf: Vec::new(),
            },
            FileFormat::Csv => {
                let mut input = csv::ReaderBuilder::new()
                    .has_headers(true)
                    .trim(csv::Trim::Headers)
                    .from_reader(input);
                let headers = input
                    .headers()
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?
                    .clone();
                Records::Csv {
                    input: Box::new(input),
                    headers,
                    record: csv::StringRecord::new(),
                }
            }
        })
    }
}

impl<R: Read> Iterator for Records<R> {
    type Item = std::io::Result<ReadRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Records::Jsonl { input, line, buf } => loop {
                buf.clear();
                let read = (&mut *input)
                    .take(MAX_LINE_BYTES as u64 + 1)
                    .read_until(b'\n', buf);
                match read {
                    Err(e) => return Some(Err(e)),
                    Ok(0) => return None,
                    Ok(_) => {}
                }
                *line += 1;
                if buf.len() > MAX_LINE_BYTES && buf.last() != Some(&b'\n') {
                    // Skip the rest of the overlong line.
                    let mut rest = Vec::new();
                    loop {
                        rest.clear();
                        match (&mut *input)
                            .take(MAX_LINE_BYTES as u64)
                            .read_until(b'\n', &mut rest)
                        {
                            Err(e) => return Some(Err(e)),
                            Ok(0) => break,
                            Ok(_) if rest.last() == Some(&b'\n') => break,
                            Ok(_) => {}
                        }
                    }
                    return Some(Ok((
                        *line,
                        Err(format!("longer than {MAX_LINE_BYTES} bytes")),
                    )));
                }
                if buf.iter().all(u8::is_ascii_whitespace) {
                    continue; // blank lines (and the last newline) are not records
                }
                return Some(Ok((*line, parse_json(buf))));
            },
            Records::Csv {
                input,
                headers,
                record,
            } => match input.read_record(record) {
                Ok(false) => None,
                Ok(true) => {
                    let line = csv_line(record, input.position().line());
                    let parsed = record
                        .deserialize::<RawRecord>(Some(headers))
                        .map_err(|e| csv_reason(&e));
                    Some(Ok((line, parsed)))
                }
                Err(e) => match e.kind() {
                    csv::ErrorKind::Io(_) => Some(Err(std::io::Error::other(e))),
                    _ => {
                        let start = e.position().map_or(0, csv::Position::line);
                        let end = input.position().line();
                        let line = if end > start { end - 1 } else { start };
                        Some(Ok((line, Err(csv_reason(&e)))))
                    }
                },
            },
        }
    }
}

/// The line a CSV record starts on. The reader's own start position
/// counts the blank lines it skipped before the record, so the line is
/// counted back from the record's end: the line after its terminator, less
/// the newlines quoted inside it.
fn csv_line(record: &csv::StringRecord, end: u64) -> u64 {
    let start = record.position().map_or(0, csv::Position::line);
    let inner: u64 = record
        .iter()
        .map(|f| f.bytes().filter(|&b| b == b'\n').count() as u64)
        .sum();
    if end > start + inner {
        end - 1 - inner
    } else {
        start // the last record, without a final newline
    }
}

/// A record from one JSON line; the reason names the field, not its value.
fn parse_json(line: &[u8]) -> Result<RawRecord, String> {
    let mut de = serde_json::Deserializer::from_slice(line);
    let record: RawRecord = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        match inner.classify() {
            serde_json::error::Category::Syntax => {
                format!("not valid JSON (column {})", inner.column())
            }
            serde_json::error::Category::Eof => "truncated JSON".to_owned(),
            serde_json::error::Category::Io => "unreadable".to_owned(),
            serde_json::error::Category::Data => data_reason(&inner.to_string(), &path),
        }
    })?;
    de.end()
        .map_err(|_| "text after the JSON object".to_owned())?;
    Ok(record)
}

/// Serde's messages about a field's presence name only fields; any other
/// (a wrong type) may quote the value, so only the field is kept.
fn data_reason(message: &str, path: &str) -> String {
    let safe = ["missing field", "unknown field", "duplicate field"];
    if safe.iter().any(|p| message.starts_with(p)) {
        message
            .split(" at line ")
            .next()
            .unwrap_or(message)
            .to_owned()
    } else if path.is_empty() || path == "." {
        "not a JSON object of the import fields".to_owned()
    } else {
        format!("{path}: must be a string")
    }
}

fn csv_reason(e: &csv::Error) -> String {
    match e.kind() {
        csv::ErrorKind::Utf8 { .. } => "not valid UTF-8".to_owned(),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("{len} fields where the header has {expected_len}"),
        csv::ErrorKind::Deserialize { err, .. } => match err.kind() {
            csv::DeserializeErrorKind::Message(m) => data_reason(m, ""),
            _ => format!("field {}: bad value", err.field().map_or(0, |f| f + 1)),
        },
        _ => "unreadable row".to_owned(),
    }
}

#[cfg(test)]
#[path = "reader_tests.rs"]
mod tests;
