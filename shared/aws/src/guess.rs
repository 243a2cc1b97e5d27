//! `GuessCounter` over DynamoDB: one item per key, `GUESS#<key>` / `COUNTER`,
//! holding `failures`, `lockedUntilMs` and `expiresAtMs` (with the TTL
//! `expiresAt`). The rule is [`shared::ports::reserve_next`]; each reservation
//! is a compare-and-set on the whole stored state, so concurrent attempts
//! are counted one by one: at most `threshold` pass before the lock.
//!
//! A first try assumes no item (one call for a fresh key). A refused
//! condition returns the stored item, and the next try sets its successor.
//! Each round lets one writer through, so contention ends with the lock.

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::ReturnValuesOnConditionCheckFailure;
use aws_sdk_dynamodb::Client;
use shared::ports::{reserve_next, Attempt, GuessCounter, GuessState, Lockout, PortResult};

use crate::error::{corrupt, unavailable};
use crate::table::{get_n, n, s, ttl_secs, EXPIRES_MS, PK, SK, TTL_ATTR, TYPE};

/// Sort key of a counter item.
pub const GUESS_SK: &str = "COUNTER";
/// Attribute: consecutive failures.
const FAILURES: &str = "failures";
/// Attribute: end of the lock, Unix ms.
const LOCKED_UNTIL: &str = "lockedUntilMs";
/// Rounds of compare-and-set before the store is called faulty: far more
/// than concurrent writers need, since each round lets one through.
const MAX_ROUNDS: usize = 64;

/// Partition key of the counter of `key`.
pub fn guess_pk(key: &str) -> String {
    format!("GUESS#{key}")
}

#[derive(Debug, Clone)]
pub struct DynamoGuessCounter {
    client: Client,
    table: String,
}

impl DynamoGuessCounter {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoGuessCounter {
            client,
            table: table.into(),
        }
    }

    /// Stores `next` if the item is still `seen`; else the item found.
    async fn swap(
        &self,
        pk: &str,
        seen: Option<GuessState>,
        next: GuessState,
    ) -> PortResult<Result<(), Option<GuessState>>> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(GUESS_SK))
            .update_expression("SET #f = :f, #l = :l, #exp = :exp, #ttl = :ttl, #type = :type")
            .expression_attribute_names("#f", FAILURES)
            .expression_attribute_names("#l", LOCKED_UNTIL)
            .expression_attribute_names("#exp", EXPIRES_MS)
            .expression_attribute_names("#ttl", TTL_ATTR)
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_values(":f", n(u64::from(next.failures)))
            .expression_attribute_values(":l", n(next.locked_until_ms))
            .expression_attribute_values(":exp", n(next.expires_at_ms))
            .expression_attribute_values(":ttl", n(ttl_secs(next.expires_at_ms)))
            .expression_attribute_values(":type", s("GuessCounter"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        req = match seen {
            None => req
                .condition_expression("attribute_not_exists(#pk)")
                .expression_attribute_names("#pk", PK),
            Some(old) => req
                .condition_expression("#f = :of AND #l = :ol AND #exp = :oexp")
                .expression_attribute_values(":of", n(u64::from(old.failures)))
                .expression_attribute_values(":ol", n(old.locked_until_ms))
                .expression_attribute_values(":oexp", n(old.expires_at_ms)),
        };
        match req.send().await {
            Ok(_) => Ok(Ok(())),
            Err(e) => match e.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(f)) => {
                    Ok(Err(match f.item() {
                        Some(item) => Some(GuessState {
                            failures: u32::try_from(get_n(item, FAILURES)?)
                                .map_err(|_| corrupt("guess counter out of range"))?,
                            locked_until_ms: get_n(item, LOCKED_UNTIL)?,
                            expires_at_ms: get_n(item, EXPIRES_MS)?,
                        }),
                        None => None,
                    }))
                }
                _ => Err(unavailable("dynamodb UpdateItem guess counter", e)),
            },
        }
    }
}

#[async_trait]
impl GuessCounter for DynamoGuessCounter {
    async fn reserve(&self, key: &str, lockout: Lockout, now_ms: u64) -> PortResult<Attempt> {
        let pk = guess_pk(key);
        let mut seen = None;
        for _ in 0..MAX_ROUNDS {
            let next = match reserve_next(seen, lockout, now_ms) {
                Ok(next) => next,
                Err(locked) => return Ok(locked),
            };
            match self.swap(&pk, seen, next).await? {
                Ok(()) => {
                    return Ok(Attempt::Allowed {
                        failures: next.failures,
                    })
                }
                Err(found) => seen = found,
            }
        }
        Err(corrupt("guess counter kept changing under its condition"))
    }

    async fn clear(&self, key: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(guess_pk(key)))
            .key(SK, s(GUESS_SK))
            .send()
            .await
            .map_err(|e| unavailable("dynamodb DeleteItem guess counter", e))?;
        Ok(())
    }
}
