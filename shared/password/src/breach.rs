//! Breached-password screening: an offline binary fuse filter over SHA-1,
//! and an optional k-anonymity range service (the Pwned Passwords API or a
//! mirror of it). Both see only the NFKC-normalized password's SHA-1, and the
//! range service only its first five hex digits.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sha1::{Digest, Sha1};
use xorf::{BinaryFuse16, Filter};

use crate::config::ConfigError;
pub use crate::config::{BreachedConfig, SignInAction};

/// The filter that ships with the service: the 49 233 passwords of
/// zxcvbn-ts's common list (`@zxcvbn-ts/language-common`, MIT), itself from
/// leaked password sets. `make breached-default` rebuilds it.
const BUNDLED: &[u8] = include_bytes!("../data/breached-default.bpf");

/// First bytes of a filter file; the version is the last digit.
const MAGIC: &[u8; 8] = b"PWBFUSE1";
/// magic + entries + descriptor + fingerprint count.
const HEADER_LEN: usize = 8 + 8 + 20 + 8;

/// The SHA-1 of a password as the breach corpus keys it: over the UTF-8 of
/// the normalized password.
pub fn sha1_of(normalized: &str) -> [u8; 20] {
    Sha1::digest(normalized.as_bytes()).into()
}

/// The filter key of a SHA-1: its first 64 bits.
fn key_of(sha1: &[u8; 20]) -> u64 {
    let mut k = [0u8; 8];
    k.copy_from_slice(&sha1[..8]);
    u64::from_be_bytes(k)
}

/// The filter key of a SHA-1 given in hex (at least 16 digits, any case).
pub fn key_of_hex(hex: &str) -> Option<u64> {
    let head = hex.get(..16)?;
    if !head.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(head, 16).ok()
}

/// The filter key of a plain password (normalized as the service does).
pub fn key_of_password(password: &str) -> Option<u64> {
    crate::normalize::normalize(password).map(|n| key_of(&sha1_of(&n)))
}

/// Why a filter file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterFileError {
    /// Not a filter file of this version.
    #[error("not a breached-password filter (bad magic)")]
    BadMagic,
    /// The header and the length disagree, or the layout is inconsistent.
    #[error("corrupt breached-password filter: {0}")]
    Corrupt(&'static str),
    /// Construction failed (duplicate keys it could not place).
    #[error("could not build the filter: {0}")]
    Build(&'static str),
}

/// The bundled filter, parsed once per process.
fn bundled_filter() -> Arc<BreachFilter> {
    static BUNDLED_FILTER: std::sync::OnceLock<Arc<BreachFilter>> = std::sync::OnceLock::new();
    BUNDLED_FILTER
        .get_or_init(|| {
            Arc::new(BreachFilter::from_bytes(BUNDLED).expect("the bundled filter is well formed"))
        })
        .clone()
}

/// A binary fuse filter (16-bit fingerprints) over the first 64 bits of
/// SHA-1: no false negatives, false positives at about 1 in 65 536
/// (docs/password-policy.md).
#[derive(Clone)]
pub struct BreachFilter {
    entries: u64,
    filter: Option<BinaryFuse16>,
}

impl std::fmt::Debug for BreachFilter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreachFilter")
            .field("entries", &self.entries)
            .finish_non_exhaustive()
    }
}

impl BreachFilter {
    /// The filter bundled with the service.
    pub fn bundled() -> Self {
        (*bundled_filter()).clone()
    }

    /// Builds a filter over `keys` (sorted and deduplicated here).
    pub fn build(mut keys: Vec<u64>) -> Result<Self, FilterFileError> {
        keys.sort_unstable();
        keys.dedup();
        let entries = keys.len() as u64;
        if keys.is_empty() {
            return Ok(Self {
                entries,
                filter: None,
            });
        }
        let filter = BinaryFuse16::try_from(&keys).map_err(FilterFileError::Build)?;
        Ok(Self {
            entries,
            filter: Some(filter),
        })
    }

    /// Distinct entries the filter was built from.
    pub fn entries(&self) -> u64 {
        self.entries
    }

    /// Size of the filter in memory and on disk, in bytes.
    pub fn size_bytes(&self) -> usize {
        HEADER_LEN + self.filter.as_ref().map_or(0, |f| f.fingerprints.len() * 2)
    }

