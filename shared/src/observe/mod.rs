//! What operators see of each request besides its log line: one audit event
//! (who did what to which account, from where: [`audit`]) and one CloudWatch
//! Embedded Metric Format document (health: [`metrics`]), each one JSON line
//! on stdout. `dispatch::answer` writes both, from the [`Facts`] the handlers
//! recorded on the way; docs/operations.md reads them.

pub mod audit;
pub mod metrics;

use std::future::Future;
use std::io::Write;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

/// What a handler learns about a request that the dispatcher cannot see:
/// the account, the time spent in Argon2, the code sealed into the answer.
/// Shared by reference across the handler's awaits, hence the lock.
#[derive(Debug, Default)]
pub struct Facts(Mutex<Recorded>);

/// The facts of one request so far.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The account the request proved to be about.
    pub biz_id: Option<String>,
    /// Milliseconds spent hashing or verifying passwords, when any ran.
    pub hash_ms: Option<u64>,
    /// The envelope `code` of an answer sealed by the handler.
    pub code: Option<&'static str>,
    /// The id of the forgot request written (joins its off-path answer).
    pub forgot_id: Option<String>,
    /// A stored hash named a pepper this process has not loaded.
    pub pepper_missing: bool,
}

impl Facts {
    fn with(&self, f: impl FnOnce(&mut Recorded)) {
        // A poisoned record still holds what was written before the panic.
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard);
    }

    /// The account the request is about, once the handler knows it.
    pub fn biz_id(&self, biz_id: &str) {
        self.with(|r| r.biz_id = Some(biz_id.to_owned()));
    }

    /// The code of the answer the handler sealed.
    pub fn code(&self, code: &'static str) {
        self.with(|r| r.code = Some(code));
    }

    /// The forgot request written for this request.
    pub fn forgot_id(&self, id: &str) {
        self.with(|r| r.forgot_id = Some(id.to_owned()));
    }

    /// Runs `work` (a password check) and adds its time, noting a stored
    /// hash whose pepper is not loaded: its own metric and alarm.
    pub async fn time_check<T, F>(&self, work: F) -> Result<T, password::PasswordError>
    where
        F: Future<Output = Result<T, password::PasswordError>>,
    {
        let out = self.time_hash(work).await;
        if let Err(password::PasswordError::UnknownPepper(id)) = &out {
            tracing::error!(pepper_id = %id, "a stored hash names a pepper that is not loaded");
            self.with(|r| r.pepper_missing = true);
        }
        out
    }

    /// Adds `elapsed` to the time spent in Argon2.
    pub fn hashed(&self, elapsed: Duration) {
        let ms = u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX);
        self.with(|r| r.hash_ms = Some(r.hash_ms.unwrap_or(0).saturating_add(ms)));
    }

    /// Runs `work` (a password hash or verification) and adds its time.
    pub async fn time_hash<F: Future>(&self, work: F) -> F::Output {
        let start = Instant::now();
        let out = work.await;
        self.hashed(start.elapsed());
        out
    }

    /// A copy of what was recorded.
    pub fn snapshot(&self) -> Recorded {
        let mut out = Recorded::default();
        self.with(|r| out = r.clone());
        out
    }
}

/// The metrics namespace when `METRICS_NAMESPACE` is not set.
pub const DEFAULT_NAMESPACE: &str = "PasswordApi";

/// The metrics namespace, fixed by the first [`install`] or [`namespace`] call.
static NAMESPACE: OnceLock<String> = OnceLock::new();

/// Where lines go instead of stdout once [`install`]ed.
type Sink = Box<dyn Fn(&str) + Send + Sync>;
static SINK: OnceLock<Sink> = OnceLock::new();

