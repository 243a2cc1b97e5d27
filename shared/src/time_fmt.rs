//! RFC 3339 formatting of Unix-millisecond instants.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// The last instant RFC 3339 can write (four-digit years).
const LAST_SECOND: i64 = 253_402_300_799; // 9999-12-31T23:59:59Z

/// `2026-12-22T00:00:00Z` (UTC, second precision). Instants past year 9999
/// ("never", in practice) are written as its last second, never as nothing.
pub fn rfc3339(unix_ms: u64) -> String {
    let secs = i64::try_from(unix_ms / 1000)
        .unwrap_or(i64::MAX)
        .min(LAST_SECOND);
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
        assert_eq!(super::rfc3339(u64::MAX / 2), "9999-12-31T23:59:59Z");
        assert_eq!(super::rfc3339(u64::MAX), "9999-12-31T23:59:59Z");
    }
}
