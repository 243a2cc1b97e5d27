//! Import rate against the emulator (`make bench-import`): the import
//! pipeline (`shared::import::run` over `DynamoImportWriter`: lookups,
//! checkpoint, batches in flight) against a bare sequential
//! `BatchWriteItem` loop over the very same items (read back from the
//! imported table), each into a fresh table, in the same run. Rounds
//! alternate which goes first.
//!
//!     cargo run -p aws-adapters --example import_bench -- [USERS] [ROUNDS] [IN_FLIGHT]
//!
//! (`make bench-import` runs it on a moto of its own, `AWS_EMULATOR_PORT`.)

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use aws_adapters::import::DynamoImportWriter;
use aws_adapters::testing::fresh_empty;
use aws_adapters::{AwsClients, AwsConfig};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use shared::import::{FileFormat, ImportOptions, Quiet, Records};

type Item = HashMap<String, AttributeValue>;

async fn scan(cfg: &AwsConfig, clients: &AwsClients) -> Vec<Item> {
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let out = clients
            .dynamodb
            .scan()
            .table_name(&cfg.table_name)
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        items.extend(out.items.unwrap_or_default());
        match out.last_evaluated_key {
            Some(k) if !k.is_empty() => start = Some(k),
            _ => return items,
        }
    }
}

async fn drop_table(cfg: &AwsConfig, clients: &AwsClients) {
    let _ = clients
        .dynamodb
        .delete_table()
        .table_name(&cfg.table_name)
        .send()
        .await;
}

/// The bare loop: 25 items a request, one request at a time, unprocessed
/// items sent again at once.
async fn bare(items: &[Item]) -> f64 {
    let (cfg, clients) = fresh_empty("bench-bare").await;
    let started = Instant::now();
    for chunk in items.chunks(25) {
        let mut batch: Vec<WriteRequest> = chunk
            .iter()
            .map(|i| {
                let put = PutRequest::builder()
                    .set_item(Some(i.clone()))
                    .build()
                    .unwrap();
                WriteRequest::builder().put_request(put).build()
            })
            .collect();
        while !batch.is_empty() {
            let out = clients
                .dynamodb
                .batch_write_item()
                .request_items(&cfg.table_name, batch)
                .send()
                .await
                .unwrap();
            batch = out
                .unprocessed_items
                .and_then(|mut u| u.remove(&cfg.table_name))
                .unwrap_or_default();
        }
    }
    let secs = started.elapsed().as_secs_f64();
    drop_table(&cfg, &clients).await;
    secs
}

/// A bare sequential `BatchGetItem` loop reading the same items back (24
/// keys a request, the size of the pipeline's lookups): what the lookups
/// alone cost the emulator.
async fn bare_reads(cfg: &AwsConfig, clients: &AwsClients, items: &[Item]) -> f64 {
    let started = Instant::now();
    for chunk in items.chunks(24) {
        let keys: Vec<Item> = chunk
            .iter()
            .map(|i| {
                ["PK", "SK"]
                    .iter()
                    .map(|k| ((*k).to_owned(), i[*k].clone()))
                    .collect()
            })
            .collect();
        let ka = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
            .set_keys(Some(keys))
            .consistent_read(true)
            .build()
            .unwrap();
        let mut request = Some(ka);
        while let Some(req) = request.take() {
            let out = clients
                .dynamodb
                .batch_get_item()
                .request_items(&cfg.table_name, req)
                .send()
                .await
                .unwrap();
            request = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&cfg.table_name))
                .filter(|k| !k.keys.is_empty());
        }
    }
    started.elapsed().as_secs_f64()
}

/// The pipeline into a fresh table; its seconds and the table.
async fn pipeline(
    file: &std::path::Path,
    users: u32,
    in_flight: usize,
) -> (f64, AwsConfig, AwsClients) {
    let (cfg, clients) = fresh_empty("bench-import").await;
    let writer = DynamoImportWriter::with(&cfg, &clients, false)
        .await
        .unwrap();
    let opts = ImportOptions {
        dry_run: false,
        invite: None,
        hashes: password::ImportHashOptions::default(),
        checkpoint: Some(file.with_extension("cp")),
        in_flight,
    };
    let started = Instant::now();
    let summary = shared::import::run(
        Records::open(file, FileFormat::Jsonl).unwrap(),
        Arc::new(writer),
        &opts,
        &shared::adapters::memory::SystemClock,
        &mut Quiet,
    )
    .await
    .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(summary.imported, u64::from(users), "{summary:?}");
    std::fs::remove_file(file.with_extension("cp")).ok();
    (secs, cfg, clients)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let users: u32 = args.next().map_or(10_000, |a| a.parse().unwrap());
    let rounds: usize = args.next().map_or(2, |a| a.parse().unwrap());
    let in_flight: usize = args
        .next()
        .map_or(shared::import::DEFAULT_IN_FLIGHT, |a| a.parse().unwrap());
    let file = std::env::temp_dir().join(format!("import-bench-{}.jsonl", std::process::id()));
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        for i in 0..users {
            writeln!(
                f,
                r#"{{"email":"user{i}@bench.test","name":"User {i}","bizId":"bench-{i}","status":"PendingPassword"}}"#
            )
            .unwrap();
        }
    }
    let mut items: Option<Vec<Item>> = None;
    let mut ratios = Vec::new();
    println!("users {users}, in flight {in_flight}; users/s (higher is better)");
    for round in 0..rounds {
        let bare_first = round % 2 == 1 && items.is_some();
        let mut bare_secs = None;
        if bare_first {
            bare_secs = Some(bare(items.as_deref().unwrap()).await);
        }
        let (import_secs, cfg, clients) = pipeline(&file, users, in_flight).await;
        if items.is_none() {
            items = Some(scan(&cfg, &clients).await);
            assert_eq!(items.as_ref().unwrap().len(), 2 * users as usize);
        }
        let bare_secs = match bare_secs {
            Some(s) => s,
            None => bare(items.as_deref().unwrap()).await,
        };
        let read_secs = bare_reads(&cfg, &clients, items.as_deref().unwrap()).await;
        drop_table(&cfg, &clients).await;
        let (imp, raw) = (f64::from(users) / import_secs, f64::from(users) / bare_secs);
        ratios.push(imp / raw);
        println!(
            "round {round} ({} first): import {imp:.0} users/s, bare BatchWriteItem loop {raw:.0} users/s, ratio {:.2}; bare BatchGetItem loop over the same items {:.0} users/s",
            if bare_first { "bare" } else { "import" },
            imp / raw,
            f64::from(users) / read_secs
        );
    }
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    let median = if ratios.len() % 2 == 1 {
        ratios[mid]
    } else {
        (ratios[mid - 1] + ratios[mid]) / 2.0
    };
    println!("median ratio over {rounds} rounds: {median:.2}");
    std::fs::remove_file(&file).ok();
}
