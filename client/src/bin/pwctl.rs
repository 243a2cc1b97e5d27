//! `pwctl`: command-line client of the password API.

use clap::{Parser, Subcommand};
use client::{Client, Identity};

#[derive(Parser)]
#[command(about = "Client of the password API (Secure Channel v2)")]
struct Cli {
    /// Base URL of the API.
    #[arg(
        long,
        global = true,
        default_value = "http://127.0.0.1:9000",
        env = "PWCTL_URL"
    )]
    url: String,
    /// Device fingerprint sent as X-Client-Hash.
    #[arg(
        long,
        global = true,
        default_value = "pwctl-device",
        env = "PWCTL_CLIENT_HASH"
    )]
    client_hash: String,
    /// Accept-Language to ask for.
    #[arg(long, global = true, default_value = "en", env = "PWCTL_LANG")]
    lang: String,
    /// Print machine-readable JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Fetch the public key, create a session and check its key confirmation.
    Handshake,
    /// Show the server's active public key.
    PublicKey,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let client = Client::new(
        &cli.url,
        Identity {
            client_hash: cli.client_hash.clone(),
            accept_language: cli.lang.clone(),
            ..Identity::default()
        },
    );
    match cli.command {
        Command::Handshake => {
            let s = client.handshake().await?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({ "sessionId": s.id, "expiresAt": s.expires_at, "keyConfirmed": true })
                );
            } else {
                println!("session {} (key confirmed), expires {}", s.id, s.expires_at);
            }
        }
        Command::PublicKey => {
            let pk = client.public_key().await?;
            if cli.json {
                println!(
                    "{}",
                    serde_json::json!({ "keyId": pk.key_id, "expiresAt": pk.expires_at, "spkiBytes": pk.spki_der.len() })
                );
            } else {
                println!(
                    "key {} ({} bytes SPKI), expires {}",
                    pk.key_id,
                    pk.spki_der.len(),
                    pk.expires_at
                );
            }
        }
    }
    Ok(())
}
