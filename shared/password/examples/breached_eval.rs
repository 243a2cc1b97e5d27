//! Breached-password screening, timed: the measuring end of
//! `bench/breached.py` (`make bench-breached`). Build it with `--release`,
//! the profile of the Lambda bootstraps, so the numbers are the deployed
//! code's. One mode per run, each in its own (fresh) process:
//!
//! - `lookup [ROUNDS]`: the offline screen as a password service runs it
//!   (SHA-1 of the normalized password, then the bundled filter's probe)
//!   against one Argon2id evaluation at the service's default parameters,
//!   interleaved: each round times a batch of 1000 lookups and one
//!   evaluation, the side that goes first alternating.
//! - `bundled`: what the bundled filter adds to a cold start: the first
//!   `BreachScreen::from_config` with the default configuration (the parse
//!   of the compiled-in bytes, page faults included) and the RSS it adds;
//!   then the same parse warm, from a heap copy.
//! - `load FILE`: a filter file as `breached.filter` loads it at cold start
//!   (`std::fs::read`, then `BreachFilter::from_bytes`, the bytes dropped),
//!   with the RSS growth and peak, then lookups into it.
//! - `build N OUT`: a filter over N synthetic keys (the first 64 bits of
//!   SHA-1 over a counter) built in-process and written to OUT, for sizes
//!   whose text corpus would be too big to write out.
//!
//! Every mode prints `key value` lines on stdout.

// Durations in ns and sizes stay far below 2^53: exact as f64.
#![allow(clippy::cast_precision_loss)]

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use argon2::{Algorithm, Argon2, Params, Version};
use password::breach::{sha1_of, BreachFilter, BreachScreen, BreachedConfig};
use password::HashingConfig;

/// Lookups timed together: one `Instant` pair costs tens of ns, as much as
/// a lookup, so a batch's time is divided by its size.
const BATCH: usize = 1000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args[..] {
        ["lookup"] => lookup(101),
        ["lookup", rounds] => lookup(rounds.parse().expect("rounds")),
        ["bundled"] => bundled(),
        ["load", file] => load(file),
        ["build", n, out] => build(n.parse().expect("N"), out),
        _ => {
            eprintln!("usage: breached_eval lookup [ROUNDS] | bundled | load FILE | build N OUT");
            std::process::exit(2);
        }
    }
}

/// Normalized candidates: a few from the bundled list (hits), the rest
/// passphrase-like misses, about the lengths a policy lets through.
fn candidates() -> Vec<String> {
    let hits = ["123456", "password", "qwerty", "letmein", "trustno1"];
    (0..4096)
        .map(|i| {
            if i % 8 == 0 {
                hits[(i / 8) % hits.len()].to_owned()
            } else {
                format!("velvet otter {i} quantum ridge!")
            }
        })
        .collect()
}

