//! The transaction planner: one [`AccountChange`] becomes the actions of one
//! `TransactWriteItems`, each tagged with the [`Role`] that reads its
//! cancellation reason. Pure: the links it revokes or drops are read before
//! (see [`Links`]), so the plan is testable without DynamoDB.

use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ConditionCheck, Delete, Put, TransactWriteItem, Update,
};
use shared::ports::accounts::{AccountChange, ChangeRejected, MAX_LIVE_RESET_TOKENS};
use shared::ports::{PortResult, Unavailable};

use crate::dynamo::SessionSealer;
use crate::error::{corrupt, unavailable};
use crate::table::{n, s, EXPIRES_MS, PK, SK};

use super::item::{to_item, user_item, Item, MarkerItem, OfUserItem};
use super::keys::{
    email_pk, init_marker_sk, init_pk, links_pk, pending_sk, reset_marker_sk, reset_pk, sha256_hex,
    LinkMarker, EMAIL_SK, FOREIGN_HASH_STATS_PK, FOREIGN_HASH_STATS_SK, FOREIGN_HASH_USERS_ATTR,
    FORGOT_PENDING_PK, INIT_SK, NOOP_PK, NOOP_SK, RESET_SK,
};
use super::outbox::outbox_items;

/// DynamoDB's limit of actions in one transaction.
const MAX_TRANSACTION_ITEMS: usize = 100;

/// What each action of a transaction stands for, to read its cancellation reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Role {
    ConsumeInit,
    ConsumeReset,
    ConsumeForgot,
    /// The user item; `None` = new user.
    User(Option<u64>),
    EmailClaim,
    Other,
}

/// The planned transaction.
pub(super) type Plan = Vec<(TransactWriteItem, Role)>;

/// The unexpired link markers a change touches, read before planning.
#[derive(Debug, Default)]
pub(super) struct Links {
    /// Every link of `revoke_links_of`.
    pub(super) revoked: Vec<LinkMarker>,
    /// The live reset tokens of `new_reset`'s user, oldest first.
    pub(super) live_resets: Vec<LinkMarker>,
}

/// Builds the actions of a transaction on one table.
pub(crate) struct Planner<'a> {
    pub(crate) table: &'a str,
    pub(crate) outbox_sealer: &'a SessionSealer,
}

