//! RFC 3339 formatting of Unix-millisecond instants.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `2026-12-22T00:00:00Z` (UTC, second precision).
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = (unix_ms / 1000) as i64;
    OffsetDateTime::from_unix_timestamp(secs)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses an RFC 3339 instant into Unix milliseconds.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let t = OffsetDateTime::parse(text, &Rfc3339).ok()?;
    u64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_utc_seconds() {
        assert_eq!(super::rfc3339(1_711_929_600_000), "2024-04-01T00:00:00Z");
        assert_eq!(
            super::parse_rfc3339("2024-04-01T00:00:00Z"),
            Some(1_711_929_600_000)
        );
    }
}
