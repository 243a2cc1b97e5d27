//! Every route in one process over the embedded adapters, for local use and
//! end-to-end tests. Never deployed.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, Response};
use shared::http::ApiRequest;
use shared::App;
use tokio::net::TcpListener;

/// Bodies above this never reach the core (which answers 413 above 64 KiB itself).
const TRANSPORT_BODY_LIMIT: usize = 1024 * 1024;

/// Binds `addr` and serves `app` in a background task; returns the bound address.
pub async fn spawn(app: App, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let router = axum::Router::new()
        .fallback(route_any)
        .layer(DefaultBodyLimit::max(TRANSPORT_BODY_LIMIT))
        .with_state(app);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "local-api server stopped");
        }
    });
    Ok(local)
}

async fn route_any(
    State(app): State<App>,
    req: Request<axum::body::Body>,
) -> Response<axum::body::Body> {
    let (parts, body) = req.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, TRANSPORT_BODY_LIMIT).await {
        Ok(b) => b,
        // Larger than the transport limit: certainly over 64 KiB.
        Err(_) => Bytes::from(vec![0u8; shared::channel::wire::MAX_ENVELOPE_LEN + 1]),
    };
    let api_req = ApiRequest {
        method: parts.method,
        headers: parts.headers,
        body,
        fallback_request_id: None,
    };
    let resp = shared::routes::dispatch(&app, parts.uri.path(), api_req).await;
    resp.map(axum::body::Body::from)
}
