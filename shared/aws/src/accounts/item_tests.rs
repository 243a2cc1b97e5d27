//! The stored layout must not move: each item type is compared, attribute
//! by attribute, with a map written out by hand in the layout existing
//! tables hold, and read back from it.

use super::*;
use password::PepperId;

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}
fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}
/// An item as stored: its keys, type tag, then `rest`.
fn stored(pk: &str, sk: &str, item_type: &str, rest: &[(&str, AttributeValue)]) -> Item {
    [("PK", s(pk)), ("SK", s(sk)), ("type", s(item_type))]
        .iter()
        .chain(rest)
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

const PHC: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

fn user() -> User {
    let hash = PasswordHash::parse(PHC, Some(PepperId::new("p1"))).unwrap();
    User {
        biz_id: "b1".into(),
        email: "a@x.org".into(),
        name: "Ann".into(),
        phone: Some("+100".into()),
        locale: None,
        status: UserStatus::Active,
        password: Some(hash),
        history: vec![PasswordHash::parse(PHC, None).unwrap()],
        password_changed_at_ms: Some(5),
        must_change: false,
        breached: false,
        created_at_ms: 3,
        version: 7,
    }
}

fn hash_attr(pepper: AttributeValue) -> AttributeValue {
    AttributeValue::M(
        [("phc", s(PHC)), ("pepperId", pepper)]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect(),
    )
}

#[test]
fn user_item_keeps_the_stored_layout() {
    let layout = stored(
        "USER#b1",
        "PROFILE",
        "User",
        &[
            ("bizId", s("b1")),
            ("email", s("a@x.org")),
            ("name", s("Ann")),
            ("phone", s("+100")),
            ("status", s("Active")),
            ("password", hash_attr(s("p1"))),
            (
                "history",
                AttributeValue::L(vec![hash_attr(AttributeValue::Null(true))]),
            ),
            ("passwordChangedAtMs", n(5)),
            ("createdAtMs", n(3)),
            ("version", n(7)),
        ],
    );
    assert_eq!(user_item(&user()).unwrap(), layout);
    let back = user_from_item(layout).unwrap();
    assert_eq!(user_item(&back).unwrap(), user_item(&user()).unwrap());
}

#[test]
fn a_user_without_optional_attributes_reads_back() {
    // Written before any password: no `password`, `history` or
    // `passwordChangedAtMs`; `phone` stored as NULL.
    let layout = stored(
        "USER#b2",
        "PROFILE",
        "User",
        &[
            ("bizId", s("b2")),
            ("email", s("b@x.org")),
            ("name", s("Bo")),
            ("phone", AttributeValue::Null(true)),
            ("status", s("PendingPassword")),
            ("createdAtMs", n(1)),
            ("version", n(0)),
        ],
    );
    let u = user_from_item(layout).unwrap();
    assert_eq!(u.status, UserStatus::PendingPassword);
    assert!(u.phone.is_none() && u.password.is_none() && u.history.is_empty());
    assert_eq!(u.password_changed_at_ms, None);
    assert!(user_from_item(stored("USER#b", "PROFILE", "User", &[])).is_err());
    let mut bad = user_item(&u).unwrap();
    bad.insert("version".into(), s("seven"));
    assert!(user_from_item(bad).is_err());
}

#[test]
fn link_items_keep_the_stored_layout() {
    let expiry = [("expiresAtMs", n(1_001)), ("expiresAt", n(2))];
    let cases = [
        (
            to_item(&OfUserItem::claim("EMAIL#a@x.org".into(), "EMAIL", "b1")),
            stored(
                "EMAIL#a@x.org",
                "EMAIL",
                "EmailClaim",
                &[("bizId", s("b1"))],
            ),
        ),
        (
            to_item(&OfUserItem::single_use(
                "RESET#ab".into(),
                "RESET",
                "ResetToken",
                "b1",
                1_001,
            )),
            stored(
                "RESET#ab",
                "RESET",
                "ResetToken",
                &[[("bizId", s("b1"))].as_slice(), &expiry].concat(),
            ),
        ),
        (
            to_item(&MarkerItem::link(
                "LINKS#b1".into(),
                "RESET#0000000001001#ab".into(),
                "ResetTokenOfUser",
                "ab",
                1_001,
            )),
            stored(
                "LINKS#b1",
                "RESET#0000000001001#ab",
                "ResetTokenOfUser",
                &[[("tokenSha256", s("ab"))].as_slice(), &expiry].concat(),
            ),
        ),
    ];
    for (written, layout) in cases {
        assert_eq!(written.unwrap(), layout);
    }
    let token: OfUserItem = from_item(stored(
        "RESET#ab",
        "RESET",
        "ResetToken",
        &[[("bizId", s("b1"))].as_slice(), &expiry].concat(),
    ))
    .unwrap();
    assert_eq!(
        (token.biz_id.as_str(), token.expires_at_ms),
        ("b1", Some(1_001))
    );
}

#[test]
fn sealed_items_keep_the_stored_layout() {
    let mut message = SealedItem::new(
        "OUTBOX#m1".into(),
        "OUTBOX".into(),
        "OutboxMessage",
        "m1",
        2_000,
    );
    message.kind = Some(MailKind::Reset);
    message.sealed_body = vec![1, 2, 3];
    message.seal_kid = "o1".into();
    message.created_at_ms = Some(1_000);
    let message_layout = stored(
        "OUTBOX#m1",
        "OUTBOX",
        "OutboxMessage",
        &[
            ("id", s("m1")),
            ("kind", s("reset")),
            ("sealedBody", AttributeValue::B(vec![1, 2, 3].into())),
            ("sealKid", s("o1")),
            ("createdAtMs", n(1_000)),
            ("expiresAtMs", n(2_000)),
            ("expiresAt", n(2)),
        ],
    );
    assert_eq!(to_item(&message).unwrap(), message_layout);
    let mut delivered = message_layout.clone();
    delivered.insert("deliveredAtMs".into(), n(1_500));
    let back: SealedItem = from_item(delivered).unwrap();
    assert_eq!(back.kind, Some(MailKind::Reset));
    assert_eq!(back.sealed_body, vec![1, 2, 3]);
    assert_eq!(back.delivered_at_ms, Some(1_500));
    let mut unknown_kind = message_layout;
    unknown_kind.insert("kind".into(), s("spam"));
    assert!(from_item::<SealedItem>(unknown_kind).is_err());

    let pending = MarkerItem::pending(
        "OUTBOX#PENDING".into(),
        "0000000001000#m1".into(),
        "m1",
        2_000,
    );
    assert_eq!(
        to_item(&pending).unwrap(),
        stored(
            "OUTBOX#PENDING",
            "0000000001000#m1",
            "OutboxPending",
            &[
                ("id", s("m1")),
                ("expiresAtMs", n(2_000)),
                ("expiresAt", n(2))
            ],
        )
    );

    let mut request = SealedItem::new(
        "FORGOT#PENDING".into(),
        "0000000001000#f1".into(),
        "ForgotRequest",
        "f1",
        9_000,
    );
    request.sealed_body = vec![9];
    request.seal_kid = "o1".into();
    request.requested_at_ms = Some(1_000);
    let forgot_layout = [
        ("id", s("f1")),
        ("requestedAtMs", n(1_000)),
        ("sealedBody", AttributeValue::B(vec![9].into())),
        ("sealKid", s("o1")),
        ("expiresAtMs", n(9_000)),
        ("expiresAt", n(9)),
    ];
    assert_eq!(
        to_item(&request).unwrap(),
        stored(
            "FORGOT#PENDING",
            "0000000001000#f1",
            "ForgotRequest",
            &forgot_layout
        )
    );
}
