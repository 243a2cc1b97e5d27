//! All configuration, from environment variables only, in one typed struct.
//! Missing or malformed values fail at start with the variable's name.

use crate::http::{ClientIpSource, CorsPolicy};
use crate::ports::{Limit, Lockout};

/// A configuration variable that is missing or malformed.
#[derive(Debug, thiserror::Error)]
#[error("configuration variable {variable}: {problem}")]
pub struct ConfigError {
    /// The variable's name.
    pub variable: &'static str,
    /// What is wrong with its value.
    pub problem: String,
}

/// Every limit of the contract (per 300 s by default, status per IP per 60 s), `RATE_LIMIT_<NAME>` = `max/window_secs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits {
    /// Public-key requests per client IP.
    pub public_key_per_ip: Limit,
    /// Session creations per client IP.
    pub session_per_ip: Limit,
    /// Password changes per client IP.
    pub change_per_ip: Limit,
    /// Password changes per user.
    pub change_per_user: Limit,
    /// Password status queries per client IP (default 60 per 60 s).
    pub status_per_ip: Limit,
    /// Password status queries per user.
    pub status_per_user: Limit,
    /// First-password settings per client IP.
    pub init_per_ip: Limit,
    /// First-password attempts per init session.
    pub init_per_session: Limit,
    /// Forgot-password requests per client IP.
    pub forgot_per_ip: Limit,
    /// Forgot-password requests per email address.
    pub forgot_per_email: Limit,
    /// Password resets per client IP.
    pub reset_per_ip: Limit,
    /// Password resets per reset token.
    pub reset_per_token: Limit,
    /// Password verifications (sign-in) per end-user IP, when the caller gives one.
    pub verify_per_ip: Limit,
}

impl RateLimits {
    /// Every bucket wide open (a million per second): for load runs and
    /// tests that repeat one route from one address, never for a deployment.
    pub fn unlimited() -> RateLimits {
        RateLimits::all(Limit {
            max: 1_000_000,
            window_secs: 1,
        })
    }

    /// The same limit on every bucket.
    pub fn all(open: Limit) -> RateLimits {
        RateLimits {
            public_key_per_ip: open,
            session_per_ip: open,
            change_per_ip: open,
            change_per_user: open,
            status_per_ip: open,
            status_per_user: open,
            init_per_ip: open,
            init_per_session: open,
            forgot_per_ip: open,
            forgot_per_email: open,
            reset_per_ip: open,
            reset_per_token: open,
            verify_per_ip: open,
        }
    }
}

/// Where emailed links point; only these configured bases ever reach a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// `INIT_PASSWORD_URL`: page that sets the first password (`#sid=` is appended).
    pub init_url: String,
    /// `RESET_PASSWORD_URL`: page that resets a password (`#token=` is appended).
    pub reset_url: String,
    /// `FORGOT_PASSWORD_URL`: "not you? reset your password" page.
    pub forgot_url: String,
}

impl Links {
    /// The emailed init link. The secret rides in the fragment, which a browser
    /// never sends: it reaches no server log and no `Referer`.
    pub fn init(&self, sid: &str) -> String {
        format!("{}#sid={sid}", self.init_url)
    }

    /// The emailed reset link, the token in the fragment (see [`Links::init`]).
    pub fn reset(&self, token: &str) -> String {
        format!("{}#token={token}", self.reset_url)
    }
}

/// Access-token settings.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct JwtSettings {
    /// `JWT_JWKS`: the JSON Web Key Set whose keys sign access tokens.
    pub jwks_json: Option<String>,
    /// `JWT_ISSUER` / `JWT_AUDIENCE`: required claims when set.
    pub issuer: Option<String>,
    /// `JWT_AUDIENCE`: required `aud` claim when set.
    pub audience: Option<String>,
    /// `JWT_HS256_SECRET`: enables HS256 with this shared secret (off by default).
    pub hs256_secret: Option<String>,
    /// `JWT_JWKS_URL`: an `https://` URL the AWS functions fetch the JWKS
    /// from at cold start (Cognito's `.well-known/jwks.json`), added to `JWT_JWKS`.
    pub jwks_url: Option<String>,
    /// `JWT_SUBJECT_CLAIM` (default `sub`): the claim that holds the user's
    /// `bizId` (Cognito: `bizId`, added by the pre-token-generation trigger).
    pub subject_claim: Option<String>,
}

impl std::fmt::Debug for JwtSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("hs256", &self.hs256_secret.is_some())
            .finish_non_exhaustive()
    }
}