    /// Whether the SHA-1 is (probably) in the corpus.
    pub fn contains_sha1(&self, sha1: &[u8; 20]) -> bool {
        self.contains_key(key_of(sha1))
    }

    /// Whether the 64-bit key is (probably) in the corpus.
    pub fn contains_key(&self, key: u64) -> bool {
        self.filter.as_ref().is_some_and(|f| f.contains(&key))
    }

    /// The file form: magic, entries, descriptor, fingerprints (little endian).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size_bytes());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&self.entries.to_le_bytes());
        let (descriptor, fingerprints): ([u8; 20], &[u16]) = match &self.filter {
            Some(f) => {
                let d = &f.descriptor;
                let mut b = [0u8; 20];
                b[0..8].copy_from_slice(&d.seed.to_le_bytes());
                b[8..12].copy_from_slice(&d.segment_length.to_le_bytes());
                b[12..16].copy_from_slice(&d.segment_length_mask.to_le_bytes());
                b[16..20].copy_from_slice(&d.segment_count_length.to_le_bytes());
                (b, &f.fingerprints)
            }
            None => ([0u8; 20], &[]),
        };
        out.extend_from_slice(&descriptor);
        out.extend_from_slice(&(fingerprints.len() as u64).to_le_bytes());
        for fp in fingerprints {
            out.extend_from_slice(&fp.to_le_bytes());
        }
        out
    }

    /// Reads the file form, checking every length and index bound so a
    /// corrupt file is an error at start, never a panic at a lookup.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, FilterFileError> {
        if bytes.len() < HEADER_LEN || &bytes[..8] != MAGIC {
            return Err(FilterFileError::BadMagic);
        }
        let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
        let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().expect("4 bytes"));
        let entries = u64_at(8);
        let seed = u64_at(16);
        let segment_length = u32_at(24);
        let segment_length_mask = u32_at(28);
        let segment_count_length = u32_at(32);
        let count = usize::try_from(u64_at(36)).map_err(|_| FilterFileError::Corrupt("size"))?;
        let body = &bytes[HEADER_LEN..];
        if count.checked_mul(2) != Some(body.len()) {
            return Err(FilterFileError::Corrupt("length does not match the header"));
        }
        if count == 0 {
            return if entries == 0 {
                Ok(Self {
                    entries,
                    filter: None,
                })
            } else {
                Err(FilterFileError::Corrupt("entries without fingerprints"))
            };
        }
        // A lookup reads at h0 < segment_count_length, then one and two
        // segments further on.
        let reach = u64::from(segment_count_length) + 2 * u64::from(segment_length);
        if !segment_length.is_power_of_two()
            || segment_length_mask != segment_length - 1
            || segment_count_length == 0
            || reach > count as u64
        {
            return Err(FilterFileError::Corrupt("inconsistent layout"));
        }
        let fingerprints: Box<[u16]> = body
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        Ok(Self {
            entries,
            filter: Some(BinaryFuse16 {
                descriptor: xorf::Descriptor {
                    seed,
                    segment_length,
                    segment_length_mask,
                    segment_count_length,
                },
                fingerprints,
            }),
        })
    }
}

/// The input format of `pwctl admin breached build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CorpusFormat {
    /// `SHA1HEX:COUNT` per line (the Pwned Passwords downloader's format).
    Sha1Count,
    /// One password per line.
    Plain,
    /// `Sha1Count` when the first non-empty line looks like it, else `Plain`.
    Auto,
}

/// What reading a corpus found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CorpusStats {
    /// Lines read (empty lines included).
    pub lines: u64,
    /// Entries kept (before deduplication).
    pub kept: u64,
    /// Entries dropped for a count below `--min-count`.
    pub below_min_count: u64,
    /// Lines that could not be read as the format (never fatal).
    pub bad: u64,
}

