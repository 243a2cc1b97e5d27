//! The import writer over DynamoDB (`pwctl admin import`): users written as
//! the service writes them (the items of the invite use case's transaction:
//! profile, email claim and, for an invitation, init session, marker and
//! outbox message), 25 items per `BatchWriteItem`, a user's items always in
//! the same request. Lookups are one strongly consistent `BatchGetItem`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, PutRequest, WriteRequest};
use shared::import::{ImportWriter, Stored, MAX_BATCH_ITEMS};
use shared::ports::accounts::AccountChange;
use shared::ports::PortResult;

use crate::accounts::{
    Item, FOREIGN_HASH_STATS_PK, FOREIGN_HASH_STATS_SK, FOREIGN_HASH_USERS_ATTR,
};
use crate::error::{corrupt, unavailable};
use crate::table::{n, s, PK, SK};
use crate::{AwsClients, AwsConfig, DynamoAccountStore, KmsKeyStore, SessionSealer};

/// Tries of one request while DynamoDB leaves items unprocessed (throttled).
const ATTEMPTS: u32 = 12;
/// First backoff; doubled on every try, at most [`MAX_BACKOFF`], full jitter.
const BASE_BACKOFF: Duration = Duration::from_millis(25);
const MAX_BACKOFF: Duration = Duration::from_secs(2);
/// DynamoDB's limit of keys in one `BatchGetItem`.
const MAX_GET_KEYS: usize = 100;

/// [`ImportWriter`] over the table.
pub struct DynamoImportWriter {
    store: DynamoAccountStore,
}

impl DynamoImportWriter {
    /// Writes through `store` (whose outbox sealer seals the invitations).
    pub fn new(store: DynamoAccountStore) -> Self {
        DynamoImportWriter { store }
    }

    /// The table of the environment (`TABLE_NAME`, `AWS_*`); with the outbox
    /// data key (KMS) only when invitations are sent.
    pub async fn from_env(invite: bool) -> anyhow::Result<Self> {
        let cfg = AwsConfig::from_env()?;
        let clients = AwsClients::from_env(&cfg).await;
        Self::with(&cfg, &clients, invite).await
    }

    /// Same over given settings and clients.
    pub async fn with(cfg: &AwsConfig, clients: &AwsClients, invite: bool) -> anyhow::Result<Self> {
        let store = if invite {
            let keys = KmsKeyStore::from_clients(clients, cfg);
            crate::bootstrap::account_store(cfg, clients, &keys).await?
        } else {
            DynamoAccountStore::new(
                clients.dynamodb.clone(),
                &cfg.table_name,
                SessionSealer::withheld(&cfg.outbox_data_key_id),
                Arc::new(shared::adapters::memory::SystemClock),
            )
        };
        Ok(DynamoImportWriter::new(store))
    }

    fn table(&self) -> &str {
        &self.store.table
    }
}

/// Sleep before try `attempt` (1-based): full jitter over an exponential cap.
async fn backoff(attempt: u32) {
    let cap = BASE_BACKOFF
        .saturating_mul(1 << attempt.min(16))
        .min(MAX_BACKOFF);
    let r: [u8; 4] = shared::channel::random_bytes();
    let frac = f64::from(u32::from_le_bytes(r)) / f64::from(u32::MAX);
    tokio::time::sleep(cap.mul_f64(frac)).await;
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([(PK.to_owned(), s(pk)), (SK.to_owned(), s(sk))])
}

fn string(item: &Item, name: &str) -> Option<String> {
    match item.get(name) {
        Some(AttributeValue::S(v)) => Some(v.clone()),
        _ => None,
    }
}

#[async_trait]
impl ImportWriter for DynamoImportWriter {
    async fn lookup(&self, keys: &[(String, String)]) -> PortResult<Vec<Stored>> {
        // Both items of every line, each key once (BatchGetItem refuses repeats).
        let mut wanted: Vec<Item> = Vec::new();
        for (biz_id, email) in keys {
            for k in [
                key(format!("USER#{biz_id}"), "PROFILE"),
                key(format!("EMAIL#{email}"), "EMAIL"),
            ] {
                if !wanted.contains(&k) {
                    wanted.push(k);
                }
            }
        }
        let mut found: HashMap<String, Item> = HashMap::new();
        for chunk in wanted.chunks(MAX_GET_KEYS) {
            let mut request = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(true)
                    .build()
                    .map_err(|e| unavailable("dynamodb BatchGetItem import", e))?,
            );
            let mut attempt = 0;
            while let Some(req) = request.take() {
                if attempt > 0 {
                    if attempt >= ATTEMPTS {
                        return Err(corrupt("BatchGetItem kept leaving keys unprocessed"));
                    }
                    backoff(attempt).await;
                }
                attempt += 1;
                let out = self
                    .store
                    .client
                    .batch_get_item()
                    .request_items(self.table(), req)
                    .send()
                    .await
                    .map_err(|e| unavailable("dynamodb BatchGetItem import", e))?;
                for item in out
                    .responses
                    .and_then(|mut r| r.remove(self.table()))
                    .unwrap_or_default()
                {
                    if let Some(pk) = string(&item, PK) {
                        found.insert(pk, item);
                    }
                }
                request = out
                    .unprocessed_keys
                    .and_then(|mut u| u.remove(self.table()))
                    .filter(|k| !k.keys.is_empty());
            }
        }
        Ok(keys
            .iter()
            .map(|(biz_id, email)| Stored {
                profile_email: found
                    .get(&format!("USER#{biz_id}"))
                    .and_then(|i| string(i, "email")),
                claim_biz_id: found
                    .get(&format!("EMAIL#{email}"))
                    .and_then(|i| string(i, "bizId")),
            })
            .collect())
    }

    async fn write(&self, changes: Vec<AccountChange>, now_ms: u64) -> PortResult<()> {
        let mut requests = Vec::new();
        for mut change in changes {
            // Counted in bulk by `add_foreign`, not per user in a transaction.
            change.foreign_hash_delta = 0;
            for item in self.store.created_items(&change, now_ms)? {
                let put = PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map_err(|e| unavailable("dynamodb BatchWriteItem import", e))?;
                requests.push(WriteRequest::builder().put_request(put).build());
            }
        }
        if requests.len() > MAX_BATCH_ITEMS {
            return Err(corrupt("an import batch over 25 items"));
        }
        let mut pending = Some(requests).filter(|r| !r.is_empty());
        let mut attempt = 0;
        while let Some(batch) = pending.take() {
            if attempt > 0 {
                if attempt >= ATTEMPTS {
                    return Err(corrupt("BatchWriteItem kept leaving items unprocessed"));
                }
                backoff(attempt).await;
            }
            attempt += 1;
            let out = self
                .store
                .client
                .batch_write_item()
                .request_items(self.table(), batch)
                .send()
                .await
                .map_err(|e| unavailable("dynamodb BatchWriteItem import", e))?;
            pending = out
                .unprocessed_items
                .and_then(|mut u| u.remove(self.table()))
                .filter(|r| !r.is_empty());
        }
        Ok(())
    }

    async fn add_foreign(&self, count: u64) -> PortResult<()> {
        self.store
            .client
            .update_item()
            .table_name(self.table())
            .key(PK, s(FOREIGN_HASH_STATS_PK))
            .key(SK, s(FOREIGN_HASH_STATS_SK))
            .update_expression("ADD #u :n")
            .expression_attribute_names("#u", FOREIGN_HASH_USERS_ATTR)
            .expression_attribute_values(":n", n(count))
            .send()
            .await
            .map_err(|e| unavailable("dynamodb UpdateItem foreign-hash count", e))?;
        Ok(())
    }
}
