//! What this binary's tests read, one capture each per process: every
//! audit and metric line (`shared::observe` sends them to the one sink
//! installed) and every log line (one global tracing subscriber). A test
//! holds [`SERIAL`] for its whole run, so no other test's lines fall among
//! its own: observe_events matches metric documents to requests by order.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// The metrics namespace of this process.
pub const NAMESPACE: &str = "PasswordApi/test";

/// Held by each test for its whole run.
pub static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Every audit and metric line emitted in this process since the first call.
pub fn lines() -> Arc<Mutex<Vec<String>>> {
    static LINES: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();
    LINES
        .get_or_init(|| {
            let lines = Arc::new(Mutex::new(Vec::new()));
            let sink = lines.clone();
            assert!(shared::observe::install(NAMESPACE, move |l: &str| {
                sink.lock().unwrap().push(l.to_owned())
            }));
            lines
        })
        .clone()
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Every log line (all levels, every crate, JSON) written in this process
/// since the first call.
pub fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Capture> = OnceLock::new();
    LOGS.get_or_init(|| {
        let capture = Capture::default();
        let writer = capture.clone();
        tracing_subscriber::fmt()
            .json()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .init();
        capture
    })
    .0
    .clone()
}
