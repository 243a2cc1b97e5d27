//! `forgot` latency for an active, an unknown and an inactive address over
//! the AWS adapters on the local emulator (moto): local-api's HTTP front,
//! real SCv2, every port on DynamoDB/KMS. Requests are interleaved so drift
//! hits the three alike, and each is timed alone: the in-process answer to
//! the previous request (what the stream consumer does in AWS) is awaited
//! outside the timed window. A report, not a pass/fail test.
//!
//! `cargo bench -p e2e-tests --bench forgot -- emulator` (N = 50 per address;
//! under `cargo test` it runs N = 3 as a smoke check).

// Statistics over at most a few thousand samples: float casts lose nothing here.
#![allow(clippy::cast_precision_loss, clippy::cast_sign_loss)]

use std::time::Instant;

use e2e_tests::*;
use shared::config::Config;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// One report: N requests per address with `full` (`cargo bench`), else a smoke check.
pub async fn run(full: bool) {
    let n = if full { 50 } else { 3 };
    let endpoint = emulator_env()["AWS_ENDPOINT_URL"].clone();
    let (aws, clients) = aws_stack("forgotbench", &endpoint, 10_000).await;
    let config = without_forgot_limits(Config::default());
    let s = Server::serve(aws_local_with(config, &aws, &clients).await).await;
    s.user("active@example.com", STRONG).await;
    s.pending_user("asleep@example.com", "Asleep User").await;
    let emails = [
        "active@example.com",
        "nobody@example.com",
        "asleep@example.com",
    ];
    let c = s.client("198.51.100.60");
    let session = c.handshake().await.unwrap();
    let app = App::new(&c, &session);
    let forgot = |email: &'static str| app.forgot(email);
    for email in emails {
        forgot(email).await;
    }
    s.local.settle().await;
    let mut times: [Vec<f64>; 3] = Default::default();
    for _ in 0..n {
        for (i, email) in emails.iter().enumerate() {
            let start = Instant::now();
            let r = forgot(email).await;
            times[i].push(start.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(r.status, 200, "{}", r.body);
            s.local.settle().await;
        }
    }
    println!("forgot on the emulator, {n} requests per address (ms):");
    for (email, t) in emails.iter().zip(times.iter_mut()) {
        t.sort_by(|a, b| a.total_cmp(b));
        let mean = t.iter().sum::<f64>() / t.len() as f64;
        println!(
            "  {email:<20} p50 {:7.2}  p90 {:7.2}  p99 {:7.2}  max {:7.2}  mean {:7.2}",
            percentile(t, 0.5),
            percentile(t, 0.9),
            percentile(t, 0.99),
            t[t.len() - 1],
            mean
        );
    }
}
