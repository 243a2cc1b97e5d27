//! CloudWatch Embedded Metric Format: one document per request (and one per
//! mail batch), a JSON line CloudWatch Logs turns into metrics.
//!
//! The format is a small JSON shape, written here with `serde_json`: the
//! EMF crates either aggregate through a process-global recorder flushed
//! per invocation (not one document per request, and state shared between
//! tests) or bring a whole metrics framework for two documents.

use serde_json::{json, Map, Value};

/// Requests answered (1 per document).
pub const REQUESTS: &str = "Requests";
/// 1 when the answer was a 4xx.
pub const OUTCOME_4XX: &str = "Outcome4xx";
/// 1 when the answer was a 5xx.
pub const OUTCOME_5XX: &str = "Outcome5xx";
/// Time from the request to the answer, in ms.
pub const LATENCY_MS: &str = "LatencyMs";
/// Time spent in Argon2, in ms: only where a password was hashed or verified.
pub const HASH_MS: &str = "HashMs";
/// 1 when a rate limit refused the request.
pub const RATE_LIMITED: &str = "RateLimited";
/// 1 when a Secure Channel check refused the request.
pub const SC_REJECTED: &str = "ScRejected";
/// 1 when a stored hash named a pepper the function has not loaded: a
/// rotation dropped a pepper still in use (docs/operations.md#pepper-missing).
pub const PEPPER_MISSING: &str = "PepperMissing";
/// Emails sent by one batch.
pub const MAIL_SENT: &str = "MailSent";
/// Emails (or forgot answers) that failed in one batch.
pub const MAIL_FAILED: &str = "MailFailed";

/// 1 when a password check succeeded (verify-password).
pub const VERIFY_OK: &str = "VerifyOk";
/// 1 when a password check failed: the credential-stuffing signal.
pub const VERIFY_FAILED: &str = "VerifyFailed";
/// 1 when a check was refused because the account was locked.
pub const VERIFY_LOCKED: &str = "VerifyLocked";
/// 1 when a password check failed inside (backend unavailable, a hash
/// under a pepper not loaded): the check answered a 5xx error.
pub const VERIFY_ERROR: &str = "VerifyError";
/// 1 when a correct password was found in the breached-password screen at
/// sign-in (`Action` dimension: `flag` or `block`).
pub const BREACHED_DETECTED: &str = "BreachedDetected";
/// The `Function` dimension of the verification documents.
pub const VERIFY_FUNCTION: &str = "verify-password";
/// Every metric of a verification document.
pub const VERIFY_METRICS: [&str; 9] = [
    VERIFY_OK,
    VERIFY_FAILED,
    VERIFY_LOCKED,
    VERIFY_ERROR,
    BREACHED_DETECTED,
    LATENCY_MS,
    HASH_MS,
    IMPORTED_UPGRADED,
    USERS_ON_FOREIGN_HASH,
];
/// 1 when a sign-in replaced an imported (foreign) hash by Argon2id.
pub const IMPORTED_UPGRADED: &str = "ImportedUpgraded";
/// Users still on an imported hash, read after an upgrade (a gauge).
pub const USERS_ON_FOREIGN_HASH: &str = "UsersOnForeignHash";

/// Every metric a request document can carry.
pub const REQUEST_METRICS: [&str; 8] = [
    REQUESTS,
    OUTCOME_4XX,
    OUTCOME_5XX,
    LATENCY_MS,
    HASH_MS,
    RATE_LIMITED,
    SC_REJECTED,
    PEPPER_MISSING,
];
/// Every metric of a mail document.
pub const MAIL_METRICS: [&str; 2] = [MAIL_SENT, MAIL_FAILED];

/// The `Function` dimension of the mail documents.
pub const SEND_MAIL_FUNCTION: &str = "send-mail";
/// The `Function` dimension of the scheduled sweep's mail documents.
pub const SWEEP_MAIL_FUNCTION: &str = "sweep-mail";

/// What one request's document counts.
#[derive(Debug, Clone, Copy)]
pub struct RequestMetrics {
    /// The path of the route answered.
    pub route: &'static str,
    /// The function crate serving it (`Route::function`), whichever process answers.
    pub function: &'static str,
    /// HTTP status of the answer.
    pub status: u16,
    /// A rate limit refused it.
    pub rate_limited: bool,
    /// A Secure Channel check refused it.
    pub sc_rejected: bool,
    /// Time to the answer.
    pub latency_ms: u64,
    /// Time in Argon2, when it ran.
    pub hash_ms: Option<u64>,
    /// A stored hash named a pepper that is not loaded (carried only then).
    pub pepper_missing: bool,
}