/// The whole configuration of the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `SC_SESSION_TTL_SECONDS` (default 3600): lifetime of an SCv2 session.
    pub session_ttl_secs: u64,
    /// `SC_MAX_CLOCK_SKEW_SECONDS` (default 300): accepted |server - envelope| time.
    pub max_clock_skew_secs: u64,
    /// `SC_PUBLIC_KEY_MAX_AGE_SECONDS` (default 300): `Cache-Control` of the public key.
    pub public_key_max_age_secs: u64,
    /// `RATE_LIMIT_<NAME>`: the per-route rate limits.
    pub limits: RateLimits,
    /// `LOCKOUT_THRESHOLD` (default 5) and `LOCKOUT_MAX_SECONDS` (default
    /// 900): the guessing cap shared by sign-in and change.
    pub lockout: Lockout,
    /// `INIT_SESSION_TTL_SECONDS` (default 86400): life of an emailed init link.
    pub init_session_ttl_secs: u64,
    /// `RESET_TOKEN_TTL_SECONDS` (default 1800): life of a reset token.
    pub reset_token_ttl_secs: u64,
    /// Bases of the emailed links.
    pub links: Links,
    /// Access-token verification settings.
    pub jwt: JwtSettings,
    /// `PASSWORD_CONFIG`: JSON `{"policy": {...}, "hashing": {...}}`, missing fields default.
    pub password: password::PasswordConfig,
    /// `CORS_ALLOWED_ORIGINS`: exact origins, comma-separated (default: none, CORS off).
    pub cors: CorsPolicy,
    /// `EDGE_MODE` (`cloudflare`, the default, or `none`) and
    /// `TRUSTED_PROXY_CIDRS`: behind Cloudflare, the proxies whose
    /// `CF-Connecting-IP` is believed (default: Cloudflare's published
    /// ranges); with no edge, the network peer ([`ClientIpSource::Peer`]).
    pub client_ip: ClientIpSource,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            session_ttl_secs: 3600,
            max_clock_skew_secs: 300,
            public_key_max_age_secs: 300,
            limits: RateLimits {
                public_key_per_ip: per_5_min(60),
                session_per_ip: per_5_min(20),
                change_per_ip: per_5_min(5),
                change_per_user: per_5_min(5),
                // A window of its own: polling clients, many behind one address.
                status_per_ip: Limit {
                    max: 60,
                    window_secs: 60,
                },
                status_per_user: per_5_min(30),
                init_per_ip: per_5_min(5),
                init_per_session: per_5_min(5),
                forgot_per_ip: per_5_min(3),
                forgot_per_email: per_5_min(3),
                reset_per_ip: per_5_min(5),
                reset_per_token: per_5_min(5),
                verify_per_ip: per_5_min(30),
            },
            lockout: Lockout {
                threshold: 5,
                max_lock_secs: 900,
            },
            init_session_ttl_secs: 86_400,
            reset_token_ttl_secs: 1800,
            links: Links {
                init_url: "http://localhost:3000/password/init".into(),
                reset_url: "http://localhost:3000/password/reset".into(),
                forgot_url: "http://localhost:3000/password/forgot".into(),
            },
            jwt: JwtSettings::default(),
            password: password::PasswordConfig::default(),
            cors: CorsPolicy::default(),
            client_ip: ClientIpSource::default(),
        }
    }
}

