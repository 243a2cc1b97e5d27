#!/usr/bin/env python3
"""A sign-in check over the verify-password wire form against libargon2, same run.

The Rust side is `shared/examples/verify_eval.rs` built with `cargo build
--release` (the Lambda profile; `make bench-verify` builds it): the whole
check as the function runs it (strict JSON in, per-IP limit, user lookup,
guess counter, one Argon2id evaluation, audit and metric lines, JSON out),
over the embedded adapters. The C side is one libargon2 evaluation at the
same parameters (m=19456 KiB, t=2, p=1: the default configuration).

Four sides are interleaved, one each per round, in an order shuffled per
round (fixed seed, so a run is repeatable and no side always follows the
same other one, whose cache and clock effects it would inherit): libargon2,
a right password (`ok`), a wrong password for an existing account (`wrong`)
and an address nobody has (`unknown`). Reported: the ratio of medians
ok / libargon2 (the overhead of everything around the hash), and the median
difference wrong - unknown (what timing could tell an attacker).

    python3 bench/verify_reference.py [--rounds 61] [--json]
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

from argon2.low_level import Type, hash_secret_raw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=61)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--binary", default=os.path.join(target, "release", "examples", "verify_eval"))
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    proc = subprocess.Popen(
        [args.binary], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, text=True,
    )

    def check(case: str, expected: str):
        def once() -> float:
            proc.stdin.write(case + "\n")
            proc.stdin.flush()
            ns, result = proc.stdout.readline().split()
            if result != expected:
                raise SystemExit(f"{case}: answered {result}, expected {expected}")
            return int(ns) / 1e6
        return once

    def c_once() -> float:
        start = time.perf_counter_ns()
        hash_secret_raw(b"velvet otter quantum 93!", bytes([7] * 16), 2, 19456, 1, 32, Type.ID)
        return (time.perf_counter_ns() - start) / 1e6

    sides = {
        "libargon2": c_once,
        "ok": check("ok", "ok"),
        "wrong": check("wrong", "invalid"),
        "unknown": check("unknown", "invalid"),
    }
    for once in sides.values():
        once()
    names = list(sides)
    times = {n: [] for n in names}
    shuffle = random.Random(20261205).shuffle
    for _ in range(args.rounds):
        order = list(names)
        shuffle(order)
        for n in order:
            times[n].append(sides[n]())
    proc.stdin.close()
    proc.wait()

    med = {n: statistics.median(v) for n, v in times.items()}
    result = {
        "rounds": args.rounds,
        "median_ms": {n: round(m, 3) for n, m in med.items()},
        "ok_over_libargon2": round(med["ok"] / med["libargon2"], 3),
        "wrong_minus_unknown_ms": round(med["wrong"] - med["unknown"], 3),
        "median_of_paired_deltas_ms": round(
            statistics.median(w - u for w, u in zip(times["wrong"], times["unknown"])), 3
        ),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"verify-password wire form vs libargon2 (m=19456 t=2 p=1), {args.rounds} interleaved rounds")
        for n in names:
            print(f"  {n:<10} median {med[n]:8.3f} ms")
        print(f"  ok / libargon2 (ratio of medians): {result['ok_over_libargon2']}")
        print(f"  wrong - unknown (medians): {result['wrong_minus_unknown_ms']} ms; "
              f"median of paired deltas: {result['median_of_paired_deltas_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
