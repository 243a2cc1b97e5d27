//! One sign-in check per request line, over the function's wire form, timed:
//! the measuring end of `bench/verify_reference.py`, which compares it with
//! one libargon2 evaluation in the same run. Build it with `--release` (the
//! Lambda profile): `make bench-verify`.
//!
//! The app is the embedded one (no network), with a seeded active user; rate
//! limits are off so the run measures the check, not the limiter. Each line
//! on stdin names a case and prints its duration in ns and the answer:
//! `ok` (right password), `wrong` (the same account, a wrong password), or
//! `unknown` (a fresh address nobody has). An `ok` clears the account's
//! count, so interleaved `wrong`s never reach the lock.

use std::io::{BufRead, Write};
use std::time::Instant;

use shared::channel::KeyRing;
use shared::config::{Config, RateLimits};
use shared::handlers::verify::handle_json;
use shared::App;

const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "velvet otter quantum 93!";

#[tokio::main(flavor = "current_thread")]
async fn main() {
    // Audit and metric lines are written as the function writes them, to
    // stderr here: stdout carries the timings.
    shared::observe::install("PasswordApi", |line| eprintln!("{line}"));
    let config = Config {
        limits: RateLimits::unlimited(),
        ..Config::default()
    };
    let app = App::embedded(config, KeyRing::empty()).expect("app");
    app.passwords.prepare_dummy().expect("dummy hash");
    let hash = app.passwords.hash_unchecked(PASSWORD).await.expect("hash");
    let invitation = shared::handlers::accounts::Invitation {
        email: password::Email::parse(EMAIL).expect("email"),
        name: "Bench User".into(),
        phone: None,
        locale: None,
    };
    shared::handlers::accounts::create_user(&app, invitation, Some(hash))
        .await
        .expect("seeded user");
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    for (i, line) in std::io::stdin().lock().lines().enumerate() {
        let case = line.expect("stdin");
        let body = match case.trim() {
            "ok" => {
                serde_json::json!({"email": EMAIL, "password": PASSWORD, "clientIp": "203.0.113.5"})
            }
            "wrong" => {
                serde_json::json!({"email": EMAIL, "password": "velvet otter quantum 94!", "clientIp": "203.0.113.5"})
            }
            "unknown" => {
                serde_json::json!({"email": format!("nobody-{i}@example.com"), "password": PASSWORD, "clientIp": "203.0.113.5"})
            }
            other => panic!("unknown case {other:?}: ok, wrong or unknown"),
        };
        let bytes = serde_json::to_vec(&body).expect("json");
        let start = Instant::now();
        let answer = handle_json(&app, &bytes).await;
        let ns = start.elapsed().as_nanos();
        let result = answer["result"].as_str().unwrap_or("error");
        writeln!(stdout, "{ns} {result}").expect("stdout");
        stdout.flush().expect("stdout");
    }
}
