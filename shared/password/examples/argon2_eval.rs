//! One Argon2id evaluation per request line, timed: the measuring end of
//! `bench/argon2_reference.py`, which compares it with libargon2 (the C
//! reference) in the same run. Build it with `--release`, the profile the
//! Lambda bootstraps are built with, so the number is the deployed code's.
//!
//! Each line on stdin ("m t p") runs one raw evaluation (32-byte output) at
//! those parameters and prints its duration in nanoseconds. EOF ends it.

use std::io::{BufRead, Write};
use std::time::Instant;

use argon2::{Algorithm, Argon2, Params, Version};

fn main() {
    let password = b"velvet otter quantum 93!";
    let salt = [7u8; 16];
    let mut out = [0u8; 32];
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.expect("stdin");
        let nums: Vec<u32> = line
            .split_whitespace()
            .map(|n| n.parse().expect("m t p as integers"))
            .collect();
        let [m, t, p] = nums[..] else {
            panic!("expected three numbers: m t p");
        };
        let params = Params::new(m, t, p, Some(out.len())).expect("valid Argon2 parameters");
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let start = Instant::now();
        argon
            .hash_password_into(password, &salt, &mut out)
            .expect("evaluation");
        let ns = start.elapsed().as_nanos();
        writeln!(stdout, "{ns} {:02x}{:02x}", out[0], out[1]).expect("stdout");
        stdout.flush().expect("stdout");
    }
}