impl Planner<'_> {
    pub(crate) fn put(&self, item: Item, condition: Option<&str>) -> PortResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(self.table)
            .set_item(Some(item))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(|e| unavailable("dynamodb transaction put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Deletes `pk`/`sk`, under `condition` if any.
    pub(crate) fn delete(
        &self,
        pk: String,
        sk: &str,
        condition: Option<&str>,
    ) -> PortResult<TransactWriteItem> {
        let del = Delete::builder()
            .table_name(self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .set_condition_expression(condition.map(str::to_owned))
            .build()
            .map_err(|e| unavailable("dynamodb transaction delete", e))?;
        Ok(TransactWriteItem::builder().delete(del).build())
    }

    fn delete_action(&self, pk: String, sk: &str) -> PortResult<(TransactWriteItem, Role)> {
        Ok((self.delete(pk, sk, None)?, Role::Other))
    }

    /// Deletes an unexpired single-use item (init session or reset token).
    fn consume(&self, pk: String, sk: &str, now_ms: u64) -> PortResult<TransactWriteItem> {
        let del = Delete::builder()
            .table_name(self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .condition_expression("attribute_exists(PK) AND #exp > :now")
            .expression_attribute_names("#exp", EXPIRES_MS)
            .expression_attribute_values(":now", n(now_ms))
            .build()
            .map_err(|e| unavailable("dynamodb transaction delete", e))?;
        Ok(TransactWriteItem::builder().delete(del).build())
    }

    /// A new single-use item `(pk, sk, type)` of `biz_id` and its marker
    /// (`<type>OfUser`, sort key `marker_sk`) in the user's links partition.
    fn new_link(
        &self,
        (pk, sk, item_type): (String, &str, &str),
        marker_sk: String,
        sha: &str,
        biz_id: &str,
        expires_at_ms: u64,
    ) -> PortResult<[(TransactWriteItem, Role); 2]> {
        let item = OfUserItem::single_use(pk, sk, item_type, biz_id, expires_at_ms);
        let marker = MarkerItem::link(
            links_pk(biz_id),
            marker_sk,
            &format!("{item_type}OfUser"),
            sha,
            expires_at_ms,
        );
        Ok([
            (
                self.put(to_item(&item)?, Some("attribute_not_exists(PK)"))?,
                Role::Other,
            ),
            (self.put(to_item(&marker)?, None)?, Role::Other),
        ])
    }

    /// `ADD users :delta` on the counter of users on a foreign hash (made
    /// by the first ADD: an absent number counts as 0).
    pub(super) fn add_foreign_hash_users(&self, delta: i64) -> PortResult<TransactWriteItem> {
        let update = Update::builder()
            .table_name(self.table)
            .key(PK, s(FOREIGN_HASH_STATS_PK))
            .key(SK, s(FOREIGN_HASH_STATS_SK))
            .update_expression("ADD #users :delta")
            .expression_attribute_names("#users", FOREIGN_HASH_USERS_ATTR)
            .expression_attribute_values(":delta", AttributeValue::N(delta.to_string()))
            .build()
            .map_err(|e| unavailable("dynamodb transaction update", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The transaction of `change`.
    ///
    /// An update never moves the address, so it never touches an email
    /// claim: the claim is written with the user only. Every flow writes the
    /// user it read with its `version` raised (change, init, reset, the
    /// sign-in rehash, user administration), and only a creation (invite,
    /// import) sets `email`. So the stored address of a version is the one
    /// of its creation, and `email = :email` fails only on another version,
    /// which is a `VersionConflict`. (A branch that moved the claim when
    /// the stored address differed could not run: nothing leads to it, and
    /// the roles of the updating functions have no write on `EMAIL#` items.)
    pub(super) fn plan(
        &self,
        change: &AccountChange,
        now_ms: u64,
        links: &Links,
    ) -> PortResult<Plan> {
        let mut items = Vec::new();
        // Single-use items first: their reasons are read first.
        if let Some(sid) = &change.consume_init {
            items.push((
                self.consume(init_pk(sid), INIT_SK, now_ms)?,
                Role::ConsumeInit,
            ));
        }
        if let Some(sha) = &change.consume_reset {
            items.push((
                self.consume(reset_pk(sha), RESET_SK, now_ms)?,
                Role::ConsumeReset,
            ));
        }
        if let Some(request) = &change.consume_forgot {
            // Exactly one of concurrent consumers answers a forgot request.
            let sk = pending_sk(request.requested_at_ms, &request.id);
            let delete =
                self.delete(FORGOT_PENDING_PK.into(), &sk, Some("attribute_exists(PK)"))?;
            items.push((delete, Role::ConsumeForgot));
        }
        if let Some((user, expected)) = &change.user {
            let mut put = Put::builder()
                .table_name(self.table)
                .set_item(Some(user_item(user)?));
            put = match expected {
                None => put.condition_expression("attribute_not_exists(PK)"),
                Some(v) => put
                    .condition_expression("#v = :expected AND email = :email")
                    .expression_attribute_names("#v", "version")
                    .expression_attribute_values(":expected", n(*v))
                    .expression_attribute_values(":email", s(&user.email)),
            };
            let put = put
                .build()
                .map_err(|e| unavailable("dynamodb transaction put", e))?;
            items.push((
                TransactWriteItem::builder().put(put).build(),
                Role::User(*expected),
            ));
            if expected.is_none() {
                let claim = OfUserItem::claim(email_pk(&user.email), EMAIL_SK, &user.biz_id);
                let put = Put::builder()
                    .table_name(self.table)
                    .set_item(Some(to_item(&claim)?))
                    .condition_expression("attribute_not_exists(PK) OR bizId = :biz")
                    .expression_attribute_values(":biz", s(&user.biz_id))
                    .build()
                    .map_err(|e| unavailable("dynamodb transaction put", e))?;
                items.push((
                    TransactWriteItem::builder().put(put).build(),
                    Role::EmailClaim,
                ));
            }
        }
        if let Some(biz_id) = &change.revoke_links_of {
            // The consumed link is deleted above, under its condition.
            let consumed = [
                change.consume_reset.as_ref().map(|sha| reset_pk(sha)),
                change.consume_init.as_ref().map(|sid| init_pk(sid)),
            ];
            for marker in &links.revoked {
                let (pk, sk) = marker.target();
                if !consumed.contains(&Some(pk.clone())) {
                    items.push(self.delete_action(pk, sk)?);
                }
                items.push(self.delete_action(links_pk(biz_id), &marker.sk)?);
            }
        }
        if let Some(init) = &change.new_init {
            let sha = sha256_hex(&init.sid);
            items.extend(self.new_link(
                (init_pk(&init.sid), INIT_SK, "InitSession"),
                init_marker_sk(&sha),
                &sha,
                &init.biz_id,
                init.expires_at_ms,
            )?);
        }
        if let Some(reset) = &change.new_reset {
            let live = &links.live_resets;
            let excess = (live.len() + 1).saturating_sub(MAX_LIVE_RESET_TOKENS);
            for marker in live.iter().take(excess) {
                let (pk, sk) = marker.target();
                items.push(self.delete_action(pk, sk)?);
                items.push(self.delete_action(links_pk(&reset.biz_id), &marker.sk)?);
            }
            items.extend(self.new_link(
                (reset_pk(&reset.token_sha256), RESET_SK, "ResetToken"),
                reset_marker_sk(reset.expires_at_ms, &reset.token_sha256),
                &reset.token_sha256,
                &reset.biz_id,
                reset.expires_at_ms,
            )?);
        }
        for m in &change.outbox {
            for (item, condition) in outbox_items(self.outbox_sealer, m)? {
                items.push((self.put(item, condition)?, Role::Other));
            }
        }
        if change.foreign_hash_delta != 0 {
            items.push((
                self.add_foreign_hash_users(change.foreign_hash_delta)?,
                Role::Other,
            ));
        }
        if items.is_empty() {
            // Same shape and cost as a real change (one transaction round
            // trip), so e.g. `forgot` for an unknown address is not faster.
            let check = ConditionCheck::builder()
                .table_name(self.table)
                .key(PK, s(NOOP_PK))
                .key(SK, s(NOOP_SK))
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
}

/// What a cancelled transaction means for the change.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Outcome {
    Rejected(ChangeRejected),
    Retry,
}

/// Decodes the cancellation reasons of `items` (one reason per action, in order).
pub(super) fn read_reasons(
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
    if failed(&|r| matches!(r, Role::User(_))).is_some() {
        let created = items.iter().any(|(_, r)| *r == Role::User(None));
        return Ok(Outcome::Rejected(if created {
            ChangeRejected::EmailTaken
        } else {
            // Another version, or deleted meanwhile (see `Planner::plan`).
            ChangeRejected::VersionConflict
        }));
    }
    if failed(&|r| *r == Role::EmailClaim).is_some() {
        return Ok(Outcome::Rejected(ChangeRejected::EmailTaken));
    }
    Err(corrupt("account transaction cancelled for another reason"))
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
