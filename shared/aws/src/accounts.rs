//! `AccountStore` over DynamoDB (see `docs/data-model.md`): every
//! [`AccountChange`] is one `TransactWriteItems`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put, ReturnValue,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};
use shared::ports::accounts::{
    AccountChange, AccountStore, ChangeRejected, ForgotRequest, InitSession, MailKind,
    OutboxMessage, ResetToken, User, UserStatus, MAX_LIVE_RESET_TOKENS,
};
use shared::ports::{PortResult, Unavailable};
use zeroize::Zeroizing;

use crate::dynamo::{hex, SessionSealer};
use crate::error::{corrupt, unavailable};
use crate::table::{get_b, get_n, get_s, n, s, ttl_secs, EXPIRES_MS, PK, SK, TTL_ATTR, TYPE};

/// Outbox messages (and their pending markers) live this long.
pub const OUTBOX_TTL_MS: u64 = 7 * 24 * 3600 * 1000;
/// Partition of the pending-delivery markers.
pub const OUTBOX_PENDING_PK: &str = "OUTBOX#PENDING";
/// DynamoDB's limit of actions in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;
/// Attempts of one change when DynamoDB reports a transaction conflict.
const CONFLICT_ATTEMPTS: usize = 4;

fn user_pk(biz_id: &str) -> String {
    format!("USER#{biz_id}")
}
const PROFILE_SK: &str = "PROFILE";

fn email_pk(email: &str) -> String {
    format!("EMAIL#{email}")
}

/// SHA-256 (hex) of a single-use secret: the table never holds the secret.
pub fn sha256_hex(secret: &str) -> String {
    hex(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes()).as_ref())
}

fn init_pk(sid: &str) -> String {
    format!("INIT#{}", sha256_hex(sid))
}

fn reset_pk(token_sha256: &str) -> String {
    format!("RESET#{token_sha256}")
}

/// Partition of a user's outstanding single-use links (reset tokens, init
/// sessions), kept apart from the profile so that issuing or revoking them
/// never writes a `USER#` item.
fn links_pk(biz_id: &str) -> String {
    format!("LINKS#{biz_id}")
}

/// Reset markers sort by expiry, which is issue order: the oldest come first.
fn reset_marker_sk(expires_at_ms: u64, token_sha256: &str) -> String {
    format!("{RESET_MARKER}{expires_at_ms:013}#{token_sha256}")
}
const RESET_MARKER: &str = "RESET#";

fn init_marker_sk(sid_sha256: &str) -> String {
    format!("{INIT_MARKER}{sid_sha256}")
}
const INIT_MARKER: &str = "INIT#";

/// One entry of a user's links partition.
struct LinkMarker {
    sk: String,
    /// SHA-256 of the reset token or of the init sid.
    sha: String,
}

impl LinkMarker {
    /// The single-use item the marker stands for.
    fn target(&self) -> (String, &'static str) {
        if self.sk.starts_with(INIT_MARKER) {
            (format!("INIT#{}", self.sha), "INIT")
        } else {
            (reset_pk(&self.sha), "RESET")
        }
    }
}

fn outbox_pk(id: &str) -> String {
    format!("OUTBOX#{id}")
}
const OUTBOX_SK: &str = "OUTBOX";

/// Sort key of a pending item (outbox marker, forgot request): oldest first.
pub(crate) fn pending_sk(created_at_ms: u64, id: &str) -> String {
    format!("{created_at_ms:013}#{id}")
}

pub(crate) fn system_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

// ------------------------------------------------------------ conversions

fn json_to_attr(v: &serde_json::Value) -> AttributeValue {
    use serde_json::Value;
    match v {
        Value::Null => AttributeValue::Null(true),
        Value::Bool(b) => AttributeValue::Bool(*b),
        Value::Number(x) => AttributeValue::N(x.to_string()),
        Value::String(x) => AttributeValue::S(x.clone()),
        Value::Array(l) => AttributeValue::L(l.iter().map(json_to_attr).collect()),
        Value::Object(m) => AttributeValue::M(
            m.iter()
                .map(|(k, v)| (k.clone(), json_to_attr(v)))
                .collect(),
        ),
    }
}

