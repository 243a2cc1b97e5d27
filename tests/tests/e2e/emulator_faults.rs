//! Faults on the real AWS adapters: the API served over HTTP with every port
//! on the emulator (DynamoDB, KMS), reached through a proxy that can stop
//! answering the way a paused or partitioned AWS endpoint does. A request
//! caught by the outage answers 503 `SYSTEM.UNAVAILABLE` within the operation
//! timeout and leaves nothing half-written.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use client::{Reply, SecureSession};
use e2e_tests::*;
use reqwest::header::HeaderMap;
use serde_json::json;
use shared::ports::accounts::User;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Bound of one AWS call, retries included, for this suite.
const OPERATION_TIMEOUT_MS: u64 = 1500;
const IP: &str = "198.51.100.90";

// ------------------------------------------------------------ the proxy

const UP: u8 = 0;
/// Nothing reaches the emulator and nothing comes back: a paused server.
const DOWN: u8 = 1;
/// Up until a DynamoDB `TransactWriteItems` (the commit of an account
/// change) is sent; that request is swallowed and the proxy goes DOWN.
const DOWN_AT_COMMIT: u8 = 2;

/// A TCP proxy in front of the emulator whose outage can be switched on.
struct Proxy {
    url: String,
    mode: Arc<AtomicU8>,
}

impl Proxy {
    async fn start(upstream: &str) -> Proxy {
        let upstream = upstream
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let mode = Arc::new(AtomicU8::new(UP));
        let shared_mode = mode.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let mode = shared_mode.clone();
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        pipe(client, server, mode).await;
                    }
                });
            }
        });
        Proxy { url, mode }
    }

    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn mode(&self) -> u8 {
        self.mode.load(Ordering::SeqCst)
    }
}

/// Forwards both ways while UP; while DOWN holds the connection open and
/// drops every byte, so callers only get out through their own timeouts.
async fn pipe(mut client: TcpStream, mut server: TcpStream, mode: Arc<AtomicU8>) {
    let (mut to_server, mut to_client) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        tokio::select! {
            n = client.read(&mut to_server) => {
                let Ok(n @ 1..) = n else { return };
                let chunk = &to_server[..n];
                if mode.load(Ordering::SeqCst) == DOWN_AT_COMMIT
                    && contains(chunk, b"DynamoDB_20120810.TransactWriteItems")
                {
                    mode.store(DOWN, Ordering::SeqCst);
                }
                if mode.load(Ordering::SeqCst) != DOWN && server.write_all(chunk).await.is_err() {
                    return;
                }
            }
            n = server.read(&mut to_client) => {
                let Ok(n @ 1..) = n else { return };
                if mode.load(Ordering::SeqCst) != DOWN
                    && client.write_all(&to_client[..n]).await.is_err()
                {
                    return;
                }
            }
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

// ------------------------------------------------------------ the stack

/// local-api's HTTP front over the AWS app (its own table), every AWS call
/// going through `proxy`; mail lands in the local mailbox.
async fn aws_server(proxy: &Proxy) -> Server {
    let (aws, clients) = aws_stack("faults", &proxy.url, OPERATION_TIMEOUT_MS).await;
    Server::serve(aws_local(&aws, &clients).await).await
}

async fn change(s: &Server, session: &SecureSession, token: &str) -> Reply {
    let body = json!({"currentPassword": STRONG, "newPassword": STRONG_2});
    App::new(&s.client(IP), session)
        .post(CHANGE, body, bearer(token))
        .await
}

async fn reset(s: &Server, session: &SecureSession, token: &str, password: &str) -> Reply {
    let body = json!({"token": token, "newPassword": password});
    App::new(&s.client(IP), session)
        .post(RESET, body, HeaderMap::new())
        .await
}

/// A request caught by an outage ends within two operation timeouts (the
/// local delivery runs after the answer); the margin absorbs a loaded machine.
fn outage_bound() -> Duration {
    Duration::from_millis(2 * OPERATION_TIMEOUT_MS + 3000)
}

fn assert_unavailable_in_time(r: &Reply, started: Instant) {
    let took = started.elapsed();
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.body["code"], "SYSTEM.UNAVAILABLE");
    assert!(took < outage_bound(), "answered after {took:?}");
}

/// The stored user is still `before`: same version, same password date.
async fn assert_unchanged(s: &Server, before: &User) {
    let after = s.stored_user(&before.biz_id).await;
    assert_eq!(after.version, before.version);
    assert_eq!(after.password_changed_at_ms, before.password_changed_at_ms);
    assert!(after.password == before.password, "password hash moved");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_mid_story_answers_503_in_time_and_changes_nothing() {
    let proxy = Proxy::start(&emulator_env()["AWS_ENDPOINT_URL"]).await;
    let s = aws_server(&proxy).await;
    let biz = s.user("fault@example.com", STRONG).await;
    let token = s.token(&biz).await;
    let c = s.client(IP);
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let r = app.status(&token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let before = s.stored_user(&biz).await;

    // The emulator stops answering: the change is refused in time.
    proxy.set(DOWN);
    let started = Instant::now();
    let r = change(&s, &sess, &token).await;
    assert_unavailable_in_time(&r, started);

    // Back up: nothing moved, and the same change goes through once.
    proxy.set(UP);
    assert_unchanged(&s, &before).await;
    assert!(s.outbox().await.is_empty());
    let r = change(&s, &sess, &token).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(s.stored_user(&biz).await.version, before.version + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_at_the_reset_commit_leaves_token_password_and_outbox_as_they_were() {
    let proxy = Proxy::start(&emulator_env()["AWS_ENDPOINT_URL"]).await;
    let s = aws_server(&proxy).await;
    let biz = s.user("commit@example.com", STRONG).await;
    let c = s.client(IP);
    let sess = c.handshake().await.unwrap();
    let app = App::new(&c, &sess);
    let r = app.forgot("commit@example.com").await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mail = s.outbox().await;
    assert_eq!(mail.len(), 1);
    let reset_token = query(mail[0]["link"].as_str().unwrap(), "token");
    let before = s.stored_user(&biz).await;

    // Session, replay and rate-limit calls pass; the transaction that would
    // consume the token, set the password and queue the notice never lands.
    proxy.set(DOWN_AT_COMMIT);
    let started = Instant::now();
    let r = reset(&s, &sess, &reset_token, STRONG_2).await;
    assert_eq!(proxy.mode(), DOWN, "the commit was reached and cut");
    assert_unavailable_in_time(&r, started);

    proxy.set(UP);
    assert_unchanged(&s, &before).await;
    assert_eq!(s.outbox().await.len(), 1, "no notice for a change not made");

    // The token was not consumed: it still works, exactly once.
    let r = reset(&s, &sess, &reset_token, STRONG_2).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mail = s.outbox().await;
    assert_eq!(mail.iter().filter(|m| m["kind"] == "changed").count(), 1);
    let r = reset(&s, &sess, &reset_token, STRONG_3).await;
    assert_eq!(r.status, 400);
    assert_eq!(r.body["code"], "AUTH.RESET_TOKEN_INVALID");
}