impl Config {
    /// Reads the configuration from the process environment.
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
        let url = |var: &'static str, default: String| -> Result<String, ConfigError> {
            match lookup(var) {
                None => Ok(default),
                Some(raw) if is_link_base(raw.trim()) => Ok(raw.trim().to_owned()),
                Some(_) => Err(ConfigError {
                    variable: var,
                    problem: "expected an https:// URL (http:// only for localhost) without query or fragment".into(),
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
                change_per_ip: limit("RATE_LIMIT_CHANGE_PER_IP", d.limits.change_per_ip)?,
                change_per_user: limit("RATE_LIMIT_CHANGE_PER_USER", d.limits.change_per_user)?,
                status_per_ip: limit("RATE_LIMIT_STATUS_PER_IP", d.limits.status_per_ip)?,
                status_per_user: limit("RATE_LIMIT_STATUS_PER_USER", d.limits.status_per_user)?,
                init_per_ip: limit("RATE_LIMIT_INIT_PER_IP", d.limits.init_per_ip)?,
                init_per_session: limit("RATE_LIMIT_INIT_PER_SESSION", d.limits.init_per_session)?,
                forgot_per_ip: limit("RATE_LIMIT_FORGOT_PER_IP", d.limits.forgot_per_ip)?,
                forgot_per_email: limit("RATE_LIMIT_FORGOT_PER_EMAIL", d.limits.forgot_per_email)?,
                reset_per_ip: limit("RATE_LIMIT_RESET_PER_IP", d.limits.reset_per_ip)?,
                reset_per_token: limit("RATE_LIMIT_RESET_PER_TOKEN", d.limits.reset_per_token)?,
                verify_per_ip: limit("RATE_LIMIT_VERIFY_PER_IP", d.limits.verify_per_ip)?,
            },
            lockout: Lockout {
                threshold: u32::try_from(secs(
                    "LOCKOUT_THRESHOLD",
                    d.lockout.threshold.into(),
                    1,
                    100,
                )?)
                .unwrap_or(u32::MAX),
                max_lock_secs: secs("LOCKOUT_MAX_SECONDS", d.lockout.max_lock_secs, 1, 86_400)?,
            },
            init_session_ttl_secs: secs(
                "INIT_SESSION_TTL_SECONDS",
                d.init_session_ttl_secs,
                300,
                30 * 86_400,
            )?,
            reset_token_ttl_secs: secs(
                "RESET_TOKEN_TTL_SECONDS",
                d.reset_token_ttl_secs,
                60,
                86_400,
            )?,
            links: Links {
                init_url: url("INIT_PASSWORD_URL", d.links.init_url)?,
                reset_url: url("RESET_PASSWORD_URL", d.links.reset_url)?,
                forgot_url: url("FORGOT_PASSWORD_URL", d.links.forgot_url)?,
            },
            jwt: JwtSettings {
                jwks_json: lookup("JWT_JWKS").filter(|v| !v.trim().is_empty()),
                issuer: lookup("JWT_ISSUER").filter(|v| !v.trim().is_empty()),
                audience: lookup("JWT_AUDIENCE").filter(|v| !v.trim().is_empty()),
                hs256_secret: match lookup("JWT_HS256_SECRET") {
                    Some(s) if s.len() < 32 => {
                        return Err(ConfigError {
                            variable: "JWT_HS256_SECRET",
                            problem: "must be at least 32 bytes".into(),
                        })
                    }
                    other => other,
                },
                jwks_url: match lookup("JWT_JWKS_URL").filter(|v| !v.trim().is_empty()) {
                    Some(u)
                        if !u.trim().starts_with("https://") || u.contains(char::is_whitespace) =>
                    {
                        return Err(ConfigError {
                            variable: "JWT_JWKS_URL",
                            problem: "expected an https:// URL".into(),
                        })
                    }
                    other => other,
                },
                subject_claim: match lookup("JWT_SUBJECT_CLAIM").filter(|v| !v.trim().is_empty()) {
                    Some(c)
                        if c.len() > 64
                            || !c
                                .bytes()
                                .all(|b| b.is_ascii_alphanumeric() || b"_:-.".contains(&b)) =>
                    {
                        return Err(ConfigError {
                            variable: "JWT_SUBJECT_CLAIM",
                            problem: "expected a claim name (letters, digits, _ : - .)".into(),
                        })
                    }
                    other => other,
                },
            },
            password: match lookup("PASSWORD_CONFIG") {
                None => d.password,
                Some(raw) => {
                    let cfg: password::PasswordConfig =
                        serde_json::from_str(&raw).map_err(|e| ConfigError {
                            variable: "PASSWORD_CONFIG",
                            problem: format!("not a valid password configuration: {e}"),
                        })?;
                    cfg.validate().map_err(|e| ConfigError {
                        variable: "PASSWORD_CONFIG",
                        problem: e.to_string(),
                    })?;
                    cfg
                }
            },
            cors: match lookup("CORS_ALLOWED_ORIGINS") {
                None => d.cors,
                Some(raw) => CorsPolicy::parse(&raw).map_err(|problem| ConfigError {
                    variable: "CORS_ALLOWED_ORIGINS",
                    problem,
                })?,
            },
            client_ip: match lookup("EDGE_MODE").as_deref().map(str::trim) {
                None | Some("" | "cloudflare") => match lookup("TRUSTED_PROXY_CIDRS") {
                    None => d.client_ip,
                    Some(raw) => {
                        ClientIpSource::parse_cidrs(&raw).map_err(|problem| ConfigError {
                            variable: "TRUSTED_PROXY_CIDRS",
                            problem,
                        })?
                    }
                },
                // No proxy in front: TRUSTED_PROXY_CIDRS (the template always
                // sets it) has nothing to name.
                Some("none") => ClientIpSource::Peer,
                Some(other) => {
                    return Err(ConfigError {
                        variable: "EDGE_MODE",
                        problem: format!("{other:?}: expected cloudflare or none"),
                    })
                }
            },
        })
    }
}

