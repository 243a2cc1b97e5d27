//! Item <-> domain mapping of the account items, through serde
//! (`serde_dynamo`): one private struct per item type, whose field names and
//! types are the stored layout of `docs/data-model.md`. `AttributeValue`s
//! never leave the adapter.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use password::PasswordHash;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use shared::ports::accounts::{MailKind, User, UserStatus};
use shared::ports::PortResult;

use crate::error::corrupt;
use crate::table::ttl_secs;

use super::keys::{user_pk, PROFILE_SK};

/// One stored item, as the SDK carries it.
pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn to_item<T: Serialize>(value: &T) -> PortResult<Item> {
    serde_dynamo::aws_sdk_dynamodb_1::to_item(value).map_err(|_| corrupt("serializing an item"))
}

pub(crate) fn from_item<T: DeserializeOwned>(item: Item) -> PortResult<T> {
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
        .map_err(|_| corrupt("item attribute missing or of a bad shape"))
}

/// `expiresAtMs` (what the code checks) and `expiresAt` (DynamoDB's TTL, in
/// seconds, rounded up) of an item that expires at `expires_at_ms`.
fn expiry(expires_at_ms: u64) -> (u64, u64) {
    (expires_at_ms, ttl_secs(expires_at_ms))
}

/// `USER#<bizId>` / `PROFILE`.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct UserItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    item_type: String,
    biz_id: String,
    email: String,
    name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    locale: Option<String>,
    status: UserStatus,
    /// `{phc, pepperId}`, through the hash's own serde form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password: Option<PasswordHash>,
    #[serde(default)]
    history: Vec<PasswordHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_changed_at_ms: Option<u64>,
    created_at_ms: u64,
    version: u64,
}

impl From<&User> for UserItem {
    fn from(u: &User) -> Self {
        UserItem {
            pk: user_pk(&u.biz_id),
            sk: PROFILE_SK.into(),
            item_type: "User".into(),
            biz_id: u.biz_id.clone(),
            email: u.email.clone(),
            name: u.name.clone(),
            phone: u.phone.clone(),
            locale: u.locale.clone(),
            status: u.status,
            password: u.password.clone(),
            history: u.history.clone(),
            password_changed_at_ms: u.password_changed_at_ms,
            created_at_ms: u.created_at_ms,
            version: u.version,
        }
    }
}

impl From<UserItem> for User {
    fn from(i: UserItem) -> Self {
        User {
            biz_id: i.biz_id,
            email: i.email,
            name: i.name,
            phone: i.phone,
            locale: i.locale,
            status: i.status,
            password: i.password,
            history: i.history,
            password_changed_at_ms: i.password_changed_at_ms,
            created_at_ms: i.created_at_ms,
            version: i.version,
        }
    }
}

pub(super) fn user_item(u: &User) -> PortResult<Item> {
    to_item(&UserItem::from(u))
}

pub(super) fn user_from_item(item: Item) -> PortResult<User> {
    from_item::<UserItem>(item).map(User::from)
}

/// An item that names a user: the email claim (`EMAIL#` / `EMAIL`), which
/// never expires, and the single-use init session and reset token, which do.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OfUserItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    item_type: String,
    pub(super) biz_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) expires_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

impl OfUserItem {
    pub(super) fn claim(pk: String, sk: &str, biz_id: &str) -> Self {
        OfUserItem {
            pk,
            sk: sk.into(),
            item_type: "EmailClaim".into(),
            biz_id: biz_id.into(),
            expires_at_ms: None,
            expires_at: None,
        }
    }

    pub(super) fn single_use(
        pk: String,
        sk: &str,
        item_type: &str,
        biz_id: &str,
        expires_at_ms: u64,
    ) -> Self {
        let (ms, secs) = expiry(expires_at_ms);
        OfUserItem {
            pk,
            sk: sk.into(),
            item_type: item_type.into(),
            biz_id: biz_id.into(),
            expires_at_ms: Some(ms),
            expires_at: Some(secs),
        }
    }
}

/// An entry of a user's links partition (`LINKS#<bizId>`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct LinkMarkerItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    pub(super) sk: String,
    #[serde(rename = "type")]
    item_type: String,
    pub(super) token_sha256: String,
    pub(super) expires_at_ms: u64,
    expires_at: u64,
}

