#!/usr/bin/env python3
"""`pwctl admin import` against the local emulator (moto): rate and memory.

1. Rate: `cargo run -p aws-adapters --example import_bench -- USERS ROUNDS`
   runs the import pipeline and a bare sequential BatchWriteItem loop over
   the same items, each into a fresh table, in the same run (rounds
   alternate which goes first) and prints users/s of each and the ratio.
2. Peak memory: `/usr/bin/time -v pwctl --json admin import FILE` (max RSS)
   for each --write size (a real import into a fresh table) and each
   --dry-run size (validation and lookups against an empty table, nothing
   written: the only way to read a 1M-line file against moto in minutes).

    python3 bench/import.py [--users 10000] [--rounds 6]
        [--write 10000,100000] [--dry-run 10000,1000000] [--port 4567] [--target-dir DIR]

The emulator is a moto of its own on --port, started (and stopped at the
end) unless one is already running there.

Builds (dev profile, dependencies at opt-level 3 as in every dev build)
are expected first: `make bench-import` does them. Only the standard
library is used.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def emulator(verb, port):
    env = dict(os.environ, AWS_EMULATOR_PORT=str(port))
    return subprocess.run(["bash", os.path.join(ROOT, "infra/emulator.sh"), verb], env=env,
                          capture_output=True, text=True)


def running(port):
    pidfile = os.path.join(ROOT, ".emulator", f"moto-{port}.pid")
    try:
        with open(pidfile) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def emulator_env(port):
    up = emulator("up", port)
    if up.returncode != 0:
        sys.exit(f"emulator.sh up: {up.stderr[-2000:]}")
    out = emulator("env", port).stdout
    env = dict(os.environ, AWS_EMULATOR_PORT=str(port))
    for line in out.splitlines():
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            env[k] = v
    return env


def write_file(path, lines):
    with open(path, "w") as f:
        for i in range(lines):
            f.write(json.dumps({"email": f"user{i}@bench.test", "name": f"User {i}",
                                "bizId": f"bench-{i}", "status": "PendingPassword"}) + "\n")


def fresh_table(pwctl, env, tag):
    # The emulator pauses now and then (a million lines are ~40k requests):
    # a longer operation timeout than the functions' 3 s rides that out.
    env = dict(env, TABLE_NAME=f"bench-import-{tag}-{int(time.time() * 1000)}",
               AWS_OPERATION_TIMEOUT_MS="30000")
    subprocess.run([pwctl, "admin", "bootstrap"], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return env


def peak(pwctl, env, path, dry_run):
    args = ["/usr/bin/time", "-v", pwctl, "--json", "admin", "import", path]
    if dry_run:
        args.append("--dry-run")
    started = time.monotonic()
    p = subprocess.run(args, env=env, capture_output=True, text=True)
    secs = time.monotonic() - started
    if p.returncode != 0:
        sys.exit(f"pwctl failed ({p.returncode}): {p.stderr[-2000:]}")
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1))
    summary = json.loads(p.stdout)
    return rss, secs, summary


def sizes(text):
    return [int(x) for x in text.split(",") if x]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--write", default="10000,100000")
    ap.add_argument("--dry-run", default="10000,1000000")
    ap.add_argument("--target-dir", default=os.path.join(ROOT, "target"))
    # A moto of its own (it serialises requests): the figures are not
    # slowed by, and do not slow, the test suites on the shared one.
    ap.add_argument("--port", type=int, default=4567)
    args = ap.parse_args()
    started = not running(args.port)
    env = emulator_env(args.port)
    try:
        measure(args, env)
    finally:
        if started:
            emulator("down", args.port)


def measure(args, env):
    pwctl = os.path.join(args.target_dir, "debug", "pwctl")
    bench = os.path.join(args.target_dir, "debug", "examples", "import_bench")

    if args.users:
        print(f"$ {bench} {args.users} {args.rounds}", flush=True)
        subprocess.run([bench, str(args.users), str(args.rounds)], env=env, check=True)

    with tempfile.TemporaryDirectory() as tmp:
        for dry, runs in ((False, sizes(args.write)), (True, sizes(args.dry_run))):
            for lines in runs:
                path = os.path.join(tmp, f"users-{lines}.jsonl")
                write_file(path, lines)
                run_env = fresh_table(pwctl, env, f"{'dry' if dry else 'w'}{lines}")
                rss, secs, s = peak(pwctl, run_env, path, dry)
                print(f"$ /usr/bin/time -v pwctl --json admin import users-{lines}.jsonl"
                      f"{' --dry-run' if dry else ''}: {lines} lines, imported {s['imported']}"
                      f"{' (would be)' if dry else ''}, failed {s['failed']}, {secs:.1f} s "
                      f"({lines / secs:.0f} lines/s), max RSS {rss / 1024:.1f} MiB", flush=True)
                os.remove(path)


if __name__ == "__main__":
    main()
