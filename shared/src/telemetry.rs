//! Logging set-up: JSON lines, level from `RUST_LOG` (default info).
//! Handlers log codes and request ids only, never bodies, passwords, tokens or keys.

/// Installs the JSON log subscriber; later calls do nothing.
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .try_init();
}
