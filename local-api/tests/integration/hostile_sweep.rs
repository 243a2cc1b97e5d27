//! Hostile-input sweep over HTTP: the `local-api` binary as a child process,
//! thousands of mutated envelopes, bodies, header sets, methods, paths,
//! oversized and malformed requests, bounded in count and time.
//!
//! Holds: no 5xx, no panic in the child, the child stays up, its peak
//! resident memory stays under [`PEAK_RSS_BOUND_KIB`] and its growth under
//! 16 MiB + 4 KiB per request, and a valid flow (handshake, status,
//! password change, the old token refused) works at the end.
//!
//! Size: `HOSTILE_SWEEP_REQUESTS` (default 5000), `HOSTILE_SWEEP_SECONDS`
//! (default 120), `HOSTILE_SWEEP_SEED`; `make sweep` runs the large size.
//! Each caller IP is simulated with a fresh `CF-Connecting-IP`, so the per-IP
//! rate limits do not stop the sweep before the deeper checks; the per-user
//! limits of the child are lifted for the same reason.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use client::{Client, Identity, SecureSession};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{json, Value};
use shared::channel::wire::{request_context, EnvelopeType, Header};
use shared::channel::BodyForm;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The child's peak resident set (VmHWM) must stay below this, at any size
/// up to the large sweep (50,000 requests).
const PEAK_RSS_BOUND_KIB: u64 = 256 * 1024;
/// Growth of the resident set from warm-up to the end: a fixed allowance plus
/// a little per request. The memory adapters keep each simulated caller's
/// rate-limit counters and each accepted nonce for its 300 s window, so
/// state grows with the callers seen in a window (in AWS it lives in
/// DynamoDB); a leaked body or envelope per request would exceed this.
const RSS_GROWTH_BASE_KIB: u64 = 16 * 1024;
const RSS_GROWTH_PER_REQUEST_KIB: u64 = 4;

const STATUS: &str = "/web/v1/system/auth/password/status";
const CHANGE: &str = "/web/v1/system/auth/password/change";
const FORGOT: &str = "/web/v1/system/auth/password/forgot";
const INIT: &str = "/web/v1/system/auth/password/init";
const RESET: &str = "/web/v1/system/auth/password/reset";
const SESSION: &str = "/web/v1/secure-channel/session";
const PUBLIC_KEY: &str = "/web/v1/secure-channel/public-key";
const NEW_PASSWORD: &str = "velvet-Orbit-harbor-91";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// xorshift64*: deterministic per seed, enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
    /// Between `min` and `max - 1` random bytes.
    fn some_bytes(&mut self, min: usize, max: usize) -> Vec<u8> {
        let n = min + self.below(max - min);
        self.bytes(n)
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The `local-api` binary, its stderr in a file, its stdout drained.
struct Api {
    child: Child,
    url: String,
    token: String,
    demo_password: String,
    stderr_path: std::path::PathBuf,
}

impl Api {
    fn start() -> Api {
        let stderr_path =
            std::env::temp_dir().join(format!("hostile-sweep-{}.stderr", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_local-api"))
            .args(["--port", "0", "--key-id", "k-sweep"])
            .env("RUST_LOG", "warn")
            .env("RATE_LIMIT_STATUS_PER_USER", "1000000/300")
            .env("RATE_LIMIT_CHANGE_PER_USER", "1000000/300")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap())
            .spawn()
            .expect("local-api starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let (mut url, mut token, mut demo_password) = (None, None, None);
        while token.is_none() {
            let line = lines
                .next()
                .expect("local-api printed its address")
                .unwrap();
            if let Some(rest) = line.strip_prefix("local-api listening on ") {
                url = Some(rest.trim().to_owned());
            } else if let Some(rest) = line.strip_prefix("demo user: ") {
                demo_password = rest.rsplit("password: ").next().map(str::to_owned);
            } else if let Some(rest) = line.strip_prefix("demo access token (1 h): ") {
                token = Some(rest.trim().to_owned());
            }
        }
        // Keep the pipe drained so logging never blocks the child.
        std::thread::spawn(move || for _ in lines {});
        Api {
            child,
            url: url.expect("address line"),
            token: token.unwrap(),
            demo_password: demo_password.expect("demo user line"),
            stderr_path,
        }
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }

    /// (VmRSS, VmHWM) of the child in KiB, from /proc.
    fn memory_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }
}

impl Drop for Api {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr_path);
    }
}

