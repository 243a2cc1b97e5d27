//! The breached-password range service over HTTP(S): the [`RangeSource`]
//! behind `breached.rangeUrl` (the Pwned Passwords API or a mirror of it).
//! It only fetches; `RangeCheck` applies `timeoutMs`, caches and decides
//! whether a failure fails open or closed.

use anyhow::Context;
use async_trait::async_trait;
use http_body_util::{BodyExt, Empty, LengthLimitError, Limited};
use hyper::{Method, Request, StatusCode, Uri};
use password::breach::{RangeError, RangeSource};

use super::https::{https_client, HttpsClient};

/// The largest range body read: a real one (about a thousand 40-byte lines,
/// padded) is some 40 KiB; anything far larger is not a range.
pub const MAX_RANGE_BYTES: usize = 1024 * 1024;
/// Pwned Passwords refuses requests without one.
const USER_AGENT: &str = concat!(
    "password-api/",
    env!("CARGO_PKG_VERSION"),
    " (breached-password range check)"
);

/// `GET {base}{PREFIX}` with `Add-Padding: true`. One client per process, so
/// a warm instance reuses its TLS connection. The request's budget is
/// `timeoutMs`, applied by `RangeCheck`.
pub struct HttpRangeSource {
    base: String,
    client: HttpsClient,
}

impl std::fmt::Debug for HttpRangeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpRangeSource")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl HttpRangeSource {
    /// A source asking `base` (`https://`, or `http://` for a mirror on a
    /// trusted network or a test), to which the prefix is appended.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let uri: Uri = format!("{base}00000")
            .parse()
            .context("breached.rangeUrl is not a URL")?;
        anyhow::ensure!(
            matches!(uri.scheme_str(), Some("https" | "http")) && uri.host().is_some(),
            "breached.rangeUrl must be an http(s) URL with a host"
        );
        Ok(Self {
            base: base.to_owned(),
            client: https_client()?,
        })
    }
}

#[async_trait]
impl RangeSource for HttpRangeSource {
    async fn fetch(&self, prefix: &str) -> Result<String, RangeError> {
        // Only ever the five hex digits of k-anonymity leave the process.
        if prefix.len() != 5 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(RangeError::Unavailable("not a range prefix".into()));
        }
        let uri: Uri = format!("{}{}", self.base, prefix.to_ascii_uppercase())
            .parse()
            .map_err(|_| RangeError::Unavailable("rangeUrl is not a URL".into()))?;
        let req = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .header("add-padding", "true")
            .header(hyper::header::USER_AGENT, USER_AGENT)
            .body(Empty::new())
            .map_err(|_| RangeError::Unavailable("could not build the request".into()))?;
        // Messages name the failure only: never the prefix, the URL or a body.
        let resp = self.client.request(req).await.map_err(|e| {
            RangeError::Unavailable(if e.is_connect() {
                "connection failed".into()
            } else {
                "request failed".into()
            })
        })?;
        if resp.status() != StatusCode::OK {
            return Err(RangeError::Unavailable(format!(
                "status {}",
                resp.status().as_u16()
            )));
        }
        let body = Limited::new(resp.into_body(), MAX_RANGE_BYTES)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<LengthLimitError>() {
                    RangeError::Malformed
                } else {
                    RangeError::Unavailable("reading the body failed".into())
                }
            })?
            .to_bytes();
        String::from_utf8(body.to_vec()).map_err(|_| RangeError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_an_http_url() {
        assert!(HttpRangeSource::new("https://api.pwnedpasswords.com/range/").is_ok());
        assert!(HttpRangeSource::new("ftp://x/range/").is_err());
        assert!(HttpRangeSource::new("not a url").is_err());
    }

    #[tokio::test]
    async fn sends_nothing_but_a_prefix() {
        let source = HttpRangeSource::new("http://127.0.0.1:9/range/").unwrap();
        for bad in ["5BAA", "5BAA61", "5BAAG", "passw"] {
            assert_eq!(
                source.fetch(bad).await,
                Err(RangeError::Unavailable("not a range prefix".into())),
                "{bad}"
            );
        }
    }
}