impl LinkMarkerItem {
    pub(super) fn new(pk: String, sk: String, item_type: &str, sha: &str, expires: u64) -> Self {
        let (expires_at_ms, expires_at) = expiry(expires);
        LinkMarkerItem {
            pk,
            sk,
            item_type: item_type.into(),
            token_sha256: sha.into(),
            expires_at_ms,
            expires_at,
        }
    }
}

/// A sealed message (`OUTBOX#<id>` / `OUTBOX`) or forgot request.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SealedItem {
    #[serde(rename = "PK")]
    pub(crate) pk: String,
    #[serde(rename = "SK")]
    pub(crate) sk: String,
    #[serde(rename = "type")]
    pub(crate) item_type: String,
    pub(crate) id: String,
    /// Outbox messages only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kind: Option<MailKind>,
    #[serde(with = "serde_bytes")]
    pub(crate) sealed_body: Vec<u8>,
    pub(crate) seal_kid: String,
    /// Outbox messages: when written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) created_at_ms: Option<u64>,
    /// Forgot requests: when asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) requested_at_ms: Option<u64>,
    /// Outbox messages: set by the delivery claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delivered_at_ms: Option<u64>,
    pub(crate) expires_at_ms: u64,
    expires_at: u64,
}

impl SealedItem {
    pub(crate) fn new(pk: String, sk: String, item_type: &str, id: &str, expires: u64) -> Self {
        let (expires_at_ms, expires_at) = expiry(expires);
        SealedItem {
            pk,
            sk,
            item_type: item_type.into(),
            id: id.into(),
            kind: None,
            sealed_body: Vec::new(),
            seal_kid: String::new(),
            created_at_ms: None,
            requested_at_ms: None,
            delivered_at_ms: None,
            expires_at_ms,
            expires_at,
        }
    }
}

/// A pending-delivery marker (`OUTBOX#PENDING` / `<createdAtMs>#<id>`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct PendingItem {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    sk: String,
    #[serde(rename = "type")]
    item_type: String,
    pub(super) id: String,
    expires_at_ms: u64,
    expires_at: u64,
}

impl PendingItem {
    pub(super) fn new(pk: String, sk: String, id: &str, expires: u64) -> Self {
        let (expires_at_ms, expires_at) = expiry(expires);
        PendingItem {
            pk,
            sk,
            item_type: "OutboxPending".into(),
            id: id.into(),
            expires_at_ms,
            expires_at,
        }
    }
}

