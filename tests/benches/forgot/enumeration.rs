//! `forgot` timing for an existing, an unknown and an inactive email, over
//! real HTTP and SCv2 against local-api: medians of N requests each,
//! interleaved so drift hits all three alike. A report, not a pass/fail test.
//!
//! `cargo bench -p e2e-tests --bench forgot -- enumeration` (N = 100; under
//! `cargo test` it runs N = 5 as a smoke check).

use std::time::Instant;

use client::{Client, Identity};
use e2e_tests::{comparable, without_forgot_limits, App, Server};
use shared::config::Config;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One report: N requests per address with `full` (`cargo bench`), else a smoke check.
pub async fn run(full: bool) {
    let n = if full { 100 } else { 5 };
    let config = without_forgot_limits(Config::default());
    let server = Server::start_with(config).await;
    let local = &server.local;
    local_api::dev::seed_user(
        &local.app,
        "active@example.com",
        "Active User",
        None,
        Some("granite-Meadow-lark-93"),
    )
    .await
    .unwrap();
    local_api::dev::seed_user(
        &local.app,
        "pending@example.com",
        "Pending User",
        None,
        None,
    )
    .await
    .unwrap();
    // No contract observer: its schema checks would sit inside the timed window.
    let client = Client::new(&server.url, Identity::default());
    let session = client.handshake().await.unwrap();
    let app = App::new(&client, &session);

    let emails = [
        "active@example.com",
        "unknown@example.com",
        "pending@example.com",
    ];
    let mut times: [Vec<f64>; 3] = Default::default();
    let mut bodies: Vec<serde_json::Value> = Vec::new();
    // warm-up
    for email in emails {
        app.forgot(email).await;
    }
    for _ in 0..n {
        for (i, email) in emails.iter().enumerate() {
            let start = Instant::now();
            let r = app.forgot(email).await;
            times[i].push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(r.status, 200);
            bodies.push(comparable(&r).1);
        }
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "answers differ between accounts"
    );
    let m: Vec<f64> = times.iter_mut().map(|t| median(t)).collect();
    let spread =
        m.iter().cloned().fold(f64::MIN, f64::max) - m.iter().cloned().fold(f64::MAX, f64::min);
    println!("forgot medians over {n} requests each (ms): existing {:.3}, unknown {:.3}, inactive {:.3}; max difference {:.3} ms (target < 5 ms); bodies identical", m[0], m[1], m[2], spread);
}
