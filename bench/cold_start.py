#!/usr/bin/env python3
"""Cold start of every function's release bootstrap, measured locally.

Each `target/lambda/<fn>/bootstrap` (from `make build ARCH=x86_64`: the
binaries must run on this machine) is started as Lambda would start it, with
`AWS_LAMBDA_RUNTIME_API` pointing at a tiny Runtime API served by this script
on 127.0.0.1. The time measured is process start -> first
`GET /2018-06-01/runtime/invocation/next`, i.e. the whole init phase: config,
key ring (unsealed through KMS when the function uses the AWS adapters),
adapters, runtime client. The median of --runs starts is reported with the
size of each bootstrap, against the targets (<= 50 ms, <= 8 MiB).

Functions get the environment they need at start: the application config
(defaults, plus the token issuer and audience every deployed HTTP function
requires) and, unless --no-emulator, the local AWS emulator
(`infra/emulator.sh up`, then the lines of `infra/emulator.sh env`), so a
function that loads its key ring from DynamoDB and unseals it with KMS does
that against the emulator. The emulator is stopped afterwards only if this
script started it. The functions read a table of this run's own
(`pwctl admin bootstrap` into `cold-start-<time>`, then `--ring-keys` - 1
rotations), not the emulator's shared table, whose key ring grows with every
test run that rotates keys: a retired key stays in the ring for its day of
grace, and create-session unseals every key in the ring at start.

    python3 bench/cold_start.py [--runs 5] [--ring-keys 1] [--lambda-dir DIR]
                                [--no-emulator] [--check] [fn ...]

Only the standard library is used.
"""

import argparse
import http.server
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET_MS = 50.0
TARGET_BYTES = 8 * 1024 * 1024
NEXT = "/2018-06-01/runtime/invocation/next"
INIT_ERROR = "/2018-06-01/runtime/init/error"


class RuntimeApi:
    """The part of the Lambda Runtime API a cold start reaches."""

    def __init__(self):
        self.polled = threading.Event()
        self.poll_time = None
        self.init_error = None
        self.release = threading.Event()
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path == NEXT:
                    if api.poll_time is None:
                        api.poll_time = time.perf_counter()
                    api.polled.set()
                    # Hold the poll, as Lambda does between invocations; the
                    # process is stopped before any event is delivered.
                    api.release.wait(30)
                    self.send_response(503)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8", "replace")
                if self.path == INIT_ERROR:
                    api.init_error = body
                    api.polled.set()
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def address(self):
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def reset(self):
        self.polled.clear()
        self.release.clear()
        self.poll_time = None
        self.init_error = None

    def close(self):
        self.release.set()
        self.server.shutdown()


def functions():
    d = os.path.join(ROOT, "functions")
    return sorted(f for f in os.listdir(d) if os.path.isfile(os.path.join(d, f, "Cargo.toml")))


