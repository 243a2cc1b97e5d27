//! Envelope properties: every single-bit flip, truncation, extension and
//! field swap of a valid request envelope is answered through the full route
//! with a plaintext SC error (the one the section 6 checks predict), never a
//! panic; it consumes no replay slot, and the session still opens the genuine
//! envelope afterwards.

use std::sync::atomic::{AtomicUsize, Ordering};

use e2e_tests::in_process::*;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use proptest::prelude::*;
use shared::channel::wire::{
    request_context, EnvelopeType, Header, HEADER_LEN, MAX_ENVELOPE_LEN, MIN_ENVELOPE_LEN,
};
use shared::channel::SessionKey;
use shared::ports::ScSession;
use shared::route::Route;
use shared::secure_request::open_request;

/// The window of check 4, as configured by default.
const SKEW_MS: u64 = 300_000;

/// A fresh session per case, so no case sees another's replay slots.
static NEXT_SESSION: AtomicUsize = AtomicUsize::new(0);

struct Case {
    t: TestApp,
    sid: String,
    key: SessionKey,
}

impl Case {
    async fn new(key_bytes: [u8; 32]) -> Case {
        // One case sends hundreds of envelopes from one address: the per-IP
        // status limit is lifted so that every one reaches the SC checks.
        let mut config = simulating_the_edge(shared::config::Config::default());
        config.limits.status_per_ip = shared::ports::Limit {
            max: u32::MAX,
            window_secs: 1,
        };
        let t = TestApp::with(config, shared::channel::KeyRing::single(vector_key()));
        let sid = format!("prop-{}", NEXT_SESSION.fetch_add(1, Ordering::Relaxed));
        let key = SessionKey::from_bytes(key_bytes);
        t.app
            .sessions
            .create(&ScSession {
                id: sid.clone(),
                key: key.clone(),
                client_hash: "device-1".into(),
                created_at_ms: VECTOR_TIME_MS,
                expires_at_ms: VECTOR_TIME_MS + 3_600_000,
            })
            .await
            .unwrap();
        Case { t, sid, key }
    }

    fn headers(&self) -> HeaderMap {
        let mut h = gateway_headers("device-1");
        h.insert("x-sc-session-id", HeaderValue::from_str(&self.sid).unwrap());
        h.insert("x-sc-version", HeaderValue::from_static("2"));
        h.insert(
            "content-type",
            HeaderValue::from_static("application/octet-stream"),
        );
        h
    }

    /// A valid request envelope for the status route.
    fn seal(&self, timestamp_ms: u64, nonce: [u8; 12], plaintext: &[u8]) -> Vec<u8> {
        let header = Header {
            kind: EnvelopeType::Request,
            timestamp_ms,
            nonce,
        };
        let ctx = request_context(&self.sid, "POST", Route::Status.path());
        self.key.seal(&header, &ctx, plaintext)
    }

    /// Sends `body` to the status route; returns the plaintext error code.
    async fn refused_code(&self, body: &[u8]) -> String {
        let resp = self
            .t
            .call(Route::Status, Method::POST, self.headers(), body)
            .await;
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            resp.headers()["content-type"],
            "application/json;charset=UTF-8",
            "an SC error is plaintext JSON"
        );
        let json = json_of(&resp);
        assert_eq!(json["success"], false);
        json["code"].as_str().unwrap().to_owned()
    }

    /// The genuine envelope still opens: no replay slot was taken, the session lives.
    async fn genuine_still_opens(&self, genuine: &[u8], plaintext: &[u8]) {
        let opened = open_request(
            &self.t.app,
            "POST",
            Route::Status.path(),
            &self.headers(),
            "device-1",
            genuine,
        )
        .await
        .unwrap_or_else(|e| panic!("genuine envelope refused after mutations: {e:?}"));
        assert_eq!(opened.plaintext.as_slice(), plaintext);
    }
}

/// What the checks of section 6 answer for `envelope`, worked out from the
/// wire layout alone; `genuine` is the envelope it was derived from.
fn predicted_code(envelope: &[u8], genuine: &[u8]) -> &'static str {
    if envelope.len() < MIN_ENVELOPE_LEN || envelope.len() > MAX_ENVELOPE_LEN {
        return "SC.MALFORMED";
    }
    if envelope[0] != 0x02 || envelope[1] != 0x01 {
        return "SC.MALFORMED";
    }
    let ts = u64::from_be_bytes(envelope[2..10].try_into().unwrap());
    if ts.abs_diff(VECTOR_TIME_MS) > SKEW_MS {
        return "SC.STALE";
    }
    assert_ne!(envelope, genuine, "a mutation must change the envelope");
    "SC.DECRYPT_FAILED"
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn every_single_bit_flip_of_an_envelope_is_refused_and_burns_nothing() {
    runtime().block_on(async {
        let case = Case::new([7; 32]).await;
        let plaintext = br#"{"probe":"bit flips"}"#;
        let genuine = case.seal(VECTOR_TIME_MS, [9; 12], plaintext);
        let mut seen = std::collections::BTreeMap::<String, usize>::new();
        for bit in 0..genuine.len() * 8 {
            let mut env = genuine.clone();
            env[bit / 8] ^= 1 << (bit % 8);
            let code = case.refused_code(&env).await;
            assert_eq!(code, predicted_code(&env, &genuine), "bit {bit}");
            *seen.entry(code).or_default() += 1;
        }
        // header, timestamp and body flips each hit their own check
        for code in ["SC.MALFORMED", "SC.STALE", "SC.DECRYPT_FAILED"] {
            assert!(seen.contains_key(code), "no flip gave {code}: {seen:?}");
        }
        case.genuine_still_opens(&genuine, plaintext).await;
    });
}

