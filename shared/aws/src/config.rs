use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;

/// Typed settings of the AWS adapters, read from the environment.
///
/// `AWS_ENDPOINT_URL`, `AWS_REGION` and credentials are read by `aws-config`
/// itself (the endpoint URL points every client at the emulator).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsConfig {
    /// `TABLE_NAME`: the single DynamoDB table.
    pub table_name: String,
    /// `KMS_KEY_ID`: the symmetric KMS key sealing private keys and secrets.
    pub kms_key_id: String,
    /// `SES_FROM_ADDRESS`: verified sender identity.
    pub ses_from_address: String,
    /// `AWS_CONNECT_TIMEOUT_MS` (default 1000).
    pub connect_timeout: Duration,
    /// `AWS_OPERATION_TIMEOUT_MS` (default 3000): bound of one call, retries included.
    pub operation_timeout: Duration,
    /// Attempts per call: 1 + 2 retries.
    pub max_attempts: u32,
    /// `SESSION_DATA_KEY_ID` (default `d1`): data key sealing session keys.
    pub session_data_key_id: String,
    /// `OUTBOX_DATA_KEY_ID` (default `o1`): data key sealing outbox messages.
    pub outbox_data_key_id: String,
    /// `PASSWORD_PEPPER_ID` (optional): id of the KMS-sealed password pepper;
    /// unset means hashes without a pepper.
    pub pepper_id: Option<String>,
    /// `PASSWORD_PEPPER_VERIFY_IDS` (optional, comma-separated): peppers kept
    /// after a rotation only to verify the hashes made with them; each such
    /// hash moves to the active pepper when its password is next checked.
    pub pepper_verify_ids: Vec<String>,
    /// `COGNITO_USER_POOL_ID` (optional): the pool whose users sign in with
    /// the passwords kept here; set, a password set here signs the user out
    /// there (and makes the user known there first).
    pub cognito_user_pool_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {var} is malformed: {reason}")]
    Malformed { var: &'static str, reason: String },
}

pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1000;
pub const DEFAULT_OPERATION_TIMEOUT_MS: u64 = 3000;
pub const MAX_RETRIES: u32 = 2;
pub const DEFAULT_SESSION_DATA_KEY_ID: &str = "d1";
pub const DEFAULT_OUTBOX_DATA_KEY_ID: &str = "o1";

impl AwsConfig {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// [`AwsConfig::from_env`] for a deployed HTTP function, which also
    /// requires the access-token issuer and audience (`JWT_ISSUER`,
    /// `JWT_AUDIENCE`): a deployment never accepts tokens minted for another
    /// service. (`local-api` keeps them optional.)
    pub fn http_from_env() -> Result<Self, ConfigError> {
        Self::http_from_lookup(|k| std::env::var(k).ok())
    }

