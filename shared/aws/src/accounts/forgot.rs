//! Forgot requests in the table: `FORGOT#PENDING` / `<requestedAtMs, 13
//! digits>#<id>` (see `docs/data-model.md`). The request path writes one of
//! these and nothing else; the stream consumer answers it.

use serde::{Deserialize, Serialize};
use shared::ports::accounts::ForgotRequest;
use shared::ports::PortResult;
use zeroize::Zeroizing;

use super::item::{from_item, to_item, Item, SealedItem};
use super::keys::{pending_sk, FORGOT_PENDING_PK};
use super::DynamoAccountStore;
use crate::error::{corrupt, unavailable};

/// An unanswered request is dropped after this long.
const FORGOT_TTL_MS: u64 = 24 * 3600 * 1000;
/// Every sealed body is padded to this length, so an item's size never
/// depends on the address (an address is at most 255 bytes).
const SEALED_BODY_LEN: usize = 1024;

/// The sealed part: the address and the language.
#[derive(Serialize, Deserialize)]
struct SealedForgot {
    email: String,
    lang: String,
}

impl DynamoAccountStore {
    fn forgot_aad(&self, id: &str, requested_at_ms: u64) -> Vec<u8> {
        format!(
            "forgot\n{}\n{id}\n{requested_at_ms}",
            self.outbox_sealer.key_id()
        )
        .into_bytes()
    }

    /// One PutItem under `attribute_not_exists(PK)`, the same for every address.
    pub(crate) async fn put_forgot(&self, r: &ForgotRequest) -> PortResult<()> {
        let mut body = Zeroizing::new(
            serde_json::to_vec(&SealedForgot {
                email: r.email.clone(),
                lang: r.lang.clone(),
            })
            .map_err(|_| corrupt("serializing a forgot request"))?,
        );
        if body.len() > SEALED_BODY_LEN {
            return Err(corrupt("forgot request larger than its padded size"));
        }
        // Trailing spaces are JSON whitespace: the body still parses as is.
        body.resize(SEALED_BODY_LEN, b' ');
        let sealed = self
            .outbox_sealer
            .seal_bytes(&self.forgot_aad(&r.id, r.requested_at_ms), &body)?;
        let mut item = SealedItem::new(
            FORGOT_PENDING_PK.into(),
            pending_sk(r.requested_at_ms, &r.id),
            "ForgotRequest",
            &r.id,
            r.requested_at_ms + FORGOT_TTL_MS,
        );
        item.requested_at_ms = Some(r.requested_at_ms);
        item.sealed_body = sealed;
        item.seal_kid = self.outbox_sealer.key_id().to_owned();
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(&item)?))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| unavailable("dynamodb PutItem forgot request", e))?;
        Ok(())
    }

    fn forgot_from_item(&self, item: SealedItem) -> PortResult<ForgotRequest> {
        if item.seal_kid != self.outbox_sealer.key_id() {
            return Err(corrupt("forgot request sealed under another data key"));
        }
        let requested_at_ms = item
            .requested_at_ms
            .ok_or_else(|| corrupt("forgot request time missing"))?;
        let plain = self.outbox_sealer.open_bytes(
            &self.forgot_aad(&item.id, requested_at_ms),
            &item.sealed_body,
        )?;
        let body: SealedForgot = serde_json::from_slice(&plain)
            .map_err(|_| corrupt("forgot request body has a bad shape"))?;
        Ok(ForgotRequest {
            id: item.id,
            email: body.email,
            lang: body.lang,
            requested_at_ms,
        })
    }

    /// A pending request by its sort key (as a stream record names it);
    /// `None` once answered or expired.
    pub async fn forgot_request(&self, sk: &str) -> PortResult<Option<ForgotRequest>> {
        self.unexpired_sealed(
            FORGOT_PENDING_PK.into(),
            sk,
            "dynamodb GetItem forgot request",
        )
        .await?
        .map(|item| self.forgot_from_item(item))
        .transpose()
    }

    /// Every unexpired pending request, oldest first.
    pub(crate) async fn query_pending_forgot(&self) -> PortResult<Vec<ForgotRequest>> {
        let items = self
            .query_all(
                FORGOT_PENDING_PK.into(),
                "",
                "dynamodb Query pending forgot requests",
            )
            .await?;
        self.unexpired_forgot(items)
    }

    /// The unexpired requests among the `limit` oldest pending ones (one
    /// Query with `Limit`: the sweep's bounded share), and whether more are
    /// pending after them.
    pub async fn oldest_pending_forgot(
        &self,
        limit: usize,
    ) -> PortResult<(Vec<ForgotRequest>, bool)> {
        // Sort keys start with the request time: expired requests that TTL
        // has not removed yet are skipped by the key condition, so they
        // never fill the run's share.
        let expired_before = self.clock.now_ms().saturating_sub(FORGOT_TTL_MS);
        let (items, more) = self
            .query_first(
                FORGOT_PENDING_PK.into(),
                &format!("{expired_before:013}"),
                limit,
                "dynamodb Query pending forgot requests",
            )
            .await?;
        Ok((self.unexpired_forgot(items)?, more))
    }

    fn unexpired_forgot(&self, items: Vec<Item>) -> PortResult<Vec<ForgotRequest>> {
        let now = self.clock.now_ms();
        let mut pending = Vec::new();
        for item in items {
            let item: SealedItem = from_item(item)?;
            if item.expires_at_ms > now {
                pending.push(self.forgot_from_item(item)?);
            }
        }
        Ok(pending)
    }
}
