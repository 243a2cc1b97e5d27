//! Route handlers: each takes a [`Ctx`] (the app, the checked gateway
//! headers, its own route) and the request, and returns a response or an `ApiError`.

pub mod accounts;
pub mod admin;
pub mod mail;
pub mod password;
pub mod secure_channel;
pub mod verify;

use crate::app::App;
use crate::http::{ApiError, Gateway};
use crate::ports::{Limit, RateDecision};
use crate::route::Route;

/// What every handler gets: the app, the checked gateway headers, the request
/// id and the route it serves. Built per request by the dispatcher (`routes`).
pub struct Ctx<'a> {
    /// The route being served: the one an SCv2 request is opened under.
    pub route: Route,
    /// The application state.
    pub app: &'a App,
    /// The checked gateway headers.
    pub gw: &'a Gateway,
    /// The id echoed in the response envelope.
    pub request_id: &'a str,
    /// What the handler learns for the audit event and metrics.
    pub facts: &'a crate::observe::Facts,
}

impl Ctx<'_> {
    /// The rate-limit key of the caller: the IPv4 address, or the IPv6 /64
    /// (one subscriber usually holds a whole /64).
    pub fn ip_key(&self) -> String {
        crate::http::ip_rate_key(self.gw.client_ip)
    }

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
