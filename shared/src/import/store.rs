//! [`ImportWriter`] over any [`AccountStore`]: local-api's embedded store.
//! Each user is one `apply` of the change the invite use case makes.

use std::sync::Arc;

use async_trait::async_trait;

use super::run::{ImportWriter, Stored};
use crate::ports::accounts::{AccountChange, AccountStore};
use crate::ports::{PortResult, Unavailable};

/// Writes through an account store, one change at a time.
pub struct StoreWriter {
    accounts: Arc<dyn AccountStore>,
}

impl StoreWriter {
    /// Writes to `accounts`.
    pub fn new(accounts: Arc<dyn AccountStore>) -> Self {
        StoreWriter { accounts }
    }
}

#[async_trait]
impl ImportWriter for StoreWriter {
    async fn lookup(&self, keys: &[(String, String)]) -> PortResult<Vec<Stored>> {
        let mut found = Vec::with_capacity(keys.len());
        for (biz_id, email) in keys {
            found.push(Stored {
                profile_email: self.accounts.user(biz_id).await?.map(|u| u.email),
                claim_biz_id: self.accounts.user_by_email(email).await?.map(|u| u.biz_id),
            });
        }
        Ok(found)
    }

    async fn write(&self, changes: Vec<AccountChange>, now_ms: u64) -> PortResult<()> {
        for change in changes {
            // Looked up just before: a rejection is a concurrent writer.
            self.accounts
                .apply(change, now_ms)
                .await?
                .map_err(|r| Unavailable(anyhow::anyhow!("import write rejected: {r}")))?;
        }
        Ok(())
    }

    /// The embedded store keeps no statistics.
    async fn add_foreign(&self, _n: u64) -> PortResult<()> {
        Ok(())
    }
}