def emulator_env():
    """Starts the emulator if needed; returns (env, started_here)."""
    script = os.path.join(ROOT, "infra/emulator.sh")
    was_running = subprocess.run([script, "status"], capture_output=True).returncode == 0
    subprocess.run([script, "up"], check=True, stdout=subprocess.DEVNULL)
    out = subprocess.run([script, "env"], check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("export ") and "=" in line:
            k, v = line[len("export "):].split("=", 1)
            env[k] = v
    return env, not was_running


def bench_table(env, ring_keys):
    """A table of this run, bootstrapped with a ring of `ring_keys` SCv2 keys
    (the active one and ring_keys - 1 retired ones still in their grace)."""
    pwctl = os.path.join(ROOT, "target/debug/pwctl")
    table = f"cold-start-{int(time.time() * 1000)}"
    penv = dict(env, TABLE_NAME=table)
    run = lambda *a: subprocess.run([pwctl, "admin", *a], env=penv, check=True, stdout=subprocess.DEVNULL)
    run("bootstrap", "--kms-alias", "alias/password-api")
    for i in range(1, ring_keys):
        run("keys", "rotate", "--kid", f"bench-{i}")
    return table


def one_start(binary, env, api, timeout):
    api.reset()
    stderr = tempfile.TemporaryFile()
    t0 = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = t0 + timeout
    while not api.polled.wait(0.005):
        if proc.poll() is not None or time.perf_counter() > deadline:
            break
    ms = (api.poll_time - t0) * 1000 if api.poll_time else None
    api.release.set()
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    if ms is None:
        stderr.seek(0)
        tail = stderr.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        reason = api.init_error or " | ".join(tail) or f"exit {proc.returncode}"
        return None, reason
    return ms, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("functions", nargs="*", help="default: every crate in functions/")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for the first poll")
    ap.add_argument("--memory", default="1024", help="AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
    ap.add_argument("--no-emulator", action="store_true", help="do not start or use the local AWS emulator")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--ring-keys", type=int, default=1, help="SCv2 keys in the ring (1 + retired ones)")
    ap.add_argument("--lambda-dir", default=os.path.join(ROOT, "target/lambda"), help="where <fn>/bootstrap is")
    args = ap.parse_args()

    names = args.functions or functions()
    missing = [n for n in names if not os.path.isfile(os.path.join(args.lambda_dir, n, "bootstrap"))]
    if missing:
        sys.exit(f"no bootstrap for {', '.join(missing)}: run `make build ARCH=x86_64` first")

    api = RuntimeApi()
    started_emulator = False
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": args.memory,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/bench",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "RUST_LOG": "warn",
            "SES_FROM_ADDRESS": "noreply@password-api.local",
            # Required of every deployed HTTP function (template parameters).
            "JWT_ISSUER": "https://id.example.com",
            "JWT_AUDIENCE": "password-api",
            # sweep-mail's dead-letter queue: only its URL is read at start.
            "MAIL_DEAD_LETTER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/bench-dlq",
        }
        if not args.no_emulator:
            emu, started_emulator = emulator_env()
            env.update(emu)
            env["TABLE_NAME"] = bench_table(env, args.ring_keys)
        try:
            rows = []
            for name in names:
                binary = os.path.join(args.lambda_dir, name, "bootstrap")
                fenv = dict(env, AWS_LAMBDA_FUNCTION_NAME=name)
                times, error = [], None
                for _ in range(args.runs):
                    ms, error = one_start(binary, fenv, api, args.timeout)
                    if ms is None:
                        break
                    times.append(ms)
                size = os.path.getsize(binary)
                rows.append((name, statistics.median(times) if times and not error else None, times, size, error))
        finally:
            api.close()
            if started_emulator:
                subprocess.run([os.path.join(ROOT, "infra/emulator.sh"), "down"], stderr=subprocess.DEVNULL)

    print(f"{'function':<18}{'start->poll ms (median)':>24}{'min':>8}{'max':>8}{'size MiB':>10}  target")
    failed = False
    for name, med, times, size, error in rows:
        mib = size / 1048576
        if med is None:
            failed = True
            print(f"{name:<18}{'no poll':>24}{'':>8}{'':>8}{mib:>10.2f}  FAIL: {error}")
            continue
        ok = med <= TARGET_MS and size <= TARGET_BYTES
        failed |= not ok
        print(
            f"{name:<18}{med:>24.1f}{min(times):>8.1f}{max(times):>8.1f}{mib:>10.2f}  "
            f"{'ok' if ok else 'MISSED'} (<= {TARGET_MS:.0f} ms, <= 8 MiB)"
        )
    print(
        f"runs per function: {args.runs}; emulator: {'no' if args.no_emulator else 'yes'}"
        f"{'' if args.no_emulator else f'; SCv2 keys in the ring: {args.ring_keys}'}"
    )
    if args.check and failed:
        sys.exit(1)


if __name__ == "__main__":
    main()