fn attr_to_json(v: &AttributeValue) -> PortResult<serde_json::Value> {
    use serde_json::Value;
    Ok(match v {
        AttributeValue::Null(_) => Value::Null,
        AttributeValue::Bool(b) => Value::Bool(*b),
        AttributeValue::N(x) => {
            serde_json::from_str(x).map_err(|_| corrupt("item number attribute"))?
        }
        AttributeValue::S(x) => Value::String(x.clone()),
        AttributeValue::L(l) => Value::Array(l.iter().map(attr_to_json).collect::<Result<_, _>>()?),
        AttributeValue::M(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), attr_to_json(v)?)))
                .collect::<PortResult<_>>()?,
        ),
        _ => return Err(corrupt("item attribute of an unexpected type")),
    })
}

fn to_attr<T: Serialize>(value: &T) -> PortResult<AttributeValue> {
    serde_json::to_value(value)
        .map(|v| json_to_attr(&v))
        .map_err(|_| corrupt("serializing an item attribute"))
}

fn from_attr<T: for<'de> Deserialize<'de>>(v: &AttributeValue) -> PortResult<T> {
    serde_json::from_value(attr_to_json(v)?).map_err(|_| corrupt("item attribute has a bad shape"))
}

type Item = HashMap<String, AttributeValue>;

fn user_item(u: &User) -> PortResult<Item> {
    let mut item: Item = HashMap::new();
    item.insert(PK.into(), s(user_pk(&u.biz_id)));
    item.insert(SK.into(), s(PROFILE_SK));
    item.insert(TYPE.into(), s("User"));
    item.insert("bizId".into(), s(&u.biz_id));
    item.insert("email".into(), s(&u.email));
    item.insert("name".into(), s(&u.name));
    if let Some(p) = &u.phone {
        item.insert("phone".into(), s(p));
    }
    if let Some(l) = &u.locale {
        item.insert("locale".into(), s(l));
    }
    item.insert("status".into(), to_attr(&u.status)?);
    if let Some(p) = &u.password {
        // `{phc, pepperId}`, through the hash's own serde form.
        item.insert("password".into(), to_attr(p)?);
    }
    item.insert("history".into(), to_attr(&u.history)?);
    if let Some(at) = u.password_changed_at_ms {
        item.insert("passwordChangedAtMs".into(), n(at));
    }
    item.insert("createdAtMs".into(), n(u.created_at_ms));
    item.insert("version".into(), n(u.version));
    Ok(item)
}

fn user_from_item(item: &Item) -> PortResult<User> {
    let opt_s = |name: &str| -> PortResult<Option<String>> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            _ => Err(corrupt("user attribute is not a string")),
        }
    };
    Ok(User {
        biz_id: get_s(item, "bizId")?.to_owned(),
        email: get_s(item, "email")?.to_owned(),
        name: get_s(item, "name")?.to_owned(),
        phone: opt_s("phone")?,
        locale: opt_s("locale")?,
        status: from_attr::<UserStatus>(
            item.get("status")
                .ok_or_else(|| corrupt("user status missing"))?,
        )?,
        password: match item.get("password") {
            None | Some(AttributeValue::Null(_)) => None,
            Some(v) => Some(from_attr(v)?),
        },
        history: match item.get("history") {
            None => Vec::new(),
            Some(v) => from_attr(v)?,
        },
        password_changed_at_ms: match item.get("passwordChangedAtMs") {
            None => None,
            Some(_) => Some(get_n(item, "passwordChangedAtMs")?),
        },
        created_at_ms: get_n(item, "createdAtMs")?,
        version: get_n(item, "version")?,
    })
}

