//! Every route in one process over the embedded adapters, plus the `/_dev`
//! routes, for local use and end-to-end tests. Never deployed.

pub mod demo;
pub mod dev;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{Request, Response};
use shared::adapters::memory::accounts::MemoryMailer;
use shared::channel::KeyRing;
use shared::config::Config;
use shared::http::{ApiRequest, ClientIpSource, CorsPolicy};
use shared::App;
use tokio::net::TcpListener;

pub use dev::DevSigner;

/// Origins a front-end dev server uses (Vite's default port), allowed when
/// `CORS_ALLOWED_ORIGINS` is not set.
pub const DEFAULT_CORS_ORIGINS: &str = "http://localhost:5173,http://127.0.0.1:5173";

/// The CORS policy of local-api: `CORS_ALLOWED_ORIGINS` when given, else
/// [`DEFAULT_CORS_ORIGINS`].
pub fn local_cors(configured: Option<&str>) -> anyhow::Result<CorsPolicy> {
    CorsPolicy::parse(configured.unwrap_or(DEFAULT_CORS_ORIGINS)).map_err(|problem| {
        anyhow::anyhow!("configuration variable CORS_ALLOWED_ORIGINS: {problem}")
    })
}

/// Bodies above this never reach the core (which answers 413 above 64 KiB itself).
const TRANSPORT_BODY_LIMIT: usize = 1024 * 1024;

/// The flag that allows binding beyond loopback.
pub const EXPOSE_FLAG: &str = "--unsafe-expose-dev-routes";

/// `/_dev/token` mints access tokens for anyone who can reach the server, so
/// only loopback is served unless [`EXPOSE_FLAG`] says otherwise.
pub fn check_bind(addr: IpAddr, expose_dev_routes: bool) -> anyhow::Result<()> {
    if addr.is_loopback() || expose_dev_routes {
        return Ok(());
    }
    anyhow::bail!(
        "refusing to bind {addr}: local-api serves /_dev routes that mint access tokens \
         for anyone; bind a loopback address, or pass {EXPOSE_FLAG} to expose them anyway"
    )
}

/// The local server's state: the app, the dev token signer, the local mailbox.
#[derive(Clone)]
pub struct Local {
    pub app: App,
    pub signer: Arc<DevSigner>,
    pub mailbox: Arc<MemoryMailer>,
    /// `--unsafe-expose-dev-routes`: the `/_dev` routes answer whatever
    /// `Host` reached them (the other checks of [`dev::guard`] stay).
    expose_dev_routes: bool,
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

    /// Any prepared app (e.g. over the AWS adapters), its mail kept in
    /// memory. Local and test clients simulate the edge's headers (the
    /// contract asks them to): local-api names no network peer, so
    /// `CF-Connecting-IP` is the client only in this explicit mode, and a
    /// browser may send the headers.
    pub fn over(mut app: App, signer: DevSigner) -> Local {
        let config = Arc::make_mut(&mut app.config);
        config.client_ip = ClientIpSource::SimulationHeader;
        config.cors = config.cors.clone().with_simulation_headers();
        // `/_dev/token` mints what the app's verifier requires.
        let signer =
            signer.with_issuer_and_audience(config.jwt.issuer.clone(), config.jwt.audience.clone());
        let mailbox = Arc::new(MemoryMailer::default());
        app.mailer = mailbox.clone();
        Local {
            app,
            signer: Arc::new(signer),
            mailbox,
            expose_dev_routes: false,
            delivery: Arc::default(),
        }
    }

    /// With [`EXPOSE_FLAG`]: the server is meant to be reached by other
    /// names than loopback ones, so the `/_dev` routes no longer check
    /// `Host`; `Origin` and `Content-Type` are still checked.
    pub fn exposing_dev_routes(mut self) -> Local {
        self.expose_dev_routes = true;
        self
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
    serve(local, TcpListener::bind(addr).await?)
}

/// Serves on a bound listener in a background task; returns its address.
pub fn serve(local: Local, listener: TcpListener) -> std::io::Result<SocketAddr> {
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
        // Larger than the transport limit: over 64 KiB of envelope in either form.
        Err(_) => Bytes::from(vec![0u8; TRANSPORT_BODY_LIMIT + 1]),
    };
    let path = parts.uri.path().to_owned();
    if let Some(page) = demo::handle(&parts.method, &path) {
        return page.map(axum::body::Body::from);
    }
    let authority = parts.uri.authority().map(|a| a.as_str());
    let dev = dev::handle(
        &local,
        &parts.method,
        &path,
        &parts.headers,
        authority,
        &body,
    )
    .await;
    let resp = match dev {
        Some(resp) => resp,
        None => {
            let api_req = ApiRequest {
                method: parts.method,
                headers: parts.headers,
                body,
                fallback_request_id: None,
                source_ip: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_without_the_flag() {
        for ok in ["127.0.0.1", "127.0.0.2", "::1"] {
            assert!(check_bind(ok.parse().unwrap(), false).is_ok(), "{ok}");
        }
        for exposed in ["0.0.0.0", "::", "192.168.1.10"] {
            let err = check_bind(exposed.parse().unwrap(), false).unwrap_err();
            assert!(err.to_string().contains(EXPOSE_FLAG), "{err}");
            assert!(
                check_bind(exposed.parse().unwrap(), true).is_ok(),
                "{exposed}"
            );
        }
    }
}