fn looks_like_sha1_count(line: &str) -> bool {
    let hex = line.split_once(':').map_or(line, |(h, _)| h);
    hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Reads a corpus line by line into filter keys: memory grows with the
/// entries kept (8 bytes each), not with the file. `progress` is called
/// every 100 000 lines and at the end.
pub fn read_corpus(
    input: impl std::io::BufRead,
    format: CorpusFormat,
    min_count: u64,
    mut progress: impl FnMut(&CorpusStats),
) -> std::io::Result<(Vec<u64>, CorpusStats)> {
    let mut keys = Vec::new();
    let mut stats = CorpusStats::default();
    let mut format = format;
    let mut buf = Vec::new();
    let mut input = input;
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        stats.lines += 1;
        if stats.lines % 100_000 == 0 {
            progress(&stats);
        }
        let Ok(text) = std::str::from_utf8(&buf) else {
            stats.bad += 1;
            continue;
        };
        let line = text.trim_end_matches(['\n', '\r']);
        if line.is_empty() {
            continue;
        }
        if format == CorpusFormat::Auto {
            format = if looks_like_sha1_count(line) {
                CorpusFormat::Sha1Count
            } else {
                CorpusFormat::Plain
            };
        }
        let key = match format {
            CorpusFormat::Plain => key_of_password(line),
            _ => {
                let (hex, count) = line.split_once(':').unwrap_or((line, "1"));
                match (
                    hex.len() == 40,
                    key_of_hex(hex),
                    count.trim().parse::<u64>(),
                ) {
                    (true, Some(k), Ok(c)) if hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
                        if c < min_count {
                            stats.below_min_count += 1;
                            continue;
                        }
                        Some(k)
                    }
                    _ => None,
                }
            }
        };
        match key {
            Some(k) => {
                keys.push(k);
                stats.kept += 1;
            }
            None => stats.bad += 1,
        }
    }
    progress(&stats);
    Ok((keys, stats))
}

/// Why the range service gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// No answer in time.
    #[error("range service timed out")]
    Timeout,
    /// Connection failed or a non-200 status.
    #[error("range service unavailable: {0}")]
    Unavailable(String),
    /// The body is not `SUFFIX:COUNT` lines.
    #[error("range service answered a malformed body")]
    Malformed,
}

/// Fetches one range: the body of `GET {base}{prefix}` with `Add-Padding:
/// true`. Adapters: an HTTP client; tests: anything.
#[async_trait]
pub trait RangeSource: Send + Sync {
    /// The raw body for the five-hex-digit `prefix`.
    async fn fetch(&self, prefix: &str) -> Result<String, RangeError>;
}

/// Prefixes a process remembers; each holds the suffixes of about a
/// thousand hashes.
const RANGE_CACHE_ENTRIES: usize = 256;
/// How long a remembered range stays: the corpus changes in months.
const RANGE_CACHE_TTL: Duration = Duration::from_secs(3600);

/// The parsed suffixes (35 uppercase hex digits) with a non-zero count;
/// padding lines (count 0) are dropped.
fn parse_range(body: &str) -> Result<HashSet<String>, RangeError> {
    let mut out = HashSet::new();
    for line in body.lines() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let (suffix, count) = line.split_once(':').ok_or(RangeError::Malformed)?;
        let count: u64 = count.trim().parse().map_err(|_| RangeError::Malformed)?;
        if suffix.len() != 35 || !suffix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RangeError::Malformed);
        }
        if count > 0 {
            out.insert(suffix.to_ascii_uppercase());
        }
    }
    Ok(out)
}

/// A fetched range: when, and its breached suffixes.
type CachedRange = (Instant, Arc<HashSet<String>>);

/// The online check: timeout, per-instance cache, fail-open or closed.
pub struct RangeCheck {
    source: Arc<dyn RangeSource>,
    timeout: Duration,
    fail_closed: bool,
    cache: Mutex<HashMap<String, CachedRange>>,
}