/// The sealed part of an outbox message: everything that may carry a token.
#[derive(Serialize, Deserialize)]
struct SealedBody {
    to: String,
    subject: String,
    text: String,
    html: String,
    link: String,
}

fn kind_str(kind: MailKind) -> &'static str {
    match kind {
        MailKind::Init => "init",
        MailKind::Reset => "reset",
        MailKind::Changed => "changed",
    }
}

fn kind_from(s: &str) -> PortResult<MailKind> {
    match s {
        "init" => Ok(MailKind::Init),
        "reset" => Ok(MailKind::Reset),
        "changed" => Ok(MailKind::Changed),
        _ => Err(corrupt("unknown outbox kind")),
    }
}

/// A won delivery claim on one outbox message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub id: String,
    pub claimed_at_ms: u64,
    pub created_at_ms: u64,
}

/// One stored outbox message, unsealed.
#[derive(Debug, Clone)]
pub struct StoredOutbox {
    pub message: OutboxMessage,
    pub delivered_at_ms: Option<u64>,
}

// ------------------------------------------------------------ the store

/// What each action of a transaction stands for, to read its cancellation reason.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    ConsumeInit,
    ConsumeReset,
    ConsumeForgot,
    /// The user item; `None` = new user.
    User(Option<u64>),
    EmailClaim,
    Other,
}

/// `AccountStore` over DynamoDB. Outbox messages are sealed with their own
/// data key (AES-256-GCM, AAD = id, kind, creation time).
#[derive(Debug)]
pub struct DynamoAccountStore {
    pub(crate) client: Client,
    pub(crate) table: String,
    pub(crate) outbox_sealer: SessionSealer,
}

impl DynamoAccountStore {
    pub fn new(client: Client, table: impl Into<String>, outbox_sealer: SessionSealer) -> Self {
        DynamoAccountStore {
            client,
            table: table.into(),
            outbox_sealer,
        }
    }

    fn outbox_aad(&self, id: &str, kind: MailKind, created_at_ms: u64) -> Vec<u8> {
        format!(
            "outbox\n{}\n{id}\n{}\n{created_at_ms}",
            self.outbox_sealer.key_id(),
            kind_str(kind)
        )
        .into_bytes()
    }

