//! `local-api`: all routes on 127.0.0.1:9000 with embedded adapters.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use clap::Parser;
use shared::channel::{KeyRing, ServerKey};
use shared::ports::Clock;

#[derive(Parser)]
#[command(about = "Serves every route of the password API locally, in memory")]
struct Args {
    /// Port to listen on.
    #[arg(long, default_value_t = 9000, env = "LOCAL_API_PORT")]
    port: u16,
    /// Address to bind; only loopback unless --unsafe-expose-dev-routes.
    #[arg(long, default_value = "127.0.0.1", env = "LOCAL_API_BIND")]
    bind: IpAddr,
    /// Allow a non-loopback --bind, exposing /_dev/token (which mints access tokens) to the network;
    /// the /_dev routes then answer any Host (Origin and Content-Type are still checked).
    #[arg(long)]
    unsafe_expose_dev_routes: bool,
    /// PKCS#8 PEM private key to use instead of a freshly generated RSA-3072 key.
    #[arg(long)]
    key_file: Option<String>,
    /// Key id published for the key.
    #[arg(long, default_value = "local")]
    key_id: String,
    /// Turn every rate limit off, for load runs (`make load`).
    #[arg(long)]
    no_rate_limits: bool,
    /// The edge played: `cloudflare` (clients simulate its CF-* headers) or
    /// `none` (EDGE_MODE=none: CF-* optional and ignored, the client is the TCP peer).
    #[arg(long, value_enum, default_value = "cloudflare")]
    edge: Edge,
    #[command(flatten)]
    breached: local_api::BreachedFlags,
    #[command(flatten)]
    import: local_api::import::ImportFlags,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Edge {
    Cloudflare,
    None,
}

const DEMO_EMAIL: &str = "demo@example.com";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init();
    let args = Args::parse();
    local_api::check_bind(args.bind, args.unsafe_expose_dev_routes)?;
    let mut config = shared::config::Config::from_env()?;
    config.cors = local_api::local_cors(std::env::var("CORS_ALLOWED_ORIGINS").ok().as_deref())?;
    if args.no_rate_limits {
        config.limits = shared::config::RateLimits::unlimited();
    }
    args.breached.apply(&mut config.password.breached)?;
    let listener = tokio::net::TcpListener::bind(SocketAddr::new(args.bind, args.port))
        .await
        .with_context(|| format!("binding {}:{}", args.bind, args.port))?;
    let addr = listener.local_addr()?;
    // Emailed links open the /demo pages unless configured otherwise.
    local_api::demo::point_links_here(&mut config.links, &format!("http://{addr}"), |var| {
        std::env::var_os(var).is_some()
    });
    let keys = match &args.key_file {
        Some(path) => shared::bootstrap::key_ring_from_pem_file(path, &args.key_id)?,
        None => {
            let expires = shared::adapters::memory::SystemClock.now_ms() + 365 * 86_400_000;
            KeyRing::single(ServerKey::generate(&args.key_id, expires)?.0)
        }
    };
    let mut local = local_api::Local::new(config, keys)?;
    if args.unsafe_expose_dev_routes {
        local = local.exposing_dev_routes();
    }
    if args.edge == Edge::None {
        local = local.without_edge();
    }
    // A demo account so every flow can be tried at once.
    let demo_password = format!("demo-{}", hex(&shared::channel::random_bytes::<6>()));
    let demo = local_api::dev::seed_user(
        &local.app,
        DEMO_EMAIL,
        "Demo User",
        None,
        Some(&demo_password),
    )
    .await
    .map_err(|e| anyhow::anyhow!("seeding the demo user: {e}"))?;
    let biz_id = demo["bizId"].as_str().unwrap_or_default().to_owned();
    if let Some(summary) = args.import.load(&local.app).await? {
        println!("{summary}");
    }
    let token = local
        .signer
        .token(&biz_id, local.app.clock.now_ms() / 1000)?;
    local_api::serve(local, listener)?;
    println!("local-api listening on http://{addr}");
    println!("browser demo: http://{addr}{}", local_api::demo::PREFIX);
    println!("demo user: {DEMO_EMAIL} ({biz_id}), password: {demo_password}");
    println!("demo access token (1 h): {token}");
    for line in signin_hints(&format!("http://{addr}"), DEMO_EMAIL, &demo_password) {
        println!("{line}");
    }
    println!(
        "try: PWCTL_TOKEN=<token> cargo run -p client --bin pwctl -- --url http://{addr} status"
    );
    tokio::signal::ctrl_c().await?;
    Ok(())
}

/// How to sign in as the demo user for a fresh token (a password change
/// revokes the printed one): with curl, with `pwctl signin`, in a browser.
fn signin_hints(url: &str, email: &str, password: &str) -> [String; 4] {
    let body = serde_json::json!({ "email": email, "password": password });
    [
        "sign in as the demo user (a new access token each time):".to_owned(),
        format!(
            "  curl -s {url}/_dev/signin -H 'Content-Type: application/json' -d '{body}'"
        ),
        format!(
            "  export PWCTL_TOKEN=$(PWCTL_PASSWORD='{password}' cargo run -q -p client --bin pwctl -- --url {url} signin --email {email})"
        ),
        format!("  in a browser: {url}{}signin.html", local_api::demo::PREFIX),
    ]
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
