//! local-api's front (with its `/_dev` routes) over the AWS adapters on the
//! local emulator, for load runs that count the store's round trips:
//! `make load-emulator`. `--store memory` serves the same build over the
//! embedded adapters, so the two runs separate the emulator's share.
//!
//! Usage: emulator_api <port> [--store emulator|memory] [--buckets idle|in-use]
//! The emulator store starts the emulator (`infra/emulator.sh up`). Rate
//! limits never refuse. `--buckets in-use` gives them periods so long that
//! every bucket stays in use, as a busy client's are; `idle` (the default)
//! lets every bucket fall idle between two requests.

use std::net::{Ipv4Addr, SocketAddr};

use shared::channel::{KeyRing, ServerKey};
use shared::config::{Config, RateLimits};
use shared::ports::Limit;
use test_support::EMULATOR_TIMEOUT_MS;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let port: u16 = args.first().map_or(Ok(9410), |p| p.parse())?;
    let option = |name: &str, default: &'static str| -> String {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map_or(default.to_owned(), Clone::clone)
    };
    let store = option("--store", "emulator");
    let limits = match option("--buckets", "idle").as_str() {
        "idle" => RateLimits::unlimited(),
        // 100,000 requests per 10^8 s: one period is 1,000 s, the burst 100,000.
        "in-use" => RateLimits::all(Limit {
            max: 100_000,
            window_secs: 100_000_000,
        }),
        other => anyhow::bail!("--buckets is idle or in-use, not {other}"),
    };
    let config = Config {
        limits,
        ..Config::from_env()?
    };
    let local = match store.as_str() {
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