/// Everything one sweep request needs, shared by the tasks.
struct Ctx {
    http: reqwest::Client,
    url: String,
    base: HeaderMap,
    token: String,
    sessions: Vec<SecureSession>,
    key_id: String,
}

/// One hostile request, built from the seed; sent by [`send`].
struct Shot {
    kind: &'static str,
    method: reqwest::Method,
    path: String,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn json_templates() -> Vec<(&'static str, Value)> {
    vec![
        (STATUS, json!({})),
        (
            CHANGE,
            json!({"currentPassword": "wrong", "newPassword": "x"}),
        ),
        (FORGOT, json!({"email": "nobody@example.com"})),
        (INIT, json!({"sessionId": "unknown", "password": "short"})),
        (RESET, json!({"token": "t", "newPassword": "x"})),
    ]
}

/// Byte-level damage to a JSON text: the body usually stops being valid JSON.
fn damage_json(rng: &mut Rng, text: &[u8]) -> Vec<u8> {
    let mut out = text.to_vec();
    match rng.below(9) {
        0 => {
            let i = rng.below(out.len().max(1));
            out.truncate(i);
        }
        1 => {
            let i = rng.below(out.len() + 1);
            let junk = rng.some_bytes(1, 9);
            out.splice(i..i, junk);
        }
        2 => {
            if !out.is_empty() {
                let i = rng.below(out.len());
                out[i] ^= 1 << rng.below(8);
            }
        }
        3 => out = format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        4 => out = br#"{"email":"\ud800","newPassword":"\u0000"}"#.to_vec(),
        5 => out = format!(r#"{{"newPassword":"{}"}}"#, "a".repeat(60_000)).into_bytes(),
        6 => out = br#"{"currentPassword":1,"newPassword":[],"extra":{}}"#.to_vec(),
        7 => out = b"\xff\xfe{\"email\":\"\xc3\x28\"}".to_vec(),
        _ => out = br#"{"email":"a@b.c","email":"d@e.f"}"#.to_vec(),
    }
    out
}

fn sealed(session: &SecureSession, route: &str, ts: u64, nonce: [u8; 12], json: &[u8]) -> Vec<u8> {
    let header = Header {
        kind: EnvelopeType::Request,
        timestamp_ms: ts,
        nonce,
    };
    session
        .key
        .seal(&header, &request_context(&session.id, "POST", route), json)
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    headers.insert(name, HeaderValue::from_str(value).unwrap());
}

/// Builds request `i`: one of six families, every value picked by the seed.
fn shot(ctx: &Ctx, rng: &mut Rng, i: usize) -> Shot {
    let mut headers = ctx.base.clone();
    // A fresh simulated caller per request (10.x.y.z or a 2001:db8 /64).
    let ip = match i % 3 {
        0 => format!("2001:db8:{:x}:{:x}::1", i >> 16, i & 0xffff),
        _ => format!("10.{}.{}.{}", (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff),
    };
    set(&mut headers, "cf-connecting-ip", &ip);
    let session = rng.pick(&ctx.sessions).clone();
    set(&mut headers, "x-sc-session-id", &session.id);
    set(&mut headers, "x-sc-version", "2");
    set(
        &mut headers,
        "authorization",
        &format!("Bearer {}", ctx.token),
    );
    let raw = rng.below(2) == 0;
    let encode = |env: Vec<u8>| {
        if raw {
            env
        } else {
            STANDARD.encode(env).into_bytes()
        }
    };
    set(
        &mut headers,
        "content-type",
        if raw {
            "application/octet-stream"
        } else {
            "application/json;charset=UTF-8"
        },
    );
    let post = |kind, path: &str, headers, body| Shot {
        kind,
        method: reqwest::Method::POST,
        path: path.to_owned(),
        headers,
        body,
    };
    match rng.below(6) {
        // Mutated envelopes on a live session.
        0 => {
            let nonce: [u8; 12] = rng.bytes(12).try_into().unwrap();
            let mut env = sealed(&session, STATUS, now_ms(), nonce, b"{}");
            match rng.below(8) {
                0 => {
                    for _ in 0..1 + rng.below(8) {
                        let bit = rng.below(env.len() * 8);
                        env[bit / 8] ^= 1 << (bit % 8);
                    }
                }
                1 => env.truncate(rng.below(env.len())),
                2 => env.extend(rng.some_bytes(1, 65)),
                3 => env = rng.some_bytes(0, 200),
                4 => env = sealed(&session, CHANGE, now_ms(), nonce, b"{}"),
                5 => env = sealed(&session, STATUS, now_ms() - 600_000, nonce, b"{}"),
                6 => {
                    let other = sealed(&session, STATUS, now_ms(), [7; 12], b"{}");
                    env[10..22].copy_from_slice(&other[10..22]);
                }
                _ => env[1] = 0x02,
            }
            post("envelope", STATUS, headers, encode(env))
        }
        // Valid envelopes around damaged JSON, on every sealed route.
        1 => {
            let templates = json_templates();
            let (route, template) = rng.pick(&templates);
            let body = damage_json(rng, &serde_json::to_vec(template).unwrap());
            let nonce: [u8; 12] = rng.bytes(12).try_into().unwrap();
            let env = sealed(&session, route, now_ms(), nonce, &body);
            post("json", route, headers, encode(env))
        }
        // Session-creation bodies.
        2 => {
            let body = match rng.below(5) {
                0 => json!({"keyId": ctx.key_id, "encryptedKey": STANDARD.encode(rng.bytes(384))}),
                1 => json!({"keyId": ctx.key_id, "encryptedKey": "not base64!"}),
                2 => json!({"keyId": "unknown", "encryptedKey": STANDARD.encode(rng.bytes(384))}),
                3 => {
                    json!({"keyId": ctx.key_id, "encryptedKey": STANDARD.encode(rng.some_bytes(0, 600))})
                }
                _ => json!({"keyId": [], "encryptedKey": {}, "more": 1}),
            };
            let mut body = serde_json::to_vec(&body).unwrap();
            if rng.below(3) == 0 {
                body = damage_json(rng, &body);
            }
            set(&mut headers, "content-type", "application/json");
            post("session", SESSION, headers, body)
        }
        // Broken header sets on a valid sealed request.
        3 => {
            let nonce: [u8; 12] = rng.bytes(12).try_into().unwrap();
            let env = sealed(&session, STATUS, now_ms(), nonce, b"{}");
            let names = [
                "accept",
                "x-client-hash",
                "accept-language",
                "cf-connecting-ip",
                "cf-ray",
                "cf-ipcountry",
                "content-type",
                "x-sc-session-id",
                "x-sc-version",
                "authorization",
            ];
            for _ in 0..1 + rng.below(3) {
                let name = *rng.pick(&names);
                if rng.below(3) == 0 {
                    headers.remove(name);
                    continue;
                }
                let long = "a".repeat(300 + rng.below(5000));
                let junk = STANDARD.encode(rng.some_bytes(1, 49));
                let values: [&[u8]; 14] = [
                    b"",
                    b" ",
                    long.as_bytes(),
                    junk.as_bytes(),
                    b"caf\xc3\xa9",
                    b"\xff\xfe",
                    b"999.1.2.3",
                    b"203.0.113.7, 198.51.100.1",
                    b"1",
                    b"99",
                    b"Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
                    b"Bearer a.b.c",
                    b"*;q=0,xx-YY;q=2",
                    b"text/plain; charset=\"",
                ];
                let value: &[u8] = values[rng.below(values.len())];
                headers.insert(
                    HeaderName::from_static(name),
                    HeaderValue::from_bytes(value).unwrap(),
                );
            }
            if rng.below(4) == 0 {
                headers.append("x-sc-version", HeaderValue::from_static("3"));
            }
            post("headers", STATUS, headers, encode(env))
        }
        // Methods, paths and sizes.
        4 => {
            let methods = [
                "GET", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "POST", "BREW",
            ];
            let paths = [
                STATUS,
                PUBLIC_KEY,
                SESSION,
                "/web/v1/system/auth/password/../password/status",
                "/web/v1/system/auth/password/status/",
                "/web/v1/system/auth/password/status?x=1&x=2",
                "/WEB/V1/SECURE-CHANNEL/PUBLIC-KEY",
                "/%2e%2e/etc/passwd",
                "/_dev/nothing",
                "/",
            ];
            let body = match rng.below(4) {
                0 => vec![0x02; 65_537],
                1 => vec![b'A'; 1 << 20],
                _ => rng.some_bytes(0, 256),
            };
            Shot {
                kind: "method-path-size",
                method: reqwest::Method::from_bytes(rng.pick(&methods).as_bytes()).unwrap(),
                path: rng.pick(&paths).to_string(),
                headers,
                body,
            }
        }
        // Replays of an envelope already accepted once.
        _ => {
            let nonce: [u8; 12] = rng.bytes(12).try_into().unwrap();
            let env = sealed(&session, STATUS, now_ms(), nonce, b"{}");
            let mut shot = post("replay", STATUS, headers, encode(env));
            shot.kind = "replay";
            shot
        }
    }
}

#[derive(Default)]
struct Outcome {
    statuses: BTreeMap<(&'static str, u16), usize>,
    server_errors: Vec<String>,
    transport_errors: usize,
}

async fn send(ctx: &Ctx, shot: Shot) -> Result<u16, String> {
    let replay = shot.kind == "replay";
    let mut times = if replay { 2 } else { 1 };
    let mut last = 0;
    while times > 0 {
        times -= 1;
        let resp = ctx
            .http
            .request(shot.method.clone(), format!("{}{}", ctx.url, shot.path))
            .headers(shot.headers.clone())
            .body(shot.body.clone())
            .send()
            .await
            .map_err(|e| format!("{}: {e}", shot.kind))?;
        last = resp.status().as_u16();
        let _ = resp.bytes().await;
    }
    Ok(last)
}

/// Malformed HTTP on a raw socket: the answer, if any, is never a 5xx.
async fn raw_socket(url: &str, rng: &mut Rng) -> Option<u16> {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let long_header = format!("X-Long: {}\r\n", "a".repeat(200_000));
    let requests: [Vec<u8>; 7] = [
        b"GARBAGE\r\n\r\n".to_vec(),
        b"POST /web/v1/secure-channel/session HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n{}".to_vec(),
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".to_vec(),
        format!("GET / HTTP/1.1\r\nHost: x\r\n{long_header}\r\n").into_bytes(),
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n".to_vec(),
        rng.bytes(512),
        b"GET /web/v1/secure-channel/public-key HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
    ];
    let req = rng.pick(&requests).clone();
    let _ = stream.write_all(&req).await;
    // End of input: a request waiting for more body is closed, not left hanging.
    let _ = stream.shutdown().await;
    let mut buf = vec![0u8; 64];
    let n = tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf))
        .await
        .ok()?
        .ok()?;
    let head = String::from_utf8_lossy(&buf[..n]);
    head.strip_prefix("HTTP/1.1 ")
        .and_then(|s| s.get(..3))
        .and_then(|s| s.parse().ok())
}

/// A user made through the `/_dev` routes, and an access token for it.
async fn dev_user_token(http: &reqwest::Client, url: &str, email: &str) -> String {
    let dev = |path: &str, body: Value| {
        let req = http.post(format!("{url}{path}")).json(&body);
        async move {
            let resp: Value = req.send().await.unwrap().json().await.unwrap();
            assert_eq!(resp["success"], true, "{resp}");
            resp["data"].clone()
        }
    };
    let user = dev(
        "/_dev/users",
        json!({"email": email, "name": "Sweep User", "password": "quartz lantern meadow 57"}),
    )
    .await;
    let token = dev("/_dev/token", json!({"bizId": user["bizId"]})).await;
    token["accessToken"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_inputs_get_no_5xx_no_panic_bounded_memory_and_a_valid_flow_still_works() {
    let requests: usize = env_or("HOSTILE_SWEEP_REQUESTS", 5000);
    let budget = Duration::from_secs(env_or("HOSTILE_SWEEP_SECONDS", 120));
    let seed: u64 = env_or("HOSTILE_SWEEP_SEED", 0x5eed_2026);
    let mut api = Api::start();
    let client = Client::new(&api.url, Identity::default());
    let mut sessions = Vec::new();
    for i in 0..4 {
        let c = Client::new(
            &api.url,
            Identity {
                ip: format!("192.0.2.{i}"),
                ..Identity::default()
            },
        );
        sessions.push(c.handshake().await.expect("handshake"));
    }
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    // The sweep's bearer belongs to its own user: nothing it provokes (a wrong
    // current password included) can touch the demo user of the final flow.
    let sweep_token = dev_user_token(&http, &api.url, "sweep@example.com").await;
    let ctx = Arc::new(Ctx {
        http,
        url: api.url.clone(),
        base: client.gateway_headers(),
        token: sweep_token,
        sessions,
        key_id: client.public_key().await.unwrap().key_id,
    });

    let mut rng = Rng(seed | 1);
    let mut outcome = Outcome::default();
    let started = Instant::now();
    let mut warm_rss = 0;
    let mut sent = 0;
    const CONCURRENCY: usize = 8;
    while sent < requests && started.elapsed() < budget {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY.min(requests - sent) {
            let shot = shot(&ctx, &mut rng, sent);
            let ctx = ctx.clone();
            let kind = shot.kind;
            tasks.spawn(async move { (kind, send(&ctx, shot).await) });
            sent += 1;
        }
        if sent % 50 < CONCURRENCY {
            let status = raw_socket(&ctx.url, &mut rng).await;
            if status.is_some_and(|s| s >= 500) {
                outcome
                    .server_errors
                    .push(format!("raw socket: {status:?}"));
            }
            sent += 1;
        }
        while let Some(done) = tasks.join_next().await {
            match done.unwrap() {
                (kind, Ok(status)) => {
                    *outcome.statuses.entry((kind, status)).or_default() += 1;
                    if status >= 500 {
                        outcome.server_errors.push(format!("{kind}: {status}"));
                    }
                }
                (_, Err(_)) => outcome.transport_errors += 1,
            }
        }
        if warm_rss == 0 && sent >= requests / 10 {
            warm_rss = api.memory_kib().0;
        }
        assert!(api.alive(), "local-api exited during the sweep");
    }
    let elapsed = started.elapsed();
    let (rss, peak) = api.memory_kib();
    println!(
        "hostile sweep: {sent} requests in {:.1} s (seed {seed:#x}), \
         VmRSS warm {warm_rss} KiB, end {rss} KiB, peak VmHWM {peak} KiB, \
         transport errors {}",
        elapsed.as_secs_f64(),
        outcome.transport_errors
    );
    for ((kind, status), n) in &outcome.statuses {
        println!("  {kind:<17} {status} x{n}");
    }
    assert!(
        sent >= requests.min(500),
        "only {sent} requests in the time budget"
    );
    assert!(
        outcome.server_errors.is_empty(),
        "5xx answers: {:?}",
        outcome.server_errors
    );
    assert_eq!(outcome.transport_errors, 0, "requests without an answer");
    // The simulated callers keep the per-IP limits from answering for the checks.
    let limited: usize = outcome
        .statuses
        .iter()
        .filter(|((_, status), _)| *status == 429)
        .map(|(_, n)| n)
        .sum();
    assert!(limited * 20 < sent, "{limited} of {sent} answers were 429");
    let stderr = api.stderr();
    assert!(
        !stderr.contains("panicked"),
        "local-api panicked:\n{stderr}"
    );
    assert!(api.alive(), "local-api exited");
    assert!(
        peak < PEAK_RSS_BOUND_KIB,
        "peak RSS {peak} KiB over the bound"
    );
    let growth_bound = RSS_GROWTH_BASE_KIB + RSS_GROWTH_PER_REQUEST_KIB * sent as u64;
    assert!(
        rss.saturating_sub(warm_rss) < growth_bound,
        "RSS grew from {warm_rss} to {rss} KiB (bound {growth_bound} KiB of growth)"
    );

    // A valid flow still works: handshake, status, change, status.
    let session = client.handshake().await.expect("handshake after the sweep");
    let mut bearer = HeaderMap::new();
    set(
        &mut bearer,
        "authorization",
        &format!("Bearer {}", api.token),
    );
    let status = client
        .call(
            &session,
            "POST",
            STATUS,
            &json!({}),
            BodyForm::Raw,
            bearer.clone(),
        )
        .await
        .unwrap();
    assert_eq!(
        (status.status, status.encrypted),
        (200, true),
        "{:?}",
        status.body
    );
    assert_eq!(status.body["data"]["passwordSet"], true);
    let change = client
        .call(
            &session,
            "POST",
            CHANGE,
            &json!({"currentPassword": api.demo_password, "newPassword": NEW_PASSWORD}),
            BodyForm::Base64,
            bearer.clone(),
        )
        .await
        .unwrap();
    assert_eq!(change.status, 200, "{:?}", change.body);
    // The change revoked every token issued before it, this one included.
    let after = client
        .call(&session, "POST", STATUS, &json!({}), BodyForm::Raw, bearer)
        .await
        .unwrap();
    assert_eq!(after.status, 401, "{:?}", after.body);
    assert!(api.alive());
}
