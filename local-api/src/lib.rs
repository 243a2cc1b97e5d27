//! Every route in one process over the embedded adapters, plus the `/_dev`
//! routes, for local use and end-to-end tests. Never deployed.

pub mod dev;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, Response};
use shared::adapters::memory::accounts::MemoryMailer;
use shared::channel::KeyRing;
use shared::config::Config;
use shared::http::ApiRequest;
use shared::App;
use tokio::net::TcpListener;

pub use dev::DevSigner;

/// Bodies above this never reach the core (which answers 413 above 64 KiB itself).
const TRANSPORT_BODY_LIMIT: usize = 1024 * 1024;

/// The local server's state: the app, the dev token signer, the local mailbox.
#[derive(Clone)]
pub struct Local {
    pub app: App,
    pub signer: Arc<DevSigner>,
    pub mailbox: Arc<MemoryMailer>,
    /// One delivery run at a time, so [`Local::settle`] sees every earlier one finished.
    delivery: Arc<tokio::sync::Mutex<()>>,
}

impl Local {
    /// Embedded app whose JWKS is the local signer's key and whose mail stays in memory.
    pub fn new(mut config: Config, keys: KeyRing) -> anyhow::Result<Local> {
        let signer = DevSigner::generate()?;
        if config.jwt.jwks_json.is_none() {
            config.jwt.jwks_json = Some(signer.jwks().to_owned());
        }
        Ok(Self::over(App::embedded(config, keys)?, signer))
    }

    /// Any prepared app (e.g. over the AWS adapters), its mail kept in memory.
    pub fn over(mut app: App, signer: DevSigner) -> Local {
        let mailbox = Arc::new(MemoryMailer::default());
        app.mailer = mailbox.clone();
        Local {
            app,
            signer: Arc::new(signer),
            mailbox,
            delivery: Arc::default(),
        }
    }

    /// Answers the pending forgot requests and delivers the pending mail, as
    /// the stream consumer does in AWS; returns once every delivery started
    /// before it has finished too (what `/_dev/outbox` and tests wait on).
    pub async fn settle(&self) {
        let _one_at_a_time = self.delivery.lock().await;
        if let Err(e) = shared::handlers::accounts::deliver_outbox(&self.app).await {
            tracing::error!(error = %e, "local outbox delivery failed");
        }
    }
}

/// Binds `addr` and serves in a background task; returns the bound address.
pub async fn spawn(local: Local, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    let router = axum::Router::new()
        .fallback(route_any)
        .layer(DefaultBodyLimit::max(TRANSPORT_BODY_LIMIT))
        .with_state(local);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "local-api server stopped");
        }
    });
    Ok(bound)
}

async fn route_any(
    State(local): State<Local>,
    req: Request<axum::body::Body>,
) -> Response<axum::body::Body> {
    let (parts, body) = req.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, TRANSPORT_BODY_LIMIT).await {
        Ok(b) => b,
        // Larger than the transport limit: certainly over 64 KiB.
        Err(_) => Bytes::from(vec![0u8; shared::channel::wire::MAX_ENVELOPE_LEN + 1]),
    };
    let path = parts.uri.path().to_owned();
    let resp = match dev::handle(&local, &parts.method, &path, &body).await {
        Some(resp) => resp,
        None => {
            let api_req = ApiRequest {
                method: parts.method,
                headers: parts.headers,
                body,
                fallback_request_id: None,
            };
            let resp = shared::routes::dispatch(&local.app, &path, api_req).await;
            // In AWS the table stream drives the mail function; here it runs in
            // process, after the answer, off the request path as there.
            let local = local.clone();
            tokio::spawn(async move { local.settle().await });
            resp
        }
    };
    resp.map(axum::body::Body::from)
}
