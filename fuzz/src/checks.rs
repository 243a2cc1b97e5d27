//! What each fuzz target asserts about one input. Besides "no panic", every
//! target checks a property of its parser. Used by the libFuzzer binaries and,
//! through `#[path]`, by `shared/tests/integration/fuzz_corpus.rs`, which replays the
//! committed seeds and regressions in `make test`. Paths here name external
//! crates only, so the file compiles in both places.

use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use password::{code, Email, NewPassword, PersonalInfo, Policy, PolicyConfig, MAX_INPUT_BYTES};
use shared::adapters::memory::ManualClock;
use shared::auth::JwtVerifier;
use shared::channel::keyring::pkcs8_from_pem;
use shared::channel::wire::{request_context, EnvelopeType, Header, HEADER_LEN, MIN_ENVELOPE_LEN};
use shared::channel::{KeyRing, ServerKey, SessionKey, WireError};
use shared::config::Config;
use shared::http::{gateway, request_id, ApiError, ApiRequest, ApiResponse};
use shared::ports::{Limit, ScSession};
use shared::{route::Route, App};

/// The vectors' instant, session and session key (tests/data/vectors.json).
const VECTOR_TIME_MS: u64 = 1_711_929_600_000;
const SESSION_ID: &str = "q8bYl3m0cGZ5vT2xW9rN4A";
const CLIENT_HASH: &str = "device-1";

fn vector_session_key() -> SessionKey {
    SessionKey::from_bytes(core::array::from_fn(|i| i as u8))
}

/// One in-process app for all inputs: memory adapters, a stopped clock at
/// the vectors' instant, the vector RSA key and session, per-IP limits
/// lifted so every input reaches the checks behind them.
struct Harness {
    rt: tokio::runtime::Runtime,
    app: App,
}

fn harness() -> &'static Harness {
    static H: OnceLock<Harness> = OnceLock::new();
    H.get_or_init(|| {
        let vectors: vector_file::Vectors = vector_file::vectors();
        let der = pkcs8_from_pem(&vectors.private_key_pem).expect("vector key PEM");
        let key = ServerKey::from_pkcs8("k2026-11", &der, VECTOR_TIME_MS + 30 * 86_400_000)
            .expect("vector key");
        let mut config = Config {
            // Calls name no network peer: the simulation header is the client.
            client_ip: gateway::ClientIpSource::SimulationHeader,
            ..Config::default()
        };
        let lifted = Limit {
            max: u32::MAX,
            window_secs: 1,
        };
        config.limits.session_per_ip = lifted;
        config.limits.change_per_ip = lifted;
        config.limits.status_per_ip = lifted;
        let clock = Arc::new(ManualClock::new(VECTOR_TIME_MS));
        let app = App::embedded_with_clock(config, KeyRing::single(key), clock).expect("app");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(app.sessions.create(&ScSession {
            id: SESSION_ID.into(),
            key: vector_session_key(),
            client_hash: CLIENT_HASH.into(),
            created_at_ms: VECTOR_TIME_MS,
            expires_at_ms: VECTOR_TIME_MS + 3_600_000,
        }))
        .expect("session");
        Harness { rt, app }
    })
}

/// The few vector fields the harness needs, read without a JSON dependency.
mod vector_file {
    pub struct Vectors {
        pub private_key_pem: String,
    }

    pub fn vectors() -> Vectors {
        let text = include_str!("../../tests/data/vectors.json");
        let start = text.find("-----BEGIN PRIVATE KEY-----").expect("PEM start");
        let end = text.find("-----END PRIVATE KEY-----").expect("PEM end");
        let pem = text[start..end + "-----END PRIVATE KEY-----".len()].replace("\\n", "\n");
        Vectors {
            private_key_pem: pem,
        }
    }
}

/// The gateway headers of a well-behaved caller.
fn gateway_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("content-type", "application/json"),
        ("accept", "application/json"),
        ("x-client-hash", CLIENT_HASH),
        ("accept-language", "en"),
        ("cf-connecting-ip", "203.0.113.7"),
        ("cf-ray", "8f00000000000001-LHR"),
        ("cf-ipcountry", "GB"),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
    h
}

fn call(route: Route, headers: HeaderMap, body: &[u8]) -> ApiResponse {
    let h = harness();
    let req = ApiRequest {
        method: Method::POST,
        headers,
        body: Bytes::copy_from_slice(body),
        fallback_request_id: None,
        source_ip: None,
    };
    h.rt.block_on(shared::dispatch::handle(&h.app, route, req))
}

