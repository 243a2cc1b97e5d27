//! Hash-free rules through `Policy::evaluate`.

use password::{all_codes, code, field, Email, PersonalInfo, Policy, PolicyConfig, Violation};

const STRONG: &str = "velvet otter quantum 93!";

fn policy() -> Policy {
    Policy::new(PolicyConfig::default()).unwrap()
}

fn nobody() -> PersonalInfo {
    PersonalInfo::default()
}

fn alice() -> PersonalInfo {
    PersonalInfo::new(
        Some(Email::parse("alice.wonder88+news@example.com").unwrap()),
        Some("Alice Liddell"),
        Some("+1 (415) 555-0199"),
        Some("ACME-77342"),
    )
}

fn codes(v: &[Violation]) -> Vec<&'static str> {
    v.iter().map(|v| v.code).collect()
}

fn eval(p: &Policy, pw: &str, who: &PersonalInfo) -> Vec<Violation> {
    p.evaluate(pw, who).violations
}

fn has(v: &[Violation], c: &str) -> bool {
    v.iter().any(|x| x.code == c)
}

#[test]
fn strong_password_passes() {
    let v = eval(&policy(), STRONG, &alice());
    assert!(v.is_empty(), "{v:?}");
}

#[test]
fn length_boundaries_with_multibyte_text() {
    // Lenient config so only the length rules matter.
    let p = Policy::new(PolicyConfig {
        min_score: 0,
        max_repeats: 0,
        ..Default::default()
    })
    .unwrap();
    let emoji7 = "😀🎉🔐🌏🍣🚀🦀";
    let emoji8 = "😀🎉🔐🌏🍣🚀🦀✨";
    assert_eq!(emoji7.chars().count(), 7);
    let v = eval(&p, emoji7, &nobody());
    assert_eq!(codes(&v), [code::TOO_SHORT]);
    assert_eq!(v[0].params["min"], 8);
    assert!(eval(&p, emoji8, &nobody()).is_empty());

    let cjk = "密码安全測試パスワード한국어";
    let s128: String = cjk.chars().cycle().take(128).collect();
    let s129: String = cjk.chars().cycle().take(129).collect();
    assert!(eval(&p, &s128, &nobody()).is_empty());
    let v = eval(&p, &s129, &nobody());
    assert_eq!(codes(&v), [code::TOO_LONG]);
    assert_eq!(v[0].params["max"], 128);

    // Never truncated: 129 code points are refused, not cut to 128.
    let mixed: String = "a😀界 ".chars().cycle().take(129).collect();
    assert!(has(&eval(&p, &mixed, &nobody()), code::TOO_LONG));
}

#[test]
fn length_counts_code_points_after_nfkc() {
    let p = Policy::new(PolicyConfig {
        min_score: 0,
        ..Default::default()
    })
    .unwrap();
    // "ﬀ" (U+FB00) normalizes to "ff": 4 ligatures are 8 code points after NFKC.
    assert!(!has(&eval(&p, "ﬀaﬀbﬀcﬀ", &nobody()), code::TOO_SHORT));
    // Combining sequences compose: 8 NFD pairs are 8 code points, not 16.
    let nfd = "e\u{301}".repeat(3) + "abcde";
    assert!(!has(&eval(&p, &nfd, &nobody()), code::TOO_SHORT));
    assert!(!has(&eval(&p, &nfd, &nobody()), code::TOO_LONG));
}

#[test]
fn raw_input_over_1kib_is_refused_before_normalization() {
    let p = policy();
    let raw = "a".repeat(1025);
    let v = eval(&p, &raw, &nobody());
    // Only TOO_LONG: no repeat/strength rule ran, so nothing was normalized.
    assert_eq!(codes(&v), [code::TOO_LONG]);
    assert_eq!(v[0].params["max"], 128);
    // 1 KiB exactly is evaluated normally (and is too long in code points).
    let v = eval(&p, &"a".repeat(1024), &nobody());
    assert!(has(&v, code::TOO_LONG) && has(&v, code::TOO_MANY_REPEATS));
    // 342 three-byte characters = 1026 bytes: refused although only 342 chars.
    let v = eval(&p, &"界".repeat(342), &nobody());
    assert_eq!(codes(&v), [code::TOO_LONG]);
}

