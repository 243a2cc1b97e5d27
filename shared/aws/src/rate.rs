//! `RateLimiter` over DynamoDB: GCRA ([`shared::ports::gcra`]) with one
//! item per (bucket, key), `RATE#<bucket>#<key>` / `GCRA`, whose
//! `expiresAtMs` is the theoretical arrival time (TAT): past it, the bucket
//! is full again, the same as no item. Buckets are code constants without `#`.
//!
//! Each request is one conditional `UpdateItem`: an idle key starts over at
//! `now + period`, a busy one advances its TAT by one period if that stays
//! within the burst. A failed condition returns the item, which either shows
//! the request is over the limit (nothing written) or tells which of the two
//! updates applies. The TAT only grows, so this ends after at most three calls.
//!
//! The stored TAT never decreases (both updates move it forward, and its TTL
//! lies past it), so a TAT this instance has seen stored is a lower bound of
//! the one stored now. The limiter keeps the latest it saw per key
//! ([`TatHints`]) to pick the update that will apply on the first call, and
//! to refuse without any call a request that the lower bound already shows
//! over the limit. Every allowed request still passes the table's condition,
//! so what several instances admit together stays within the limit.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{ReturnValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use shared::ports::{gcra, Limit, PortResult, RateDecision, RateLimiter};

use crate::error::{corrupt, unavailable};
use crate::table::{get_n, n, s, ttl_secs, EXPIRES_MS, PK, SK, TTL_ATTR, TYPE};

/// Keys whose TAT an instance remembers before it starts over; a Lambda
/// instance serves one request at a time, so this bounds memory, not speed.
const MAX_HINTS: usize = 4096;

/// The latest TAT seen stored per item key: a lower bound of the stored one.
#[derive(Debug, Default)]
struct TatHints(Mutex<HashMap<String, u64>>);

impl TatHints {
    fn get(&self, pk: &str) -> u64 {
        self.lock().get(pk).copied().unwrap_or(0)
    }

    fn saw(&self, pk: &str, tat: u64) {
        let mut hints = self.lock();
        if hints.len() >= MAX_HINTS && !hints.contains_key(pk) {
            hints.clear();
        }
        let known = hints.entry(pk.to_owned()).or_insert(0);
        *known = (*known).max(tat);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        // A poisoned map holds plain numbers that are still lower bounds.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug)]
pub struct DynamoRateLimiter {
    client: Client,
    table: String,
    hints: TatHints,
}

/// What one conditional update did: applied (with the TAT it wrote), or
/// refused by its condition (with the TAT it saw, 0 when there was no item).
enum Update {
    Applied(u64),
    Saw(u64),
}

impl DynamoRateLimiter {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoRateLimiter {
            client,
            table: table.into(),
            hints: TatHints::default(),
        }
    }

    /// Runs one conditional update of the bucket item `pk`.
    async fn conditional(
        &self,
        pk: &str,
        update: &str,
        condition: &str,
        values: &[(&str, u64)],
    ) -> PortResult<Update> {
        let mut req = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s("GCRA"))
            .update_expression(update)
            .condition_expression(condition)
            .expression_attribute_names("#exp", EXPIRES_MS)
            .expression_attribute_names("#ttl", TTL_ATTR)
            .expression_attribute_names("#type", TYPE)
            .expression_attribute_values(":type", s("RateBucket"))
            .return_values(ReturnValue::UpdatedNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, value) in values {
            req = req.expression_attribute_values(*name, n(*value));
        }
        match req.send().await {
            Ok(out) => match out.attributes() {
                Some(new) => Ok(Update::Applied(get_n(new, EXPIRES_MS)?)),
                None => Err(corrupt("rate bucket update returned no attributes")),
            },
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(f)) => {
                    Ok(Update::Saw(match f.item() {
                        Some(old) if old.contains_key(EXPIRES_MS) => get_n(old, EXPIRES_MS)?,
                        _ => 0,
                    }))
                }
                _ => Err(unavailable("dynamodb UpdateItem rate bucket", e)),
            },
        }
    }
}

#[async_trait]
impl RateLimiter for DynamoRateLimiter {
    async fn hit(
        &self,
        bucket: &str,
        key: &str,
        limit: Limit,
        now_ms: u64,
    ) -> PortResult<RateDecision> {
        let pk = format!("RATE#{bucket}#{key}");
        let period = limit.period_ms();
        let latest = now_ms + limit.burst_ms() - period;
        // Every TAT written here is at most now + burst: a safe TTL for both updates.
        let ttl = ttl_secs(now_ms + limit.burst_ms());
        let mut seen = self.hints.get(&pk);
        for _ in 0..4 {
            let outcome = if seen < now_ms {
                self.conditional(
                    &pk,
                    "SET #exp = :next, #ttl = :ttl, #type = :type",
                    "attribute_not_exists(#exp) OR #exp < :now",
                    &[(":next", now_ms + period), (":now", now_ms), (":ttl", ttl)],
                )
                .await?
            } else {
                if let Err(limited) = gcra(limit, seen, now_ms) {
                    return Ok(limited);
                }
                self.conditional(
                    &pk,
                    "SET #exp = #exp + :period, #ttl = :ttl, #type = :type",
                    "#exp BETWEEN :now AND :latest",
                    &[
                        (":period", period),
                        (":now", now_ms),
                        (":latest", latest),
                        (":ttl", ttl),
                    ],
                )
                .await?
            };
            match outcome {
                Update::Applied(tat) => {
                    self.hints.saw(&pk, tat);
                    return Ok(RateDecision::Allowed);
                }
                Update::Saw(tat) => {
                    self.hints.saw(&pk, tat);
                    seen = tat;
                }
            }
        }
        // Unreachable while the TAT only grows; a store that breaks that is faulty.
        Err(corrupt("rate bucket kept changing under its condition"))
    }

    /// Deletes the bucket item. Instances that saw its TAT keep that hint, so
    /// they may refuse the key until the hint passes: late, never too many.
    async fn forget(&self, bucket: &str, key: &str) -> PortResult<()> {
        let pk = format!("RATE#{bucket}#{key}");
        self.client
            .delete_item()
            .table_name(&self.table)
            .key(PK, s(pk.as_str()))
            .key(SK, s("GCRA"))
            .send()
            .await
            .map_err(|e| unavailable("dynamodb DeleteItem rate bucket", e))?;
        self.hints.lock().remove(&pk);
        Ok(())
    }
}
