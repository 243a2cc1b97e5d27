//! Breached-password screening against a range service on loopback that
//! speaks the Pwned Passwords wire format (`SUFFIX:COUNT` lines, padding at
//! count 0), through `shared::app::password_service` (PASSWORD_CONFIG with
//! `rangeUrl`) and so through the HTTP adapter: hits, misses and padding,
//! what leaves the process, the cache, and every failure open and closed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use password::breach::{sha1_of, RangeError};
use password::{code, PasswordError, PasswordService, PepperRing, PersonalInfo, PolicyContext};
use shared::config::Config;
use shared::http::ApiError;
use shared::i18n::Lang;

/// Strong enough for the rest of the policy and not in the bundled list: the
/// only violation these can get is `PASSWORD.BREACHED`.
const PW: &str = "Vq8!mZr2#Lp9xTk4";
const OTHER_PW: &str = "Hw3$nBt7@Qe5yRj1";

/// One request the range service received.
#[derive(Debug, Clone)]
struct Seen {
    path_and_query: String,
    add_padding: Option<String>,
    user_agent: Option<String>,
}

#[derive(Clone)]
struct Answer {
    status: StatusCode,
    body: Arc<String>,
    delay: Duration,
    seen: Arc<Mutex<Vec<Seen>>>,
}