#[test]
fn personal_info_contained() {
    let p = policy();
    let who = alice();
    let cases = [
        ("xyzALICEqq!!zz99", field::EMAIL),
        ("my wonder tulip!", field::EMAIL),
        ("liddell rocks 2x!", field::NAME),
        ("call 4155550199 now", field::PHONE),
        ("zz55501 99x 77342 ok", field::BIZ_ID),
    ];
    for (pw, f) in cases {
        let v = eval(&p, pw, &who);
        let hit = v
            .iter()
            .find(|v| v.code == code::CONTAINS_PERSONAL_INFO && v.params["field"] == f);
        assert!(hit.is_some(), "{pw}: {v:?}");
    }
    // Negative: nothing personal, and parts shorter than 3 are ignored ("88").
    let v = eval(&p, "velvet otter 88 quantum!", &who);
    assert!(!has(&v, code::CONTAINS_PERSONAL_INFO), "{v:?}");
    assert!(!has(&v, code::REVERSED_PERSONAL_INFO), "{v:?}");
}

#[test]
fn personal_info_reversed() {
    let p = policy();
    let who = alice();
    let v = eval(&p, "lledd il velvet quantum", &who);
    assert!(!has(&v, code::REVERSED_PERSONAL_INFO), "{v:?}");
    let v = eval(&p, "velvet LLEDDIL quantum", &who);
    let r = v
        .iter()
        .find(|v| v.code == code::REVERSED_PERSONAL_INFO)
        .expect("reversed name");
    assert_eq!(r.params["field"], field::NAME);
    assert!(!has(&v, code::CONTAINS_PERSONAL_INFO));
    let v = eval(&p, "velvet 99105555 quantum", &who);
    assert!(v
        .iter()
        .any(|v| v.code == code::REVERSED_PERSONAL_INFO && v.params["field"] == field::PHONE));
}

#[test]
fn personal_info_cjk_name_and_switch() {
    let who = PersonalInfo::new(None, Some("王小明"), None, None);
    let v = eval(&policy(), "velvet 王小明 quantum", &who);
    assert!(has(&v, code::CONTAINS_PERSONAL_INFO));
    let off = Policy::new(PolicyConfig {
        forbid_personal_info: false,
        ..Default::default()
    })
    .unwrap();
    assert!(!has(
        &eval(&off, "velvet 王小明 quantum", &who),
        code::CONTAINS_PERSONAL_INFO
    ));
}

#[test]
fn repeats() {
    let p = policy();
    let v = eval(&p, "velvet ooo quantum", &nobody());
    assert!(!has(&v, code::TOO_MANY_REPEATS), "three in a row is fine");
    let v = eval(&p, "velvet oooo quantum", &nobody());
    let r = v.iter().find(|v| v.code == code::TOO_MANY_REPEATS).unwrap();
    assert_eq!(r.params["max"], 3);
    let v = eval(&p, "velvet 😀😀😀😀 quantum", &nobody());
    assert!(has(&v, code::TOO_MANY_REPEATS));
}

#[test]
fn complexity_is_off_by_default_and_configurable() {
    assert!(!has(
        &eval(&policy(), STRONG, &nobody()),
        code::LOW_COMPLEXITY
    ));
    let p = Policy::new(PolicyConfig {
        required_classes: 3,
        ..Default::default()
    })
    .unwrap();
    let v = eval(&p, "velvetotterquantum", &nobody());
    let r = v.iter().find(|v| v.code == code::LOW_COMPLEXITY).unwrap();
    assert_eq!(r.params["required"], 3);
    assert!(!has(&eval(&p, STRONG, &nobody()), code::LOW_COMPLEXITY));
    assert!(!has(
        &eval(&p, "Velvet0tterQuantum", &nobody()),
        code::LOW_COMPLEXITY
    ));
}

