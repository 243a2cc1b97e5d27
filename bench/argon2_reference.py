#!/usr/bin/env python3
"""One Argon2id evaluation in the deployed build against libargon2, same run.

The Rust side is `shared/password/examples/argon2_eval.rs` built with
`cargo build --release` (the profile the Lambda bootstraps use: `make
bench-argon2` builds it). The C side is libargon2, the reference
implementation, through argon2-cffi (`argon2.low_level.hash_secret_raw`).
Both compute the same raw 32-byte Argon2id output at the same parameters,
and the outputs are checked equal.

The two are interleaved, one evaluation each per round, so both see the same
load on a shared machine; the figure that matters is the ratio of medians
(Rust / C), not the absolute times.

    python3 bench/argon2_reference.py [--rounds 31] [--m 19456 --t 2 --p 1]
        [--binary [LABEL=]PATH ...] [--json]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from argon2.low_level import Type, hash_secret_raw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PASSWORD = b"velvet otter quantum 93!"
SALT = bytes([7] * 16)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=31)
    ap.add_argument("--m", type=int, default=19456)
    ap.add_argument("--t", type=int, default=2)
    ap.add_argument("--p", type=int, default=1)
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    default = os.path.join(target, "release", "examples", "argon2_eval")
    ap.add_argument(
        "--binary",
        action="append",
        metavar="[LABEL=]PATH",
        help="a build of argon2_eval to time (repeatable, to compare builds in one run); "
        f"default: release={default}",
    )
    ap.add_argument("--json", action="store_true", help="print the result as JSON")
    args = ap.parse_args()

    builds = {}
    for spec in args.binary or [f"release={default}"]:
        label, _, path = spec.rpartition("=")
        builds[label or os.path.basename(path)] = Evaluator(path, args.m, args.t, args.p)

    def c_once() -> tuple[float, str]:
        start = time.perf_counter_ns()
        out = hash_secret_raw(PASSWORD, SALT, args.t, args.m, args.p, 32, Type.ID)
        return (time.perf_counter_ns() - start) / 1e6, out[:2].hex()

    sides = {"libargon2": c_once, **{label: b.once for label, b in builds.items()}}
    # One warm-up each (page faults of the first 19 MiB allocation).
    for once in sides.values():
        once()
    times = {label: [] for label in sides}
    names = list(sides)
    for i in range(args.rounds):
        # Rotate the order, so no side always follows the same other one.
        order = names[i % len(names):] + names[: i % len(names)]
        prefixes = set()
        for label in order:
            ms, prefix = sides[label]()
            times[label].append(ms)
            prefixes.add(prefix)
        if len(prefixes) != 1:
            print(f"outputs differ: {prefixes}", file=sys.stderr)
            return 1
    for b in builds.values():
        b.close()

    c_median = statistics.median(times["libargon2"])
    result = {
        "params": {"m_kib": args.m, "t": args.t, "p": args.p},
        "rounds": args.rounds,
        "libargon2_ms": summary(times["libargon2"]),
        "builds": {
            label: {
                "ms": summary(times[label]),
                "ratio_of_medians": round(statistics.median(times[label]) / c_median, 3),
                "median_of_round_ratios": round(
                    statistics.median(r / c for r, c in zip(times[label], times["libargon2"])), 3
                ),
            }
            for label in builds
        },
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"Argon2id m={args.m} t={args.t} p={args.p}, {args.rounds} interleaved rounds, ms")
        print(f"  {'build':<22} {'median':>7} {'min':>7} {'max':>7}  {'x libargon2':>11}")
        s = result["libargon2_ms"]
        print(f"  {'libargon2':<22} {s['median']:7.2f} {s['min']:7.2f} {s['max']:7.2f}  {1.0:11.3f}")
        for label, b in result["builds"].items():
            s = b["ms"]
            print(
                f"  {label:<22} {s['median']:7.2f} {s['min']:7.2f} {s['max']:7.2f}  "
                f"{b['ratio_of_medians']:11.3f}"
            )
        print("  (x libargon2: ratio of medians; the per-round ratios are in --json)")
    return 0


class Evaluator:
    """A running argon2_eval: one line in, one timed evaluation out."""

    def __init__(self, path: str, m: int, t: int, p: int):
        self.proc = subprocess.Popen(
            [path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        self.line = f"{m} {t} {p}\n"

    def once(self) -> tuple[float, str]:
        self.proc.stdin.write(self.line)
        self.proc.stdin.flush()
        ns, prefix = self.proc.stdout.readline().split()
        return int(ns) / 1e6, prefix

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def summary(xs: list[float]) -> dict:
    return {"median": round(statistics.median(xs), 2), "min": round(min(xs), 2), "max": round(max(xs), 2)}


if __name__ == "__main__":
    sys.exit(main())
