//! Drift between the service's codes and the browser client's: every code an
//! answer can carry (the message catalogue, whose keys are those codes, and
//! the password crate's `all_codes()`) must be in client/web/src/codes.ts,
//! which `node client/web/scripts/gen-codes.mjs` (`make web-codes`) writes
//! from the catalogue. A code added on the Rust side fails here, named.

use std::collections::BTreeSet;

fn package_codes() -> BTreeSet<String> {
    let path = e2e_tests::root().join("client/web/src/codes.ts");
    let text = std::fs::read_to_string(&path).expect("client/web/src/codes.ts");
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| {
            !s.is_empty()
                && s.chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_' || c == '.')
        })
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_web_client_knows_every_code_of_the_service() {
    let have = package_codes();
    let service: BTreeSet<&str> = shared::i18n::codes()
        .into_iter()
        .filter(|c| !c.starts_with("EMAIL."))
        .chain(password::all_codes().iter().copied())
        .collect();
    let missing: Vec<&str> = service
        .iter()
        .copied()
        .filter(|c| !have.contains(*c))
        .collect();
    assert!(
        missing.is_empty(),
        "client/web/src/codes.ts lacks {missing:?}: run `make web-codes` (node client/web/scripts/gen-codes.mjs)"
    );
    let stale: Vec<&String> = have
        .iter()
        // Field issue codes stand without their `VALIDATION.` prefix.
        .filter(|c| {
            !service.contains(c.as_str()) && !service.contains(format!("VALIDATION.{c}").as_str())
        })
        .collect();
    assert!(
        stale.is_empty(),
        "client/web/src/codes.ts has codes the service no longer has: {stale:?}: run `make web-codes`"
    );
}

#[test]
fn field_issue_codes_cover_the_strict_json_issues() {
    // Field issues travel without their `VALIDATION.` prefix.
    let have = package_codes();
    for issue in [
        "MISSING_FIELD",
        "UNKNOWN_FIELD",
        "DUPLICATE_FIELD",
        "INVALID_TYPE",
        "INVALID_VALUE",
        "INVALID_JSON",
    ] {
        assert!(have.contains(issue), "FieldIssueCode lacks {issue}");
        assert!(
            shared::i18n::codes().contains(&format!("VALIDATION.{issue}").as_str()),
            "{issue}"
        );
    }
}
