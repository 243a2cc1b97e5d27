//! Route handlers: each takes checked input and returns a response or an `ApiError`.

pub mod accounts;
pub mod mail;
pub mod password;
pub mod secure_channel;

use crate::app::App;
use crate::http::{ApiError, Gateway};
use crate::ports::{Limit, RateDecision};

/// What every handler gets: the app, the checked gateway headers, the request id.
pub struct Ctx<'a> {
    pub app: &'a App,
    pub gw: &'a Gateway,
    pub request_id: &'a str,
}

impl Ctx<'_> {
    /// Counts this request against `limit` for `key`; every request counts, whatever its outcome.
    pub async fn rate_limit(&self, bucket: &str, key: &str, limit: Limit) -> Result<(), ApiError> {
        let now = self.app.clock.now_ms();
        match self.app.limiter.hit(bucket, key, limit, now).await? {
            RateDecision::Allowed => Ok(()),
            RateDecision::Limited { retry_after_secs } => {
                Err(ApiError::RateLimited { retry_after_secs })
            }
        }
    }
}
