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
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    must_change: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    breached: bool,
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
            must_change: u.must_change,
            breached: u.breached,
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
            must_change: i.must_change,
            breached: i.breached,
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

/// Keys and type tag of an item (flattened into it: three strings).
#[derive(Serialize, Deserialize)]
pub(crate) struct Head {
    #[serde(rename = "PK")]
    pk: String,
    #[serde(rename = "SK")]
    pub(super) sk: String,
    #[serde(rename = "type")]
    item_type: String,
}

impl Head {
    fn new(pk: String, sk: String, item_type: &str) -> Self {
        Head {
            pk,
            sk,
            item_type: item_type.into(),
        }
    }
}

/// An item that names a user: the email claim (`EMAIL#` / `EMAIL`), which
/// never expires, and the single-use init session and reset token, which do.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct OfUserItem {
    #[serde(flatten)]
    head: Head,
    pub(super) biz_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) expires_at_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expires_at: Option<u64>,
}

impl OfUserItem {
    pub(super) fn claim(pk: String, sk: &str, biz_id: &str) -> Self {
        OfUserItem {
            head: Head::new(pk, sk.into(), "EmailClaim"),
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
            head: Head::new(pk, sk.into(), item_type),
            biz_id: biz_id.into(),
            expires_at_ms: Some(ms),
            expires_at: Some(secs),
        }
    }
}

/// A marker: an entry of a user's links partition (`LINKS#<bizId>`, with
/// the `tokenSha256` of the link) or a pending-delivery marker
/// (`OUTBOX#PENDING` / `<createdAtMs>#<id>`, with the message `id`).
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct MarkerItem {
    #[serde(flatten)]
    pub(super) head: Head,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) token_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) id: Option<String>,
    pub(super) expires_at_ms: u64,
    expires_at: u64,
}

impl MarkerItem {
    /// The marker of a user's link (its `tokenSha256`).
    pub(super) fn link(pk: String, sk: String, item_type: &str, sha: &str, expires: u64) -> Self {
        Self::new(pk, sk, item_type, Some(sha), None, expires)
    }

    /// The pending-delivery marker of message `id`.
    pub(super) fn pending(pk: String, sk: String, id: &str, expires: u64) -> Self {
        Self::new(pk, sk, "OutboxPending", None, Some(id), expires)
    }

    fn new(
        pk: String,
        sk: String,
        item_type: &str,
        sha: Option<&str>,
        id: Option<&str>,
        expires: u64,
    ) -> Self {
        let (expires_at_ms, expires_at) = expiry(expires);
        MarkerItem {
            head: Head::new(pk, sk, item_type),
            token_sha256: sha.map(str::to_owned),
            id: id.map(str::to_owned),
            expires_at_ms,
            expires_at,
        }
    }
}

/// A sealed message (`OUTBOX#<id>` / `OUTBOX`) or forgot request.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SealedItem {
    #[serde(flatten)]
    head: Head,
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
            head: Head::new(pk, sk, item_type),
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

#[cfg(test)]
#[path = "item_tests.rs"]
mod tests;
