//! Erasure of a user (`AccountStore::erase_user`, the operator's `delete`).
//!
//! The user's links, undelivered mail and unanswered forgot requests are
//! deleted one `DeleteItem` at a time (idempotent, and any number of them,
//! where a transaction holds at most 100 actions); the profile and the email
//! claim go last, together, under the version read. A failure before that
//! leaves the user in place, so the operator runs the erasure again.

use aws_sdk_dynamodb::types::TransactWriteItem;
use shared::ports::accounts::{foreign_hash_delta, ChangeRejected, Erased, User};
use shared::ports::PortResult;

use super::item::{from_item, MarkerItem, OfUserItem};
use super::keys::{
    email_pk, links_pk, outbox_pk, pending_sk, user_pk, LinkMarker, EMAIL_SK, FORGOT_PENDING_PK,
    INIT_MARKER, OUTBOX_PENDING_PK, OUTBOX_SK, PROFILE_SK,
};
use super::{reasons, DynamoAccountStore};
use crate::error::{corrupt, unavailable};
use crate::table::{n, s, PK, SK};

impl DynamoAccountStore {
    pub(super) async fn erase(&self, user: &User) -> PortResult<Result<Erased, ChangeRejected>> {
        let biz = &user.biz_id;
        let mut erased = Erased::default();
        // Every marker, expired ones too: nothing of the user stays behind.
        for item in self
            .query_all(links_pk(biz), "", "dynamodb Query user links")
            .await?
        {
            let item: MarkerItem = from_item(item)?;
            let marker = LinkMarker {
                sha: item
                    .token_sha256
                    .ok_or_else(|| corrupt("link marker without token hash"))?,
                sk: item.head.sk,
            };
            let (pk, sk) = marker.target();
            self.delete_one(pk, sk).await?;
            self.delete_one(links_pk(biz), &marker.sk).await?;
            if marker.sk.starts_with(INIT_MARKER) {
                erased.init_sid_sha256.push(marker.sha);
            } else {
                erased.reset_sha256.push(marker.sha);
            }
        }
        for message in self.query_pending_outbox().await? {
            if message.to == user.email {
                self.delete_one(outbox_pk(&message.id), OUTBOX_SK).await?;
                self.delete_one(
                    OUTBOX_PENDING_PK.into(),
                    &pending_sk(message.created_at_ms, &message.id),
                )
                .await?;
                erased.messages += 1;
            }
        }
        for request in self.query_pending_forgot().await? {
            if request.email == user.email {
                self.delete_one(
                    FORGOT_PENDING_PK.into(),
                    &pending_sk(request.requested_at_ms, &request.id),
                )
                .await?;
                erased.forgot_requests += 1;
            }
        }
        Ok(self.erase_profile(user).await?.map(|()| erased))
    }

    /// The profile (under the version read) and the email claim if it names
    /// the user, in one transaction.
    async fn erase_profile(&self, user: &User) -> PortResult<Result<(), ChangeRejected>> {
        let profile = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .key(PK, s(user_pk(&user.biz_id)))
            .key(SK, s(PROFILE_SK))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", "version")
            .expression_attribute_values(":v", n(user.version))
            .build()
            .map_err(|e| unavailable("dynamodb transaction delete", e))?;
        let mut actions = vec![TransactWriteItem::builder().delete(profile).build()];
        let claim = self
            .get(
                email_pk(&user.email),
                EMAIL_SK,
                "dynamodb GetItem email claim",
            )
            .await?;
        if let Some(claim) = claim {
            let claim: OfUserItem = from_item(claim)?;
            if claim.biz_id == user.biz_id {
                let del = aws_sdk_dynamodb::types::Delete::builder()
                    .table_name(&self.table)
                    .key(PK, s(email_pk(&user.email)))
                    .key(SK, s(EMAIL_SK))
                    .condition_expression("bizId = :biz")
                    .expression_attribute_values(":biz", s(user.biz_id.as_str()))
                    .build()
                    .map_err(|e| unavailable("dynamodb transaction delete", e))?;
                actions.push(TransactWriteItem::builder().delete(del).build());
            }
        }
        // The count of users on an imported hash loses this one.
        let delta = foreign_hash_delta(user.password.as_ref(), None);
        if delta != 0 {
            actions.push(self.planner().add_foreign_hash_users(delta)?);
        }
        match self
            .client
            .transact_write_items()
            .set_transact_items(Some(actions))
            .send()
            .await
        {
            Ok(_) => Ok(Ok(())),
            // The profile or the claim changed since they were read.
            Err(e) if reasons(&e).is_some() => Ok(Err(ChangeRejected::VersionConflict)),
            Err(e) => Err(unavailable("dynamodb TransactWriteItems erase user", e)),
        }
    }

    async fn delete_one(&self, pk: String, sk: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .send()
            .await
            .map_err(|e| unavailable("dynamodb DeleteItem erase user", e))?;
        Ok(())
    }
}