#[test]
fn every_truncation_and_swap_with_a_sibling_is_refused() {
    runtime().block_on(async {
        let case = Case::new([3; 32]).await;
        let plaintext = br#"{"probe":"truncation"}"#;
        let genuine = case.seal(VECTOR_TIME_MS, [1; 12], plaintext);
        for len in 0..genuine.len() {
            let code = case.refused_code(&genuine[..len]).await;
            assert_eq!(code, predicted_code(&genuine[..len], &genuine), "len {len}");
        }
        // A sibling sealed under the same session: any mix of the two is refused.
        let sibling = case.seal(VECTOR_TIME_MS + 1, [2; 12], br#"{"probe":"siblingxxx"}"#);
        for env in field_swaps(&genuine, &sibling) {
            let code = case.refused_code(&env).await;
            assert_eq!(code, predicted_code(&env, &genuine));
        }
        case.genuine_still_opens(&genuine, plaintext).await;
        case.genuine_still_opens(&sibling, br#"{"probe":"siblingxxx"}"#)
            .await;
    });
}

/// Envelopes built from fields of `a` and `b` (same length): timestamp, nonce,
/// ciphertext or tag taken from the other, and the nonce and timestamp of `a` exchanged.
fn field_swaps(a: &[u8], b: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(a.len(), b.len());
    let tag = a.len() - 16;
    let fields = [(2, 10), (10, HEADER_LEN), (HEADER_LEN, tag), (tag, a.len())];
    let mut out = Vec::new();
    for (start, end) in fields {
        let mut env = a.to_vec();
        env[start..end].copy_from_slice(&b[start..end]);
        out.push(env);
    }
    let mut env = a.to_vec();
    env[2..10].copy_from_slice(&a[14..22]);
    env[14..22].copy_from_slice(&a[2..10]);
    out.push(env);
    // A swap of equal (or empty) fields is no mutation.
    out.retain(|env| env != a);
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize),
    Truncate(usize),
    Extend(Vec<u8>),
    SwapField(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        any::<usize>().prop_map(Mutation::FlipBit),
        any::<usize>().prop_map(Mutation::Truncate),
        proptest::collection::vec(any::<u8>(), 1..64).prop_map(Mutation::Extend),
        any::<usize>().prop_map(Mutation::SwapField),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn any_mutation_of_any_envelope_is_a_plaintext_sc_error_and_burns_nothing(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 12]>(),
        skew in 0u64..=2 * SKEW_MS,
        plaintext in proptest::collection::vec(any::<u8>(), 0..256),
        mutations in proptest::collection::vec(mutation(), 1..8),
    ) {
        runtime().block_on(async {
            let case = Case::new(key).await;
            let ts = VECTOR_TIME_MS + skew - SKEW_MS;
            let genuine = case.seal(ts, nonce, &plaintext);
            let mut other_nonce = nonce;
            other_nonce[0] ^= 0x80;
            let sibling = case.seal(ts + 1, other_nonce, &vec![0x5a; plaintext.len()]);
            for m in &mutations {
                let env = match m {
                    Mutation::FlipBit(i) => {
                        let mut env = genuine.clone();
                        let bit = i % (env.len() * 8);
                        env[bit / 8] ^= 1 << (bit % 8);
                        env
                    }
                    Mutation::Truncate(n) => genuine[..n % genuine.len()].to_vec(),
                    Mutation::Extend(tail) => [genuine.as_slice(), tail].concat(),
                    Mutation::SwapField(i) => {
                        let mut swaps = field_swaps(&genuine, &sibling);
                        swaps.swap_remove(i % swaps.len())
                    }
                };
                let code = case.refused_code(&env).await;
                prop_assert_eq!(code.as_str(), predicted_code(&env, &genuine), "{:?}", m);
            }
            case.genuine_still_opens(&genuine, &plaintext).await;
            Ok(())
        })?;
    }
}
