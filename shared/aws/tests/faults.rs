//! An unreachable or silent AWS endpoint is unavailable within the timeouts.
//! Against the local AWS emulator (`aws_adapters::testing`).

use std::time::{Duration, Instant};

use aws_adapters::testing::*;
use aws_adapters::{
    DynamoRateLimiter, DynamoReplayGuard, DynamoSessionStore, Email, KmsSealer, Mailer,
    SealContext, SesMailer,
};
use shared::ports::{Limit, RateLimiter, ReplayGuard, SessionStore};

async fn assert_unavailable_in_time(endpoint: &str) {
    let cfg = config("t", "alias/x", "a@b.c", 2000);
    let clients = clients_at(&cfg, endpoint).await;
    let sessions = DynamoSessionStore::new(
        clients.dynamodb.clone(),
        "t",
        aws_adapters::SessionSealer::new("d", &[7; 32]).unwrap(),
    );
    let replay = DynamoReplayGuard::new(clients.dynamodb.clone(), "t");
    let limiter = DynamoRateLimiter::new(clients.dynamodb.clone(), "t");
    let sealer = KmsSealer::new(clients.kms.clone(), "alias/x");
    let mailer = SesMailer::new(clients.ses.clone(), "a@b.c");
    let limit = Limit {
        max: 1,
        window_secs: 1,
    };
    let started = Instant::now();
    let bound = Duration::from_secs(10);
    let r = tokio::time::timeout(bound, sessions.get("x", 0)).await;
    assert!(matches!(r, Ok(Err(_))), "session get: {r:?}");
    let r = tokio::time::timeout(bound, replay.first_use("x", &[0; 12], 1, 0)).await;
    assert!(matches!(r, Ok(Err(_))), "replay: {r:?}");
    let r = tokio::time::timeout(bound, limiter.hit("b", "k", limit, 0)).await;
    assert!(matches!(r, Ok(Err(_))), "limiter: {r:?}");
    let r = tokio::time::timeout(bound, sealer.seal(&SealContext::new("p", "k"), b"x")).await;
    assert!(matches!(r, Ok(Err(_))), "kms: {r:?}");
    let email = Email {
        to: "x@y.z".into(),
        subject: "s".into(),
        text: "t".into(),
        html: None,
    };
    let r = tokio::time::timeout(bound, mailer.send(&email)).await;
    assert!(matches!(r, Ok(Err(_))), "ses: {r:?}");
    assert!(started.elapsed() < bound * 5);
}

#[tokio::test]
async fn closed_port_is_unavailable_within_timeout() {
    assert_unavailable_in_time("http://127.0.0.1:1").await;
}

#[tokio::test]
async fn silent_endpoint_is_unavailable_within_operation_timeout() {
    // Accepts connections and never answers: only the operation timeout ends the call.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let hold = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let started = Instant::now();
    assert_unavailable_in_time(&format!("http://{addr}")).await;
    // Five calls, each bounded by the 2 s operation timeout (retries included).
    assert!(started.elapsed() >= Duration::from_millis(1_900));
    hold.abort();
}
