//! The import file's readers and the validation of its lines.

use password::ImportHashOptions;

use super::super::record::Candidate;
use super::super::run::{verdict, Stored, Verdict};
use super::*;
use crate::ports::accounts::UserStatus;

/// Django's PBKDF2-SHA256 of `secret-pass` (1000 iterations, the minimum).
const DJANGO: &str =
    "pbkdf2_sha256$1000$saltsalt12345678$xv6Re1W4vljxmU+typ7g7MIdrTFCwUGzCwt4PmVnYd8=";

fn read(format: FileFormat, text: &str) -> Vec<(u64, Result<RawRecord, String>)> {
    Records::new(text.as_bytes(), format)
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn validate(json: &str) -> Result<Candidate, String> {
    let mut records = read(FileFormat::Jsonl, json);
    assert_eq!(records.len(), 1);
    let (_, raw) = records.remove(0);
    raw.and_then(|r| r.validate(&ImportHashOptions::default(), 7))
}

fn reason(json: &str) -> String {
    match validate(json) {
        Ok(_) => panic!("accepted: {json}"),
        Err(reason) => reason,
    }
}

#[test]
fn a_jsonl_line_becomes_the_user_the_service_would_store() {
    let c = validate(&format!(
        r#"{{"email":"  Ann@Example.ORG ","name":" Ann ","phone":"+1 555 0100","locale":"ja","bizId":"auth0|abc","status":"Active","passwordHash":"{DJANGO}"}}"#
    ))
    .unwrap();
    assert_eq!(c.user.email, "ann@example.org");
    assert_eq!(c.user.name, "Ann");
    assert_eq!(c.user.phone.as_deref(), Some("+1 555 0100"));
    assert_eq!(c.user.locale.as_deref(), Some("ja"));
    assert_eq!(c.user.biz_id, "auth0|abc");
    assert!(c.explicit_id);
    assert_eq!(c.user.status, UserStatus::Active);
    assert!(c.foreign);
    assert_eq!(c.user.version, 1);
    assert_eq!(c.user.created_at_ms, 7);
    assert!(c.user.password.is_some());
}

#[test]
fn a_pending_user_without_bizid_gets_one_as_invites_do() {
    let c = validate(r#"{"email":"b@x.org","name":"B","status":"PendingPassword"}"#).unwrap();
    assert!(!c.explicit_id);
    assert!(c.user.biz_id.starts_with("ACC_USR_") && c.user.biz_id.len() == 20);
    assert_eq!(c.user.status, UserStatus::PendingPassword);
    assert!(c.user.password.is_none() && !c.foreign);
    for status in ["Locked", "Disabled"] {
        let line = format!(r#"{{"email":"b@x.org","name":"B","status":"{status}"}}"#);
        assert!(validate(&line).is_ok(), "{status} without hash");
    }
}

#[test]
fn every_field_rule_has_its_reason() {
    let cases = [
        (r#"{"email":"nope","name":"A","status":"PendingPassword"}"#, "email: not a valid address"),
        (r#"{"name":"A","status":"PendingPassword"}"#, "email: not a valid address"),
        (r#"{"email":"a@x.org","name":"  ","status":"PendingPassword"}"#, "name: invalid value"),
        (r#"{"email":"a@x.org","name":"A","phone":"12","status":"PendingPassword"}"#, "phone: invalid value"),
        (r#"{"email":"a@x.org","name":"A","locale":"xx-nope","status":"PendingPassword"}"#, "locale: invalid value"),
        (r#"{"email":"a@x.org","name":"A","bizId":"USER#1","status":"PendingPassword"}"#, "bizId: 1-128 characters of A-Z a-z 0-9 . _ : @ | -"),
        (r#"{"email":"a@x.org","name":"A","bizId":"ACC_USR_NO_SUCH_USER","status":"PendingPassword"}"#, "bizId: 1-128 characters of A-Z a-z 0-9 . _ : @ | -"),
        (r#"{"email":"a@x.org","name":"A"}"#, "status: missing"),
        (r#"{"email":"a@x.org","name":"A","status":"active"}"#, "status: one of Active, PendingPassword, Locked, Disabled"),
        (r#"{"email":"a@x.org","name":"A","status":"Active"}"#, "passwordHash: an Active user needs one"),
        (r#"{"email":"a@x.org","name":"A","status":"Disabled","salt":"s"}"#, "hashFormat/salt: given without passwordHash"),
        (r#"{"email":"a@x.org","name":"A","status":"PendingPassword","extra":1}"#, "unknown field `extra`, expected one of `email`, `name`, `phone`, `locale`, `bizId`, `status`, `passwordHash`, `hashFormat`, `salt`"),
        (r#"{"email":"a@x.org","name":7,"status":"PendingPassword"}"#, "name: must be a string"),
        (r#"{"email":"a@x.org""#, "truncated JSON"),
        (r#"{"email" "a@x.org"}"#, "not valid JSON (column 10)"),
        (r#"[1,2]"#, "[0]: must be a string"),
        (r#"7"#, "not a JSON object of the import fields"),
        (r#"{"email":"a@x.org","name":"A","status":"PendingPassword"} {}"#, "text after the JSON object"),
    ];
    for (line, want) in cases {
        assert_eq!(reason(line), want, "{line}");
    }
    let long = format!(
        r#"{{"email":"a@x.org","name":"{}","status":"PendingPassword"}}"#,
        "n".repeat(129)
    );
    assert_eq!(reason(&long), "name: invalid value");
    let long = format!(
        r#"{{"email":"a@x.org","name":"A","bizId":"{}","status":"PendingPassword"}}"#,
        "b".repeat(129)
    );
    assert!(reason(&long).starts_with("bizId:"));
}

#[test]
fn hashes_never_reach_a_reason() {
    let secret_hash = "pbkdf2_sha256$1000$saltsalt12345678$AAAA-not-base64-SECRETHASH";
    let cases = [
        format!(r#"{{"email":"a@x.org","name":"A","status":"PendingPassword","passwordHash":"{DJANGO}"}}"#),
        format!(r#"{{"email":"a@x.org","name":"A","status":"Active","passwordHash":"{secret_hash}"}}"#),
        r#"{"email":"a@x.org","name":"A","status":"Active","passwordHash":"SECRETHASH"}"#.to_owned(),
        r#"{"email":"a@x.org","name":"A","status":"Active","passwordHash":"SECRETHASH","hashFormat":"sha256-salted","salt":"SECRETSALT"}"#.to_owned(),
        r#"{"email":"a@x.org","name":"A","status":"Active","passwordHash":12345678901}"#.to_owned(),
        r#"{"email":"a@x.org","name":"A","status":"Active","passwordHash":["SECRETHASH"]}"#.to_owned(),
    ];
    for line in &cases {
        let why = reason(line);
        assert!(why.starts_with("passwordHash"), "{why}");
        for secret in [
            "SECRETHASH",
            "SECRETSALT",
            "saltsalt",
            "12345678901",
            DJANGO,
        ] {
            assert!(!why.contains(secret), "{why}");
        }
    }
    // Legacy salted SHA only when allowed; the reason says so.
    assert!(
        reason(&cases[3]).contains("legacy"),
        "{}",
        reason(&cases[3])
    );
}

#[test]
fn csv_rows_with_quotes_and_empty_cells() {
    let text = format!(
        "email,name,phone,bizId,status,passwordHash\n\
         a@x.org,\"Doe, Jane \"\"JD\"\"\",,id-1,Active,{DJANGO}\n\
         b@x.org,\"Multi\nline\",+1 555 0100,,PendingPassword,\n\
         \n\
         c@x.org,C,,,Disabled\n\
         d@x.org,D,,,Bogus,\n"
    );
    let rows = read(FileFormat::Csv, &text);
    let lines: Vec<u64> = rows.iter().map(|(l, _)| *l).collect();
    // The quoted newline keeps b's row on lines 3-4; the blank line is skipped.
    assert_eq!(lines, [2, 3, 6, 7]);
    let mut it = rows.into_iter();
    let a = it
        .next()
        .unwrap()
        .1
        .unwrap()
        .validate(&ImportHashOptions::default(), 0)
        .unwrap();
    assert_eq!(a.user.name, "Doe, Jane \"JD\"");
    assert_eq!(a.user.phone, None);
    assert_eq!(a.user.biz_id, "id-1");
    let b = it
        .next()
        .unwrap()
        .1
        .unwrap()
        .validate(&ImportHashOptions::default(), 0)
        .unwrap();
    assert_eq!(b.user.name, "Multi\nline");
    assert!(!b.explicit_id, "an empty cell is no bizId");
    assert_eq!(
        it.next().unwrap().1.err().unwrap(),
        "5 fields where the header has 6"
    );
    let d = it
        .next()
        .unwrap()
        .1
        .unwrap()
        .validate(&ImportHashOptions::default(), 0);
    assert_eq!(
        d.err().unwrap(),
        "status: one of Active, PendingPassword, Locked, Disabled"
    );
}

#[test]
fn csv_unknown_column_is_named() {
    let rows = read(
        FileFormat::Csv,
        "email,name,status,color\na@x.org,A,PendingPassword,red\n",
    );
    let why = rows[0].1.as_ref().err().unwrap();
    assert!(why.starts_with("unknown field `color`"), "{why}");
}

#[test]
fn jsonl_line_numbers_count_blank_and_overlong_lines() {
    let long = format!("{{\"name\":\"{}\"}}", "x".repeat(MAX_LINE_BYTES));
    let text = format!(
        "{{\"email\":\"a@x.org\",\"name\":\"A\",\"status\":\"PendingPassword\"}}\n\n{long}\nnot json\n{{\"email\":\"b@x.org\",\"name\":\"B\",\"status\":\"PendingPassword\"}}"
    );
    let rows = read(FileFormat::Jsonl, &text);
    let lines: Vec<u64> = rows.iter().map(|(l, _)| *l).collect();
    assert_eq!(lines, [1, 3, 4, 5]);
    assert_eq!(
        rows[1].1.as_ref().err().unwrap(),
        &format!("longer than {MAX_LINE_BYTES} bytes")
    );
    assert_eq!(
        rows[2].1.as_ref().err().unwrap(),
        "not valid JSON (column 2)"
    );
    assert!(
        rows[3].1.is_ok(),
        "the line after an overlong one is read whole"
    );
}

#[test]
fn format_from_name_or_extension() {
    let p = std::path::Path::new;
    assert_eq!(FileFormat::pick(None, p("u.CSV")), Ok(FileFormat::Csv));
    assert_eq!(FileFormat::pick(None, p("u.jsonl")), Ok(FileFormat::Jsonl));
    assert_eq!(
        FileFormat::pick(Some("jsonl"), p("u.csv")),
        Ok(FileFormat::Jsonl)
    );
    assert!(FileFormat::pick(Some("xml"), p("u")).is_err());
}

#[test]
fn verdicts_on_what_is_stored() {
    let st = |profile: Option<&str>, claim: Option<&str>| Stored {
        profile_email: profile.map(Into::into),
        claim_biz_id: claim.map(Into::into),
    };
    let v = |explicit, stored| verdict("b1", "a@x.org", explicit, &stored);
    assert_eq!(v(true, st(None, None)), Verdict::Write("b1".into()));
    assert_eq!(v(true, st(Some("a@x.org"), Some("b1"))), Verdict::Skip);
    assert_eq!(
        v(true, st(None, Some("b2"))),
        Verdict::Conflict("email: registered to another user")
    );
    assert_eq!(
        v(true, st(Some("z@x.org"), None)),
        Verdict::Conflict("bizId: belongs to a user with another email")
    );
    // Half-written by an interrupted batch: written again.
    assert_eq!(
        v(true, st(Some("a@x.org"), None)),
        Verdict::Write("b1".into())
    );
    assert_eq!(v(true, st(None, Some("b1"))), Verdict::Write("b1".into()));
    // Matched by address: the claim's owner is the user.
    assert_eq!(v(false, st(None, Some("b9"))), Verdict::Write("b9".into()));
    assert_eq!(v(false, st(Some("a@x.org"), Some("b9"))), Verdict::Skip);
}
