//! `local-api`: all routes on 127.0.0.1:9000 with embedded adapters.

use std::net::{IpAddr, SocketAddr};

use anyhow::Context;
use clap::Parser;
use shared::channel::{KeyRing, ServerKey};

#[derive(Parser)]
#[command(about = "Serves every route of the password API locally, in memory")]
struct Args {
    /// Port to listen on.
    #[arg(long, default_value_t = 9000, env = "LOCAL_API_PORT")]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1", env = "LOCAL_API_BIND")]
    bind: IpAddr,
    /// PKCS#8 PEM private key to use instead of a freshly generated RSA-3072 key.
    #[arg(long)]
    key_file: Option<String>,
    /// Key id published for the key.
    #[arg(long, default_value = "local")]
    key_id: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    shared::telemetry::init();
    let args = Args::parse();
    let config = shared::config::Config::from_env()?;
    let keys = match &args.key_file {
        Some(path) => shared::bootstrap::key_ring_from_pem_file(path, &args.key_id)?,
        None => {
            let expires = shared::ports::Clock::now_ms(&shared::adapters::memory::SystemClock)
                + 30 * 86_400_000;
            KeyRing::single(ServerKey::generate(&args.key_id, expires)?.0)
        }
    };
    let app = shared::App::embedded(config, keys);
    let addr = local_api::spawn(app, SocketAddr::new(args.bind, args.port))
        .await
        .with_context(|| format!("binding {}:{}", args.bind, args.port))?;
    println!("local-api listening on http://{addr}");
    println!("  try: cargo run -p client --bin pwctl -- handshake --url http://{addr}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
