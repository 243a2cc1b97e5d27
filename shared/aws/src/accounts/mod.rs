//! `AccountStore` over DynamoDB (see `docs/data-model.md`): every
//! [`AccountChange`] is one `TransactWriteItems`.
//!
//! - [`keys`]: partition and sort keys of every account item;
//! - [`item`]: item <-> domain mapping (serde, `serde_dynamo`);
//! - [`plan`]: the transaction planner and the cancellation-reason decoding;
//! - [`outbox`]: the sealed outbox and its delivery claims;
//! - [`forgot`]: the sealed forgot requests (`FORGOT#PENDING`).

mod erase;
mod forgot;
mod item;
mod keys;
mod outbox;
mod plan;

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::Client;
use shared::ports::accounts::{
    AccountChange, AccountStore, ChangeRejected, Erased, ForgotRequest, InitSession, OutboxMessage,
    ResetToken, User,
};
use shared::ports::{Clock, PortResult};

use crate::dynamo::SessionSealer;
use crate::error::{corrupt, unavailable};
use crate::table::{s, PK, SK};

pub(crate) use item::Item;
use item::{from_item, SealedItem};
pub use keys::sha256_hex;
use keys::{
    email_pk, init_pk, links_pk, reset_pk, user_pk, LinkMarker, EMAIL_SK, INIT_SK, NOOP_PK,
    NOOP_SK, NO_SUCH_USER, PROFILE_SK, RESET_MARKER, RESET_SK,
};
pub use keys::{
    FOREIGN_HASH_STATS_PK, FOREIGN_HASH_STATS_SK, FOREIGN_HASH_USERS_ATTR, FORGOT_PENDING_PK,
};
pub use outbox::{Claim, StoredOutbox, OUTBOX_TTL_MS};
pub(crate) use plan::Planner;
use plan::{read_reasons, Links, Outcome, Plan};

/// Attempts of one change when DynamoDB reports a transaction conflict.
const CONFLICT_ATTEMPTS: usize = 4;

/// `AccountStore` over DynamoDB. Outbox messages are sealed with their own
/// data key (AES-256-GCM, AAD = id, kind, creation time).
pub struct DynamoAccountStore {
    pub(crate) client: Client,
    pub(crate) table: String,
    pub(crate) outbox_sealer: SessionSealer,
    /// Expiry checks of reads that take no `now` (outbox, forgot requests).
    pub(crate) clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for DynamoAccountStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoAccountStore")
            .field("table", &self.table)
            .field("outbox_sealer", &self.outbox_sealer)
            .finish_non_exhaustive()
    }
}

impl DynamoAccountStore {
    pub fn new(
        client: Client,
        table: impl Into<String>,
        outbox_sealer: SessionSealer,
        clock: Arc<dyn Clock>,
    ) -> Self {
        DynamoAccountStore {
            client,
            table: table.into(),
            outbox_sealer,
            clock,
        }
    }

    pub(crate) fn planner(&self) -> Planner<'_> {
        Planner {
            table: &self.table,
            outbox_sealer: &self.outbox_sealer,
        }
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

