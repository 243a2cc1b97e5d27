//! All configuration, from environment variables only, in one typed struct.
//! Missing or malformed values fail at start with the variable's name.

use crate::ports::Limit;

#[derive(Debug, thiserror::Error)]
#[error("configuration variable {variable}: {problem}")]
pub struct ConfigError {
    pub variable: &'static str,
    pub problem: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    pub public_key_per_ip: Limit,
    pub session_per_ip: Limit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `SC_SESSION_TTL_SECONDS` (default 3600): lifetime of an SCv2 session.
    pub session_ttl_secs: u64,
    /// `SC_MAX_CLOCK_SKEW_SECONDS` (default 300): accepted |server - envelope| time.
    pub max_clock_skew_secs: u64,
    /// `SC_PUBLIC_KEY_MAX_AGE_SECONDS` (default 300): `Cache-Control` of the public key.
    pub public_key_max_age_secs: u64,
    /// `RATE_LIMIT_PUBLIC_KEY` / `RATE_LIMIT_SESSION` as `max/window_secs`.
    pub limits: RateLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            session_ttl_secs: 3600,
            max_clock_skew_secs: 300,
            public_key_max_age_secs: 300,
            limits: RateLimits {
                public_key_per_ip: Limit {
                    max: 60,
                    window_secs: 300,
                },
                session_per_ip: Limit {
                    max: 20,
                    window_secs: 300,
                },
            },
        }
    }
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads every variable through `lookup` (tests pass a map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let d = Config::default();
        let secs =
            |var: &'static str, default: u64, min: u64, max: u64| -> Result<u64, ConfigError> {
                match lookup(var) {
                    None => Ok(default),
                    Some(raw) => raw
                        .trim()
                        .parse::<u64>()
                        .ok()
                        .filter(|v| (min..=max).contains(v))
                        .ok_or_else(|| ConfigError {
                            variable: var,
                            problem: format!("expected a whole number from {min} to {max}"),
                        }),
                }
            };
        let limit = |var: &'static str, default: Limit| -> Result<Limit, ConfigError> {
            match lookup(var) {
                None => Ok(default),
                Some(raw) => parse_limit(&raw).ok_or_else(|| ConfigError {
                    variable: var,
                    problem: "expected MAX/WINDOW_SECONDS, e.g. 20/300".into(),
                }),
            }
        };
        Ok(Config {
            session_ttl_secs: secs("SC_SESSION_TTL_SECONDS", d.session_ttl_secs, 60, 86_400)?,
            max_clock_skew_secs: secs("SC_MAX_CLOCK_SKEW_SECONDS", d.max_clock_skew_secs, 1, 3600)?,
            public_key_max_age_secs: secs(
                "SC_PUBLIC_KEY_MAX_AGE_SECONDS",
                d.public_key_max_age_secs,
                0,
                86_400,
            )?,
            limits: RateLimits {
                public_key_per_ip: limit("RATE_LIMIT_PUBLIC_KEY", d.limits.public_key_per_ip)?,
                session_per_ip: limit("RATE_LIMIT_SESSION", d.limits.session_per_ip)?,
            },
        })
    }
}

fn parse_limit(raw: &str) -> Option<Limit> {
    let (max, window) = raw.trim().split_once('/')?;
    let max: u32 = max.trim().parse().ok().filter(|m| *m >= 1)?;
    let window_secs: u64 = window.trim().parse().ok().filter(|w| *w >= 1)?;
    Some(Limit { max, window_secs })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn with(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_and_overrides() {
        assert_eq!(with(&[]).unwrap(), Config::default());
        let c = with(&[
            ("SC_SESSION_TTL_SECONDS", "120"),
            ("RATE_LIMIT_SESSION", "3/60"),
        ])
        .unwrap();
        assert_eq!(c.session_ttl_secs, 120);
        assert_eq!(
            c.limits.session_per_ip,
            Limit {
                max: 3,
                window_secs: 60
            }
        );
    }

    #[test]
    fn malformed_values_name_the_variable() {
        let e = with(&[("SC_SESSION_TTL_SECONDS", "soon")]).unwrap_err();
        assert_eq!(e.variable, "SC_SESSION_TTL_SECONDS");
        let e = with(&[("RATE_LIMIT_PUBLIC_KEY", "0/300")]).unwrap_err();
        assert_eq!(e.variable, "RATE_LIMIT_PUBLIC_KEY");
        assert!(e.to_string().contains("RATE_LIMIT_PUBLIC_KEY"));
    }
}
