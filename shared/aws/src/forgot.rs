//! Forgot requests in the table: `FORGOT#PENDING` / `<requestedAtMs, 13
//! digits>#<id>` (see `docs/data-model.md`). The request path writes one of
//! these and nothing else; the stream consumer answers it.

use aws_sdk_dynamodb::types::{AttributeValue, Delete, TransactWriteItem};
use serde::{Deserialize, Serialize};
use shared::ports::accounts::ForgotRequest;
use shared::ports::PortResult;
use zeroize::Zeroizing;

use crate::accounts::{pending_sk, system_now_ms, DynamoAccountStore};
use crate::error::{corrupt, unavailable};
use crate::table::{get_b, get_n, get_s, n, s, ttl_secs, EXPIRES_MS, PK, SK, TTL_ATTR, TYPE};

/// The one partition of pending forgot requests, oldest first.
pub const FORGOT_PENDING_PK: &str = "FORGOT#PENDING";
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
        let expires = r.requested_at_ms + FORGOT_TTL_MS;
        self.client
            .put_item()
            .table_name(&self.table)
            .item(PK, s(FORGOT_PENDING_PK))
            .item(SK, s(pending_sk(r.requested_at_ms, &r.id)))
            .item(TYPE, s("ForgotRequest"))
            .item("id", s(&r.id))
            .item("requestedAtMs", n(r.requested_at_ms))
            .item("sealedBody", AttributeValue::B(sealed.into()))
            .item("sealKid", s(self.outbox_sealer.key_id()))
            .item(EXPIRES_MS, n(expires))
            .item(TTL_ATTR, n(ttl_secs(expires)))
            .condition_expression("attribute_not_exists(PK)")
            .send()
            .await
            .map_err(|e| unavailable("dynamodb PutItem forgot request", e))?;
        Ok(())
    }

    /// Marks a request answered (inside the answer's transaction): exactly
    /// one of concurrent consumers succeeds.
    pub(crate) fn consume_forgot(&self, r: &ForgotRequest) -> PortResult<TransactWriteItem> {
        let del = Delete::builder()
            .table_name(&self.table)
            .key(PK, s(FORGOT_PENDING_PK))
            .key(SK, s(pending_sk(r.requested_at_ms, &r.id)))
            .condition_expression("attribute_exists(PK)")
            .build()
            .map_err(|e| unavailable("dynamodb transaction delete", e))?;
        Ok(TransactWriteItem::builder().delete(del).build())
    }

    fn forgot_from_item(
        &self,
        item: &std::collections::HashMap<String, AttributeValue>,
    ) -> PortResult<ForgotRequest> {
        if get_s(item, "sealKid")? != self.outbox_sealer.key_id() {
            return Err(corrupt("forgot request sealed under another data key"));
        }
        let id = get_s(item, "id")?.to_owned();
        let requested_at_ms = get_n(item, "requestedAtMs")?;
        let plain = self.outbox_sealer.open_bytes(
            &self.forgot_aad(&id, requested_at_ms),
            get_b(item, "sealedBody")?,
        )?;
        let body: SealedForgot = serde_json::from_slice(&plain)
            .map_err(|_| corrupt("forgot request body has a bad shape"))?;
        Ok(ForgotRequest {
            id,
            email: body.email,
            lang: body.lang,
            requested_at_ms,
        })
    }

    /// A pending request by its sort key (as a stream record names it);
    /// `None` once answered or expired.
    pub async fn forgot_request(&self, sk: &str) -> PortResult<Option<ForgotRequest>> {
        let Some(item) = self
            .get(
                FORGOT_PENDING_PK.into(),
                sk,
                "dynamodb GetItem forgot request",
            )
            .await?
        else {
            return Ok(None);
        };
        if system_now_ms() >= get_n(&item, EXPIRES_MS)? {
            return Ok(None);
        }
        self.forgot_from_item(&item).map(Some)
    }

    /// Every unexpired pending request, oldest first (the sweep).
    pub(crate) async fn query_pending_forgot(&self) -> PortResult<Vec<ForgotRequest>> {
        let now = system_now_ms();
        let mut pending = Vec::new();
        for item in self
            .query_all(
                FORGOT_PENDING_PK.into(),
                "",
                "dynamodb Query pending forgot requests",
            )
            .await?
        {
            if get_n(&item, EXPIRES_MS)? > now {
                pending.push(self.forgot_from_item(&item)?);
            }
        }
        Ok(pending)
    }
}