    pub(crate) async fn get(
        &self,
        pk: String,
        sk: &str,
        what: &'static str,
    ) -> PortResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable(what, e))?;
        Ok(out.item)
    }

    pub(crate) fn put(&self, item: Item, condition: Option<&str>) -> PortResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(|e| unavailable("dynamodb transaction put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete(&self, pk: String, sk: &str) -> PortResult<Delete> {
        Delete::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .build()
            .map_err(|e| unavailable("dynamodb transaction delete", e))
    }

    fn delete_action(&self, pk: String, sk: &str) -> PortResult<(TransactWriteItem, Role)> {
        let del = self.delete(pk, sk)?;
        Ok((
            TransactWriteItem::builder().delete(del).build(),
            Role::Other,
        ))
    }

    /// Deletes an unexpired single-use item (init session or reset token).
    fn consume(&self, pk: String, sk: &str, now_ms: u64) -> PortResult<TransactWriteItem> {
        let del = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("attribute_exists(PK) AND #exp > :now")
            .expression_attribute_names("#exp", EXPIRES_MS)
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .map_err(|e| unavailable("dynamodb transaction delete", e))?;
        Ok(TransactWriteItem::builder().delete(del).build())
    }

    fn outbox_items(&self, m: &OutboxMessage) -> PortResult<[TransactWriteItem; 2]> {
        let body = Zeroizing::new(
            serde_json::to_vec(&SealedBody {
                to: m.to.clone(),
                subject: m.subject.clone(),
                text: m.text.clone(),
                html: m.html.clone(),
                link: m.link.clone(),
            })
            .map_err(|_| corrupt("serializing an outbox message"))?,
        );
        let sealed = self
            .outbox_sealer
            .seal_bytes(&self.outbox_aad(&m.id, m.kind, m.created_at_ms), &body)?;
        let expires = m.created_at_ms + OUTBOX_TTL_MS;
        let message: Item = [
            (PK, s(outbox_pk(&m.id))),
            (SK, s(OUTBOX_SK)),
            (TYPE, s("OutboxMessage")),
            ("id", s(&m.id)),
            ("kind", s(kind_str(m.kind))),
            ("sealedBody", AttributeValue::B(sealed.into())),
            ("sealKid", s(self.outbox_sealer.key_id())),
            ("createdAtMs", n(m.created_at_ms)),
            (EXPIRES_MS, n(expires)),
            (TTL_ATTR, n(ttl_secs(expires))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let marker: Item = [
            (PK, s(OUTBOX_PENDING_PK)),
            (SK, s(pending_sk(m.created_at_ms, &m.id))),
            (TYPE, s("OutboxPending")),
            ("id", s(&m.id)),
            (EXPIRES_MS, n(expires)),
            (TTL_ATTR, n(ttl_secs(expires))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        Ok([
            self.put(message, Some("attribute_not_exists(PK)"))?,
            self.put(marker, None)?,
        ])
    }

    /// Every item of partition `pk` whose sort key starts with `prefix` ("" =
    /// all), in sort key order (one strongly consistent Query, all pages).
    pub(crate) async fn query_all(
        &self,
        pk: String,
        prefix: &str,
        what: &'static str,
    ) -> PortResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .expression_attribute_values(":pk", s(pk.clone()))
                .consistent_read(true)
                .set_exclusive_start_key(start.take());
            query = if prefix.is_empty() {
                query.key_condition_expression("PK = :pk")
            } else {
                query
                    .key_condition_expression("PK = :pk AND begins_with(SK, :prefix)")
                    .expression_attribute_values(":prefix", s(prefix))
            };
            let out = query.send().await.map_err(|e| unavailable(what, e))?;
            items.extend(out.items.unwrap_or_default());
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
        Ok(items)
    }

    /// The unexpired markers of `biz_id`'s links whose sort key starts with
    /// `prefix` ("" = all), oldest reset first.
    async fn link_markers(
        &self,
        biz_id: &str,
        prefix: &str,
        now_ms: u64,
    ) -> PortResult<Vec<LinkMarker>> {
        let mut markers = Vec::new();
        for item in self
            .query_all(links_pk(biz_id), prefix, "dynamodb Query user links")
            .await?
        {
            if get_n(&item, EXPIRES_MS)? > now_ms {
                markers.push(LinkMarker {
                    sk: get_s(&item, SK)?.to_owned(),
                    sha: get_s(&item, "tokenSha256")?.to_owned(),
                });
            }
        }
        Ok(markers)
    }

    fn marker_item(biz_id: &str, sk: String, kind: &str, sha: &str, expires_at_ms: u64) -> Item {
        [
            (PK, s(links_pk(biz_id))),
            (SK, s(sk)),
            (TYPE, s(kind)),
            ("tokenSha256", s(sha)),
            (EXPIRES_MS, n(expires_at_ms)),
            (TTL_ATTR, n(ttl_secs(expires_at_ms))),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The transaction of `change`; `old_email` is set when the user's stored
    /// address differs from the new one (the claim moves with it).
    async fn plan(
        &self,
        change: &AccountChange,
        now_ms: u64,
        old_email: Option<&str>,
    ) -> PortResult<Vec<(TransactWriteItem, Role)>> {
        let mut items = Vec::new();
        // Single-use items first: their reasons are read first.
        if let Some(sid) = &change.consume_init {
            items.push((
                self.consume(init_pk(sid), "INIT", now_ms)?,
                Role::ConsumeInit,
            ));
        }
        if let Some(sha) = &change.consume_reset {
            items.push((
                self.consume(reset_pk(sha), "RESET", now_ms)?,
                Role::ConsumeReset,
            ));
        }
        if let Some(request) = &change.consume_forgot {
            items.push((self.consume_forgot(request)?, Role::ConsumeForgot));
        }
        if let Some((user, expected)) = &change.user {
            let item = user_item(user)?;
            let mut put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                );
            put = match (expected, old_email) {
                (None, _) => put.condition_expression("attribute_not_exists(PK)"),
                (Some(v), None) => put
                    .condition_expression("#v = :expected AND email = :email")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(":expected", n(*v))
                    .expression_attribute_values(":email", s(&user.email)),
                (Some(v), Some(old)) => put
                    .condition_expression("#v = :expected AND email = :email")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(":expected", n(*v))
                    .expression_attribute_values(":email", s(old)),
            };
            let put = put
                .build()
                .map_err(|e| unavailable("dynamodb transaction put", e))?;
            items.push((
                TransactWriteItem::builder().put(put).build(),
                Role::User(*expected),
            ));
            if expected.is_none() || old_email.is_some() {
                let claim: Item = [
                    (PK, s(email_pk(&user.email))),
                    (SK, s("EMAIL")),
                    (TYPE, s("EmailClaim")),
                    ("bizId", s(&user.biz_id)),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(claim))
                    .condition_expression("attribute_not_exists(PK) OR bizId = :biz")
                    .expression_attribute_values(":biz", s(&user.biz_id))
                    .build()
                    .map_err(|e| unavailable("dynamodb transaction put", e))?;
                items.push((
                    TransactWriteItem::builder().put(put).build(),
                    Role::EmailClaim,
                ));
            }
            if let Some(old) = old_email {
                items.push(self.delete_action(email_pk(old), "EMAIL")?);
            }
        }
        if let Some(biz_id) = &change.revoke_links_of {
            // The consumed link is deleted above, under its condition.
            let consumed = [
                change.consume_reset.as_ref().map(|sha| reset_pk(sha)),
                change.consume_init.as_ref().map(|sid| init_pk(sid)),
            ];
            for marker in self.link_markers(biz_id, "", now_ms).await? {
                let (pk, sk) = marker.target();
                if !consumed.contains(&Some(pk.clone())) {
                    items.push(self.delete_action(pk, sk)?);
                }
                items.push(self.delete_action(links_pk(biz_id), &marker.sk)?);
            }
        }
        if let Some(init) = &change.new_init {
            let item: Item = [
                (PK, s(init_pk(&init.sid))),
                (SK, s("INIT")),
                (TYPE, s("InitSession")),
                ("bizId", s(&init.biz_id)),
                (EXPIRES_MS, n(init.expires_at_ms)),
                (TTL_ATTR, n(ttl_secs(init.expires_at_ms))),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            items.push((
                self.put(item, Some("attribute_not_exists(PK)"))?,
                Role::Other,
            ));
            let sha = sha256_hex(&init.sid);
            let marker = Self::marker_item(
                &init.biz_id,
                init_marker_sk(&sha),
                "InitSessionOfUser",
                &sha,
                init.expires_at_ms,
            );
            items.push((self.put(marker, None)?, Role::Other));
        }
        if let Some(reset) = &change.new_reset {
            let live = self
                .link_markers(&reset.biz_id, RESET_MARKER, now_ms)
                .await?;
            let excess = (live.len() + 1).saturating_sub(MAX_LIVE_RESET_TOKENS);
            for marker in live.iter().take(excess) {
                let (pk, sk) = marker.target();
                items.push(self.delete_action(pk, sk)?);
                items.push(self.delete_action(links_pk(&reset.biz_id), &marker.sk)?);
            }
            let token: Item = [
                (PK, s(reset_pk(&reset.token_sha256))),
                (SK, s("RESET")),
                (TYPE, s("ResetToken")),
                ("bizId", s(&reset.biz_id)),
                (EXPIRES_MS, n(reset.expires_at_ms)),
                (TTL_ATTR, n(ttl_secs(reset.expires_at_ms))),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            items.push((
                self.put(token, Some("attribute_not_exists(PK)"))?,
                Role::Other,
            ));
            let marker = Self::marker_item(
                &reset.biz_id,
                reset_marker_sk(reset.expires_at_ms, &reset.token_sha256),
                "ResetTokenOfUser",
                &reset.token_sha256,
                reset.expires_at_ms,
            );
            items.push((self.put(marker, None)?, Role::Other));
        }
        for m in &change.outbox {
            for item in self.outbox_items(m)? {
                items.push((item, Role::Other));
            }
        }
        if items.is_empty() {
            // Same shape and cost as a real change (one transaction round
            // trip), so e.g. `forgot` for an unknown address is not faster.
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .key(PK, s("ACCOUNTS#NOOP"))
                .key(SK, s("NOOP"))
                .condition_expression("attribute_not_exists(PK)")
                .build()
                .map_err(|e| unavailable("dynamodb transaction condition check", e))?;
            items.push((
                TransactWriteItem::builder().condition_check(check).build(),
                Role::Other,
            ));
        }
        if items.len() > MAX_TRANSACTION_ITEMS {
            return Err(corrupt("account change exceeds the transaction size limit"));
        }
        Ok(items)
    }

    /// A stored outbox message, unsealed; `None` if unknown or expired.
    pub async fn outbox_message(&self, id: &str) -> PortResult<Option<StoredOutbox>> {
        let Some(item) = self
            .get(outbox_pk(id), OUTBOX_SK, "dynamodb GetItem outbox")
            .await?
        else {
            return Ok(None);
        };
        if system_now_ms() >= get_n(&item, EXPIRES_MS)? {
            return Ok(None);
        }
        if get_s(&item, "sealKid")? != self.outbox_sealer.key_id() {
            return Err(corrupt("outbox message sealed under another data key"));
        }
        let kind = kind_from(get_s(&item, "kind")?)?;
        let created_at_ms = get_n(&item, "createdAtMs")?;
        let plain = self.outbox_sealer.open_bytes(
            &self.outbox_aad(id, kind, created_at_ms),
            get_b(&item, "sealedBody")?,
        )?;
        let body: SealedBody =
            serde_json::from_slice(&plain).map_err(|_| corrupt("outbox body has a bad shape"))?;
        let delivered_at_ms = match item.get("deliveredAtMs") {
            None => None,
            Some(_) => Some(get_n(&item, "deliveredAtMs")?),
        };
        Ok(Some(StoredOutbox {
            message: OutboxMessage {
                id: id.to_owned(),
                kind,
                to: body.to,
                subject: body.subject,
                text: body.text,
                html: body.html,
                link: body.link,
                created_at_ms,
            },
            delivered_at_ms,
        }))
    }

    /// Claims a message for delivery: `SET deliveredAtMs` under
    /// `attribute_not_exists(deliveredAtMs)`. `Some` for the one caller that
    /// wins, `None` if it was already claimed (or is unknown).
    pub async fn claim(&self, id: &str, now_ms: u64) -> PortResult<Option<Claim>> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(outbox_pk(id)))
            .key(SK, s(OUTBOX_SK))
            .update_expression("SET deliveredAtMs = :now")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(deliveredAtMs)")
            .expression_attribute_values(":now", n(now_ms))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match res {
            Ok(out) => {
                let attrs = out
                    .attributes()
                    .ok_or_else(|| corrupt("outbox claim returned no attributes"))?;
                Ok(Some(Claim {
                    id: id.to_owned(),
                    claimed_at_ms: now_ms,
                    created_at_ms: get_n(attrs, "createdAtMs")?,
                }))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(e) => Err(unavailable("dynamodb UpdateItem outbox claim", e)),
        }
    }

    /// Gives a claim back after a failed send, so a retry may send it.
    pub async fn release(&self, claim: &Claim) -> PortResult<()> {
        let res = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(outbox_pk(&claim.id)))
            .key(SK, s(OUTBOX_SK))
            .update_expression("REMOVE deliveredAtMs")
            .condition_expression("deliveredAtMs = :at")
            .expression_attribute_values(":at", n(claim.claimed_at_ms))
            .send()
            .await;
        match res {
            Ok(_) => Ok(()),
            // Someone else's claim: leave it.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable("dynamodb UpdateItem outbox release", e)),
        }
    }

    /// Removes the pending marker of a delivered message.
    pub async fn finish(&self, claim: &Claim) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(OUTBOX_PENDING_PK))
            .key(SK, s(pending_sk(claim.created_at_ms, &claim.id)))
            .send()
            .await
            .map_err(|e| unavailable("dynamodb DeleteItem outbox marker", e))?;
        Ok(())
    }

    /// Cheap call that opens the connection to DynamoDB (cold start).
    pub async fn warm_up(&self) -> PortResult<()> {
        self.get("ACCOUNTS#NOOP".into(), "NOOP", "dynamodb GetItem warm-up")
            .await
            .map(|_| ())
    }
}

fn reasons(err: &SdkError<TransactWriteItemsError>) -> Option<&[CancellationReason]> {
    match err.as_service_error()? {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            e.cancellation_reasons.as_deref()
        }
        _ => None,
    }
}

enum Outcome {
    Rejected(ChangeRejected),
    /// Same expected version, other stored address: redo with the claim moved.
    EmailMoved(String),
    Retry,
}

fn read_reasons(
    items: &[(TransactWriteItem, Role)],
    reasons: &[CancellationReason],
) -> Result<Outcome, Unavailable> {
    let failed = |role: &dyn Fn(&Role) -> bool| {
        items
            .iter()
            .zip(reasons)
            .find(|((_, r), reason)| {
                role(r) && reason.code().is_some_and(|c| c == "ConditionalCheckFailed")
            })
            .map(|(_, reason)| reason)
    };
    if reasons
        .iter()
        .any(|r| r.code().is_some_and(|c| c == "TransactionConflict"))
    {
        return Ok(Outcome::Retry);
    }
    if failed(&|r| *r == Role::ConsumeInit).is_some() {
        return Ok(Outcome::Rejected(ChangeRejected::InitInvalid));
    }
    if failed(&|r| *r == Role::ConsumeReset).is_some() {
        return Ok(Outcome::Rejected(ChangeRejected::ResetInvalid));
    }
    if failed(&|r| *r == Role::ConsumeForgot).is_some() {
        return Ok(Outcome::Rejected(ChangeRejected::ForgotHandled));
    }
    if let Some(reason) = failed(&|r| matches!(r, Role::User(_))) {
        let expected = items.iter().find_map(|(_, r)| match r {
            Role::User(e) => Some(*e),
            _ => None,
        });
        return Ok(match expected.flatten() {
            None => Outcome::Rejected(ChangeRejected::EmailTaken),
            Some(v) => {
                let old = reason.item();
                let version = old.and_then(|i| get_n(i, "version").ok());
                match (version, old.and_then(|i| get_s(i, "email").ok())) {
                    (Some(stored), Some(email)) if stored == v => {
                        Outcome::EmailMoved(email.to_owned())
                    }
                    _ => Outcome::Rejected(ChangeRejected::VersionConflict),
                }
            }
        });
    }
    if failed(&|r| *r == Role::EmailClaim).is_some() {
        return Ok(Outcome::Rejected(ChangeRejected::EmailTaken));
    }
    Err(corrupt("account transaction cancelled for another reason"))
}

#[async_trait]
impl AccountStore for DynamoAccountStore {
    async fn user(&self, biz_id: &str) -> PortResult<Option<User>> {
        self.get(user_pk(biz_id), PROFILE_SK, "dynamodb GetItem user")
            .await?
            .map(|i| user_from_item(&i))
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> PortResult<Option<User>> {
        let Some(claim) = self
            .get(email_pk(email), "EMAIL", "dynamodb GetItem email claim")
            .await?
        else {
            return Ok(None);
        };
        let user = self.user(get_s(&claim, "bizId")?).await?;
        Ok(user.filter(|u| u.email == email))
    }

    async fn init_session(&self, sid: &str, now_ms: u64) -> PortResult<Option<InitSession>> {
        let Some(item) = self
            .get(init_pk(sid), "INIT", "dynamodb GetItem init session")
            .await?
        else {
            return Ok(None);
        };
        let expires_at_ms = get_n(&item, EXPIRES_MS)?;
        if now_ms >= expires_at_ms {
            return Ok(None);
        }
        Ok(Some(InitSession {
            sid: sid.to_owned(),
            biz_id: get_s(&item, "bizId")?.to_owned(),
            expires_at_ms,
        }))
    }

    async fn reset_token(&self, token_sha256: &str, now_ms: u64) -> PortResult<Option<ResetToken>> {
        let Some(item) = self
            .get(
                reset_pk(token_sha256),
                "RESET",
                "dynamodb GetItem reset token",
            )
            .await?
        else {
            return Ok(None);
        };
        let expires_at_ms = get_n(&item, EXPIRES_MS)?;
        if now_ms >= expires_at_ms {
            return Ok(None);
        }
        Ok(Some(ResetToken {
            token_sha256: token_sha256.to_owned(),
            biz_id: get_s(&item, "bizId")?.to_owned(),
            expires_at_ms,
        }))
    }

    async fn apply(
        &self,
        change: AccountChange,
        now_ms: u64,
    ) -> PortResult<Result<(), ChangeRejected>> {
        let mut old_email: Option<String> = None;
        for attempt in 0..CONFLICT_ATTEMPTS {
            let items = self.plan(&change, now_ms, old_email.as_deref()).await?;
            let res = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.iter().map(|(i, _)| i.clone()).collect()))
                .send()
                .await;
            let err = match res {
                Ok(_) => return Ok(Ok(())),
                Err(e) => e,
            };
            let Some(reasons) = reasons(&err) else {
                if err.as_service_error().is_some_and(|e| {
                    matches!(
                        e,
                        TransactWriteItemsError::TransactionInProgressException(_)
                    )
                }) {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
                    continue;
                }
                return Err(unavailable(
                    "dynamodb TransactWriteItems account change",
                    err,
                ));
            };
            match read_reasons(&items, reasons)? {
                Outcome::Rejected(r) => return Ok(Err(r)),
                Outcome::EmailMoved(stored) if old_email.is_none() => old_email = Some(stored),
                Outcome::EmailMoved(_) => return Ok(Err(ChangeRejected::VersionConflict)),
                Outcome::Retry => {
                    tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await
                }
            }
        }
        Err(corrupt("account change kept conflicting"))
    }

    async fn record_forgot(&self, request: &ForgotRequest) -> PortResult<()> {
        self.put_forgot(request).await
    }

    async fn pending_forgot(&self) -> PortResult<Vec<ForgotRequest>> {
        self.query_pending_forgot().await
    }

    async fn pending_outbox(&self) -> PortResult<Vec<OutboxMessage>> {
        let mut ids = Vec::new();
        for item in self
            .query_all(
                OUTBOX_PENDING_PK.into(),
                "",
                "dynamodb Query pending outbox",
            )
            .await?
        {
            ids.push(get_s(&item, "id")?.to_owned());
        }
        let mut pending = Vec::with_capacity(ids.len());
        for id in ids {
            // A marker may outlive its message's delivery (deleted after it).
            if let Some(stored) = self.outbox_message(&id).await? {
                if stored.delivered_at_ms.is_none() {
                    pending.push(stored.message);
                }
            }
        }
        Ok(pending)
    }

    async fn mark_delivered(&self, id: &str) -> PortResult<bool> {
        match self.claim(id, system_now_ms()).await? {
            Some(claim) => {
                self.finish(&claim).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }
}
