//! Every route in one process over the embedded adapters, plus the `/_dev`
//! routes, for local use and end-to-end tests. Never deployed.

pub mod demo;
pub mod dev;
pub mod import;

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

/// The breached-password flags: each overrides its field of
/// `PASSWORD_CONFIG`'s `breached` section, and any of them turns screening
/// on; `--no-breached` turns it off.
#[derive(Debug, Default, Clone, clap::Args)]
pub struct BreachedFlags {
    /// Screen new passwords and sign-ins against this filter file (built by
    /// `pwctl admin breached build`) instead of the bundled common list.
    #[arg(long, value_name = "FILE", conflicts_with = "no_breached")]
    pub breached_filter: Option<std::path::PathBuf>,
    /// Also ask this Pwned Passwords compatible range service (the 5-digit
    /// SHA-1 prefix is appended), e.g. https://api.pwnedpasswords.com/range/.
    #[arg(long, value_name = "URL", conflicts_with = "no_breached")]
    pub breached_range_url: Option<String>,
    /// How long a range request may take, in ms (50 to 5000; default 500).
    #[arg(long, value_name = "N", conflicts_with = "no_breached",
          value_parser = clap::value_parser!(u64).range(50..=5000))]
    pub breached_timeout_ms: Option<u64>,
    /// Refuse a new password with 503 when the range service fails or is
    /// slow (default: go on with the filter's verdict).
    #[arg(long, conflicts_with = "no_breached")]
    pub breached_fail_closed: bool,
    /// What a sign-in with a correct but breached password answers: `ok`
    /// with mustChange (flag, the default), `invalid` (block), or no check (off).
    #[arg(long, value_name = "ACTION", conflicts_with = "no_breached")]
    pub breached_sign_in: Option<BreachedSignIn>,
    /// No breached-password screening at all.
    #[arg(long)]
    pub no_breached: bool,
}

/// The values of `--breached-sign-in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BreachedSignIn {
    Flag,
    Block,
    Off,
}

impl From<BreachedSignIn> for password::SignInAction {
    fn from(v: BreachedSignIn) -> Self {
        match v {
            BreachedSignIn::Flag => password::SignInAction::Flag,
            BreachedSignIn::Block => password::SignInAction::Block,
            BreachedSignIn::Off => password::SignInAction::Off,
        }
    }
}

impl BreachedFlags {
    /// Whether any flag was given.
    fn any(&self) -> bool {
        self.breached_filter.is_some()
            || self.breached_range_url.is_some()
            || self.breached_timeout_ms.is_some()
            || self.breached_fail_closed
            || self.breached_sign_in.is_some()
    }

    /// Sets `config` (the `breached` section read from `PASSWORD_CONFIG`)
    /// as the flags say, before the app is built. A filter file that cannot
    /// be read or is not a filter, or a range URL that is not http(s), is an
    /// error naming its flag.
    pub fn apply(&self, config: &mut password::BreachedConfig) -> anyhow::Result<()> {
        if self.no_breached {
            config.enabled = false;
            return Ok(());
        }
        if !self.any() {
            return Ok(());
        }
        config.enabled = true;
        if let Some(path) = &self.breached_filter {
            check_filter_file(path)?;
            config.filter = Some(path.to_string_lossy().into_owned());
        }
        if let Some(url) = &self.breached_range_url {
            password::BreachedConfig {
                range_url: Some(url.clone()),
                ..password::BreachedConfig::default()
            }
            .validate()
            .map_err(|e| anyhow::anyhow!("--breached-range-url {url}: {e}"))?;
            config.range_url = Some(url.clone());
        }
        if let Some(ms) = self.breached_timeout_ms {
            config.timeout_ms = ms;
        }
        if self.breached_fail_closed {
            config.fail_closed = true;
        }
        if let Some(action) = self.breached_sign_in {
            config.sign_in = action.into();
        }
        Ok(())
    }
}

