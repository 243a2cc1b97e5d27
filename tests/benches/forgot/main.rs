//! `forgot` timing reports, one bench binary (each link of the whole
//! dependency graph costs seconds): `enumeration` over local-api in-process,
//! `emulator` over the AWS adapters on the local emulator.
//!
//! `cargo bench -p e2e-tests --bench forgot` runs both; a name after `--`
//! runs that one (`cargo bench -p e2e-tests --bench forgot -- enumeration`).
//! Under `cargo test` each runs a few requests as a smoke check.

mod emulator;
mod enumeration;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|a| a == "--bench");
    let named: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let wanted = |name: &str| named.is_empty() || named.contains(&name);
    if wanted("enumeration") {
        enumeration::run(full).await;
    }
    if wanted("emulator") {
        emulator::run(full).await;
    }
}