fn per_5_min(max: u32) -> Limit {
    Limit {
        max,
        window_secs: 300,
    }
}

fn parse_limit(raw: &str) -> Option<Limit> {
    let (max, window) = raw.trim().split_once('/')?;
    let max: u32 = max.trim().parse().ok().filter(|m| *m >= 1)?;
    let window_secs: u64 = window.trim().parse().ok().filter(|w| *w >= 1)?;
    Some(Limit { max, window_secs })
}

/// Link bases must be absolute https URLs (http only for localhost), with no query or fragment.
fn is_link_base(url: &str) -> bool {
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        let host = r.split(['/', ':']).next().unwrap_or("");
        if host != "localhost" && host != "127.0.0.1" {
            return false;
        }
        r
    } else {
        return false;
    };
    let host = rest.split(['/', ':']).next().unwrap_or("");
    !host.is_empty() && !url.contains(['?', '#', ' ', '"', '<', '>'])
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
    fn links_must_be_https_or_local() {
        assert_eq!(
            with(&[("RESET_PASSWORD_URL", "https://app.example.com/reset")])
                .unwrap()
                .links
                .reset_url,
            "https://app.example.com/reset"
        );
        for bad in [
            "http://evil.example.com/r",
            "ftp://x",
            "https://x/r?a=1",
            "/relative",
            "https://",
        ] {
            let e = with(&[("RESET_PASSWORD_URL", bad)]).unwrap_err();
            assert_eq!(e.variable, "RESET_PASSWORD_URL", "{bad}");
        }
    }

    #[test]
    fn password_config_is_json_and_validated() {
        let c = with(&[("PASSWORD_CONFIG", r#"{"policy":{"historyDepth":8}}"#)]).unwrap();
        assert_eq!(c.password.policy.history_depth, 8);
        assert_eq!(
            with(&[("PASSWORD_CONFIG", r#"{"policy":{"historyDepth":25}}"#)])
                .unwrap_err()
                .variable,
            "PASSWORD_CONFIG"
        );
        assert_eq!(
            with(&[("PASSWORD_CONFIG", r#"{"hashing":{"memoryKib":1024}}"#)])
                .unwrap_err()
                .variable,
            "PASSWORD_CONFIG"
        );
        assert_eq!(
            with(&[("JWT_HS256_SECRET", "short")]).unwrap_err().variable,
            "JWT_HS256_SECRET"
        );
    }

    #[test]
    fn cors_origins_and_trusted_proxies_are_checked_at_start() {
        let c = with(&[(
            "CORS_ALLOWED_ORIGINS",
            "https://a.example.com,https://b.example.com",
        )])
        .unwrap();
        assert_eq!(
            c.cors.origins(),
            ["https://a.example.com", "https://b.example.com"]
        );
        for bad in ["*", "https://a.example.com,*", "https://a.example.com/app"] {
            let e = with(&[("CORS_ALLOWED_ORIGINS", bad)]).unwrap_err();
            assert_eq!(e.variable, "CORS_ALLOWED_ORIGINS", "{bad}");
        }
        let c = with(&[("TRUSTED_PROXY_CIDRS", "10.0.0.0/8")]).unwrap();
        assert_eq!(
            c.client_ip,
            ClientIpSource::parse_cidrs("10.0.0.0/8").unwrap()
        );
        let e = with(&[("TRUSTED_PROXY_CIDRS", "10.0.0.0/8,nope")]).unwrap_err();
        assert_eq!(e.variable, "TRUSTED_PROXY_CIDRS");
    }

    #[test]
    fn the_edge_mode_picks_whom_the_client_ip_is_taken_from() {
        assert_eq!(with(&[]).unwrap().client_ip, ClientIpSource::default());
        let cf = with(&[
            ("EDGE_MODE", "cloudflare"),
            ("TRUSTED_PROXY_CIDRS", "10.0.0.0/8"),
        ]);
        assert_eq!(
            cf.unwrap().client_ip,
            ClientIpSource::parse_cidrs("10.0.0.0/8").unwrap()
        );
        // The template sets TRUSTED_PROXY_CIDRS in both modes; `none` ignores it.
        let none = with(&[("EDGE_MODE", "none"), ("TRUSTED_PROXY_CIDRS", "10.0.0.0/8")]);
        assert_eq!(none.unwrap().client_ip, ClientIpSource::Peer);
        for bad in ["Cloudflare", "off", "cloudfront"] {
            let e = with(&[("EDGE_MODE", bad)]).unwrap_err();
            assert_eq!(e.variable, "EDGE_MODE", "{bad}");
        }
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
