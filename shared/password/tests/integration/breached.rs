//! Breached-password screening in the policy answer: `PASSWORD.BREACHED`
//! with the other violations, from the bundled filter or a filter file.

use password::breach::{key_of_password, BreachFilter};
use password::{
    code, BreachedConfig, PasswordConfig, PasswordError, PasswordService, PepperRing, PersonalInfo,
    PolicyContext, SignInAction,
};

const STRONG: &str = "velvet otter quantum 93!";

fn service(breached: BreachedConfig) -> Result<PasswordService, password::ConfigError> {
    PasswordService::new(
        PasswordConfig {
            breached,
            ..PasswordConfig::default()
        },
        PepperRing::none(),
    )
}

fn ctx(personal: &PersonalInfo) -> PolicyContext<'_> {
    PolicyContext {
        personal,
        current: None,
        verified_current: None,
        history: &[],
    }
}

fn codes(e: &PasswordError) -> Vec<&'static str> {
    e.violations().iter().map(|v| v.code).collect()
}

/// A filter file holding `passwords`, in a fresh temporary path.
fn filter_file(passwords: &[&str]) -> String {
    let keys = passwords
        .iter()
        .map(|p| key_of_password(p).unwrap())
        .collect();
    let path = std::env::temp_dir().join(format!(
        "breached-test-{}-{}.bpf",
        std::process::id(),
        passwords.join("").len()
    ));
    std::fs::write(&path, BreachFilter::build(keys).unwrap().to_bytes()).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn a_common_password_is_refused_as_breached_with_the_other_rules() {
    let s = service(BreachedConfig::default()).unwrap();
    let personal = PersonalInfo::default();
    let err = s
        .evaluate_and_hash("trustno1", &ctx(&personal))
        .await
        .unwrap_err();
    let got = codes(&err);
    assert!(got.contains(&code::WEAK), "{got:?}");
    let breached = err
        .violations()
        .iter()
        .position(|v| v.code == code::BREACHED)
        .expect("breached");
    let weak = got.iter().position(|c| *c == code::WEAK).unwrap();
    assert!(weak < breached, "strength before breach: {got:?}");
    assert!(
        err.violations()[breached].params.is_empty(),
        "never echoes the password"
    );
    assert!(!format!("{err} {err:?}").contains("trustno1"));
}

#[tokio::test]
async fn a_strong_password_in_a_filter_file_is_refused_and_accepted_without_it() {
    let path = filter_file(&[STRONG, "another one 1!"]);
    let with = service(BreachedConfig {
        filter: Some(path.clone()),
        ..BreachedConfig::default()
    })
    .unwrap();
    let personal = PersonalInfo::default();
    let err = with
        .evaluate_and_hash(STRONG, &ctx(&personal))
        .await
        .unwrap_err();
    assert_eq!(codes(&err), vec![code::BREACHED]);
    // NFKC first: the full-width form is the same password.
    let wide: String = STRONG
        .chars()
        .map(|c| match c {
            'a'..='z' => char::from_u32(c as u32 - 'a' as u32 + 0xFF41).unwrap(),
            other => other,
        })
        .collect();
    assert_eq!(
        codes(
            &with
                .evaluate_and_hash(&wide, &ctx(&personal))
                .await
                .unwrap_err()
        ),
        vec![code::BREACHED]
    );

    for accepting in [
        BreachedConfig::default(),
        BreachedConfig {
            enabled: false,
            filter: Some(path.clone()),
            ..BreachedConfig::default()
        },
    ] {
        let s = service(accepting).unwrap();
        s.evaluate_and_hash(STRONG, &ctx(&personal)).await.unwrap();
    }
    std::fs::remove_file(path).unwrap();
}

#[tokio::test]
async fn sign_in_reports_a_breached_verified_password() {
    let path = filter_file(&[STRONG]);
    let s = service(BreachedConfig {
        filter: Some(path.clone()),
        sign_in: SignInAction::Block,
        ..BreachedConfig::default()
    })
    .unwrap();
    let hash = s.hash_unchecked(STRONG).await.unwrap();
    let verified = s.verify(STRONG, Some(&hash)).await.unwrap();
    assert!(s.is_breached(&verified).await.unwrap());
    assert_eq!(s.breach_sign_in(), SignInAction::Block);
    let other = s.hash_unchecked("marble heron lantern 47?").await.unwrap();
    let verified = s
        .verify("marble heron lantern 47?", Some(&other))
        .await
        .unwrap();
    assert!(!s.is_breached(&verified).await.unwrap());
    let off = service(BreachedConfig {
        enabled: false,
        ..BreachedConfig::default()
    })
    .unwrap();
    assert_eq!(off.breach_sign_in(), SignInAction::Off);
    std::fs::remove_file(path).unwrap();
}

#[test]
fn an_unusable_filter_or_a_range_url_without_a_client_is_a_start_error() {
    let missing = service(BreachedConfig {
        filter: Some("/nonexistent/breached.bpf".into()),
        ..BreachedConfig::default()
    })
    .unwrap_err();
    assert!(
        missing.to_string().contains("/nonexistent/breached.bpf"),
        "{missing}"
    );
    let garbage = std::env::temp_dir().join(format!("breached-garbage-{}", std::process::id()));
    std::fs::write(&garbage, b"not a filter at all, just bytes").unwrap();
    let err = service(BreachedConfig {
        filter: Some(garbage.display().to_string()),
        ..BreachedConfig::default()
    })
    .unwrap_err();
    assert!(
        err.to_string().contains("not a breached-password filter"),
        "{err}"
    );
    std::fs::remove_file(garbage).unwrap();
    let err = service(BreachedConfig {
        range_url: Some("https://range.example/range/".into()),
        ..BreachedConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("rangeUrl"), "{err}");
}

proptest::proptest! {
    // A fixed seed: the same commit gets the same verdict.
    #![proptest_config(proptest::test_runner::Config {
        cases: 512,
        rng_seed: proptest::test_runner::RngSeed::Fixed(23),
        ..proptest::test_runner::Config::default()
    })]

    /// A damaged filter file is refused at start or answers lookups: it
    /// never panics (a header that points past the fingerprints is caught).
    #[test]
    fn damaged_filter_files_never_panic(
        flips in proptest::collection::vec((0usize..200, proptest::num::u8::ANY), 1..6),
        cut in 0usize..300,
        probes in proptest::collection::vec(proptest::num::u64::ANY, 8),
    ) {
        let good = BreachFilter::build((1..60u64).map(|k| k * 0x9E37_79B9).collect())
            .unwrap()
            .to_bytes();
        let mut bytes = good.clone();
        for (at, b) in flips {
            let i = at % bytes.len();
            bytes[i] = b;
        }
        bytes.truncate(good.len().saturating_sub(cut % 8));
        if let Ok(filter) = BreachFilter::from_bytes(&bytes) {
            for k in probes {
                let _ = filter.contains_key(k);
            }
        }
    }
}