    /// At most `limit` items of partition `pk` whose sort key is above
    /// `sk_after`, oldest (lowest sort key) first: one strongly consistent
    /// Query with `Limit`, never the whole partition. `true` with them when
    /// the partition holds more.
    pub(crate) async fn query_first(
        &self,
        pk: String,
        sk_after: &str,
        limit: usize,
        what: &'static str,
    ) -> PortResult<(Vec<Item>, bool)> {
        if limit == 0 {
            return Ok((Vec::new(), true));
        }
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("PK = :pk AND SK > :after")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":after", s(sk_after))
            .consistent_read(true)
            .scan_index_forward(true)
            .limit(i32::try_from(limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| unavailable(what, e))?;
        let more = out.last_evaluated_key.is_some_and(|k| !k.is_empty());
        Ok((out.items.unwrap_or_default(), more))
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
            let item: item::MarkerItem = from_item(item)?;
            if item.expires_at_ms > now_ms {
                let sha = item.token_sha256;
                markers.push(LinkMarker {
                    sk: item.head.sk,
                    sha: sha.ok_or_else(|| corrupt("link marker without token hash"))?,
                });
            }
        }
        Ok(markers)
    }

    /// Reads the links `change` revokes or drops, then plans its transaction.
    async fn plan(&self, change: &AccountChange, now_ms: u64) -> PortResult<Plan> {
        let mut links = Links::default();
        if let Some(biz_id) = &change.revoke_links_of {
            links.revoked = self.link_markers(biz_id, "", now_ms).await?;
        }
        if let Some(reset) = &change.new_reset {
            links.live_resets = self
                .link_markers(&reset.biz_id, RESET_MARKER, now_ms)
                .await?;
        }
        self.planner().plan(change, now_ms, &links)
    }

    /// A single-use item (init session, reset token) naming its user, if unexpired.
    async fn single_use(
        &self,
        pk: String,
        sk: &str,
        now_ms: u64,
        what: &'static str,
    ) -> PortResult<Option<(String, u64)>> {
        let Some(item) = self.get(pk, sk, what).await? else {
            return Ok(None);
        };
        let item: item::OfUserItem = from_item(item)?;
        let expires_at_ms = item
            .expires_at_ms
            .ok_or_else(|| corrupt("single-use item without expiry"))?;
        Ok((now_ms < expires_at_ms).then_some((item.biz_id, expires_at_ms)))
    }

    /// The sealed item `pk`/`sk` (outbox message, forgot request); `None` if
    /// unknown or expired.
    pub(crate) async fn unexpired_sealed(
        &self,
        pk: String,
        sk: &str,
        what: &'static str,
    ) -> PortResult<Option<SealedItem>> {
        let Some(item) = self.get(pk, sk, what).await? else {
            return Ok(None);
        };
        let item: SealedItem = from_item(item)?;
        Ok((self.clock.now_ms() < item.expires_at_ms).then_some(item))
    }

    /// The items `change` puts when it only creates (a new user, with its
    /// invitation): the same items as its transaction, for a bulk import
    /// that writes them in `BatchWriteItem`s instead (`crate::import`).
    pub(crate) fn created_items(
        &self,
        change: &AccountChange,
        now_ms: u64,
    ) -> PortResult<Vec<Item>> {
        let plan = self.planner().plan(change, now_ms, &Links::default())?;
        plan.into_iter()
            .map(|(action, _)| {
                action
                    .put
                    .map(|put| put.item)
                    .ok_or_else(|| corrupt("an import change that is not only puts"))
            })
            .collect()
    }

    /// Cheap call that opens the connection to DynamoDB (cold start).
    pub async fn warm_up(&self) -> PortResult<()> {
        self.get(NOOP_PK.into(), NOOP_SK, "dynamodb GetItem warm-up")
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

#[async_trait]
impl AccountStore for DynamoAccountStore {
    async fn user(&self, biz_id: &str) -> PortResult<Option<User>> {
        self.get(user_pk(biz_id), PROFILE_SK, "dynamodb GetItem user")
            .await?
            .map(item::user_from_item)
            .transpose()
    }

    async fn user_by_email(&self, email: &str) -> PortResult<Option<User>> {
        let claim = self
            .get(email_pk(email), EMAIL_SK, "dynamodb GetItem email claim")
            .await?;
        let Some(claim) = claim else {
            // An address nobody owns still costs the user read, of an item
            // that never exists: sign-in (and the forgot answer) then make the
            // same calls for a known and an unknown address, so neither the
            // time nor the call count tells them apart (tests/tests/e2e/aws_calls.rs).
            self.user(NO_SUCH_USER).await?;
            return Ok(None);
        };
        let claim: item::OfUserItem = from_item(claim)?;
        let user = self.user(&claim.biz_id).await?;
        Ok(user.filter(|u| u.email == email))
    }

    async fn init_session(&self, sid: &str, now_ms: u64) -> PortResult<Option<InitSession>> {
        let found = self
            .single_use(
                init_pk(sid),
                INIT_SK,
                now_ms,
                "dynamodb GetItem init session",
            )
            .await?;
        Ok(found.map(|(biz_id, expires_at_ms)| InitSession {
            sid: sid.to_owned(),
            biz_id,
            expires_at_ms,
        }))
    }

    async fn reset_token(&self, token_sha256: &str, now_ms: u64) -> PortResult<Option<ResetToken>> {
        let found = self
            .single_use(
                reset_pk(token_sha256),
                RESET_SK,
                now_ms,
                "dynamodb GetItem reset token",
            )
            .await?;
        Ok(found.map(|(biz_id, expires_at_ms)| ResetToken {
            token_sha256: token_sha256.to_owned(),
            biz_id,
            expires_at_ms,
        }))
    }

    async fn apply(
        &self,
        change: AccountChange,
        now_ms: u64,
    ) -> PortResult<Result<(), ChangeRejected>> {
        for attempt in 0..CONFLICT_ATTEMPTS {
            let items = self.plan(&change, now_ms).await?;
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
        self.query_pending_outbox().await
    }

    async fn erase_user(
        &self,
        user: &User,
        _now_ms: u64,
    ) -> PortResult<Result<Erased, ChangeRejected>> {
        self.erase(user).await
    }

    async fn mark_delivered(&self, id: &str) -> PortResult<bool> {
        match self.claim(id, self.clock.now_ms()).await? {
            Some(claim) => {
                self.finish(&claim).await?;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn foreign_hash_users(&self) -> PortResult<i64> {
        let what = "dynamodb GetItem foreign-hash count";
        let Some(item) = self
            .get(
                FOREIGN_HASH_STATS_PK.to_owned(),
                FOREIGN_HASH_STATS_SK,
                what,
            )
            .await?
        else {
            return Ok(0);
        };
        match item.get(FOREIGN_HASH_USERS_ATTR) {
            None => Ok(0),
            Some(v) => v
                .as_n()
                .ok()
                .and_then(|n| n.parse().ok())
                .ok_or_else(|| corrupt("foreign-hash count is not a number")),
        }
    }
}