fn stdout_line(line: &str) {
    // One locked write per line: never interleaved with a log line.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// The namespace configured by `METRICS_NAMESPACE` (a CloudWatch namespace:
/// 1-255 characters, no leading colon), else [`DEFAULT_NAMESPACE`].
pub fn namespace_from(value: Option<&str>) -> String {
    match value.map(str::trim) {
        Some(ns) if (1..=255).contains(&ns.len()) && !ns.starts_with(':') => ns.to_owned(),
        _ => DEFAULT_NAMESPACE.to_owned(),
    }
}

/// Sends every later line to `write` instead of stdout, under `namespace`
/// (tools and tests capture with it). Only the first call of a process takes
/// effect; lines emitted before it went to stdout, which lets a test binary
/// of many modules install its capture whichever test comes first. `false`
/// when a sink is already installed, or when the process's namespace was
/// already fixed (by an earlier line) to another one.
pub fn install(namespace: &str, write: impl Fn(&str) + Send + Sync + 'static) -> bool {
    let namespace = namespace_from(Some(namespace));
    let fixed = NAMESPACE.get_or_init(|| namespace.clone());
    *fixed == namespace && SINK.set(Box::new(write)).is_ok()
}

/// The metrics namespace of this process.
pub fn namespace() -> &'static str {
    NAMESPACE.get_or_init(|| namespace_from(std::env::var("METRICS_NAMESPACE").ok().as_deref()))
}

/// Writes `value` as one line.
pub fn emit(value: &Value) {
    if let Ok(line) = serde_json::to_string(value) {
        match SINK.get() {
            Some(write) => write(&line),
            None => stdout_line(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The only test of this binary that installs a sink: the process's
    /// namespace is the default one (METRICS_NAMESPACE is not set in tests).
    #[test]
    fn a_sink_installed_after_a_line_was_emitted_gets_every_later_line() {
        // As a metric document does, the line reads the namespace.
        emit(&serde_json::json!({"before": namespace()}));
        assert!(
            !install("Other/Namespace", |_| {}),
            "namespace already fixed"
        );
        let lines = std::sync::Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        assert!(install(DEFAULT_NAMESPACE, move |l| {
            sink.lock().unwrap().push(l.to_owned())
        }));
        assert!(!install(DEFAULT_NAMESPACE, |_| {}), "only the first sink");
        emit(&serde_json::json!({"after": 1}));
        assert_eq!(namespace(), DEFAULT_NAMESPACE);
        assert!(lines.lock().unwrap().contains(&r#"{"after":1}"#.to_owned()));
        assert!(!lines.lock().unwrap().iter().any(|l| l.contains("before")));
    }

    #[tokio::test]
    async fn a_check_against_a_pepper_not_loaded_is_recorded() {
        let facts = Facts::default();
        let ok: Result<(), _> = facts.time_check(async { Ok(()) }).await;
        assert!(ok.is_ok() && !facts.snapshot().pepper_missing);
        let mismatch: Result<(), _> = facts
            .time_check(async { Err(password::PasswordError::Mismatch) })
            .await;
        assert!(mismatch.is_err() && !facts.snapshot().pepper_missing);
        let missing: Result<(), _> = facts
            .time_check(async {
                Err(password::PasswordError::UnknownPepper(
                    password::PepperId::new("p1"),
                ))
            })
            .await;
        assert!(missing.is_err());
        assert!(facts.snapshot().pepper_missing);
        assert!(facts.snapshot().hash_ms.is_some());
    }

    #[tokio::test]
    async fn facts_add_up_hash_time_and_keep_the_last_code() {
        let facts = Facts::default();
        assert_eq!(facts.snapshot(), Recorded::default());
        facts.hashed(Duration::from_millis(40));
        let v = facts
            .time_hash(async {
                tokio::time::sleep(Duration::from_millis(2)).await;
                7
            })
            .await;
        assert_eq!(v, 7);
        facts.biz_id("ACC_USR_1");
        facts.code("AUTH.TOKEN_INVALID");
        facts.code("2000");
        let r = facts.snapshot();
        assert!(r.hash_ms.unwrap() >= 42, "{r:?}");
        assert_eq!(r.biz_id.as_deref(), Some("ACC_USR_1"));
        assert_eq!(r.code, Some("2000"));
    }

    #[test]
    fn the_namespace_falls_back_when_unusable() {
        assert_eq!(namespace_from(None), DEFAULT_NAMESPACE);
        assert_eq!(namespace_from(Some("  ")), DEFAULT_NAMESPACE);
        assert_eq!(namespace_from(Some(":bad")), DEFAULT_NAMESPACE);
        assert_eq!(namespace_from(Some(&"n".repeat(256))), DEFAULT_NAMESPACE);
        assert_eq!(namespace_from(Some("Pw/prod")), "Pw/prod");
    }
}
