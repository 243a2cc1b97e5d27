//! Hashing, verification, rehash, pepper rotation, dummy hash, reuse.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use argon2::password_hash::{PasswordHasher, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use password::{
    code, push_history, Email, HashingConfig, PasswordConfig, PasswordError, PasswordHash,
    PasswordService, PepperId, PepperRing, PersonalInfo, PolicyConfig, PolicyContext,
};
use zeroize::Zeroizing;

const STRONG: &str = "velvet otter quantum 93!";
const STRONG2: &str = "marble heron lantern 47?";
const STRONG3: &str = "copper falcon meadow 15#";

fn service() -> PasswordService {
    PasswordService::new(PasswordConfig::default(), PepperRing::none()).unwrap()
}

fn ring(active: &str, ids: &[&str]) -> PepperRing {
    let secrets = ids
        .iter()
        .map(|id| {
            let byte = id.bytes().last().unwrap();
            (PepperId::new(*id), Zeroizing::new(vec![byte; 32]))
        })
        .collect::<HashMap<_, _>>();
    PepperRing::new(Some(PepperId::new(active)), secrets).unwrap()
}

fn peppered(active: &str, ids: &[&str]) -> PasswordService {
    PasswordService::new(PasswordConfig::default(), ring(active, ids)).unwrap()
}

fn codes(e: &PasswordError) -> Vec<&'static str> {
    e.violations().iter().map(|v| v.code).collect()
}

fn ctx<'a>(
    personal: &'a PersonalInfo,
    current: Option<&'a PasswordHash>,
    history: &'a [PasswordHash],
) -> PolicyContext<'a> {
    PolicyContext {
        personal,
        current,
        verified_current: None,
        history,
    }
}

