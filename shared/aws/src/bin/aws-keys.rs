//! SCv2 key operations against the configured table and KMS key
//! (`TABLE_NAME`, `KMS_KEY_ID`, `SES_FROM_ADDRESS`, `AWS_*` from the environment).
//!
//!   aws-keys list
//!   aws-keys rotate <kid> [lifetime-days=90] [grace-secs=900]
//!   aws-keys check            unseal the key ring as a cold start would

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_adapters::{AwsClients, AwsConfig, KmsKeyStore};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let cfg = AwsConfig::from_env()?;
    let clients = AwsClients::from_env(&cfg).await;
    let keys = KmsKeyStore::from_clients(&clients, &cfg);
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["list"] => {
            for k in keys.list().await? {
                println!(
                    "{}\tcreated={}\texpires={}\t{}",
                    k.kid,
                    k.created_at_ms,
                    k.expires_at_ms,
                    if k.active { "active" } else { "" }
                );
            }
        }
        ["rotate", kid, rest @ ..] => {
            let days: u64 = rest.first().map_or(Ok(90), |s| s.parse())?;
            let grace: u64 = rest.get(1).map_or(Ok(900), |s| s.parse())?;
            let info = keys
                .rotate(
                    kid,
                    Duration::from_secs(days * 86_400),
                    Duration::from_secs(grace),
                    now_ms(),
                )
                .await?;
            println!("{} active until {}", info.kid, info.expires_at_ms);
        }
        ["check"] => {
            let ring = keys.load_key_ring(now_ms()).await?;
            println!(
                "{} key(s), active {}",
                ring.keys().len(),
                ring.active().kid()
            );
        }
        _ => {
            eprintln!("usage: aws-keys list | rotate <kid> [lifetime-days] [grace-secs] | check");
            std::process::exit(2);
        }
    }
    Ok(())
}
