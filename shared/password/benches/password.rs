//! Targets: policy on 128 code points <= 2 ms; service hash+verify within
//! 1.05x of bare Argon2 at the same params; history check of 5 entries
//! <= 3.5x one verification (2 cores).

use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use criterion::{criterion_group, criterion_main, Criterion};
use password::{Email, PasswordConfig, PasswordService, PepperRing, PersonalInfo};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn service() -> PasswordService {
    PasswordService::new(PasswordConfig::default(), PepperRing::none()).unwrap()
}

fn personal() -> PersonalInfo {
    PersonalInfo::new(
        Some(Email::parse("alice.wonder88+news@example.com").unwrap()),
        Some("Alice Liddell"),
        Some("+1 (415) 555-0199"),
        Some("ACME-77342"),
    )
}

fn password_128() -> String {
    let s: String = "Velvet otter 量子 quantum 🦀 marble-heron 47? パスワード "
        .chars()
        .cycle()
        .take(128)
        .collect();
    assert_eq!(s.chars().count(), 128);
    s
}

fn policy(c: &mut Criterion) {
    let s = service();
    let who = personal();
    let pw = password_128();
    let mut g = c.benchmark_group("policy");
    g.bench_function("evaluate_128_code_points", |b| {
        b.iter(|| s.policy().evaluate(std::hint::black_box(&pw), &who))
    });
    g.finish();
}

fn hashing(c: &mut Criterion) {
    let rt = rt();
    let s = service();
    let pw = "velvet otter quantum 93!";
    let mut g = c.benchmark_group("hash_verify");
    g.bench_function("bare_argon2", |b| {
        b.iter(|| {
            let a = Argon2::new(
                Algorithm::Argon2id,
                Version::V0x13,
                Params::new(19_456, 2, 1, None).unwrap(),
            );
            let salt = SaltString::generate(&mut OsRng);
            let h = a.hash_password(pw.as_bytes(), &salt).unwrap();
            a.verify_password(pw.as_bytes(), &h).unwrap();
        })
    });
    g.bench_function("password_service", |b| {
        b.iter(|| {
            rt.block_on(async {
                let h = s.hash_unchecked(pw).await.unwrap();
                s.verify(pw, Some(&h)).await.unwrap();
            })
        })
    });
    g.finish();
}

fn history(c: &mut Criterion) {
    let rt = rt();
    let s = service();
    let candidate = "granite puffin orchard 62%";
    let hist: Vec<_> = rt.block_on(async {
        let mut v = Vec::new();
        for i in 0..5 {
            v.push(
                s.hash_unchecked(&format!("old password {i}"))
                    .await
                    .unwrap(),
            );
        }
        v
    });
    let mut g = c.benchmark_group("history");
    g.bench_function("one_hash", |b| {
        b.iter(|| {
            rt.block_on(s.check_reuse(candidate, None, &hist[..1]))
                .unwrap()
        })
    });
    g.bench_function("five_entries", |b| {
        b.iter(|| rt.block_on(s.check_reuse(candidate, None, &hist)).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = policy, hashing, history
}
criterion_main!(benches);