    /// Same as [`AwsConfig::http_from_env`] over any lookup (tests).
    pub fn http_from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        for var in ["JWT_ISSUER", "JWT_AUDIENCE"] {
            match get(var) {
                None => return Err(ConfigError::Missing(var)),
                Some(v) if v.trim().is_empty() => {
                    return Err(ConfigError::Malformed {
                        var,
                        reason: "empty".into(),
                    })
                }
                Some(_) => {}
            }
        }
        Self::from_lookup(get)
    }

    /// Same as [`AwsConfig::from_env`] over any lookup (tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let required = |var: &'static str| -> Result<String, ConfigError> {
            match get(var) {
                None => Err(ConfigError::Missing(var)),
                Some(v) if v.trim().is_empty() => Err(ConfigError::Malformed {
                    var,
                    reason: "empty".into(),
                }),
                Some(v) => Ok(v.trim().to_owned()),
            }
        };
        let millis = |var: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(var) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => match v.trim().parse::<u64>() {
                    Ok(ms) if (1..=600_000).contains(&ms) => Ok(Duration::from_millis(ms)),
                    _ => Err(ConfigError::Malformed {
                        var,
                        reason: "expected milliseconds in 1..=600000".into(),
                    }),
                },
            }
        };
        let key_id = |var: &'static str| -> Result<Option<String>, ConfigError> {
            match get(var) {
                None => Ok(None),
                Some(v) => key_id_value(&v).map(Some).ok_or(ConfigError::Malformed {
                    var,
                    reason: "expected 1-64 characters of [A-Za-z0-9._-]".into(),
                }),
            }
        };
        let ses_from_address = required("SES_FROM_ADDRESS")?;
        if !ses_from_address.contains('@') {
            return Err(ConfigError::Malformed {
                var: "SES_FROM_ADDRESS",
                reason: "expected an email address".into(),
            });
        }
        let pepper_id = key_id("PASSWORD_PEPPER_ID")?;
        let mut pepper_verify_ids: Vec<String> = Vec::new();
        for id in get("PASSWORD_PEPPER_VERIFY_IDS")
            .unwrap_or_default()
            .split(',')
            .filter(|s| !s.trim().is_empty())
        {
            let id = key_id_value(id).ok_or_else(|| ConfigError::Malformed {
                var: "PASSWORD_PEPPER_VERIFY_IDS",
                reason: "expected ids of 1-64 characters of [A-Za-z0-9._-], comma-separated".into(),
            })?;
            if pepper_id.as_ref() == Some(&id) || pepper_verify_ids.contains(&id) {
                return Err(ConfigError::Malformed {
                    var: "PASSWORD_PEPPER_VERIFY_IDS",
                    reason: format!("{id} is listed twice or is the active PASSWORD_PEPPER_ID"),
                });
            }
            pepper_verify_ids.push(id);
        }
        Ok(AwsConfig {
            table_name: required("TABLE_NAME")?,
            kms_key_id: required("KMS_KEY_ID")?,
            ses_from_address,
            connect_timeout: millis("AWS_CONNECT_TIMEOUT_MS", DEFAULT_CONNECT_TIMEOUT_MS)?,
            operation_timeout: millis("AWS_OPERATION_TIMEOUT_MS", DEFAULT_OPERATION_TIMEOUT_MS)?,
            max_attempts: 1 + MAX_RETRIES,
            session_data_key_id: key_id("SESSION_DATA_KEY_ID")?
                .unwrap_or_else(|| DEFAULT_SESSION_DATA_KEY_ID.into()),
            outbox_data_key_id: key_id("OUTBOX_DATA_KEY_ID")?
                .unwrap_or_else(|| DEFAULT_OUTBOX_DATA_KEY_ID.into()),
            pepper_id,
            pepper_verify_ids,
            cognito_user_pool_id: match get("COGNITO_USER_POOL_ID") {
                None => None,
                Some(v) if v.trim().is_empty() => None,
                Some(v) if is_pool_id(v.trim()) => Some(v.trim().to_owned()),
                Some(_) => {
                    return Err(ConfigError::Malformed {
                        var: "COGNITO_USER_POOL_ID",
                        reason: "expected <region>_<id>, e.g. eu-west-1_AbC123".into(),
                    })
                }
            },
        })
    }

    pub fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .operation_timeout(self.operation_timeout)
            .build()
    }

    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig::standard().with_max_attempts(self.max_attempts)
    }
}

