#!/usr/bin/env python3
"""Breached-password screening in the deployed build: lookup, build, load.

The measuring ends are `shared/password/examples/breached_eval.rs` and
`pwctl admin breached build`, both built with `cargo build --release` (the
Lambda profile; `make bench-breached` builds them). Four parts:

1. lookup: the offline screen (SHA-1 of the normalized password + probe of
   the bundled filter) against one Argon2id evaluation at the service's
   default parameters (m=19456 KiB, t=2, p=1), interleaved in one process;
   reported: median ns per lookup (batches of 1000), median evaluation,
   and their ratio. `--binary LABEL=PATH` (repeatable) runs other builds of
   the example too, one after another.
2. bundled: what the compiled-in default filter adds to a cold start: the
   first `BreachScreen::from_config` in a fresh process, and the RSS it adds
   (median over `--bundled-runs` processes).
3. build: `/usr/bin/time -v pwctl admin breached build` over a synthetic
   corpus in the Pwned Passwords download format (`SHA1HEX:COUNT`, upper
   case, sorted by hash; SHA-1 over a counter) of each `--build` size:
   wall time, max RSS, filter size. The corpus is deleted afterwards.
4. load: a filter file read as `breached.filter` reads it at cold start
   (`std::fs::read` + `BreachFilter::from_bytes`) in a fresh process, for
   each `--load` size, `--load-runs` times with the file in the page cache
   ("warm") and evicted from it first ("cold", posix_fadvise DONTNEED):
   times, RSS growth, and lookups into it. A size not built in part 3 is
   built in-process from synthetic keys (`breached_eval build`).

    python3 bench/breached.py [--rounds 101] [--build 1000000]
        [--load 1000000,10000000,100000000] [--load-runs 5] [--json]

Temporary corpora and filters go to a fresh directory under the system's
temporary directory (`--workdir` to choose), removed at the end unless
`--keep`.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def sizes(text: str) -> list:
    return [int(s) for s in text.split(",") if s.strip()]


def run_kv(cmd: list) -> dict:
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    kv = {}
    for line in out.splitlines():
        key, _, value = line.partition(" ")
        kv[key] = value
    return kv


def time_v(cmd: list) -> tuple:
    """Runs cmd under /usr/bin/time -v: (stdout, wall s, max RSS KiB, user s, sys s)."""
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, check=True, capture_output=True, text=True)
    err = p.stderr
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", err).group(1)
    secs = 0.0
    for part in wall.split(":"):
        secs = secs * 60 + float(part)
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", err).group(1))
    user = float(re.search(r"User time \(seconds\): (\S+)", err).group(1))
    system = float(re.search(r"System time \(seconds\): (\S+)", err).group(1))
    return p.stdout.strip(), secs, rss, user, system


def write_corpus(path: str, n: int) -> int:
    """n distinct SHA-1s over a counter, sorted, `HEX:COUNT` lines; returns bytes written."""
    digests = sorted(hashlib.sha1(b"pwcorpus-%d" % i).digest() for i in range(n))
    with open(path, "w", buffering=1 << 20) as f:
        chunk = []
        for d in digests:
            chunk.append(f"{d.hex().upper()}:{1 + d[19] % 16}\n")
            if len(chunk) == 100_000:
                f.write("".join(chunk))
                chunk = []
        f.write("".join(chunk))
    return os.path.getsize(path)


def evict(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def human(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else str(n)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ap.add_argument("--target-dir", default=target)
    ap.add_argument("--binary", action="append", default=[], metavar="LABEL=PATH",
                    help="another build of breached_eval for part 1")
    ap.add_argument("--rounds", type=int, default=101)
    ap.add_argument("--bundled-runs", type=int, default=11)
    ap.add_argument("--build", type=sizes, default=[1_000_000])
    ap.add_argument("--load", type=sizes, default=[1_000_000, 10_000_000, 100_000_000])
    ap.add_argument("--load-runs", type=int, default=5)
    ap.add_argument("--skip", default="", help="parts to skip, e.g. lookup,bundled")
    ap.add_argument("--workdir")
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    release = os.path.join(args.target_dir, "release")
    example = os.path.join(release, "examples", "breached_eval")
    pwctl = os.path.join(release, "pwctl")
    work = args.workdir or tempfile.mkdtemp(prefix="breached-bench-")
    os.makedirs(work, exist_ok=True)
    result = {}
    say = (lambda *a: None) if args.json else print

    try:
        if "lookup" not in skip:
            result["lookup"] = {}
            for label, path in [("release", example)] + [b.split("=", 1) for b in args.binary]:
                kv = run_kv([path, "lookup", str(args.rounds)])
                r = {
                    "lookup_ns": float(kv["lookup_ns_median"]),
                    "argon2_ms": float(kv["argon2_ns_median"]) / 1e6,
                    "ratio_pct": float(kv["ratio_of_medians"]) * 100,
                    "paired_ratio_pct": float(kv["paired_ratio_median"]) * 100,
                }
                result["lookup"][label] = r
                say(f"lookup [{label}] ({args.rounds} interleaved rounds, batches of "
                    f"{kv['batch']}; Argon2id {kv['argon2_params']}): "
                    f"{r['lookup_ns']:.1f} ns per lookup, Argon2id {r['argon2_ms']:.2f} ms, "
                    f"ratio {r['ratio_pct']:.5f} % (paired {r['paired_ratio_pct']:.5f} %)")

        if "bundled" not in skip:
            runs = [run_kv([example, "bundled"]) for _ in range(args.bundled_runs)]
            first = statistics.median(int(k["first_from_config_ns"]) for k in runs)
            warm = statistics.median(int(k["warm_from_bytes_ns_median"]) for k in runs)
            rss = statistics.median(
                int(k["rss_after_kib"]) - int(k["rss_before_kib"]) for k in runs)
            result["bundled"] = {
                "entries": int(runs[0]["entries"]), "bytes": int(runs[0]["filter_bytes"]),
                "first_from_config_us": first / 1e3, "warm_from_bytes_us": warm / 1e3,
                "rss_growth_kib": rss, "runs": args.bundled_runs,
            }
            say(f"bundled ({runs[0]['entries']} entries, {runs[0]['filter_bytes']} bytes), "
                f"median of {args.bundled_runs} processes: first from_config "
                f"{first / 1e3:.1f} us, warm parse {warm / 1e3:.1f} us, RSS +{rss} KiB")

        filters = {}
        if "build" not in skip:
            result["build"] = {}
            for n in args.build:
                corpus = os.path.join(work, f"corpus-{human(n)}.txt")
                out = os.path.join(work, f"filter-{human(n)}.bpf")
                corpus_bytes = write_corpus(corpus, n)
                line, wall, rss, user, system = time_v(
                    [pwctl, "admin", "breached", "build", "--input", corpus, "--output", out])
                os.remove(corpus)
                filters[n] = out
                r = {"corpus_bytes": corpus_bytes, "wall_s": wall, "max_rss_kib": rss,
                     "user_s": user, "sys_s": system, "filter_bytes": os.path.getsize(out),
                     "pwctl": line}
                result["build"][human(n)] = r
                say(f"build {human(n)} (corpus {corpus_bytes / 1e6:.1f} MB): wall {wall:.2f} s "
                    f"(user {user:.2f}, sys {system:.2f}), max RSS {rss / 1024:.1f} MiB, "
                    f"filter {r['filter_bytes']} bytes\n    pwctl: {line}")

        if "load" not in skip:
            result["load"] = {}
            for n in args.load:
                built_in_process = None
                if n not in filters:
                    out = os.path.join(work, f"filter-{human(n)}.bpf")
                    line, wall, rss, _, _ = time_v([example, "build", str(n), out])
                    kv = dict(l.split(" ", 1) for l in line.splitlines())
                    built_in_process = {"wall_s": wall, "max_rss_kib": rss,
                                        "build_s": int(kv["build_ns"]) / 1e9}
                    filters[n] = out
                    say(f"built {human(n)} in-process: wall {wall:.1f} s (filter construction "
                        f"{built_in_process['build_s']:.1f} s), max RSS {rss / 1024:.1f} MiB")
                path = filters[n]
                r = {"filter_bytes": os.path.getsize(path), "built_in_process": built_in_process}
                for mode in ("warm", "cold"):
                    runs = []
                    for _ in range(args.load_runs):
                        if mode == "cold":
                            evict(path)
                        else:
                            with open(path, "rb") as f:
                                while f.read(1 << 24):
                                    pass
                        runs.append(run_kv([example, "load", path]))
                    med = lambda key: statistics.median(int(k[key]) for k in runs)
                    r[mode] = {
                        "read_ms": med("read_ns") / 1e6,
                        "from_bytes_ms": med("from_bytes_ns") / 1e6,
                        "load_ms": med("load_ns") / 1e6,
                        "rss_growth_mib": statistics.median(
                            int(k["rss_after_kib"]) - int(k["rss_before_kib"]) for k in runs) / 1024,
                        "peak_growth_mib": statistics.median(
                            int(k["hwm_after_kib"]) - int(k["hwm_before_kib"]) for k in runs) / 1024,
                        "lookup_ns": statistics.median(float(k["lookup_ns_median"]) for k in runs),
                    }
                result["load"][human(n)] = r
                for mode in ("warm", "cold"):
                    m = r[mode]
                    say(f"load {human(n)} ({r['filter_bytes']} bytes) {mode}, median of "
                        f"{args.load_runs}: read {m['read_ms']:.2f} ms + from_bytes "
                        f"{m['from_bytes_ms']:.2f} ms = {m['load_ms']:.2f} ms; RSS "
                        f"+{m['rss_growth_mib']:.1f} MiB (peak +{m['peak_growth_mib']:.1f} MiB); "
                        f"lookup {m['lookup_ns']:.1f} ns")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)

    if args.json:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