#[test]
fn weak_passwords_get_localizable_feedback() {
    let p = policy();
    let v = eval(&p, "password1", &nobody());
    let w = v.iter().find(|v| v.code == code::WEAK).expect("weak");
    assert!(w.params["score"].as_u64().unwrap() < 3);
    let all = all_codes();
    let warning = w.params["warning"].as_str().expect("a warning");
    assert!(all.contains(&warning), "{warning}");
    let suggestions = w.params["suggestions"].as_array().unwrap();
    assert!(!suggestions.is_empty());
    for s in suggestions {
        assert!(all.contains(&s.as_str().unwrap()), "{s}");
    }
    // Strength is judged with the user's own data as dictionary words.
    let who = PersonalInfo::new(None, Some("Zebediah Quarrington"), None, None);
    let p2 = Policy::new(PolicyConfig {
        forbid_personal_info: false,
        ..Default::default()
    })
    .unwrap();
    let s_anon = p2.evaluate("zebediahquarrington", &nobody()).score.unwrap();
    let s_user = p2.evaluate("zebediahquarrington", &who).score.unwrap();
    assert!(s_user < s_anon, "{s_user} vs {s_anon}");
    // Configurable threshold; 0 turns the rule off.
    let off = Policy::new(PolicyConfig {
        min_score: 0,
        ..Default::default()
    })
    .unwrap();
    assert!(eval(&off, "password1", &nobody()).is_empty());
}

#[test]
fn all_failures_are_reported_at_once() {
    let p = Policy::new(PolicyConfig {
        required_classes: 2,
        ..Default::default()
    })
    .unwrap();
    let v = eval(&p, "aliceeee", &alice());
    let c = codes(&v);
    for want in [
        code::CONTAINS_PERSONAL_INFO,
        code::TOO_MANY_REPEATS,
        code::LOW_COMPLEXITY,
        code::WEAK,
    ] {
        assert!(c.contains(&want), "{want} missing from {c:?}");
    }
    let v = eval(&p, "ecila", &alice());
    let c = codes(&v);
    for want in [
        code::TOO_SHORT,
        code::REVERSED_PERSONAL_INFO,
        code::LOW_COMPLEXITY,
        code::WEAK,
    ] {
        assert!(c.contains(&want), "{want} missing from {c:?}");
    }
}

#[test]
fn violations_serialize_for_responses() {
    let v = eval(&policy(), "short", &nobody());
    let json = serde_json::to_value(&v).unwrap();
    assert_eq!(json[0]["code"], code::TOO_SHORT);
    assert_eq!(json[0]["params"]["min"], 8);
}

#[test]
fn pathological_inputs_stay_cheap() {
    // Many distinct l33t characters made zxcvbn try hundreds of substitution
    // combinations (~150 ms for 64 chars); the bounded prefix avoids that.
    let p = policy();
    let nasty: String = "x7#Kq9!mZ2@pL4$wR8^tY1&uI5*oP3(aS6)dF0_gH-jK=lZ+xC[vB]nM{q}w;"
        .chars()
        .cycle()
        .take(128)
        .collect();
    let _ = p.evaluate(&nasty, &alice()); // warm zxcvbn's dictionaries
    for pw in [
        nasty.as_str(),
        &"4@8({[<369!|70$5+%2".repeat(6),
        &"ab".repeat(64),
    ] {
        let t = std::time::Instant::now();
        let _ = p.evaluate(pw, &alice());
        assert!(
            t.elapsed() < std::time::Duration::from_millis(40),
            "{:?}",
            t.elapsed()
        );
    }
}