/// No input is a server fault, and every refusal is a plaintext JSON error.
fn assert_answered(resp: &ApiResponse) {
    assert!(
        !resp.status().is_server_error(),
        "server error {}",
        resp.status()
    );
}

/// Envelope parse and open, at the wire level and through a whole route in
/// both transport forms, under the vector session.
pub fn envelope(data: &[u8]) {
    let key = vector_session_key();
    let ctx = request_context(SESSION_ID, "POST", Route::Change.path());
    for kind in [
        EnvelopeType::Request,
        EnvelopeType::Response,
        EnvelopeType::KeyConfirmation,
    ] {
        let parsed = Header::parse(data, kind);
        if let Ok(header) = &parsed {
            assert_eq!(header.to_bytes().as_slice(), &data[..HEADER_LEN]);
        }
        match key.open(data, kind, &ctx) {
            Ok((header, plain)) => {
                assert_eq!(Ok(header), parsed);
                assert_eq!(plain.len() + MIN_ENVELOPE_LEN, data.len());
            }
            Err(WireError::Malformed) => assert!(parsed.is_err()),
            Err(WireError::DecryptFailed) => assert!(parsed.is_ok()),
        }
    }
    let mut headers = gateway_headers();
    headers.insert("x-sc-session-id", HeaderValue::from_static(SESSION_ID));
    headers.insert("x-sc-version", HeaderValue::from_static("2"));
    let mut raw = headers.clone();
    raw.insert(
        "content-type",
        HeaderValue::from_static("application/octet-stream"),
    );
    assert_answered(&call(Route::Change, raw, data));
    // The same bytes as base64 text, and as the text itself.
    assert_answered(&call(
        Route::Change,
        headers.clone(),
        STANDARD.encode(data).as_bytes(),
    ));
    assert_answered(&call(Route::Change, headers, data));
}

/// The session-creation body through the whole handler: strict JSON, key id
/// lookup, base64, RSA-OAEP. A 201 carries a session id.
pub fn session_body(data: &[u8]) {
    let resp = call(Route::CreateSession, gateway_headers(), data);
    assert_answered(&resp);
    if resp.status() == http::StatusCode::CREATED {
        let body = String::from_utf8_lossy(resp.body());
        assert!(body.contains("\"sessionId\""), "201 without a session id");
    }
}

/// The strict JSON parser for each route's body type (the first byte picks the
/// route): it accepts, or refuses with field issues, and nothing else.
pub fn route_bodies(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let routes = [
        Route::Change,
        Route::Status,
        Route::Init,
        Route::Forgot,
        Route::Reset,
    ];
    let route = routes[usize::from(pick) % routes.len()];
    match shared::handlers::password::check_body(route, body) {
        Ok(()) => {}
        Err(ApiError::Validation(issues)) => assert!(!issues.is_empty(), "refusal without issues"),
        Err(other) => panic!("unexpected refusal {other:?}"),
    }
}

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(|| Policy::new(PolicyConfig::default()).expect("default policy"))
}

/// NFKC normalization and the full policy evaluation. Lines of the input:
/// password, e-mail, name, phone, business id.
pub fn password_policy(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(5, '\n');
    let pw = parts.next().unwrap_or_default();
    let email = parts.next().and_then(|e| Email::parse(e).ok());
    let (name, phone, biz) = (parts.next(), parts.next(), parts.next());
    let personal = PersonalInfo::new(email, name, phone, biz);
    let policy = policy();
    let eval = policy.evaluate(pw, &personal);
    let codes: Vec<&str> = eval.violations.iter().map(|v| v.code).collect();
    if pw.len() > MAX_INPUT_BYTES {
        assert_eq!(codes, [code::TOO_LONG], "oversized input is only TOO_LONG");
    } else {
        // The estimator ran and did not fail (its panics are caught and
        // would otherwise hide here as a plain WEAK).
        assert!(eval.score.is_some(), "the strength estimator failed");
    }
    // The length check of NewPassword and the policy's agree.
    let parsed = NewPassword::parse(pw, policy.config());
    let length_ok = !codes.contains(&code::TOO_SHORT) && !codes.contains(&code::TOO_LONG);
    assert_eq!(
        parsed.is_ok(),
        length_ok,
        "length verdicts differ: {codes:?}"
    );
    if let Ok(normalized) = parsed {
        // NFKC is idempotent: the normalized text normalizes to itself.
        let again = NewPassword::parse(normalized.expose_secret(), policy.config())
            .expect("a normalized password parses again");
        assert_eq!(again.expose_secret(), normalized.expose_secret());
        assert_eq!(policy.evaluate(normalized.expose_secret(), &personal), eval);
    }
}

