//! The table stream's filter, as deployed and as `make watch` runs it.
//!
//! `infra/stream_pump.py` (the local stand-in for send-mail's event source
//! mapping) reads the mapping from `template.yaml` and applies Lambda's
//! event-filtering rules; its `--match-only` mode is the one matcher used
//! here, so these tests hold what `make watch` runs:
//!
//! - every item type the code writes, INSERTed, MODIFYed and REMOVEd, seen
//!   through the template's `StreamViewType`: exactly the INSERTs of forgot
//!   requests and of outbox messages reach `send-mail`;
//! - the mapping's batch size and retry settings are the template's;
//! - the matcher itself follows the pattern language (exact values,
//!   `prefix`, `anything-but`, `exists`, `numeric`, nested objects, filters
//!   OR-ed, a record matching none dropped).

use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{json, Value};

/// Runs `stream_pump.py --match-only` on `input`; its answer.
fn match_only(input: &Value) -> Value {
    let root = e2e_tests::root();
    let venv = Command::new("bash")
        .arg(root.join("infra/emulator.sh"))
        .arg("venv")
        .status()
        .unwrap();
    assert!(venv.success(), "could not create the project venv");
    let mut child = Command::new(root.join(".venv/bin/python"))
        .arg(root.join("infra/stream_pump.py"))
        .arg("--match-only")
        .arg(root.join("template.yaml"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "stream_pump.py --match-only failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Which of `records` pass (by index), under `filters` or the template's.
fn passing(records: &[Value], filters: Option<Value>) -> Vec<bool> {
    let mut input = json!({ "records": records });
    if let Some(filters) = filters {
        input["filters"] = filters;
    }
    let out = match_only(&input);
    serde_json::from_value(out["passed"].clone()).unwrap()
}

/// `(what, PK, SK, type)` of every item the code writes (docs/data-model.md;
/// `shared/aws/src`: accounts/keys.rs, forgot.rs, dynamo.rs, rate.rs, kms/).
fn item_types() -> Vec<(&'static str, String, String, &'static str)> {
    let sha = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
    let id = "4f1c2a9b8e7d6c5b4a39281706f5e4d3";
    vec![
        (
            "user",
            "USER#ACC_USR_0A1B2C3D4E5F".into(),
            "PROFILE".into(),
            "User",
        ),
        (
            "email claim",
            "EMAIL#ann@example.com".into(),
            "EMAIL".into(),
            "EmailClaim",
        ),
        (
            "reset marker",
            "LINKS#ACC_USR_0A1B2C3D4E5F".into(),
            format!("RESET#1700000000000#{sha}"),
            "ResetTokenOfUser",
        ),
        (
            "init marker",
            "LINKS#ACC_USR_0A1B2C3D4E5F".into(),
            format!("INIT#{sha}"),
            "InitSessionOfUser",
        ),
        (
            "sc session",
            format!("SESSION#{id}"),
            "SESSION".into(),
            "ScSession",
        ),
        (
            "replay nonce",
            format!("NONCE#{id}#00112233445566778899aabb"),
            "NONCE".into(),
            "ReplayNonce",
        ),
        (
            "init session",
            format!("INIT#{sha}"),
            "INIT".into(),
            "InitSession",
        ),
        (
            "reset token",
            format!("RESET#{sha}"),
            "RESET".into(),
            "ResetToken",
        ),
        (
            "forgot request",
            "FORGOT#PENDING".into(),
            format!("1700000000000#{id}"),
            "ForgotRequest",
        ),
        (
            "rate bucket",
            "RATE#forgot-email#9f86d081".into(),
            "GCRA".into(),
            "RateBucket",
        ),
        (
            "outbox message",
            format!("OUTBOX#{id}"),
            "OUTBOX".into(),
            "OutboxMessage",
        ),
        (
            "outbox pending marker",
            "OUTBOX#PENDING".into(),
            format!("1700000000000#{id}"),
            "OutboxPending",
        ),
        ("noop", "ACCOUNTS#NOOP".into(), "NOOP".into(), "Noop"),
        (
            "sc key",
            "KEYRING#scv2".into(),
            "KEY#k-2024".into(),
            "ScKey",
        ),
        (
            "active key marker",
            "KEYRING#scv2".into(),
            "ACTIVE".into(),
            "ScKeyActive",
        ),
        (
            "sealed secret",
            "SECRET#outbox-data-key".into(),
            "o1".into(),
            "SealedSecret",
        ),
    ]
}

/// A stream record with both images (the pump cuts it to the template's view).
fn record(event: &str, seq: usize, pk: &str, sk: &str, kind: &str) -> Value {
    let image = json!({
        "PK": {"S": pk}, "SK": {"S": sk}, "type": {"S": kind},
        "expiresAtMs": {"N": "1700000000000"}, "expiresAt": {"N": "1700000000"},
        "version": {"N": "2"}
    });
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": 1_700_000_000.0,
        "Keys": {"PK": {"S": pk}, "SK": {"S": sk}},
        "SequenceNumber": seq.to_string(),
        "SizeBytes": 256,
        "StreamViewType": "NEW_AND_OLD_IMAGES"
    });
    if event != "REMOVE" {
        dynamodb["NewImage"] = image.clone();
    }
    if event != "INSERT" {
        dynamodb["OldImage"] = image;
    }
    json!({
        "eventID": format!("ev-{seq}"),
        "eventName": event,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": dynamodb
    })
}

#[test]
fn send_mail_sees_only_forgot_and_outbox_inserts() {
    let mut records = Vec::new();
    let mut labels = Vec::new();
    for (what, pk, sk, kind) in item_types() {
        for event in ["INSERT", "MODIFY", "REMOVE"] {
            records.push(record(event, records.len() + 1, &pk, &sk, kind));
            labels.push(format!("{what} {event}"));
        }
    }
    let passed = passing(&records, None);
    assert_eq!(passed.len(), records.len());
    let delivered: BTreeSet<&str> = labels
        .iter()
        .zip(&passed)
        .filter(|(_, p)| **p)
        .map(|(l, _)| l.as_str())
        .collect();
    let expected: BTreeSet<&str> = ["forgot request INSERT", "outbox message INSERT"].into();
    assert_eq!(
        delivered, expected,
        "template.yaml's FilterCriteria must pass exactly these records to send-mail"
    );
}

#[test]
fn stream_pump_reads_the_mapping_from_the_template() {
    let out = match_only(&json!({ "records": [] }));
    let settings = &out["settings"];
    assert_eq!(settings["function"], "SendMailFunction", "{settings}");
    // The stream carries no item image (hashes, addresses, sealed keys).
    assert_eq!(settings["stream_view_type"], "KEYS_ONLY", "{settings}");
    assert_eq!(settings["batch_size"], 2, "{settings}");
    // `!Ref MailMaxRetryAttempts`: the parameter's default.
    assert_eq!(settings["maximum_retry_attempts"], 5, "{settings}");
    assert_eq!(settings["maximum_record_age_seconds"], 86400, "{settings}");
    assert_eq!(settings["bisect_on_error"], true, "{settings}");
    assert_eq!(settings["report_item_failures"], true, "{settings}");
    let filters = settings["filters"].as_array().unwrap();
    assert_eq!(filters.len(), 2, "{settings}");
    for f in filters {
        assert_eq!(f["eventName"], json!(["INSERT"]), "{f}");
        let ddb = f["dynamodb"].as_object().unwrap();
        assert_eq!(
            ddb.keys().collect::<Vec<_>>(),
            ["Keys"],
            "a KEYS_ONLY stream has only keys to filter on: {f}"
        );
    }
}

#[test]
fn stream_pump_matcher_follows_lambda_filter_rules() {
    let rec = |name: &str, pk: &str, sk: &str, n: Option<f64>| {
        let mut r = json!({
            "eventName": name,
            "dynamodb": {"Keys": {"PK": {"S": pk}, "SK": {"S": sk}}}
        });
        if let Some(n) = n {
            r["size"] = json!(n);
        }
        r
    };
    let records = [
        rec("INSERT", "OUTBOX#a1", "OUTBOX", Some(3.0)),
        rec("MODIFY", "OUTBOX#a1", "OUTBOX", None),
        rec("INSERT", "OUTBOX#PENDING", "1#a1", Some(12.0)),
        rec("REMOVE", "USER#x", "PROFILE", Some(5.0)),
    ];
    let check = |filters: Value, expected: [bool; 4]| {
        assert_eq!(
            passing(&records, Some(filters.clone())),
            expected,
            "{filters}"
        );
    };
    // Exact strings, nested objects.
    check(
        json!([{"eventName": ["INSERT"], "dynamodb": {"Keys": {"SK": {"S": ["OUTBOX"]}}}}]),
        [true, false, false, false],
    );
    // A list of values is an OR.
    check(
        json!([{"eventName": ["INSERT", "REMOVE"]}]),
        [true, false, true, true],
    );
    // prefix.
    check(
        json!([{"dynamodb": {"Keys": {"PK": {"S": [{"prefix": "OUTBOX#"}]}}}}]),
        [true, true, true, false],
    );
    // anything-but: one value, a list, a prefix.
    check(
        json!([{"eventName": [{"anything-but": "INSERT"}]}]),
        [false, true, false, true],
    );
    check(
        json!([{"eventName": [{"anything-but": ["INSERT", "MODIFY"]}]}]),
        [false, false, false, true],
    );
    check(
        json!([{"dynamodb": {"Keys": {"PK": {"S": [{"anything-but": {"prefix": "OUTBOX#"}}]}}}}]),
        [false, false, false, true],
    );
    // exists (absent field, and a nested object that is absent).
    check(
        json!([{"size": [{"exists": true}]}]),
        [true, false, true, true],
    );
    check(
        json!([{"size": [{"exists": false}]}]),
        [false, true, false, false],
    );
    check(
        json!([{"dynamodb": {"NewImage": {"type": [{"exists": false}]}}}]),
        [true, true, true, true],
    );
    // numeric ranges and exact numbers.
    check(
        json!([{"size": [{"numeric": [">", 4, "<=", 12]}]}]),
        [false, false, true, true],
    );
    check(json!([{"size": [3]}]), [true, false, false, false]);
    // A field the record lacks never matches a value.
    check(
        json!([{"dynamodb": {"NewImage": {"type": {"S": ["OutboxMessage"]}}}}]),
        [false, false, false, false],
    );
    // Several filters are OR-ed; a record matching none is dropped.
    check(
        json!([
            {"eventName": ["REMOVE"]},
            {"dynamodb": {"Keys": {"PK": {"S": [{"prefix": "OUTBOX#"}]}, "SK": {"S": ["OUTBOX"]}}}, "eventName": ["INSERT"]}
        ]),
        [true, false, false, true],
    );
}
