//! The planner and the cancellation-reason decoding, without DynamoDB.

use super::*;
use crate::accounts::keys::{pending_sk, OUTBOX_PENDING_PK};
use aws_sdk_dynamodb::types::AttributeValue;
use shared::ports::accounts::{
    ForgotRequest, InitSession, MailKind, OutboxMessage, ResetToken, User, UserStatus,
};

/// The attribute of a put action.
fn put_attr<'a>(item: &'a TransactWriteItem, name: &str) -> Option<&'a AttributeValue> {
    item.put().and_then(|p| p.item().get(name))
}

/// A reason as DynamoDB returns it.
fn reason(code: &str, item: Option<Item>) -> CancellationReason {
    CancellationReason::builder()
        .code(code)
        .set_item(item)
        .build()
}

const NOW: u64 = 1_000_000;

fn sealer() -> SessionSealer {
    SessionSealer::new("o1", &[7; 32]).unwrap()
}

fn user(version: u64) -> User {
    User {
        biz_id: "b1".into(),
        email: "new@x.org".into(),
        name: "Ann".into(),
        phone: None,
        locale: None,
        status: UserStatus::Active,
        password: None,
        history: Vec::new(),
        password_changed_at_ms: None,
        must_change: false,
        breached: false,
        created_at_ms: 1,
        version,
    }
}

fn plan(change: &AccountChange, links: &Links) -> PortResult<Plan> {
    let sealer = sealer();
    let planner = Planner {
        table: "t",
        outbox_sealer: &sealer,
    };
    planner.plan(change, NOW, links)
}

fn roles(plan: &Plan) -> Vec<Role> {
    plan.iter().map(|(_, r)| r.clone()).collect()
}

fn key_of(item: &TransactWriteItem) -> (String, String) {
    let key = |m: &std::collections::HashMap<String, AttributeValue>| {
        let get = |k: &str| m.get(k).and_then(|v| v.as_s().ok()).cloned().unwrap();
        (get(PK), get(SK))
    };
    if let Some(p) = item.put() {
        key(p.item())
    } else if let Some(d) = item.delete() {
        key(d.key())
    } else {
        key(item.condition_check().unwrap().key())
    }
}

fn marker(sk: String, sha: &str) -> LinkMarker {
    LinkMarker {
        sk,
        sha: sha.into(),
    }
}

#[test]
fn an_empty_change_is_one_condition_check_on_an_item_never_written() {
    let p = plan(&AccountChange::default(), &Links::default()).unwrap();
    assert_eq!(roles(&p), [Role::Other]);
    let check = p[0].0.condition_check().expect("a condition check");
    assert_eq!(check.condition_expression(), "attribute_not_exists(PK)");
    assert_eq!(key_of(&p[0].0), ("ACCOUNTS#NOOP".into(), "NOOP".into()));
}

#[test]
fn a_new_user_is_written_only_with_a_free_email_claim() {
    let change = AccountChange {
        user: Some((user(0), None)),
        ..Default::default()
    };
    let p = plan(&change, &Links::default()).unwrap();
    assert_eq!(roles(&p), [Role::User(None), Role::EmailClaim]);
    let put = p[0].0.put().unwrap();
    assert_eq!(put.condition_expression(), Some("attribute_not_exists(PK)"));
    assert_eq!(key_of(&p[1].0), ("EMAIL#new@x.org".into(), "EMAIL".into()));
    let claim = p[1].0.put().unwrap();
    assert_eq!(
        claim.condition_expression(),
        Some("attribute_not_exists(PK) OR bizId = :biz")
    );
    assert_eq!(
        put_attr(&p[1].0, "bizId"),
        Some(&AttributeValue::S("b1".into()))
    );
}