/// A Cognito user pool id: `<region>_<letters and digits>`.
fn is_pool_id(v: &str) -> bool {
    v.len() <= 55
        && v.split_once('_').is_some_and(|(region, id)| {
            !region.is_empty()
                && region
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !id.is_empty()
                && id.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// A key id as stored (trimmed), if it has the allowed form.
fn key_id_value(v: &str) -> Option<String> {
    let v = v.trim();
    let ok = (1..=64).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    ok.then(|| v.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    const BASE: [(&str, &str); 3] = [
        ("TABLE_NAME", "t"),
        ("KMS_KEY_ID", "alias/password-api"),
        ("SES_FROM_ADDRESS", "noreply@example.com"),
    ];

    #[test]
    fn defaults_and_overrides() {
        let c = AwsConfig::from_lookup(lookup(&BASE)).unwrap();
        assert_eq!(c.connect_timeout, Duration::from_millis(1000));
        assert_eq!(c.operation_timeout, Duration::from_millis(3000));
        assert_eq!(c.max_attempts, 3);
        assert_eq!(c.session_data_key_id, "d1");
        assert_eq!(c.outbox_data_key_id, "o1");
        assert_eq!(c.pepper_id, None);
        let mut pairs = BASE.to_vec();
        pairs.push(("AWS_OPERATION_TIMEOUT_MS", "2500"));
        let c = AwsConfig::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(c.operation_timeout, Duration::from_millis(2500));
    }

    #[test]
    fn missing_and_malformed_name_the_variable() {
        for missing in ["TABLE_NAME", "KMS_KEY_ID", "SES_FROM_ADDRESS"] {
            let pairs: Vec<_> = BASE
                .iter()
                .copied()
                .filter(|(k, _)| *k != missing)
                .collect();
            let err = AwsConfig::from_lookup(lookup(&pairs)).unwrap_err();
            assert_eq!(err, ConfigError::Missing(missing));
            assert!(err.to_string().contains(missing));
        }
        let mut pairs = BASE.to_vec();
        pairs.push(("AWS_CONNECT_TIMEOUT_MS", "soon"));
        let err = AwsConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(err.to_string().contains("AWS_CONNECT_TIMEOUT_MS"));
        let mut pairs = BASE.to_vec();
        pairs.push(("PASSWORD_PEPPER_ID", "p#1"));
        let err = AwsConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(err.to_string().contains("PASSWORD_PEPPER_ID"));
        for bad in ["p#1", "p1,p1", "p0", "p1,,p#"] {
            let mut pairs = BASE.to_vec();
            pairs.push(("PASSWORD_PEPPER_ID", "p0"));
            pairs.push(("PASSWORD_PEPPER_VERIFY_IDS", bad));
            let err = AwsConfig::from_lookup(lookup(&pairs)).unwrap_err();
            assert!(
                err.to_string().contains("PASSWORD_PEPPER_VERIFY_IDS"),
                "{bad}"
            );
        }
        let mut pairs = BASE.to_vec();
        pairs.push(("PASSWORD_PEPPER_ID", "p2"));
        pairs.push(("PASSWORD_PEPPER_VERIFY_IDS", " p1, p0 ,"));
        let cfg = AwsConfig::from_lookup(lookup(&pairs)).unwrap();
        assert_eq!(cfg.pepper_verify_ids, ["p1", "p0"]);
        let mut pairs = BASE.to_vec();
        pairs[2] = ("SES_FROM_ADDRESS", "nobody");
        let err = AwsConfig::from_lookup(lookup(&pairs)).unwrap_err();
        assert!(err.to_string().contains("SES_FROM_ADDRESS"));
    }

    #[test]
    fn http_functions_require_issuer_and_audience() {
        let jwt = [
            ("JWT_ISSUER", "https://id.example.com"),
            ("JWT_AUDIENCE", "password-api"),
        ];
        let all: Vec<_> = BASE.iter().chain(&jwt).copied().collect();
        assert_eq!(
            AwsConfig::http_from_lookup(lookup(&all)).unwrap(),
            AwsConfig::from_lookup(lookup(&BASE)).unwrap()
        );
        for (var, _) in jwt {
            let without: Vec<_> = all.iter().copied().filter(|(k, _)| *k != var).collect();
            let err = AwsConfig::http_from_lookup(lookup(&without)).unwrap_err();
            assert_eq!(err, ConfigError::Missing(var));
            assert!(err.to_string().contains(var));
            let empty: Vec<_> = all
                .iter()
                .map(|&(k, v)| if k == var { (k, " ") } else { (k, v) })
                .collect();
            let err = AwsConfig::http_from_lookup(lookup(&empty)).unwrap_err();
            assert!(err.to_string().contains(var), "{err}");
        }
        // The mail function and `pwctl admin` verify no token and do not need them.
        assert!(AwsConfig::from_lookup(lookup(&BASE)).is_ok());
    }
}
