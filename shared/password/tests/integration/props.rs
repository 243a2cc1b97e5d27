//! Property tests. Hashing cases are few (Argon2 is deliberately slow);
//! policy cases are many (no hashing).

use std::sync::OnceLock;

use password::{
    code, Email, PasswordConfig, PasswordError, PasswordService, PepperRing, PersonalInfo, Policy,
    PolicyConfig,
};
use proptest::prelude::*;
use unicode_normalization::UnicodeNormalization;

fn rt() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .build()
            .unwrap()
    })
}

fn service() -> &'static PasswordService {
    static S: OnceLock<PasswordService> = OnceLock::new();
    S.get_or_init(|| PasswordService::new(PasswordConfig::default(), PepperRing::none()).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]

    #[test]
    fn nfd_set_verifies_in_nfc_and_neighbours_do_not(
        p in "[a-zA-Z0-9éèñüÅçøœ가-힣 !?]{8,24}"
    ) {
        let s = service();
        let nfd: String = p.nfd().collect();
        let nfc: String = p.nfc().collect();
        rt().block_on(async {
            let h = s.hash_unchecked(&nfd).await.unwrap();
            prop_assert!(s.verify(&nfc, Some(&h)).await.is_ok());
            prop_assert!(s.verify(&nfd, Some(&h)).await.is_ok());
            let longer = format!("{nfc}x");
            prop_assert!(matches!(s.verify(&longer, Some(&h)).await, Err(PasswordError::Mismatch)));
            let mut shorter = nfc.clone();
            shorter.pop();
            prop_assert!(matches!(s.verify(&shorter, Some(&h)).await, Err(PasswordError::Mismatch)));
            Ok(())
        })?;
    }

    #[test]
    fn same_password_hashes_differently(p in "\\PC{8,32}") {
        let s = service();
        rt().block_on(async {
            let a = s.hash_unchecked(&p).await.unwrap();
            let b = s.hash_unchecked(&p).await.unwrap();
            prop_assert_ne!(a.phc(), b.phc());
            prop_assert!(s.verify(&p, Some(&a)).await.is_ok());
            prop_assert!(s.verify(&p, Some(&b)).await.is_ok());
            Ok(())
        })?;
    }
}

fn personal(email: &str, name: &str, phone: &str, biz: &str) -> PersonalInfo {
    PersonalInfo::new(Email::parse(email).ok(), Some(name), Some(phone), Some(biz))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1500, ..ProptestConfig::default() })]

    #[test]
    fn policy_never_panics_on_arbitrary_unicode(
        pw in prop_oneof![any::<String>(), "\\PC{0,200}", ".{0,400}"],
        local in "\\PC{0,20}",
        name in any::<String>(),
        phone in "\\PC{0,20}",
        biz in any::<String>(),
    ) {
        let who = personal(&format!("{local}@example.com"), &name, &phone, &biz);
        let strict = Policy::new(PolicyConfig { required_classes: 4, ..Default::default() }).unwrap();
        for p in [service().policy(), &strict] {
            let e = p.evaluate(&pw, &who);
            let n = pw.nfkc().count();
            if pw.len() <= 1024 {
                prop_assert_eq!(e.violations.iter().any(|v| v.code == code::TOO_SHORT), n < 8);
                prop_assert_eq!(e.violations.iter().any(|v| v.code == code::TOO_LONG), n > 128);
            }
            for v in &e.violations {
                prop_assert!(password::all_codes().contains(&v.code));
            }
        }
    }

    #[test]
    fn email_parse_never_panics(raw in any::<String>()) {
        if let Ok(e) = Email::parse(&raw) {
            prop_assert!(e.as_str().len() <= 255);
            prop_assert_eq!(e.as_str().matches('@').count(), 1);
            prop_assert!(e.domain().contains('.'));
        }
    }
}
