//! The JWKS of `JWT_JWKS_URL` (Cognito's `.well-known/jwks.json`, any
//! identity provider's set), fetched at cold start and merged with
//! `JWT_JWKS`: a pool's keys are only known from its URL, a large set does
//! not fit Lambda's 4 KB of environment, and a rotated key must be picked up
//! while the instance runs. A token with an unknown `kid` fetches it again,
//! at most once a minute per instance ([`shared::auth::JwtVerifier::verify_refreshing`]).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use http_body_util::{BodyExt, Limited};
use shared::adapters::https::https_client;
use shared::app::{jwt_verifier, jwt_verifier_with};
use shared::auth::{JwksSource, JwtVerifier};
use shared::config::Config;

/// The largest JWKS document read.
const MAX_JWKS_BYTES: usize = 64 * 1024;
/// How long the fetch may take before the cold start fails.
const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// GETs `url` (https; plain http only to a loopback host, for tests).
pub async fn fetch(url: &str) -> anyhow::Result<String> {
    let uri: hyper::Uri = url.parse().context("JWT_JWKS_URL is not a URL")?;
    let loopback = matches!(uri.host(), Some("127.0.0.1" | "localhost" | "[::1]"));
    anyhow::ensure!(
        uri.scheme_str() == Some("https") || loopback,
        "JWT_JWKS_URL must be https"
    );
    let client = https_client()?;
    let resp = tokio::time::timeout(FETCH_TIMEOUT, client.get(uri))
        .await
        .context("JWKS fetch timed out")?
        .context("fetching the JWKS")?;
    anyhow::ensure!(
        resp.status().is_success(),
        "JWKS answered {}",
        resp.status()
    );
    let body = tokio::time::timeout(
        FETCH_TIMEOUT,
        Limited::new(resp.into_body(), MAX_JWKS_BYTES).collect(),
    )
    .await
    .context("JWKS fetch timed out")?
    .map_err(|e| anyhow::anyhow!("reading the JWKS: {e}"))?
    .to_bytes();
    String::from_utf8(body.to_vec()).context("JWKS is not UTF-8")
}

/// `{"keys": [...]}` with the keys of both sets (`base` may be absent).
pub fn merge(base: Option<&str>, fetched: &str) -> anyhow::Result<String> {
    shared::auth::merge_sets(base, fetched).map_err(anyhow::Error::msg)
}

/// `JWT_JWKS_URL` as the verifier's source of fresh keys.
pub struct UrlJwks {
    url: String,
}

impl UrlJwks {
    pub fn new(url: &str) -> UrlJwks {
        UrlJwks {
            url: url.to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl JwksSource for UrlJwks {
    async fn fetch(&self) -> Result<String, String> {
        fetch(&self.url).await.map_err(|e| format!("{e:#}"))
    }
}

/// The access-token verifier of a deployed function: `JWT_JWKS`, plus with
/// `JWT_JWKS_URL` its set fetched now (the cold start fails when it cannot
/// be) and again for unknown `kid`s.
pub async fn verifier(config: &Config) -> anyhow::Result<JwtVerifier> {
    let Some(url) = &config.jwt.jwks_url else {
        return jwt_verifier(config);
    };
    let fetched = fetch(url)
        .await
        .context("configuration variable JWT_JWKS_URL")?;
    let merged = merge(config.jwt.jwks_json.as_deref(), &fetched)
        .context("configuration variable JWT_JWKS_URL")?;
    Ok(jwt_verifier_with(config, &merged)?
        .refreshing_from(Arc::new(UrlJwks::new(url)), config.jwt.jwks_json.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn merged_sets_keep_every_key() {
        let a = r#"{"keys":[{"kid":"a"}]}"#;
        let b = r#"{"keys":[{"kid":"b"},{"kid":"c"}]}"#;
        let m: Value = serde_json::from_str(&merge(Some(a), b).unwrap()).unwrap();
        let kids: Vec<&str> = m["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap())
            .collect();
        assert_eq!(kids, ["a", "b", "c"]);
        assert!(merge(None, "{}").is_err());
        assert!(merge(None, "not json").is_err());
    }

    #[tokio::test]
    async fn fetches_a_jwks_and_refuses_plain_http_off_loopback() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await.unwrap();
            let body = r#"{"keys":[{"kid":"pool"}]}"#;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            sock.write_all(resp.as_bytes()).await.unwrap();
        });
        let got = fetch(&format!("http://127.0.0.1:{}/jwks.json", addr.port()))
            .await
            .unwrap();
        assert_eq!(got, r#"{"keys":[{"kid":"pool"}]}"#);
        let err = fetch("http://example.com/jwks.json").await.unwrap_err();
        assert!(err.to_string().contains("https"), "{err}");
    }
}
