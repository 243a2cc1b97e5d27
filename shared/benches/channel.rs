//! SCv2 costs against their cryptographic floor:
//! - seal + open of a 1 KiB request vs bare AES-256-GCM seal + open of the same bytes;
//! - session creation through the handler (parse, OAEP, store, confirm) vs one bare RSA-3072 OAEP decrypt.
//!
//! Run with `make bench` (or `cargo bench -p shared --bench channel`).

use std::sync::Arc;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeySize, OaepPrivateDecryptingKey, OaepPublicEncryptingKey, PrivateDecryptingKey,
    PublicEncryptingKey, OAEP_SHA256_MGF1SHA256,
};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use http::{HeaderMap, HeaderValue, Method};
use shared::adapters::memory::SystemClock;
use shared::channel::wire::{request_context, EnvelopeType, Header};
use shared::channel::{KeyRing, ServerKey, SessionKey};
use shared::config::Config;
use shared::http::ApiRequest;
use shared::ports::Limit;
use shared::{route::Route, App};

fn seal_open(c: &mut Criterion) {
    let mut g = c.benchmark_group("request-1KiB");
    let key_bytes = [7u8; 32];
    let plaintext = vec![b'a'; 1024];
    let ctx = request_context(
        "q8bYl3m0cGZ5vT2xW9rN4A",
        "POST",
        "/web/v1/system/auth/password/change",
    );

    let bare = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key_bytes).unwrap());
    g.bench_function("bare-aes-256-gcm", |b| {
        b.iter(|| {
            let mut buf = plaintext.clone();
            let nonce = [1u8; 12];
            bare.seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&ctx),
                &mut buf,
            )
            .unwrap();
            let out = bare
                .open_in_place(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(&ctx),
                    &mut buf,
                )
                .unwrap();
            std::hint::black_box(out.len())
        })
    });

    let key = SessionKey::from_bytes(key_bytes);
    g.bench_function("scv2-seal-open", |b| {
        b.iter(|| {
            let header = Header {
                kind: EnvelopeType::Request,
                timestamp_ms: 1_711_929_600_000,
                nonce: [1u8; 12],
            };
            let mut env = key.seal(&header, &ctx, &plaintext);
            let (_, out) = key
                .open_in_place(&mut env, EnvelopeType::Request, &ctx)
                .unwrap();
            std::hint::black_box(out.len())
        })
    });
    g.finish();
}

fn session_creation(c: &mut Criterion) {
    let mut g = c.benchmark_group("session-creation");
    g.sample_size(30);
    let private = PrivateDecryptingKey::generate(KeySize::Rsa3072).unwrap();
    let pkcs8 = private.as_der().unwrap();
    let spki = private.public_key().as_der().unwrap();
    let public =
        OaepPublicEncryptingKey::new(PublicEncryptingKey::from_der(spki.as_ref()).unwrap())
            .unwrap();
    let mut ct = vec![0u8; public.ciphertext_size()];
    let ct = public
        .encrypt(&OAEP_SHA256_MGF1SHA256, &[9u8; 32], &mut ct, None)
        .unwrap()
        .to_vec();

    let bare = OaepPrivateDecryptingKey::new(private).unwrap();
    g.bench_function("bare-rsa3072-oaep-decrypt", |b| {
        b.iter(|| {
            let mut out = [0u8; 384];
            let k = bare
                .decrypt(&OAEP_SHA256_MGF1SHA256, &ct, &mut out, None)
                .unwrap();
            std::hint::black_box(k.len())
        })
    });

    let mut config = Config::default();
    config.limits.session_per_ip = Limit {
        max: u32::MAX,
        window_secs: 1,
    };
    let keys = KeyRing::single(ServerKey::from_pkcs8("bench", pkcs8.as_ref(), u64::MAX).unwrap());
    let app = App::embedded_with_clock(config, keys, Arc::new(SystemClock)).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let body = Bytes::from(
        serde_json::to_vec(
            &serde_json::json!({"keyId": "bench", "encryptedKey": STANDARD.encode(&ct)}),
        )
        .unwrap(),
    );
    let mut headers = HeaderMap::new();
    for (k, v) in [
        ("content-type", "application/json"),
        ("accept", "application/json"),
        ("x-client-hash", "bench-device"),
        ("accept-language", "en"),
        ("cf-connecting-ip", "203.0.113.9"),
        ("cf-ray", "8f00000000000009-LHR"),
        ("cf-ipcountry", "GB"),
    ] {
        headers.insert(k, HeaderValue::from_static(v));
    }
    g.bench_function("create-session-handler", |b| {
        b.iter_batched(
            || ApiRequest {
                method: Method::POST,
                headers: headers.clone(),
                body: body.clone(),
                fallback_request_id: None,
                source_ip: None,
            },
            |req| {
                let resp = rt.block_on(shared::dispatch::handle(&app, Route::CreateSession, req));
                assert_eq!(resp.status(), 201);
                resp
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, seal_open, session_creation);
criterion_main!(benches);
