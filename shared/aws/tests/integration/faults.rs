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

/// invite-user: an internal error fails the invocation (Lambda's `Errors`
/// metric and its alarm count it); a refused invitation is an answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_internal_errors_fail_the_invocation_and_refusals_answer() {
    let (cfg, clients) = fresh("invitefault").await;
    let app = aws_adapters::bootstrap::app_with(
        shared::route::Needs::INVITE_USER,
        shared::config::Config::default(),
        &cfg,
        &clients,
    )
    .await
    .unwrap();
    // The table goes away under the warm function: every write fails.
    clients
        .dynamodb
        .delete_table()
        .table_name(&cfg.table_name)
        .send()
        .await
        .unwrap();
    let to = format!("{}@example.com", unique("inv"));
    let err =
        aws_adapters::invite_fn::handle(&app, serde_json::json!({ "email": to, "name": "Ann" }))
            .await
            .expect_err("an internal error is a function error");
    assert!(err.to_string().starts_with("invitation failed: "), "{err}");
    assert!(
        !err.to_string().contains(&to),
        "no address in the error: {err}"
    );
    // A bad event is the caller's error: a successful invocation with the code.
    let refused = aws_adapters::invite_fn::handle(
        &app,
        serde_json::json!({ "email": to, "name": "Eve", "role": "admin" }),
    )
    .await
    .expect("a refusal is an answer");
    assert_eq!(refused["error"]["status"], 400, "{refused}");
    assert_eq!(refused["error"]["code"], "VALIDATION.INVALID_PARAMETER");
}