fn document(
    namespace: &str,
    now_ms: u64,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, &str, u64)],
) -> Value {
    let names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let defs: Vec<Value> = metrics
        .iter()
        .map(|(name, unit, _)| json!({ "Name": name, "Unit": unit }))
        .collect();
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": now_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [names],
                "Metrics": defs,
            }],
        }),
    );
    for (k, v) in dimensions {
        doc.insert((*k).to_owned(), Value::from(*v));
    }
    for (name, _, value) in metrics {
        doc.insert((*name).to_owned(), Value::from(*value));
    }
    Value::Object(doc)
}

impl RequestMetrics {
    /// The EMF document, dimensions `Function` and `Route`.
    pub fn to_emf(&self, namespace: &str, now_ms: u64) -> Value {
        let flag = |b: bool| u64::from(b);
        let mut metrics = vec![
            (REQUESTS, "Count", 1),
            (
                OUTCOME_4XX,
                "Count",
                flag((400..500).contains(&self.status)),
            ),
            (OUTCOME_5XX, "Count", flag(self.status >= 500)),
            (LATENCY_MS, "Milliseconds", self.latency_ms),
            (RATE_LIMITED, "Count", flag(self.rate_limited)),
            (SC_REJECTED, "Count", flag(self.sc_rejected)),
        ];
        if let Some(ms) = self.hash_ms {
            metrics.push((HASH_MS, "Milliseconds", ms));
        }
        if self.pepper_missing {
            metrics.push((PEPPER_MISSING, "Count", 1));
        }
        document(
            namespace,
            now_ms,
            &[("Function", self.function), ("Route", self.route)],
            &metrics,
        )
    }
}

/// One mail batch's document (send-mail, and local-api's delivery), dimension `Function`.
pub fn mail_emf(namespace: &str, now_ms: u64, sent: u64, failed: u64) -> Value {
    mail_emf_of(SEND_MAIL_FUNCTION, namespace, now_ms, sent, failed)
}

/// Whole days left before the active SCv2 key stops being accepted for new
/// sessions, published by sweep-mail each run (its alarm fires below 14).
pub const SC_KEY_DAYS_LEFT: &str = "ScKeyDaysLeft";

/// The key-expiry document, dimension `Function` = [`SWEEP_MAIL_FUNCTION`].
pub fn key_expiry_emf(namespace: &str, now_ms: u64, days_left: u64) -> Value {
    document(
        namespace,
        now_ms,
        &[("Function", SWEEP_MAIL_FUNCTION)],
        &[(SC_KEY_DAYS_LEFT, "Count", days_left)],
    )
}

/// The mail document of `function` ([`SEND_MAIL_FUNCTION`] or
/// [`SWEEP_MAIL_FUNCTION`]): the same metrics, so one alarm shape fits both.
pub fn mail_emf_of(function: &str, namespace: &str, now_ms: u64, sent: u64, failed: u64) -> Value {
    document(
        namespace,
        now_ms,
        &[("Function", function)],
        &[(MAIL_SENT, "Count", sent), (MAIL_FAILED, "Count", failed)],
    )
}

/// One verification's document, dimension `Function`: `outcome` is `ok`,
/// `invalid` or `locked`.
pub fn verify_emf(
    namespace: &str,
    now_ms: u64,
    outcome: &str,
    latency_ms: u64,
    hash_ms: Option<u64>,
) -> Value {
    let flag = |o: &str| u64::from(outcome == o);
    let mut metrics = vec![
        (VERIFY_OK, "Count", flag("ok")),
        (VERIFY_FAILED, "Count", flag("invalid")),
        (VERIFY_LOCKED, "Count", flag("locked")),
        (LATENCY_MS, "Milliseconds", latency_ms),
    ];
    if let Some(ms) = hash_ms {
        metrics.push((HASH_MS, "Milliseconds", ms));
    }
    document(
        namespace,
        now_ms,
        &[("Function", VERIFY_FUNCTION)],
        &metrics,
    )
}