#[test]
fn an_update_is_conditioned_on_version_and_stored_email() {
    let change = AccountChange {
        user: Some((user(4), Some(3))),
        ..Default::default()
    };
    let p = plan(&change, &Links::default()).unwrap();
    assert_eq!(roles(&p), [Role::User(Some(3))]);
    let put = p[0].0.put().unwrap();
    assert_eq!(
        put.condition_expression(),
        Some("#v = :expected AND email = :email")
    );
    let values = put.expression_attribute_values().unwrap();
    assert_eq!(values[":expected"], AttributeValue::N("3".into()));
    assert_eq!(values[":email"], AttributeValue::S("new@x.org".into()));

    // Never an email claim: an update keeps the address it read (see
    // `Planner::plan`), and the updating functions' roles cannot write one.
    assert!(!p
        .iter()
        .any(|(item, _)| key_of(item).0.starts_with("EMAIL#")));
}

#[test]
fn single_use_items_are_consumed_first_and_only_while_unexpired() {
    let request = ForgotRequest {
        id: "f1".into(),
        email: "a@x.org".into(),
        lang: "en".into(),
        requested_at_ms: 5,
    };
    let change = AccountChange {
        user: Some((user(1), Some(0))),
        consume_init: Some("sid".into()),
        consume_reset: Some("ab".into()),
        consume_forgot: Some(request),
        ..Default::default()
    };
    let p = plan(&change, &Links::default()).unwrap();
    assert_eq!(
        roles(&p),
        [
            Role::ConsumeInit,
            Role::ConsumeReset,
            Role::ConsumeForgot,
            Role::User(Some(0))
        ]
    );
    for consumed in &p[..2] {
        let del = consumed.0.delete().unwrap();
        assert_eq!(
            del.condition_expression(),
            Some("attribute_exists(PK) AND #exp > :now")
        );
        let values = del.expression_attribute_values().unwrap();
        assert_eq!(values[":now"], AttributeValue::N(NOW.to_string()));
    }
    assert_eq!(key_of(&p[0].0), (init_pk("sid"), "INIT".into()));
    assert_eq!(key_of(&p[1].0), ("RESET#ab".into(), "RESET".into()));
    assert_eq!(
        key_of(&p[2].0),
        ("FORGOT#PENDING".into(), pending_sk(5, "f1"))
    );
    assert_eq!(
        p[2].0.delete().unwrap().condition_expression(),
        Some("attribute_exists(PK)")
    );
}

#[test]
fn revoking_links_deletes_each_link_and_marker_but_not_the_consumed_one_twice() {
    let links = Links {
        revoked: vec![
            marker(reset_marker_sk(9, "ab"), "ab"),
            marker(reset_marker_sk(10, "cd"), "cd"),
            marker(init_marker_sk("ef"), "ef"),
        ],
        live_resets: Vec::new(),
    };
    let change = AccountChange {
        consume_reset: Some("ab".into()),
        revoke_links_of: Some("b1".into()),
        ..Default::default()
    };
    let p = plan(&change, &links).unwrap();
    let keys: Vec<_> = p.iter().map(|(i, _)| key_of(i)).collect();
    assert_eq!(
        keys,
        [
            ("RESET#ab".into(), "RESET".into()),
            ("LINKS#b1".into(), reset_marker_sk(9, "ab")),
            ("RESET#cd".into(), "RESET".into()),
            ("LINKS#b1".into(), reset_marker_sk(10, "cd")),
            ("INIT#ef".into(), "INIT".into()),
            ("LINKS#b1".into(), init_marker_sk("ef")),
        ]
    );
    assert_eq!(p[0].1, Role::ConsumeReset);
    assert!(p[1..]
        .iter()
        .all(|(i, r)| *r == Role::Other && i.delete().is_some()));
}

