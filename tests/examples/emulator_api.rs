//! local-api's front (with its `/_dev` routes) over the AWS adapters on the
//! local emulator, for load runs that count the store's round trips:
//! `make load-emulator`. `--store memory` serves the same build over the
//! embedded adapters, so the two runs separate the emulator's share.
//!
//! Usage: emulator_api <port> [--store emulator|memory]
//! Needs `infra/emulator.sh up` for the emulator store. Rate limits are off.

use std::net::{Ipv4Addr, SocketAddr};

use shared::channel::{KeyRing, ServerKey};
use shared::config::{Config, RateLimits};
use test_support::EMULATOR_TIMEOUT_MS;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().map_or(Ok(9410), |p| p.parse())?;
    let store = match args.get(1).map(String::as_str) {
        None => "emulator",
        Some("--store") => args.get(2).map_or("emulator", String::as_str),
        Some(other) => anyhow::bail!("unknown argument {other}"),
    };
    let config = Config {
        limits: RateLimits::unlimited(),
        ..Config::from_env()?
    };
    let local = match store {
        "memory" => {
            let expires = e2e_tests::now_secs() * 1000 + 86_400_000;
            let key = ServerKey::generate("k-load", expires)?.0;
            local_api::Local::new(config, KeyRing::single(key))?
        }
        "emulator" => {
            let endpoint = test_support::emulator_env()["AWS_ENDPOINT_URL"].clone();
            // Production's operation bound would cut off calls the serialized
            // emulator queues; the bound is not what is measured here.
            let (aws, clients) = e2e_tests::aws_stack("load", &endpoint, EMULATOR_TIMEOUT_MS).await;
            e2e_tests::aws_local_with(config, &aws, &clients).await
        }
        other => anyhow::bail!("--store is emulator or memory, not {other}"),
    };
    let addr = local_api::spawn(local, SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("emulator_api ({store}) listening on http://{addr}");
    tokio::signal::ctrl_c().await?;
    Ok(())
}
