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

/// One verification of a wrong (ASCII) password against each foreign
/// format at its common cost, beside one of our Argon2id: a mismatch costs
/// exactly one evaluation of the scheme, as a match does before its rehash.
fn foreign(c: &mut Criterion) {
    use password::{import_hash, FirebaseScryptParams, ForeignHashInput, ImportHashOptions};
    let rt = rt();
    let s = service();
    let pw = "velvet otter quantum 93!";
    let wrong = "velvet otter quantum 94!";
    let salt = SaltString::encode_b64(b"bench-salt-00001").unwrap();
    let phc = |h: argon2::password_hash::PasswordHash<'_>| h.to_string();
    let opts = ImportHashOptions {
        firebase: Some(
            FirebaseScryptParams::new(
                "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==",
                "Bw==",
                8,
                14,
            )
            .unwrap(),
        ),
        allow_legacy: true,
    };
    let import = |hash: &str, format: &str, salt: Option<&str>| {
        import_hash(
            &ForeignHashInput {
                hash,
                format: Some(format),
                salt,
            },
            &opts,
        )
        .unwrap()
    };
    let argon = |alg| {
        let a = Argon2::new(
            alg,
            Version::V0x13,
            Params::new(19_456, 2, 1, None).unwrap(),
        );
        phc(a.hash_password(pw.as_bytes(), &salt).unwrap())
    };
    let scrypt_params = scrypt::Params::new(15, 8, 1, 32).unwrap();
    let pbkdf2_phc = |alg: &str, rounds| {
        let p = pbkdf2::Params {
            rounds,
            output_length: 32,
        };
        let id = argon2::password_hash::Ident::new(alg).unwrap();
        phc(pbkdf2::Pbkdf2
            .hash_password_customized(pw.as_bytes(), Some(id), None, p, &salt)
            .unwrap())
    };
    let mut cases = vec![(
        "argon2id_configured".to_owned(),
        rt.block_on(s.hash_unchecked(pw)).unwrap(),
    )];
    for cost in [10, 12] {
        let h = bcrypt::hash_with_salt(pw, cost, *b"bench-salt-00001")
            .unwrap()
            .format_for_version(bcrypt::Version::TwoB);
        cases.push((format!("bcrypt_{cost}"), import(&h, "bcrypt", None)));
    }
    let sc = phc(scrypt::Scrypt
        .hash_password_customized(pw.as_bytes(), None, None, scrypt_params, &salt)
        .unwrap());
    cases.push(("scrypt_ln15_r8_p1".into(), import(&sc, "scrypt", None)));
    cases.push((
        "pbkdf2_sha256_600k".into(),
        import(&pbkdf2_phc("pbkdf2-sha256", 600_000), "pbkdf2-sha256", None),
    ));
    cases.push((
        "pbkdf2_sha512_210k".into(),
        import(&pbkdf2_phc("pbkdf2-sha512", 210_000), "pbkdf2-sha512", None),
    ));
    // The README's hash: its cost is the defaults' (rounds 8, mem cost 14).
    cases.push((
        "firebase_scrypt_r8_m14".into(),
        import(
            "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==",
            "firebase-scrypt",
            Some("42xEC+ixf3L2lw=="),
        ),
    ));
    cases.push((
        "argon2i_configured".into(),
        import(&argon(Algorithm::Argon2i), "argon2", None),
    ));
    cases.push((
        "argon2d_configured".into(),
        import(&argon(Algorithm::Argon2d), "argon2", None),
    ));
    cases.push((
        "sha256_salted".into(),
        import(&"ab".repeat(32), "sha256-salted", Some("salt")),
    ));
    cases.push((
        "sha512_salted".into(),
        import(&"ab".repeat(64), "sha512-salted", Some("salt")),
    ));
    let mut g = c.benchmark_group("foreign");
    for (name, hash) in &cases {
        g.bench_function(name.as_str(), |b| {
            b.iter(|| assert!(rt.block_on(s.verify(wrong, Some(hash))).is_err()))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));
    targets = policy, hashing, history, foreign
}
criterion_main!(benches);