/// The JWT checks fuzzed against this verifier: one Ed25519 key by kid, an
/// HS256 secret, issuer and audience.
pub const JWT_HS256_SECRET: &[u8] = b"fuzz-hs256-secret-0123456789abcdef";
pub const JWT_ISSUER: &str = "https://issuer.example";
pub const JWT_AUDIENCE: &str = "password-api";
pub const JWT_NOW_SECS: u64 = 1_711_929_600;

fn verifier() -> &'static JwtVerifier {
    static V: OnceLock<JwtVerifier> = OnceLock::new();
    V.get_or_init(|| {
        let jwks = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"ed-1",
            "x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
        JwtVerifier::new(
            jwks,
            Some(JWT_ISSUER.into()),
            Some(JWT_AUDIENCE.into()),
            Some(zeroize::Zeroizing::new(JWT_HS256_SECRET.to_vec())),
        )
        .expect("verifier")
    })
}

/// JWT header and claims parsing and verification, as the raw header value
/// and behind `Bearer `: an accepted token has the claims the service relies on.
pub fn jwt(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    for header in [text.to_string(), format!("Bearer {text}")] {
        if let Ok(claims) = verifier().verify(Some(&header), JWT_NOW_SECS) {
            assert!(!claims.sub.is_empty());
            assert!(claims.exp + shared::auth::LEEWAY_SECS >= JWT_NOW_SECS);
            assert!(claims.iat <= JWT_NOW_SECS + shared::auth::LEEWAY_SECS);
        }
    }
}

/// Gateway header parsing: lines `name: value` set headers over a complete
/// good set, `-name` removes one. IP lists, Accept-Language, X-Client-Hash.
pub fn gateway(data: &[u8]) {
    let mut headers = gateway_headers();
    for line in data.split(|&b| b == b'\n') {
        if let Some(name) = line.strip_prefix(b"-") {
            if let Ok(name) = HeaderName::from_bytes(name) {
                headers.remove(name);
            }
            continue;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let value = line[colon + 1..]
            .strip_prefix(b" ")
            .unwrap_or(&line[colon + 1..]);
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(value),
        ) {
            headers.append(name, value);
        }
    }
    let lang = gateway::language(&headers);
    // A caller off the trusted edge is counted by its own address, whatever it sends.
    let direct: std::net::IpAddr = [203, 0, 113, 9].into();
    // Without a peer, behind trusted proxies, no header chooses the key either.
    let trust = [
        (true, None, gateway::ClientIpSource::SimulationHeader),
        (false, Some(direct), gateway::ClientIpSource::default()),
        (true, None, gateway::ClientIpSource::default()),
        // No edge in front (EDGE_MODE=none): the CF-* headers are not even read.
        (true, Some(direct), gateway::ClientIpSource::Peer),
        (false, None, gateway::ClientIpSource::Peer),
    ];
    for (has_body, source, policy) in &trust {
        match gateway::check(&headers, *has_body, *source, policy) {
            Ok(gw) => {
                assert_eq!(gw.lang, lang);
                assert_eq!(gw.country.len(), 2);
                assert!((1..=128).contains(&gw.client_hash.len()));
                match (source, policy) {
                    (Some(_), _) => assert_eq!(gw.client_ip, direct),
                    (None, gateway::ClientIpSource::TrustedProxies(_)) => {
                        assert_eq!(gw.client_ip, gateway::UNKNOWN_PEER)
                    }
                    (None, gateway::ClientIpSource::Peer) => {
                        assert_eq!(gw.client_ip, gateway::UNKNOWN_PEER)
                    }
                    (None, gateway::ClientIpSource::SimulationHeader) => {}
                }
                if *policy == gateway::ClientIpSource::Peer {
                    assert_eq!((gw.country.as_str(), gw.ray.as_deref()), ("XX", None));
                }
            }
            Err(ApiError::HeaderMissing(names) | ApiError::HeaderInvalid(names)) => {
                assert!(!names.is_empty());
            }
            Err(other) => panic!("unexpected gateway error {other:?}"),
        }
    }
    let req = ApiRequest {
        method: Method::GET,
        headers,
        body: Bytes::new(),
        fallback_request_id: None,
        source_ip: None,
    };
    let id = request_id(&req, &gateway::ClientIpSource::SimulationHeader);
    assert!(gateway::is_printable_ascii(&id, 128));
}