/// Times one batch of lookups (SHA-1 + probe) starting at `base`;
/// returns ns per lookup and the hits.
fn lookup_batch(filter: &BreachFilter, candidates: &[String], base: usize) -> (f64, usize) {
    let start = Instant::now();
    let mut hits = 0;
    for j in 0..BATCH {
        let pw = black_box(candidates[(base + j) % candidates.len()].as_str());
        hits += usize::from(filter.contains_sha1(&sha1_of(pw)));
    }
    let ns = start.elapsed().as_nanos() as f64 / BATCH as f64;
    (ns, black_box(hits))
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn lookup(rounds: usize) {
    let filter = BreachFilter::bundled();
    let candidates = candidates();
    let hashing = HashingConfig::default();
    let params = Params::new(
        hashing.memory_kib(),
        hashing.iterations(),
        hashing.parallelism(),
        None,
    )
    .expect("default parameters");
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = [7u8; 16];
    let mut out = [0u8; 32];
    let mut evaluate = || {
        let start = Instant::now();
        argon
            .hash_password_into(b"velvet otter quantum 93!", &salt, &mut out)
            .expect("evaluation");
        start.elapsed().as_nanos() as f64
    };
    // Warm-up: caches, the allocator, the CPU's clock.
    evaluate();
    for b in 0..20 {
        lookup_batch(&filter, &candidates, b * BATCH);
    }
    let (mut per_lookup, mut argon_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let mut hits = 0;
    for r in 0..rounds {
        let (l, a) = if r % 2 == 0 {
            let l = lookup_batch(&filter, &candidates, r * BATCH);
            (l, evaluate())
        } else {
            let a = evaluate();
            (lookup_batch(&filter, &candidates, r * BATCH), a)
        };
        hits += l.1;
        per_lookup.push(l.0);
        argon_ns.push(a);
        ratios.push(l.0 / a);
    }
    let (l, a) = (median(&mut per_lookup), median(&mut argon_ns));
    println!("rounds {rounds}");
    println!("batch {BATCH}");
    println!(
        "argon2_params m={},t={},p={}",
        hashing.memory_kib(),
        hashing.iterations(),
        hashing.parallelism()
    );
    println!("hits {hits}");
    println!("lookup_ns_median {l:.1}");
    println!("lookup_ns_min {:.1}", per_lookup[0]);
    println!("argon2_ns_median {a:.0}");
    println!("ratio_of_medians {:.3e}", l / a);
    println!("paired_ratio_median {:.3e}", median(&mut ratios));
}

/// VmRSS and VmHWM of this process, in KiB.
fn rss_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn bundled() {
    let (rss0, _) = rss_kib();
    let start = Instant::now();
    let screen =
        BreachScreen::from_config(&BreachedConfig::default(), None).expect("default screen");
    let first_ns = start.elapsed().as_nanos();
    let (rss1, hwm1) = rss_kib();
    black_box(&screen);
    let filter = BreachFilter::bundled();
    let bytes = filter.to_bytes();
    let mut warm: Vec<f64> = (0..21)
        .map(|_| {
            let start = Instant::now();
            let f = BreachFilter::from_bytes(black_box(&bytes)).expect("bundled filter");
            let ns = start.elapsed().as_nanos() as f64;
            black_box(f);
            ns
        })
        .collect();
    println!("entries {}", filter.entries());
    println!("filter_bytes {}", bytes.len());
    println!("first_from_config_ns {first_ns}");
    println!("warm_from_bytes_ns_median {:.0}", median(&mut warm));
    println!("rss_before_kib {rss0}");
    println!("rss_after_kib {rss1}");
    println!("hwm_after_kib {hwm1}");
}

fn load(file: &str) {
    let (rss0, hwm0) = rss_kib();
    let start = Instant::now();
    let bytes = std::fs::read(file).expect("filter file");
    let read_ns = start.elapsed().as_nanos();
    let filter = BreachFilter::from_bytes(&bytes).expect("filter");
    let total_ns = start.elapsed().as_nanos();
    let size = bytes.len();
    drop(bytes);
    let (rss1, hwm1) = rss_kib();
    let candidates = candidates();
    let mut per_lookup: Vec<f64> = (0..201)
        .map(|b| lookup_batch(&filter, &candidates, b * BATCH).0)
        .collect();
    println!("entries {}", filter.entries());
    println!("filter_bytes {size}");
    println!("read_ns {read_ns}");
    println!("from_bytes_ns {}", total_ns - read_ns);
    println!("load_ns {total_ns}");
    println!("rss_before_kib {rss0}");
    println!("rss_after_kib {rss1}");
    println!("hwm_before_kib {hwm0}");
    println!("hwm_after_kib {hwm1}");
    println!("lookup_ns_median {:.1}", median(&mut per_lookup));
}

fn build(n: u64, out: &str) {
    let start = Instant::now();
    let keys: Vec<u64> = (0..n)
        .map(|i| {
            let sha = sha1_of(&format!("pwbench-{i}"));
            u64::from_be_bytes(sha[..8].try_into().expect("8 bytes"))
        })
        .collect();
    let keys_ns = start.elapsed().as_nanos();
    let filter = BreachFilter::build(keys).expect("filter");
    let build_ns = start.elapsed().as_nanos() - keys_ns;
    let bytes = filter.to_bytes();
    let mut f = std::fs::File::create(out).expect("output");
    f.write_all(&bytes).expect("write");
    f.sync_all().expect("sync");
    let (_, hwm) = rss_kib();
    println!("entries {}", filter.entries());
    println!("filter_bytes {}", bytes.len());
    println!("keys_ns {keys_ns}");
    println!("build_ns {build_ns}");
    println!("hwm_kib {hwm}");
}