#[test]
fn a_new_reset_token_drops_the_oldest_beyond_the_live_limit() {
    let live: Vec<_> = (0..MAX_LIVE_RESET_TOKENS as u64)
        .map(|i| marker(reset_marker_sk(100 + i, &format!("t{i}")), &format!("t{i}")))
        .collect();
    let reset = ResetToken {
        token_sha256: "new".into(),
        biz_id: "b1".into(),
        expires_at_ms: 2_000_500,
    };
    let change = AccountChange {
        new_reset: Some(reset),
        ..Default::default()
    };
    let links = Links {
        revoked: Vec::new(),
        live_resets: live,
    };
    let p = plan(&change, &links).unwrap();
    let keys: Vec<_> = p.iter().map(|(i, _)| key_of(i)).collect();
    assert_eq!(
        keys,
        [
            ("RESET#t0".into(), "RESET".into()),
            ("LINKS#b1".into(), reset_marker_sk(100, "t0")),
            ("RESET#new".into(), "RESET".into()),
            ("LINKS#b1".into(), reset_marker_sk(2_000_500, "new")),
        ]
    );
    assert!(p[0].0.delete().is_some() && p[1].0.delete().is_some());
    let token = p[2].0.put().unwrap();
    assert_eq!(
        token.condition_expression(),
        Some("attribute_not_exists(PK)")
    );
    assert_eq!(
        put_attr(&p[2].0, "expiresAt"),
        Some(&AttributeValue::N("2001".into()))
    );
    assert_eq!(
        put_attr(&p[3].0, "tokenSha256"),
        Some(&AttributeValue::S("new".into()))
    );
    // Under the limit nothing is dropped.
    let few = Links {
        revoked: Vec::new(),
        live_resets: links.live_resets[..MAX_LIVE_RESET_TOKENS - 1].to_vec(),
    };
    assert_eq!(plan(&change, &few).unwrap().len(), 2);
}

#[test]
fn a_new_init_session_is_stored_by_the_hash_of_its_sid_with_a_marker() {
    let change = AccountChange {
        new_init: Some(InitSession {
            sid: "secret-sid".into(),
            biz_id: "b1".into(),
            expires_at_ms: 5_000,
        }),
        ..Default::default()
    };
    let p = plan(&change, &Links::default()).unwrap();
    let sha = sha256_hex("secret-sid");
    assert_eq!(key_of(&p[0].0), (format!("INIT#{sha}"), "INIT".into()));
    assert_eq!(key_of(&p[1].0), ("LINKS#b1".into(), init_marker_sk(&sha)));
    assert_eq!(
        put_attr(&p[0].0, "type"),
        Some(&AttributeValue::S("InitSession".into()))
    );
    for (item, _) in &p {
        let put = item.put().unwrap();
        assert!(!format!("{:?}", put.item()).contains("secret-sid"));
    }
}

#[test]
fn an_outbox_message_is_sealed_with_a_pending_marker() {
    let message = OutboxMessage {
        id: "m1".into(),
        kind: MailKind::Reset,
        to: "a@x.org".into(),
        subject: "s".into(),
        text: "link https://x/reset#tok-secret".into(),
        html: "h".into(),
        link: "https://x/reset#tok-secret".into(),
        created_at_ms: 1_000,
    };
    let change = AccountChange {
        outbox: vec![message],
        ..Default::default()
    };
    let p = plan(&change, &Links::default()).unwrap();
    assert_eq!(key_of(&p[0].0), ("OUTBOX#m1".into(), "OUTBOX".into()));
    assert_eq!(
        key_of(&p[1].0),
        (OUTBOX_PENDING_PK.into(), pending_sk(1_000, "m1"))
    );
    assert_eq!(
        put_attr(&p[0].0, "kind"),
        Some(&AttributeValue::S("reset".into()))
    );
    assert_eq!(
        put_attr(&p[0].0, "sealKid"),
        Some(&AttributeValue::S("o1".into()))
    );
    assert!(matches!(
        put_attr(&p[0].0, "sealedBody"),
        Some(AttributeValue::B(_))
    ));
    assert!(!format!("{:?}", p[0].0).contains("tok-secret"));
}

#[test]
fn a_change_past_the_transaction_limit_is_refused_before_sending() {
    let links = Links {
        revoked: (0..50)
            .map(|i| marker(reset_marker_sk(i, &format!("t{i}")), &format!("t{i}")))
            .collect(),
        live_resets: Vec::new(),
    };
    let change = AccountChange {
        revoke_links_of: Some("b1".into()),
        ..Default::default()
    };
    assert_eq!(plan(&change, &links).unwrap().len(), 100);
    let change = AccountChange {
        user: Some((user(1), Some(0))),
        ..change
    };
    assert!(plan(&change, &links).is_err());
}