#[cfg(test)]
mod tests {
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
    fn map(pairs: &[(&str, AttributeValue)]) -> Item {
        pairs
            .iter()
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
            password: Some(hash.clone()),
            history: vec![PasswordHash::parse(PHC, None).unwrap()],
            password_changed_at_ms: Some(5),
            created_at_ms: 3,
            version: 7,
        }
    }

    fn hash_attr(pepper: AttributeValue) -> AttributeValue {
        AttributeValue::M(map(&[("phc", s(PHC)), ("pepperId", pepper)]))
    }

    #[test]
    fn user_item_keeps_the_stored_layout() {
        let stored = map(&[
            ("PK", s("USER#b1")),
            ("SK", s("PROFILE")),
            ("type", s("User")),
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
        ]);
        assert_eq!(user_item(&user()).unwrap(), stored);
        let back = user_from_item(stored).unwrap();
        assert_eq!(user_item(&back).unwrap(), user_item(&user()).unwrap());
    }

    #[test]
    fn a_user_without_optional_attributes_reads_back() {
        // Written before any password: no `password`, `history` or
        // `passwordChangedAtMs`; `phone` stored as NULL.
        let stored = map(&[
            ("PK", s("USER#b2")),
            ("SK", s("PROFILE")),
            ("type", s("User")),
            ("bizId", s("b2")),
            ("email", s("b@x.org")),
            ("name", s("Bo")),
            ("phone", AttributeValue::Null(true)),
            ("status", s("PendingPassword")),
            ("createdAtMs", n(1)),
            ("version", n(0)),
        ]);
        let u = user_from_item(stored).unwrap();
        assert_eq!(u.status, UserStatus::PendingPassword);
        assert!(u.phone.is_none() && u.password.is_none() && u.history.is_empty());
        assert_eq!(u.password_changed_at_ms, None);
        assert!(user_from_item(map(&[("bizId", s("b"))])).is_err());
        let mut bad = user_item(&u).unwrap();
        bad.insert("version".into(), s("seven"));
        assert!(user_from_item(bad).is_err());
    }

    #[test]
    fn link_items_keep_the_stored_layout() {
        let claim = OfUserItem::claim("EMAIL#a@x.org".into(), "EMAIL", "b1");
        assert_eq!(
            to_item(&claim).unwrap(),
            map(&[
                ("PK", s("EMAIL#a@x.org")),
                ("SK", s("EMAIL")),
                ("type", s("EmailClaim")),
                ("bizId", s("b1")),
            ])
        );
        let token = OfUserItem::single_use("RESET#ab".into(), "RESET", "ResetToken", "b1", 1_001);
        let stored = map(&[
            ("PK", s("RESET#ab")),
            ("SK", s("RESET")),
            ("type", s("ResetToken")),
            ("bizId", s("b1")),
            ("expiresAtMs", n(1_001)),
            ("expiresAt", n(2)),
        ]);
        assert_eq!(to_item(&token).unwrap(), stored);
        let back: OfUserItem = from_item(stored).unwrap();
        assert_eq!(
            (back.biz_id.as_str(), back.expires_at_ms),
            ("b1", Some(1_001))
        );
        let marker = LinkMarkerItem::new(
            "LINKS#b1".into(),
            "RESET#0000000001001#ab".into(),
            "ResetTokenOfUser",
            "ab",
            1_001,
        );
        assert_eq!(
            to_item(&marker).unwrap(),
            map(&[
                ("PK", s("LINKS#b1")),
                ("SK", s("RESET#0000000001001#ab")),
                ("type", s("ResetTokenOfUser")),
                ("tokenSha256", s("ab")),
                ("expiresAtMs", n(1_001)),
                ("expiresAt", n(2)),
            ])
        );
    }

    #[test]
    fn outbox_items_keep_the_stored_layout() {
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
        let stored = map(&[
            ("PK", s("OUTBOX#m1")),
            ("SK", s("OUTBOX")),
            ("type", s("OutboxMessage")),
            ("id", s("m1")),
            ("kind", s("reset")),
            ("sealedBody", AttributeValue::B(vec![1, 2, 3].into())),
            ("sealKid", s("o1")),
            ("createdAtMs", n(1_000)),
            ("expiresAtMs", n(2_000)),
            ("expiresAt", n(2)),
        ]);
        assert_eq!(to_item(&message).unwrap(), stored);
        let mut delivered = stored.clone();
        delivered.insert("deliveredAtMs".into(), n(1_500));
        let back: SealedItem = from_item(delivered).unwrap();
        assert_eq!(back.kind, Some(MailKind::Reset));
        assert_eq!(back.sealed_body, vec![1, 2, 3]);
        assert_eq!(back.delivered_at_ms, Some(1_500));
        let mut unknown_kind = stored;
        unknown_kind.insert("kind".into(), s("spam"));
        assert!(from_item::<SealedItem>(unknown_kind).is_err());

        let pending = PendingItem::new(
            "OUTBOX#PENDING".into(),
            "0000000001000#m1".into(),
            "m1",
            2_000,
        );
        assert_eq!(
            to_item(&pending).unwrap(),
            map(&[
                ("PK", s("OUTBOX#PENDING")),
                ("SK", s("0000000001000#m1")),
                ("type", s("OutboxPending")),
                ("id", s("m1")),
                ("expiresAtMs", n(2_000)),
                ("expiresAt", n(2)),
            ])
        );
    }

    #[test]
    fn forgot_item_keeps_the_stored_layout() {
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
        assert_eq!(
            to_item(&request).unwrap(),
            map(&[
                ("PK", s("FORGOT#PENDING")),
                ("SK", s("0000000001000#f1")),
                ("type", s("ForgotRequest")),
                ("id", s("f1")),
                ("requestedAtMs", n(1_000)),
                ("sealedBody", AttributeValue::B(vec![9].into())),
                ("sealKid", s("o1")),
                ("expiresAtMs", n(9_000)),
                ("expiresAt", n(9)),
            ])
        );
    }
}