/// The document of a sign-in whose correct password was found breached.
pub fn breached_emf(namespace: &str, now_ms: u64, action: &str) -> Value {
    document(
        namespace,
        now_ms,
        &[("Function", VERIFY_FUNCTION), ("Action", action)],
        &[(BREACHED_DETECTED, "Count", 1)],
    )
}

/// The document of a sign-in that replaced an imported hash: 1, and the
/// users still on one when the count could be read.
pub fn imported_upgraded_emf(namespace: &str, now_ms: u64, remaining: Option<i64>) -> Value {
    let mut metrics = vec![(IMPORTED_UPGRADED, "Count", 1)];
    if let Some(n) = remaining {
        // Never negative in a consistent table; a gauge cannot say less than none.
        metrics.push((
            USERS_ON_FOREIGN_HASH,
            "Count",
            u64::try_from(n).unwrap_or(0),
        ));
    }
    document(
        namespace,
        now_ms,
        &[("Function", VERIFY_FUNCTION)],
        &metrics,
    )
}

/// The document of a check that failed inside: `VerifyError`, and
/// `PepperMissing` when a stored hash named a pepper not loaded.
pub fn verify_error_emf(namespace: &str, now_ms: u64, pepper_missing: bool) -> Value {
    let mut metrics = vec![(VERIFY_ERROR, "Count", 1)];
    if pepper_missing {
        metrics.push((PEPPER_MISSING, "Count", 1));
    }
    document(
        namespace,
        now_ms,
        &[("Function", VERIFY_FUNCTION)],
        &metrics,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_document_declares_and_carries_each_metric() {
        let doc = RequestMetrics {
            route: "/web/v1/system/auth/password/reset",
            function: "reset-password",
            status: 429,
            rate_limited: true,
            sc_rejected: false,
            latency_ms: 12,
            hash_ms: None,
            pepper_missing: false,
        }
        .to_emf("Ns", 5);
        let cw = &doc["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(doc["_aws"]["Timestamp"], 5);
        assert_eq!(cw["Namespace"], "Ns");
        assert_eq!(cw["Dimensions"], json!([["Function", "Route"]]));
        assert_eq!(doc["Function"], "reset-password");
        assert_eq!(doc["Route"], "/web/v1/system/auth/password/reset");
        let declared: Vec<&str> = cw["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert!(!declared.contains(&HASH_MS), "no Argon2, no HashMs");
        assert!(
            !declared.contains(&PEPPER_MISSING),
            "carried only when it happened"
        );
        for name in &declared {
            assert!(doc[*name].is_u64(), "{name}");
        }
        assert_eq!(doc[OUTCOME_4XX], 1);
        assert_eq!(doc[RATE_LIMITED], 1);
        assert_eq!(doc[LATENCY_MS], 12);
        let hashed = RequestMetrics {
            hash_ms: Some(300),
            status: 503,
            pepper_missing: true,
            ..RequestMetrics {
                route: "/web/v1/system/auth/password/change",
                function: "change-password",
                status: 0,
                rate_limited: false,
                sc_rejected: false,
                latency_ms: 0,
                hash_ms: None,
                pepper_missing: false,
            }
        }
        .to_emf("Ns", 0);
        assert_eq!(hashed[HASH_MS], 300);
        assert_eq!(hashed[PEPPER_MISSING], 1);
        assert_eq!(hashed[OUTCOME_5XX], 1);
        assert_eq!(hashed[OUTCOME_4XX], 0);
        let verify = verify_emf("Ns", 0, "invalid", 90, Some(80));
        assert_eq!(
            (verify[VERIFY_OK].clone(), verify[VERIFY_FAILED].clone()),
            (json!(0), json!(1))
        );
        assert_eq!(verify[HASH_MS], 80);
        assert_eq!(verify["Function"], VERIFY_FUNCTION);
        assert!(verify_emf("Ns", 0, "locked", 1, None)
            .get(HASH_MS)
            .is_none());
        let failed = verify_error_emf("Ns", 0, true);
        assert_eq!(
            (failed[VERIFY_ERROR].clone(), failed[PEPPER_MISSING].clone()),
            (json!(1), json!(1))
        );
        assert!(verify_error_emf("Ns", 0, false)
            .get(PEPPER_MISSING)
            .is_none());
        let mail = mail_emf("Ns", 0, 2, 1);
        assert_eq!(mail[MAIL_SENT], 2);
        assert_eq!(
            mail["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Function"]])
        );
    }
}
