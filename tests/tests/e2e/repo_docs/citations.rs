//! What the docs cite: every test docs/security.md names as evidence and
//! every `--test` suite exists, and the figures of its guessing-cap section
//! follow from the cap's rule.

use super::*;

/// Back-ticked snake_case names in `text` (the last segment of a `a::b`
/// path), the way docs cite tests.
fn cited_names(text: &str) -> Vec<String> {
    let mut names: Vec<String> = code_spans(text)
        .iter()
        .filter(|span| {
            span.split("::").all(|seg| {
                seg.starts_with(|c: char| c.is_ascii_lowercase())
                    && seg
                        .chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            })
        })
        .filter_map(|span| span.rsplit("::").next())
        .filter(|name| name.contains('_'))
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// Every `fn` name of the repository's Rust files.
fn rust_fn_names() -> std::collections::BTreeSet<String> {
    let mut files = Vec::new();
    repo_text_files(&root(), &mut files);
    let mut names = std::collections::BTreeSet::new();
    for file in files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "rs"))
    {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (i, _) in text.match_indices("fn ") {
            let before = text[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                continue;
            }
            let name: String = text[i + 3..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                names.insert(name);
            }
        }
    }
    names
}

#[test]
fn every_test_cited_in_the_security_doc_exists() {
    // Cited names that are neither functions nor fuzz targets: a lint and a
    // Wycheproof set.
    const NOT_FUNCTIONS: [&str; 2] = ["missing_docs", "rsa_oaep_misc"];
    let cited = cited_names(&read("docs/security.md"));
    assert!(cited.len() > 30, "{cited:?}");
    let fns = rust_fn_names();
    let fuzz_target = |n: &str| root().join(format!("fuzz/fuzz_targets/{n}.rs")).exists();
    let missing: Vec<&String> = cited
        .iter()
        .filter(|n| !fns.contains(*n) && !fuzz_target(n) && !NOT_FUNCTIONS.contains(&n.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/security.md cites tests that no .rs file defines: {missing:?}"
    );
}

#[test]
fn cited_names_are_the_snake_case_spans() {
    let text =
        "`a_test`, `gateway::tests::b_test`, `Route::needs`, `c`, `d_e.json`, `f-g`, `a_test`";
    assert_eq!(cited_names(text), ["a_test", "b_test"]);
}

/// The names after `--test ` in `text`.
fn test_targets(text: &str) -> Vec<String> {
    text.match_indices("--test ")
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect::<String>()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[test]
fn every_test_target_named_in_the_docs_exists() {
    let mut suites = Vec::new();
    repo_text_files(&root(), &mut suites);
    // A suite is tests/<name>.rs or, folded into one binary, tests/<name>/main.rs.
    let suites: Vec<String> = suites
        .iter()
        .filter_map(|p| {
            let parent = p.parent()?;
            let name = if parent.ends_with("tests") {
                p.file_name()?.to_str()?.strip_suffix(".rs")?
            } else if p.ends_with("main.rs") && parent.parent()?.ends_with("tests") {
                parent.file_name()?.to_str()?
            } else {
                return None;
            };
            Some(name.to_owned())
        })
        .collect();
    let mut unknown = Vec::new();
    let mut named = 0;
    for file in doc_files() {
        for target in test_targets(&read(&file)) {
            named += 1;
            if !suites.contains(&target) {
                unknown.push(format!("{file}: --test {target}"));
            }
        }
    }
    assert!(named >= 5, "{named} test targets named");
    assert!(
        unknown.is_empty(),
        "no tests/<name>.rs or tests/<name>/main.rs for {unknown:#?}"
    );
}

/// When an attacker who guesses one account's password as soon as the
/// guessing cap lets him gets a password checked, in seconds from the
/// first guess, up to `horizon_secs` (each guess wrong, so the count never
/// clears): the rule every adapter applies, `shared::ports::reserve_next`.
fn checked_guesses(lockout: shared::ports::Lockout, horizon_secs: u64) -> Vec<u64> {
    use shared::ports::{reserve_next, Attempt};
    let start: u64 = 1_796_400_000_000;
    let (mut state, mut now, mut out) = (None, start, Vec::new());
    while now - start <= horizon_secs * 1000 {
        match reserve_next(state, lockout, now) {
            Ok(next) => {
                out.push((now - start) / 1000);
                state = Some(next);
            }
            Err(Attempt::Locked { until_ms }) => now = until_ms,
            Err(other) => panic!("{other:?}"),
        }
    }
    out
}

/// The figures of docs/security.md, "Guessing cap: lockout against denial
/// of service", with the default cap (5 failures, 900 s) and the longest
/// configurable lock (86,400 s).
#[test]
fn the_guessing_cap_figures_of_the_security_doc_hold() {
    use shared::ports::Lockout;
    const DAY: u64 = 86_400;
    let defaults = Lockout {
        threshold: 5,
        max_lock_secs: 900,
    };
    assert_eq!(shared::config::Config::default().lockout, defaults);
    let checks = checked_guesses(defaults, 3 * DAY);
    let within = |secs: u64| checks.iter().filter(|&&t| t < secs).count();
    // Five at once, then one at the end of each lock: 1, 2, 4 ... 512 s, then 900 s.
    assert_eq!(checks[..6], [0, 0, 0, 0, 0, 1]);
    assert_eq!(checks[13..16], [511, 1023, 1923]);
    assert_eq!(within(900), 14, "first 15 minutes");
    assert_eq!(within(3600), 17, "first hour");
    assert_eq!(within(DAY), 109, "first day");
    assert_eq!(within(2 * DAY) - within(DAY), 96, "each further day");
    assert_eq!(checks[99], 77_523, "the 100th consecutive failure");
    // The longest lock the configuration allows.
    let longest = Lockout {
        threshold: 5,
        max_lock_secs: DAY,
    };
    let checks = checked_guesses(longest, 90 * DAY);
    assert_eq!(checks[21], 131_071, "after locks of 1 s to 2^16 s");
    assert_eq!(checks[22] - checks[21], DAY);
    assert_eq!(checks[99], 6_870_271, "the 100th: 79.5 days");
}