impl RangeCheck {
    /// A check over `source` with the timeout and failure mode of `config`.
    pub fn new(source: Arc<dyn RangeSource>, config: &BreachedConfig) -> Self {
        Self {
            source,
            timeout: Duration::from_millis(config.timeout_ms),
            fail_closed: config.fail_closed,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(found)`, or `None` when the service failed and the check fails
    /// open; `Err` when it failed and the check fails closed.
    async fn check(&self, sha1: &[u8; 20]) -> Result<Option<bool>, RangeError> {
        let hex = hex_upper(sha1);
        let (prefix, suffix) = hex.split_at(5);
        let suffixes = match self.cached(prefix) {
            Some(s) => s,
            None => match self.fetch(prefix).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, fail_closed = self.fail_closed, "breached-password range service failed");
                    return if self.fail_closed { Err(e) } else { Ok(None) };
                }
            },
        };
        Ok(Some(suffixes.contains(suffix)))
    }

    fn cached(&self, prefix: &str) -> Option<Arc<HashSet<String>>> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(prefix)
            .filter(|(at, _)| at.elapsed() < RANGE_CACHE_TTL)
            .map(|(_, s)| s.clone())
    }

    async fn fetch(&self, prefix: &str) -> Result<Arc<HashSet<String>>, RangeError> {
        let body = tokio::time::timeout(self.timeout, self.source.fetch(prefix))
            .await
            .map_err(|_| RangeError::Timeout)??;
        let set = Arc::new(parse_range(&body)?);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= RANGE_CACHE_ENTRIES {
            if let Some(oldest) = cache
                .iter()
                .min_by_key(|(_, (at, _))| *at)
                .map(|(k, _)| k.clone())
            {
                cache.remove(&oldest);
            }
        }
        cache.insert(prefix.to_owned(), (Instant::now(), set.clone()));
        Ok(set)
    }
}

fn hex_upper(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(40), |mut s, b| {
        let _ = write!(s, "{b:02X}");
        s
    })
}

/// The screen a password service applies: the offline filter, then the
/// range service when the filter has no hit.
#[derive(Default)]
pub struct BreachScreen {
    filter: Option<Arc<BreachFilter>>,
    online: Option<RangeCheck>,
    sign_in: SignInAction,
}

impl std::fmt::Debug for BreachScreen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BreachScreen")
            .field("filter", &self.filter)
            .field("online", &self.online.is_some())
            .field("sign_in", &self.sign_in)
            .finish()
    }
}

impl BreachScreen {
    /// No screening.
    pub fn off() -> Self {
        Self {
            sign_in: SignInAction::Off,
            ..Self::default()
        }
    }

    /// The screen `config` asks for: the bundled filter or the file it
    /// names (read now), and the range service through `range` when
    /// `rangeUrl` is set.
    pub fn from_config(
        config: &BreachedConfig,
        range: Option<Arc<dyn RangeSource>>,
    ) -> Result<Self, ConfigError> {
        if !config.enabled {
            return Ok(Self::off());
        }
        let filter = match &config.filter {
            None => bundled_filter(),
            Some(path) => {
                let bytes = std::fs::read(path)
                    .map_err(|e| ConfigError::Breached(format!("filter {path}: {}", e.kind())))?;
                Arc::new(
                    BreachFilter::from_bytes(&bytes)
                        .map_err(|e| ConfigError::Breached(format!("filter {path}: {e}")))?,
                )
            }
        };
        let online = match (&config.range_url, range) {
            (None, _) => None,
            (Some(_), Some(source)) => Some(RangeCheck::new(source, config)),
            (Some(_), None) => {
                return Err(ConfigError::Breached(
                    "rangeUrl is set but no HTTP client was given".into(),
                ))
            }
        };
        Ok(Self {
            filter: Some(filter),
            online,
            sign_in: config.sign_in,
        })
    }

    /// Whether any screening is configured.
    pub fn is_on(&self) -> bool {
        self.filter.is_some() || self.online.is_some()
    }

    /// What a sign-in with a breached password answers.
    pub fn sign_in_action(&self) -> SignInAction {
        if self.is_on() {
            self.sign_in
        } else {
            SignInAction::Off
        }
    }

    /// Whether the normalized password is known breached. `Err` only when
    /// the range service failed and the screen fails closed.
    pub async fn is_breached(&self, normalized: &str) -> Result<bool, RangeError> {
        if !self.is_on() {
            return Ok(false);
        }
        let sha1 = sha1_of(normalized);
        if self.filter.as_ref().is_some_and(|f| f.contains_sha1(&sha1)) {
            return Ok(true);
        }
        match &self.online {
            Some(online) => Ok(online.check(&sha1).await?.unwrap_or(false)),
            None => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha1_keys_match_the_corpus_format() {
        // SHA-1("password") = 5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8
        let sha = sha1_of("password");
        assert_eq!(hex_upper(&sha), "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8");
        assert_eq!(
            key_of(&sha),
            key_of_hex("5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8").unwrap()
        );
        assert_eq!(key_of_hex("5BAA61E4C9B93F3"), None, "15 digits");
        assert_eq!(key_of_hex("5BAA61E4C9B93F3G0682"), None, "not hex");
    }

    #[test]
    fn file_form_round_trips_and_keeps_every_key() {
        let keys: Vec<u64> = (0..10_000u64)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .collect();
        let mut with_dups = keys.clone();
        with_dups.extend_from_slice(&keys[..100]);
        let f = BreachFilter::build(with_dups).unwrap();
        assert_eq!(f.entries(), 10_000);
        let back = BreachFilter::from_bytes(&f.to_bytes()).unwrap();
        assert_eq!(back.size_bytes(), f.to_bytes().len());
        assert!(keys.iter().all(|k| back.contains_key(*k)));
        let misses = (0..100_000u64)
            .filter(|i| back.contains_key(i ^ 0xDEAD_BEEF_0000_0000))
            .count();
        assert!(misses < 20, "{misses} false positives in 100 000");
    }

    #[test]
    fn corrupt_files_are_refused_not_panicked_on() {
        let f = BreachFilter::build((1..1000).collect()).unwrap().to_bytes();
        assert_eq!(
            BreachFilter::from_bytes(b"nope").unwrap_err(),
            FilterFileError::BadMagic
        );
        assert!(matches!(
            BreachFilter::from_bytes(&f[..f.len() - 1]),
            Err(FilterFileError::Corrupt(_))
        ));
        let mut bad = f.clone();
        bad[24] = 3; // segment length not a power of two
        assert!(matches!(
            BreachFilter::from_bytes(&bad),
            Err(FilterFileError::Corrupt(_))
        ));
        let mut far = f.clone();
        far[32..36].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(
            BreachFilter::from_bytes(&far),
            Err(FilterFileError::Corrupt(_))
        ));
        let empty = BreachFilter::build(Vec::new()).unwrap();
        let empty = BreachFilter::from_bytes(&empty.to_bytes()).unwrap();
        assert!(!empty.contains_key(0));
    }

    #[test]
    fn the_bundled_filter_holds_the_common_list() {
        let f = BreachFilter::bundled();
        assert!(f.entries() > 40_000, "{}", f.entries());
        for pw in ["123456", "password", "qwerty", "letmein", "trustno1"] {
            assert!(f.contains_sha1(&sha1_of(pw)), "{pw}");
        }
        assert!(!f.contains_sha1(&sha1_of("correct horse battery staple 9f3c")));
    }

    #[test]
    fn range_bodies_drop_padding_and_refuse_garbage() {
        let body =
            "0018A45C4D1DEF81644B54AB7F969B88D65:1\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\n\n";
        let set = parse_range(body).unwrap();
        assert_eq!(set.len(), 1);
        assert!(set.contains("0018A45C4D1DEF81644B54AB7F969B88D65"));
        assert_eq!(parse_range("<html>oops</html>"), Err(RangeError::Malformed));
        assert_eq!(parse_range("ABC:1"), Err(RangeError::Malformed));
        assert_eq!(
            parse_range("0018A45C4D1DEF81644B54AB7F969B88D65:x"),
            Err(RangeError::Malformed)
        );
    }

    #[test]
    fn config_limits() {
        BreachedConfig::default().validate().unwrap();
        let c = BreachedConfig {
            timeout_ms: 10,
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c = BreachedConfig {
            range_url: Some("ftp://x".into()),
            ..Default::default()
        };
        assert!(c.validate().is_err());
        let c: BreachedConfig =
            serde_json::from_str(r#"{"signIn":"block","failClosed":true}"#).unwrap();
        assert_eq!(c.sign_in, SignInAction::Block);
        assert!(serde_json::from_str::<BreachedConfig>(r#"{"bogus":1}"#).is_err());
    }

    #[test]
    fn corpora_are_read_in_both_formats_and_bad_lines_counted() {
        let hibp = "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\nnot a line\n7C4A8D09CA3762AF61E59520943DC26494F8941B:2\n\nB1B3773A05C0ED0176787A4F1574FF0075F7521E:1\n";
        let (keys, stats) = read_corpus(hibp.as_bytes(), CorpusFormat::Auto, 2, |_| {}).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(
            stats,
            CorpusStats {
                lines: 5,
                kept: 2,
                below_min_count: 1,
                bad: 1
            }
        );
        assert_eq!(keys[0], key_of(&sha1_of("password")));
        let plain = "password\r\n123456\n\u{ff}\n";
        let mut raw = plain.as_bytes().to_vec();
        raw.extend_from_slice(b"\xff\xfe\n");
        let (keys, stats) = read_corpus(&raw[..], CorpusFormat::Auto, 1, |_| {}).unwrap();
        assert_eq!(stats.bad, 1, "invalid UTF-8");
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[0], key_of(&sha1_of("password")));
    }
}