struct RangeServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl RangeServer {
    fn base(&self) -> String {
        format!("http://{}/range/", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn answer(State(a): State<Answer>, uri: Uri, headers: HeaderMap) -> (StatusCode, String) {
    let header = |name: &str| {
        headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("(not text)").to_owned())
    };
    a.seen.lock().unwrap().push(Seen {
        path_and_query: uri
            .path_and_query()
            .map_or_else(String::new, |p| p.as_str().to_owned()),
        add_padding: header("add-padding"),
        user_agent: header("user-agent"),
    });
    tokio::time::sleep(a.delay).await;
    (a.status, a.body.as_str().to_owned())
}

/// A range service on 127.0.0.1 answering every request with `status` and
/// `body` after `delay`.
async fn serve(status: StatusCode, body: String, delay: Duration) -> RangeServer {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let state = Answer {
        status,
        body: Arc::new(body),
        delay,
        seen: seen.clone(),
    };
    let app = axum::Router::new().fallback(answer).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    RangeServer { addr, seen }
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The five-digit prefix and 35-digit suffix of a password's SHA-1.
fn split(pw: &str) -> (String, String) {
    let hex = hex_upper(&sha1_of(pw));
    let (p, s) = hex.split_at(5);
    (p.to_owned(), s.to_owned())
}

/// A range body: some unrelated suffixes with counts, then `lines`, CRLF
/// separated as the real service answers.
fn range_body(lines: &[(&str, u64)]) -> String {
    let mut out: Vec<String> = (0..40u64)
        .map(|i| {
            let (_, s) = split(&format!("unrelated {i}"));
            format!("{s}:{}", i % 7)
        })
        .collect();
    out.extend(lines.iter().map(|(s, c)| format!("{s}:{c}")));
    out.join("\r\n")
}

/// A body listing `pw`'s suffix as seen `count` times.
fn listing(pw: &str, count: u64) -> String {
    let (_, suffix) = split(pw);
    range_body(&[(&suffix, count)])
}

/// The service PASSWORD_CONFIG builds, with the range service at `base`.
fn service(base: &str, timeout_ms: u64, fail_closed: bool) -> PasswordService {
    let json = serde_json::json!({
        "breached": { "rangeUrl": base, "timeoutMs": timeout_ms, "failClosed": fail_closed }
    })
    .to_string();
    let config = Config::from_lookup(|k| (k == "PASSWORD_CONFIG").then(|| json.clone())).unwrap();
    shared::app::password_service(&config, PepperRing::none()).unwrap()
}

async fn evaluate(svc: &PasswordService, pw: &str) -> Result<(), PasswordError> {
    let personal = PersonalInfo::default();
    let ctx = PolicyContext {
        personal: &personal,
        current: None,
        verified_current: None,
        history: &[],
    };
    svc.evaluate_and_hash(pw, &ctx).await.map(drop)
}

/// Asserts a fail-closed refusal names no password data.
fn assert_opaque(e: &RangeError) {
    let (prefix, suffix) = split(PW);
    let msg = e.to_string();
    for secret in [PW, prefix.as_str(), suffix.as_str()] {
        assert!(!msg.contains(secret), "{msg}");
    }
}

#[tokio::test]
async fn a_listed_suffix_is_breached_without_echoing_the_password() {
    let server = serve(StatusCode::OK, listing(PW, 12), Duration::ZERO).await;
    let svc = service(&server.base(), 500, false);
    let err = evaluate(&svc, PW).await.unwrap_err();
    let PasswordError::Policy(violations) = &err else {
        panic!("expected a policy error, got {err:?}");
    };
    assert_eq!(violations.len(), 1, "{violations:?}");
    assert_eq!(violations[0].code, code::BREACHED);
    assert_eq!(violations[0].code, "PASSWORD.BREACHED");
    assert!(
        violations[0].params.is_empty(),
        "{:?}",
        violations[0].params
    );
    // The verdict came from the range service, not the offline filter.
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn an_unlisted_suffix_passes() {
    let server = serve(StatusCode::OK, listing(OTHER_PW, 3), Duration::ZERO).await;
    let svc = service(&server.base(), 500, false);
    evaluate(&svc, PW).await.unwrap();
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_padding_line_is_not_a_breach() {
    let server = serve(StatusCode::OK, listing(PW, 0), Duration::ZERO).await;
    let svc = service(&server.base(), 500, false);
    evaluate(&svc, PW).await.unwrap();
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn only_the_uppercase_prefix_leaves_with_padding_asked_for() {
    let server = serve(StatusCode::OK, listing(OTHER_PW, 3), Duration::ZERO).await;
    let svc = service(&server.base(), 500, false);
    evaluate(&svc, PW).await.unwrap();
    let (prefix, suffix) = split(PW);
    assert_eq!(prefix, prefix.to_ascii_uppercase());
    let seen = server.seen();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].path_and_query, format!("/range/{prefix}"));
    assert!(!seen[0].path_and_query.contains(&suffix[..8]));
    assert!(!seen[0].path_and_query.contains(PW));
    assert_eq!(seen[0].add_padding.as_deref(), Some("true"));
    let ua = seen[0].user_agent.as_deref().unwrap_or_default();
    assert!(ua.starts_with("password-api/"), "{ua}");
}

#[tokio::test]
async fn a_slow_service_fails_open_within_the_timeout() {
    // Had the answer been waited for, it would be a hit.
    let server = serve(StatusCode::OK, listing(PW, 12), Duration::from_secs(2)).await;
    let svc = service(&server.base(), 100, false);
    let started = Instant::now();
    evaluate(&svc, PW).await.unwrap();
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_slow_service_fails_closed_as_503() {
    let server = serve(StatusCode::OK, listing(PW, 12), Duration::from_secs(2)).await;
    let svc = service(&server.base(), 100, true);
    let started = Instant::now();
    let err = evaluate(&svc, PW).await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        matches!(
            err,
            PasswordError::ScreeningUnavailable(RangeError::Timeout)
        ),
        "{err:?}"
    );
    let parts = ApiError::from(err).parts(Lang::En);
    assert_eq!(
        (parts.status.as_u16(), parts.code),
        (503, "SYSTEM.UNAVAILABLE")
    );
}

/// A loopback address nothing listens on.
async fn closed_port() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}/range/")
}

#[tokio::test]
async fn a_service_down_fails_open() {
    let svc = service(&closed_port().await, 500, false);
    evaluate(&svc, PW).await.unwrap();
}

#[tokio::test]
async fn a_service_down_fails_closed() {
    let svc = service(&closed_port().await, 500, true);
    match evaluate(&svc, PW).await {
        Err(PasswordError::ScreeningUnavailable(e @ RangeError::Unavailable(_))) => {
            assert_opaque(&e)
        }
        other => panic!("expected ScreeningUnavailable(Unavailable), got {other:?}"),
    }
}

#[tokio::test]
async fn a_malformed_body_fails_open() {
    let server = serve(
        StatusCode::OK,
        "<html>maintenance</html>".into(),
        Duration::ZERO,
    )
    .await;
    let svc = service(&server.base(), 500, false);
    evaluate(&svc, PW).await.unwrap();
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_malformed_body_fails_closed() {
    let server = serve(
        StatusCode::OK,
        "<html>maintenance</html>".into(),
        Duration::ZERO,
    )
    .await;
    let svc = service(&server.base(), 500, true);
    let err = evaluate(&svc, PW).await.unwrap_err();
    assert!(
        matches!(
            err,
            PasswordError::ScreeningUnavailable(RangeError::Malformed)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_non_200_status_fails_open_whatever_its_body() {
    // The body lists the password: only the status says it is no answer.
    let server = serve(
        StatusCode::SERVICE_UNAVAILABLE,
        listing(PW, 12),
        Duration::ZERO,
    )
    .await;
    let svc = service(&server.base(), 500, false);
    evaluate(&svc, PW).await.unwrap();
    assert_eq!(server.seen().len(), 1);
}

#[tokio::test]
async fn a_non_200_status_fails_closed() {
    let server = serve(StatusCode::NOT_FOUND, listing(PW, 12), Duration::ZERO).await;
    let svc = service(&server.base(), 500, true);
    match evaluate(&svc, PW).await {
        Err(PasswordError::ScreeningUnavailable(e @ RangeError::Unavailable(_))) => {
            assert_eq!(e, RangeError::Unavailable("status 404".into()));
            assert_opaque(&e);
        }
        other => panic!("expected ScreeningUnavailable(Unavailable), got {other:?}"),
    }
}

/// Over a MiB of padding with the password listed at the very end.
fn oversized() -> String {
    let (_, suffix) = split(PW);
    let pad = format!("{}:0", "A".repeat(35));
    let mut lines = vec![pad; 30_000];
    lines.push(format!("{suffix}:12"));
    let body = lines.join("\r\n");
    assert!(body.len() > shared::adapters::range_http::MAX_RANGE_BYTES);
    body
}

#[tokio::test]
async fn an_oversized_body_is_not_read_and_fails_open() {
    let server = serve(StatusCode::OK, oversized(), Duration::ZERO).await;
    let svc = service(&server.base(), 2000, false);
    evaluate(&svc, PW).await.unwrap();
}

#[tokio::test]
async fn an_oversized_body_fails_closed() {
    let server = serve(StatusCode::OK, oversized(), Duration::ZERO).await;
    let svc = service(&server.base(), 2000, true);
    let err = evaluate(&svc, PW).await.unwrap_err();
    assert!(
        matches!(
            err,
            PasswordError::ScreeningUnavailable(RangeError::Malformed)
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_prefix_is_fetched_once_per_instance() {
    let server = serve(StatusCode::OK, listing(PW, 12), Duration::ZERO).await;
    let svc = service(&server.base(), 500, false);
    for _ in 0..2 {
        let err = evaluate(&svc, PW).await.unwrap_err();
        assert_eq!(err.violations()[0].code, code::BREACHED);
    }
    assert_eq!(server.seen().len(), 1, "the second check asked again");
    // Another instance has its own cache.
    let other = service(&server.base(), 500, false);
    assert!(evaluate(&other, PW).await.is_err());
    assert_eq!(server.seen().len(), 2);
}

#[tokio::test]
async fn sign_in_reports_a_verified_password_breached() {
    let server = serve(StatusCode::OK, listing(PW, 12), Duration::ZERO).await;
    let svc = service(&server.base(), 500, false);
    let hash = svc.hash_unchecked(PW).await.unwrap();
    let verified = svc.verify(PW, Some(&hash)).await.unwrap();
    assert!(svc.is_breached(&verified).await.unwrap());
    let (prefix, _) = split(PW);
    assert_eq!(server.seen()[0].path_and_query, format!("/range/{prefix}"));

    let hash = svc.hash_unchecked(OTHER_PW).await.unwrap();
    let verified = svc.verify(OTHER_PW, Some(&hash)).await.unwrap();
    assert!(!svc.is_breached(&verified).await.unwrap());
    assert_eq!(server.seen().len(), 2);
}