// ------------------------------------------------ cancellation reasons

fn none() -> CancellationReason {
    reason("None", None)
}

fn failed() -> CancellationReason {
    reason("ConditionalCheckFailed", None)
}

fn tagged(roles: &[Role]) -> Plan {
    let sealer = sealer();
    let planner = Planner {
        table: "t",
        outbox_sealer: &sealer,
    };
    roles
        .iter()
        .map(|r| (planner.delete("p".into(), "s", None).unwrap(), r.clone()))
        .collect()
}

#[test]
fn a_conflict_anywhere_is_retried() {
    let items = tagged(&[Role::ConsumeInit, Role::Other]);
    let reasons = [failed(), reason("TransactionConflict", None)];
    assert_eq!(read_reasons(&items, &reasons).unwrap(), Outcome::Retry);
}

#[test]
fn a_failed_single_use_item_names_its_rejection_in_order() {
    let items = tagged(&[
        Role::ConsumeInit,
        Role::ConsumeReset,
        Role::ConsumeForgot,
        Role::User(Some(1)),
    ]);
    let cases = [
        (
            [failed(), failed(), failed(), failed()],
            ChangeRejected::InitInvalid,
        ),
        (
            [none(), failed(), failed(), failed()],
            ChangeRejected::ResetInvalid,
        ),
        (
            [none(), none(), failed(), failed()],
            ChangeRejected::ForgotHandled,
        ),
    ];
    for (reasons, want) in cases {
        assert_eq!(
            read_reasons(&items, &reasons).unwrap(),
            Outcome::Rejected(want)
        );
    }
}

#[test]
fn a_failed_user_put_is_a_taken_email_or_a_version_conflict() {
    let new_user = tagged(&[Role::User(None), Role::EmailClaim]);
    assert_eq!(
        read_reasons(&new_user, &[failed(), none()]).unwrap(),
        Outcome::Rejected(ChangeRejected::EmailTaken)
    );
    // An update failed on its version or its address (another version's,
    // as no version changes it), or on a user deleted meanwhile.
    let update = tagged(&[Role::User(Some(3))]);
    assert_eq!(
        read_reasons(&update, &[failed()]).unwrap(),
        Outcome::Rejected(ChangeRejected::VersionConflict)
    );
}

#[test]
fn a_failed_claim_is_a_taken_email_and_anything_else_is_unavailable() {
    let items = tagged(&[Role::User(None), Role::EmailClaim, Role::Other]);
    assert_eq!(
        read_reasons(&items, &[none(), failed(), none()]).unwrap(),
        Outcome::Rejected(ChangeRejected::EmailTaken)
    );
    assert!(read_reasons(&items, &[none(), none(), failed()]).is_err());
    assert!(read_reasons(&items, &[none(), none(), reason("ValidationError", None)]).is_err());
}

// ------------------------------------------------ foreign-hash counter

#[test]
fn a_foreign_hash_delta_adds_to_the_counter_in_the_same_transaction() {
    let change = AccountChange {
        user: Some((user(1), Some(0))),
        foreign_hash_delta: -1,
        ..Default::default()
    };
    let p = plan(&change, &Links::default()).unwrap();
    assert_eq!(roles(&p), [Role::User(Some(0)), Role::Other]);
    let update = p[1].0.update().expect("an update action");
    assert_eq!(
        update.key().get(PK),
        Some(&AttributeValue::S("STATS#foreign-hash".into()))
    );
    assert_eq!(
        update.key().get(SK),
        Some(&AttributeValue::S("COUNT".into()))
    );
    assert_eq!(update.update_expression(), "ADD #users :delta");
    assert_eq!(
        update
            .expression_attribute_values()
            .and_then(|v| v.get(":delta")),
        Some(&AttributeValue::N("-1".into()))
    );
    // No delta, no counter action.
    let unchanged = AccountChange {
        user: Some((user(1), Some(0))),
        ..Default::default()
    };
    assert_eq!(
        roles(&plan(&unchanged, &Links::default()).unwrap()),
        [Role::User(Some(0))]
    );
}