/// A legacy hash made directly with argon2, below today's floor.
fn legacy_hash(pw: &str, m: u32, t: u32) -> PasswordHash {
    let params = Params::new(m, t, 1, None).unwrap();
    let salt = SaltString::encode_b64(b"legacy-salt-0001").unwrap();
    let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(pw.as_bytes(), &salt)
        .unwrap()
        .to_string();
    PasswordHash::parse(&phc, None).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn hash_and_verify_roundtrip() {
    let s = service();
    let new = s
        .evaluate_and_hash(STRONG, &ctx(&PersonalInfo::default(), None, &[]))
        .await
        .unwrap();
    assert!(new
        .hash
        .phc()
        .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
    assert_eq!(new.hash.pepper_id(), None);
    assert!(new.score.unwrap() >= 3);
    let ok = s.verify(STRONG, Some(&new.hash)).await.unwrap();
    assert!(
        ok.rehash.is_none(),
        "a hash at the configured floor is not rehashed"
    );
    assert!(matches!(
        s.verify(STRONG2, Some(&new.hash)).await,
        Err(PasswordError::Mismatch)
    ));
    // Stored form survives a serde round trip.
    let json = serde_json::to_string(&new.hash).unwrap();
    let back: PasswordHash = serde_json::from_str(&json).unwrap();
    s.verify(STRONG, Some(&back)).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn policy_failure_does_not_hash_and_reports_everything() {
    let s = service();
    let who = PersonalInfo::new(
        Some(Email::parse("bob.stone@example.com").unwrap()),
        None,
        None,
        None,
    );
    let current = s.hash_unchecked("bobbbb").await.unwrap();
    let err = s
        .evaluate_and_hash("bobbbb", &ctx(&who, Some(&current), &[]))
        .await
        .unwrap_err();
    let c = codes(&err);
    for want in [
        code::TOO_SHORT,
        code::TOO_MANY_REPEATS,
        code::WEAK,
        code::SAME_AS_CURRENT,
    ] {
        assert!(c.contains(&want), "{want} missing from {c:?}");
    }
    assert_eq!(err.code(), code::POLICY_VIOLATION);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("bobbbb"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn same_as_current_and_reuse() {
    let s = service();
    let nobody = PersonalInfo::default();
    let current = s.hash_unchecked(STRONG).await.unwrap();
    let mut history = Vec::new();
    for pw in [STRONG2, STRONG3, "a b c d e f g h", "h g f e d c b a"] {
        history.push(s.hash_unchecked(pw).await.unwrap());
    }
    let err = s
        .evaluate_and_hash(STRONG, &ctx(&nobody, Some(&current), &history))
        .await
        .unwrap_err();
    assert_eq!(codes(&err), [code::SAME_AS_CURRENT]);

    let err = s
        .evaluate_and_hash(STRONG3, &ctx(&nobody, Some(&current), &history))
        .await
        .unwrap_err();
    assert_eq!(codes(&err), [code::REUSED]);
    assert_eq!(err.violations()[0].params["depth"], 5);

    // NFKC applies to reuse too: fullwidth form of a previous password.
    let fullwidth: String = STRONG2
        .chars()
        .map(|c| match c {
            'a'..='z' => char::from_u32(c as u32 - 'a' as u32 + 0xFF41).unwrap(),
            _ => c,
        })
        .collect();
    let err = s
        .evaluate_and_hash(&fullwidth, &ctx(&nobody, Some(&current), &history))
        .await
        .unwrap_err();
    assert_eq!(codes(&err), [code::REUSED]);

    let ok = s
        .evaluate_and_hash(
            "granite puffin orchard 62%",
            &ctx(&nobody, Some(&current), &history),
        )
        .await
        .unwrap();
    s.verify("granite puffin orchard 62%", Some(&ok.hash))
        .await
        .unwrap();

    // Only the configured depth counts.
    let shallow = PasswordService::new(
        PasswordConfig {
            policy: PolicyConfig {
                history_depth: 1,
                ..Default::default()
            },
            ..Default::default()
        },
        PepperRing::none(),
    )
    .unwrap();
    assert!(shallow
        .evaluate_and_hash(STRONG3, &ctx(&nobody, None, &history))
        .await
        .is_ok());
    let err = shallow
        .evaluate_and_hash(STRONG2, &ctx(&nobody, None, &history))
        .await
        .unwrap_err();
    assert_eq!(err.violations()[0].params["depth"], 1);

    let v = s
        .check_reuse(STRONG2, Some(&current), &history)
        .await
        .unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].code, code::REUSED);
}

/// Argon2 evaluations `s` makes while `f` runs.
async fn evaluations_during<T>(
    s: &PasswordService,
    f: impl std::future::Future<Output = T>,
) -> (T, u64) {
    let before = s.argon2_evaluations();
    let out = f.await;
    (out, s.argon2_evaluations() - before)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_current_password_verified_in_the_request_answers_same_as_current_without_hashing() {
    let s = service();
    let nobody = PersonalInfo::default();
    let current = s.hash_unchecked(STRONG).await.unwrap();
    let (verified, n) = evaluations_during(&s, s.verify(STRONG, Some(&current))).await;
    let verified = verified.unwrap();
    assert_eq!(n, 1, "a verification is one evaluation");
    let with_verified = PolicyContext {
        verified_current: Some(&verified),
        ..ctx(&nobody, Some(&current), &[])
    };

    // Same password: refused without an evaluation. NFKC applies (fullwidth "v").
    for same in [STRONG.to_owned(), STRONG.replacen('v', "\u{FF56}", 1)] {
        let (err, n) = evaluations_during(&s, s.evaluate_and_hash(&same, &with_verified)).await;
        assert_eq!(codes(&err.unwrap_err()), [code::SAME_AS_CURRENT]);
        assert_eq!(n, 0, "answered by comparison, not by Argon2");
    }
    // A new password: only its own hash.
    let (ok, n) = evaluations_during(&s, s.evaluate_and_hash(STRONG2, &with_verified)).await;
    ok.unwrap();
    assert_eq!(n, 1);

    // Without a verification in the request the Argon2 check stays.
    let plain = ctx(&nobody, Some(&current), &[]);
    let (err, n) = evaluations_during(&s, s.evaluate_and_hash(STRONG, &plain)).await;
    assert_eq!(codes(&err.unwrap_err()), [code::SAME_AS_CURRENT]);
    assert_eq!(n, 1);
    let (ok, n) = evaluations_during(&s, s.evaluate_and_hash(STRONG2, &plain)).await;
    ok.unwrap();
    assert_eq!(n, 2);

    // A verification of another hash proves nothing about this one.
    let other = s.hash_unchecked(STRONG).await.unwrap();
    let elsewhere = PolicyContext {
        verified_current: Some(&verified),
        ..ctx(&nobody, Some(&other), &[])
    };
    let (err, n) = evaluations_during(&s, s.evaluate_and_hash(STRONG, &elsewhere)).await;
    assert_eq!(codes(&err.unwrap_err()), [code::SAME_AS_CURRENT]);
    assert_eq!(n, 1);

    assert!(!format!("{verified:?}").contains("velvet"));
}

#[tokio::test(flavor = "multi_thread")]
async fn over_1kib_is_refused_without_hashing() {
    let s = service();
    let huge = "x".repeat(1025);
    let nobody = PersonalInfo::default();
    // A current hash is given: a reuse check would have to hash the input.
    let current = s.hash_unchecked(STRONG).await.unwrap();
    let started = Instant::now();
    let err = s
        .evaluate_and_hash(&huge, &ctx(&nobody, Some(&current), &[]))
        .await
        .unwrap_err();
    assert_eq!(codes(&err), [code::TOO_LONG]);
    let err = s.hash_unchecked(&huge).await.unwrap_err();
    assert_eq!(codes(&err), [code::TOO_LONG]);
    assert!(matches!(
        s.verify(&huge, Some(&current)).await,
        Err(PasswordError::Mismatch)
    ));
    // Three Argon2 runs would take far longer than this.
    assert!(
        started.elapsed() < Duration::from_millis(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rehash_when_stored_hash_is_weaker() {
    let s = service();
    let old = legacy_hash(STRONG, 8192, 1);
    let v = s.verify(STRONG, Some(&old)).await.unwrap();
    let fresh = v.rehash.expect("legacy params are upgraded");
    assert!(fresh.phc().contains("m=19456,t=2,p=1"));
    assert!(s
        .verify(STRONG, Some(&fresh))
        .await
        .unwrap()
        .rehash
        .is_none());
    // A wrong password never produces a rehash.
    assert!(s.verify(STRONG2, Some(&old)).await.is_err());

    // Raising the configured cost upgrades hashes made at the floor.
    let stronger = PasswordService::new(
        PasswordConfig {
            hashing: HashingConfig::new(24_576, 3, 1).unwrap(),
            ..Default::default()
        },
        PepperRing::none(),
    )
    .unwrap();
    let floor = s.hash_unchecked(STRONG).await.unwrap();
    assert!(!s.needs_rehash(&floor));
    assert!(stronger.needs_rehash(&floor));
    let up = stronger
        .verify(STRONG, Some(&floor))
        .await
        .unwrap()
        .rehash
        .unwrap();
    assert!(up.phc().contains("m=24576,t=3,p=1"), "{}", up.phc());
    // A stronger stored hash is not downgraded by the weaker service.
    assert!(s.verify(STRONG, Some(&up)).await.unwrap().rehash.is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn pepper_rotation() {
    let v1 = peppered("k1", &["k1"]);
    let h1 = v1.hash_unchecked(STRONG).await.unwrap();
    assert_eq!(h1.pepper_id().unwrap().as_str(), "k1");
    assert!(v1.verify(STRONG, Some(&h1)).await.unwrap().rehash.is_none());

    // The pepper really is part of the hash: without it, no match.
    let stripped = PasswordHash::parse(h1.phc(), None).unwrap();
    assert!(matches!(
        service().verify(STRONG, Some(&stripped)).await,
        Err(PasswordError::Mismatch)
    ));

    // Rotate: k2 active, k1 kept for verification.
    let v2 = peppered("k2", &["k1", "k2"]);
    let ok = v2.verify(STRONG, Some(&h1)).await.unwrap();
    let h2 = ok.rehash.expect("old pepper triggers rehash");
    assert_eq!(h2.pepper_id().unwrap().as_str(), "k2");
    assert!(v2.verify(STRONG, Some(&h2)).await.unwrap().rehash.is_none());
    assert!(v2.verify(STRONG2, Some(&h1)).await.is_err());

    // k1 retired: the old hash can no longer be checked (configuration error).
    let v3 = peppered("k2", &["k2"]);
    assert!(matches!(
        v3.verify(STRONG, Some(&h1)).await,
        Err(PasswordError::UnknownPepper(id)) if id.as_str() == "k1"
    ));
    v3.verify(STRONG, Some(&h2)).await.unwrap();

    // A hash under the retired k1 cannot be compared for reuse: it neither
    // blocks a new password (a reset is how its owner recovers) nor fails it.
    let nobody = PersonalInfo::default();
    v3.evaluate_and_hash(STRONG2, &ctx(&nobody, Some(&h1), std::slice::from_ref(&h1)))
        .await
        .unwrap();
    let refused = v3
        .evaluate_and_hash(STRONG, &ctx(&nobody, Some(&h2), std::slice::from_ref(&h1)))
        .await
        .unwrap_err();
    assert_eq!(codes(&refused), [code::SAME_AS_CURRENT]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_verified_password_is_kept_under_the_active_pepper() {
    let h1 = peppered("k1", &["k1"])
        .hash_unchecked(STRONG)
        .await
        .unwrap();
    let v2 = peppered("k2", &["k1", "k2"]);
    let verified = v2.verify(STRONG, Some(&h1)).await.unwrap();
    let kept = verified.keep(h1.clone());
    assert_eq!(kept.pepper_id().unwrap().as_str(), "k2");
    v2.verify(STRONG, Some(&kept)).await.unwrap();
    // Only the hash this verification proved is replaced.
    let other = peppered("k1", &["k1"])
        .hash_unchecked(STRONG2)
        .await
        .unwrap();
    assert_eq!(verified.keep(other.clone()).phc(), other.phc());
    // Nothing due: the stored hash is kept as it is.
    let current = v2.verify(STRONG, Some(&kept)).await.unwrap();
    assert_eq!(current.keep(kept.clone()).phc(), kept.phc());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_user_verifies_against_dummy() {
    let s = peppered("k1", &["k1"]);
    for _ in 0..2 {
        assert!(matches!(
            s.verify(STRONG, None).await,
            Err(PasswordError::Mismatch)
        ));
    }
    assert!(matches!(
        s.verify("", None).await,
        Err(PasswordError::Mismatch)
    ));

    // That the dummy path costs what a real verification costs is measured,
    // not asserted on a shared machine: `cargo bench -p e2e-tests --bench forgot -- enumeration`.
}

#[test]
fn config_refuses_weak_params_and_deep_history() {
    assert!(HashingConfig::new(19_455, 2, 1).is_err());
    assert!(HashingConfig::new(19_456, 1, 1).is_err());
    let deep = PasswordConfig {
        policy: PolicyConfig {
            history_depth: 25,
            ..Default::default()
        },
        ..Default::default()
    };
    assert!(PasswordService::new(deep, PepperRing::none()).is_err());
    let weak: Result<PasswordConfig, _> =
        serde_json::from_str(r#"{"hashing": {"memoryKib": 8192, "iterations": 1}}"#);
    assert!(weak.is_err());
}

#[test]
fn history_keeps_at_most_depth() {
    let h = |i: u32| legacy_hash(&format!("pw{i}"), 8, 1);
    let mut history = Vec::new();
    for i in 0..7 {
        push_history(&mut history, h(i), 5);
    }
    assert_eq!(history.len(), 5);
    assert_eq!(history[0], h(6), "newest first");
    assert_eq!(history[4], h(2));
    push_history(&mut history, h(9), 0);
    assert!(history.is_empty());
    let s = service();
    let mut hist = Vec::new();
    for i in 0..8 {
        s.push_history(&mut hist, h(i));
    }
    assert_eq!(hist.len(), s.history_depth());
}

#[test]
fn secrets_are_redacted() {
    let s = peppered("k1", &["k1"]);
    let dbg = format!("{s:?}");
    assert!(dbg.contains("k1") && !dbg.contains("49, 49"), "{dbg}");
    let h = legacy_hash(STRONG, 8, 1);
    assert!(!format!("{h:?}").contains("argon2id"));
}

/// Hashes made by other systems (`tests/data/foreign-hashes.json`): verified
/// once, then replaced by Argon2id under the active pepper.
mod foreign {
    use super::*;
    use password::{
        import_hash, FirebaseScryptParams, ForeignHashInput, HashScheme, ImportHashOptions,
    };
    use serde::Deserialize;

    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Firebase {
        signer_key: String,
        salt_separator: String,
        rounds: u32,
        mem_cost: u32,
    }

    #[derive(Deserialize)]
    struct Entry {
        format: String,
        hash: String,
        salt: Option<String>,
        password: String,
        firebase: Option<Firebase>,
    }

    fn fixtures() -> Vec<(Entry, PasswordHash)> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/foreign-hashes.json"
        );
        let entries: Vec<Entry> =
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        entries
            .into_iter()
            .map(|e| {
                let firebase = e.firebase.as_ref().map(|f| {
                    FirebaseScryptParams::new(
                        &f.signer_key,
                        &f.salt_separator,
                        f.rounds,
                        f.mem_cost,
                    )
                    .unwrap()
                });
                let opts = ImportHashOptions {
                    firebase,
                    allow_legacy: true,
                };
                let input = ForeignHashInput {
                    hash: &e.hash,
                    format: Some(&e.format),
                    salt: e.salt.as_deref(),
                };
                let h =
                    import_hash(&input, &opts).unwrap_or_else(|err| panic!("{}: {err}", e.format));
                (e, h)
            })
            .collect()
    }

    #[test]
    fn the_fixture_has_every_scheme() {
        let schemes: Vec<HashScheme> = fixtures().iter().map(|(_, h)| h.scheme()).collect();
        for s in [
            HashScheme::Bcrypt,
            HashScheme::Scrypt,
            HashScheme::Pbkdf2Sha256,
            HashScheme::Pbkdf2Sha512,
            HashScheme::DjangoPbkdf2Sha256,
            HashScheme::Argon2Other,
            HashScheme::FirebaseScrypt,
            HashScheme::Sha256Salted,
            HashScheme::Sha512Salted,
        ] {
            assert!(schemes.contains(&s), "{s} missing");
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn each_fixture_verifies_once_then_is_argon2id_under_the_active_pepper() {
        let s = peppered("k1", &["k1"]);
        for (e, h) in fixtures() {
            assert!(h.is_foreign() && h.pepper_id().is_none(), "{}", e.format);
            assert!(s.needs_rehash(&h));
            assert!(
                matches!(
                    s.verify(&format!("{}!", e.password), Some(&h)).await,
                    Err(PasswordError::Mismatch)
                ),
                "{}: a wrong password matched",
                e.format
            );
            let v = s
                .verify(&e.password, Some(&h))
                .await
                .unwrap_or_else(|err| panic!("{}: {err}", e.format));
            assert_eq!(v.matched_scheme(), h.scheme());
            let fresh = v.rehash.clone().expect("a foreign hash is always replaced");
            assert_eq!(fresh.scheme(), HashScheme::Argon2id, "{}", e.format);
            assert_eq!(fresh.pepper_id().map(PepperId::as_str), Some("k1"));
            assert!(!fresh.is_foreign() && !s.needs_rehash(&fresh));
            // The replacement verifies the same password (typed the same way).
            let again = s.verify(&e.password, Some(&fresh)).await.unwrap();
            assert!(again.rehash.is_none());
            assert_eq!(v.keep(h.clone()), fresh);
        }
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn typed_form_first_then_normalized() {
        let opts = ImportHashOptions {
            firebase: None,
            allow_legacy: true,
        };
        // The other system hashed the normalized form ("fi"); the user types
        // the ligature: the second presentation matches.
        use sha2::Digest as _;
        let hex: String = sha2::Sha256::digest("fish and chips salt".as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let h = import_hash(
            &ForeignHashInput {
                hash: &hex,
                format: Some("sha256-salted-suffix"),
                salt: Some(" salt"),
            },
            &opts,
        )
        .unwrap();
        let s = service();
        let before = s.argon2_evaluations();
        s.verify("\u{FB01}sh and chips", Some(&h)).await.unwrap();
        assert_eq!(
            s.argon2_evaluations() - before,
            3,
            "typed, normalized, then the rehash"
        );
        // An ASCII password is presented once.
        let before = s.argon2_evaluations();
        assert!(s.verify("fish and chipz", Some(&h)).await.is_err());
        assert_eq!(s.argon2_evaluations() - before, 1);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn change_from_a_foreign_hash_checks_same_and_reuse() {
        let s = service();
        let (e, h) = fixtures()
            .into_iter()
            .find(|(e, _)| e.format == "bcrypt")
            .unwrap();
        let personal = PersonalInfo::default();
        // Reuse against a foreign hash in the history.
        let history = [h.clone()];
        let refused = s
            .evaluate_and_hash(&e.password, &ctx(&personal, None, &history))
            .await
            .unwrap_err();
        assert!(
            codes(&refused).contains(&code::REUSED),
            "{:?}",
            codes(&refused)
        );
        // Same as a foreign current hash, by hashing and by the verified password.
        let refused = s
            .evaluate_and_hash(&e.password, &ctx(&personal, Some(&h), &[]))
            .await
            .unwrap_err();
        assert!(codes(&refused).contains(&code::SAME_AS_CURRENT));
        let verified = s.verify(&e.password, Some(&h)).await.unwrap();
        let with_verified = PolicyContext {
            verified_current: Some(&verified),
            ..ctx(&personal, Some(&h), &[])
        };
        let refused = s
            .evaluate_and_hash(&e.password, &with_verified)
            .await
            .unwrap_err();
        assert!(codes(&refused).contains(&code::SAME_AS_CURRENT));
        s.evaluate_and_hash(STRONG, &with_verified).await.unwrap();
    }
}
