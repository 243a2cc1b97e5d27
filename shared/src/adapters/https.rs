//! The one HTTP(S) client builder of the process: the breached-password
//! range service and the JWKS fetch (`aws_adapters::jwks`) go out through
//! the same connector, roots and timeouts.

use std::time::Duration;

use anyhow::Context;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

/// A backstop for the TCP connect alone; each caller bounds its request.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Pooled connections older than this are not reused: a Lambda instance may
/// sit frozen for minutes and the peer will have closed them.
const POOL_IDLE: Duration = Duration::from_secs(30);

/// A client for bodiless requests (GET) over https, or http where the
/// caller allows it.
pub type HttpsClient = Client<HttpsConnector<HttpConnector>, Empty<Bytes>>;

/// A client over the system's root certificates, HTTP/1.1.
pub fn https_client() -> anyhow::Result<HttpsClient> {
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .context("loading the system's root certificates")?
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .pool_idle_timeout(POOL_IDLE)
        .pool_timer(TokioTimer::new())
        .build(connector))
}
