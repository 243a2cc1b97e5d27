//! The sealed outbox: each message is one `OUTBOX#<id>` item (its body
//! sealed with the outbox data key, AAD = data key id, id, kind, creation
//! time) plus one pending marker, delivered once through a conditional claim.

use aws_sdk_dynamodb::types::ReturnValue;
use serde::{Deserialize, Serialize};
use shared::ports::accounts::{MailKind, OutboxMessage};
use shared::ports::PortResult;
use zeroize::Zeroizing;

use crate::dynamo::SessionSealer;
use crate::error::{condition_failed, corrupt, unavailable};
use crate::table::{n, s, PK, SK};

use super::item::{from_item, to_item, Item, MarkerItem, SealedItem};
use super::keys::{outbox_pk, pending_sk, OUTBOX_PENDING_PK, OUTBOX_SK};
use super::DynamoAccountStore;

/// Outbox messages (and their pending markers) live this long.
pub const OUTBOX_TTL_MS: u64 = 7 * 24 * 3600 * 1000;
/// A claim this old has ended, sent or lost (far beyond any function's
/// timeout): its pending marker is dropped when a sweep meets it.
const SETTLED_CLAIM_MS: u64 = 15 * 60 * 1000;

/// The sealed part of an outbox message: everything that may carry a token.
#[derive(Serialize, Deserialize)]
struct SealedBody {
    to: String,
    subject: String,
    text: String,
    html: String,
    link: String,
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

/// The AAD of a message: it binds the body to its data key, id, kind (in its
/// stored serde form) and creation time.
fn outbox_aad(
    sealer: &SessionSealer,
    id: &str,
    kind: MailKind,
    created_at_ms: u64,
) -> PortResult<Vec<u8>> {
    let kind = serde_json::to_value(kind).map_err(|_| corrupt("serializing an outbox kind"))?;
    let kind = kind
        .as_str()
        .ok_or_else(|| corrupt("outbox kind is not a string"))?;
    Ok(format!("outbox\n{}\n{id}\n{kind}\n{created_at_ms}", sealer.key_id()).into_bytes())
}

/// The two items that queue `m`, each with the condition of its put: the
/// sealed message (never over another) and its pending marker. The planner
/// puts them in the change's transaction.
pub(super) fn outbox_items(
    sealer: &SessionSealer,
    m: &OutboxMessage,
) -> PortResult<[(Item, Option<&'static str>); 2]> {
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
    let aad = outbox_aad(sealer, &m.id, m.kind, m.created_at_ms)?;
    let expires = m.created_at_ms + OUTBOX_TTL_MS;
    let mut message = SealedItem::new(
        outbox_pk(&m.id),
        OUTBOX_SK.into(),
        "OutboxMessage",
        &m.id,
        expires,
    );
    message.kind = Some(m.kind);
    message.sealed_body = sealer.seal_bytes(&aad, &body)?;
    message.seal_kid = sealer.key_id().to_owned();
    message.created_at_ms = Some(m.created_at_ms);
    let marker = MarkerItem::pending(
        OUTBOX_PENDING_PK.into(),
        pending_sk(m.created_at_ms, &m.id),
        &m.id,
        expires,
    );
    Ok([
        (to_item(&message)?, Some("attribute_not_exists(PK)")),
        (to_item(&marker)?, None),
    ])
}

impl DynamoAccountStore {
    /// A stored outbox message, unsealed; `None` if unknown or expired.
    pub async fn outbox_message(&self, id: &str) -> PortResult<Option<StoredOutbox>> {
        let Some(item) = self
            .unexpired_sealed(outbox_pk(id), OUTBOX_SK, "dynamodb GetItem outbox")
            .await?
        else {
            return Ok(None);
        };
        if item.seal_kid != self.outbox_sealer.key_id() {
            return Err(corrupt("outbox message sealed under another data key"));
        }
        let kind = item.kind.ok_or_else(|| corrupt("outbox kind missing"))?;
        let created_at_ms = item
            .created_at_ms
            .ok_or_else(|| corrupt("outbox creation time missing"))?;
        let aad = outbox_aad(&self.outbox_sealer, id, kind, created_at_ms)?;
        let plain = self.outbox_sealer.open_bytes(&aad, &item.sealed_body)?;
        let body: SealedBody =
            serde_json::from_slice(&plain).map_err(|_| corrupt("outbox body has a bad shape"))?;
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
            delivered_at_ms: item.delivered_at_ms,
        }))
    }

    /// Every pending message not yet delivered, oldest first.
    pub(super) async fn query_pending_outbox(&self) -> PortResult<Vec<OutboxMessage>> {
        let markers = self
            .query_all(
                OUTBOX_PENDING_PK.into(),
                "",
                "dynamodb Query pending outbox",
            )
            .await?;
        self.undelivered(markers).await
    }

    /// The undelivered messages among the `limit` oldest pending markers
    /// (one Query with `Limit`: the sweep's bounded share), and whether more
    /// markers follow them.
    pub async fn oldest_pending_outbox(
        &self,
        limit: usize,
    ) -> PortResult<(Vec<OutboxMessage>, bool)> {
        let expired_before = self.clock.now_ms().saturating_sub(OUTBOX_TTL_MS);
        let (markers, more) = self
            .query_first(
                OUTBOX_PENDING_PK.into(),
                &format!("{expired_before:013}"),
                limit,
                "dynamodb Query pending outbox",
            )
            .await?;
        Ok((self.undelivered(markers).await?, more))
    }

    async fn undelivered(&self, markers: Vec<Item>) -> PortResult<Vec<OutboxMessage>> {
        let mut found = Vec::new();
        for item in markers {
            let marker = from_item::<MarkerItem>(item)?;
            let id = marker
                .id
                .ok_or_else(|| corrupt("pending marker without id"))?;
            found.push((marker.head.sk, id));
        }
        let now = self.clock.now_ms();
        let mut pending = Vec::with_capacity(found.len());
        for (sk, id) in found {
            match self.outbox_message(&id).await? {
                Some(stored) if stored.delivered_at_ms.is_none() => pending.push(stored.message),
                // Claimed a moment ago: its sender is still at work.
                Some(stored)
                    if stored
                        .delivered_at_ms
                        .is_some_and(|claimed| now < claimed + SETTLED_CLAIM_MS) => {}
                // Delivered (or claimed long ago and lost), or gone: the
                // marker only outlived it. Dropped, so that it never takes
                // the place of a pending message in a bounded sweep.
                _ => self.drop_marker(&sk).await?,
            }
        }
        Ok(pending)
    }

    async fn drop_marker(&self, sk: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(OUTBOX_PENDING_PK))
            .key(SK, s(sk))
            .send()
            .await
            .map_err(|e| unavailable("dynamodb DeleteItem outbox marker", e))?;
        Ok(())
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
                    .attributes
                    .ok_or_else(|| corrupt("outbox claim returned no attributes"))?;
                let item: SealedItem = from_item(attrs)?;
                Ok(Some(Claim {
                    id: id.to_owned(),
                    claimed_at_ms: now_ms,
                    created_at_ms: item
                        .created_at_ms
                        .ok_or_else(|| corrupt("outbox creation time missing"))?,
                }))
            }
            Err(e) if condition_failed(&e) => Ok(None),
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
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(unavailable("dynamodb UpdateItem outbox release", e)),
        }
    }

    /// Removes the pending marker of a delivered message.
    pub async fn finish(&self, claim: &Claim) -> PortResult<()> {
        self.drop_marker(&pending_sk(claim.created_at_ms, &claim.id))
            .await
    }
}