/// Reads and parses the filter file to refuse a missing, unreadable or
/// corrupt one with a message naming `--breached-filter`, rather than the
/// `PASSWORD_CONFIG` error the app would give (the app reads it again when
/// it is built: a second read at start, for a clear error).
fn check_filter_file(path: &std::path::Path) -> anyhow::Result<()> {
    let shown = path.display();
    let bytes = std::fs::read(path)
        .map_err(|e| anyhow::anyhow!("--breached-filter {shown}: cannot read the file: {e}"))?;
    password::BreachFilter::from_bytes(&bytes).map_err(|e| {
        anyhow::anyhow!(
            "--breached-filter {shown}: {e} (build one with `pwctl admin breached build`)"
        )
    })?;
    Ok(())
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

    /// `--edge none`: plays a deployment with no edge in front
    /// (`EDGE_MODE=none`): the `CF-*` headers are optional and ignored, the
    /// client is the TCP peer, and browsers are not allowed to send them.
    pub fn without_edge(mut self) -> Local {
        let config = Arc::make_mut(&mut self.app.config);
        config.client_ip = ClientIpSource::Peer;
        config.cors = config.cors.clone().without_simulation_headers();
        self
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
        // The peer's address: the client in `--edge none` ([`Local::without_edge`]).
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        if let Err(e) = axum::serve(listener, service).await {
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
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
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
                // Only `--edge none` reads it; the simulation mode believes
                // the headers as sent.
                source_ip: peer,
            };
            let resp = shared::dispatch::by_path(&local.app, &path, api_req).await;
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
    use clap::Parser;
    use password::{BreachedConfig, SignInAction};

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        breached: BreachedFlags,
    }

    fn flags(args: &[&str]) -> Result<BreachedFlags, clap::Error> {
        Cli::try_parse_from(std::iter::once("local-api").chain(args.iter().copied()))
            .map(|c| c.breached)
    }

    /// What `PASSWORD_CONFIG` said: screening off, its own filter and range service.
    fn from_env() -> BreachedConfig {
        BreachedConfig {
            enabled: false,
            filter: Some("from-env.bpf".into()),
            range_url: Some("https://range.example/range/".into()),
            ..BreachedConfig::default()
        }
    }

    #[test]
    fn breached_flags_override_password_config_and_turn_screening_on() {
        let mut c = from_env();
        flags(&[]).unwrap().apply(&mut c).unwrap();
        assert_eq!(c, from_env(), "no flag changes nothing");

        let mut c = from_env();
        flags(&[
            "--breached-sign-in",
            "block",
            "--breached-timeout-ms",
            "900",
            "--breached-fail-closed",
            "--breached-range-url",
            "http://127.0.0.1:1/range/",
        ])
        .unwrap()
        .apply(&mut c)
        .unwrap();
        assert_eq!(
            c,
            BreachedConfig {
                enabled: true,
                filter: Some("from-env.bpf".into()),
                range_url: Some("http://127.0.0.1:1/range/".into()),
                timeout_ms: 900,
                fail_closed: true,
                sign_in: SignInAction::Block,
            }
        );

        let mut c = BreachedConfig::default();
        flags(&["--no-breached"]).unwrap().apply(&mut c).unwrap();
        assert!(!c.enabled);
        assert_eq!(
            c,
            BreachedConfig {
                enabled: false,
                ..BreachedConfig::default()
            }
        );
    }

    #[test]
    fn bad_breached_flags_are_refused_naming_the_flag() {
        for bad in [
            &["--no-breached", "--breached-sign-in", "off"][..],
            &["--no-breached", "--breached-filter", "f.bpf"],
            &["--breached-timeout-ms", "49"],
            &["--breached-timeout-ms", "5001"],
            &["--breached-sign-in", "warn"],
        ] {
            let err = flags(bad).err().unwrap_or_else(|| panic!("{bad:?}"));
            assert!(
                err.to_string().contains(bad[bad.len() - 2]),
                "{bad:?}: {err}"
            );
        }
        let err = flags(&["--breached-range-url", "ftp://mirror/range/"])
            .unwrap()
            .apply(&mut BreachedConfig::default())
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("--breached-range-url ftp://mirror/range/"),
            "{err}"
        );
        let missing = std::env::temp_dir().join("local-api-no-such-filter.bpf");
        let err = flags(&["--breached-filter", missing.to_str().unwrap()])
            .unwrap()
            .apply(&mut BreachedConfig::default())
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("--breached-filter {}", missing.display())),
            "{err}"
        );
    }

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
