#!/usr/bin/env bash
# Local AWS stack without an account: moto server + idempotent bootstrap
# (`pwctl admin bootstrap`: the table, key layout and sealed secrets come from
# the same Rust code as a deployment's).
#   infra/emulator.sh up     start (creating .venv if needed) and bootstrap
#   infra/emulator.sh venv   only create .venv (moto)
#   infra/emulator.sh down   stop
#   infra/emulator.sh env    print export lines for the adapters and the CLI
#   infra/emulator.sh status
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STATE="$ROOT/.emulator"
PORT="${AWS_EMULATOR_PORT:-4566}"
HOST=127.0.0.1
ENDPOINT="http://$HOST:$PORT"
PIDFILE="$STATE/moto-$PORT.pid"
LOG="$STATE/moto-$PORT.log"
TABLE="${TABLE_NAME:-password-api}"
ALIAS="alias/password-api"
SENDER="${SES_FROM_ADDRESS:-noreply@password-api.local}"
KEY_ID_FILE="$STATE/kms_key_id"
PWCTL="${CARGO_TARGET_DIR:-$ROOT/target}/debug/pwctl"

answers() {
    "$VENV/bin/python" - "$ENDPOINT" <<'PY' >/dev/null 2>&1
import sys, urllib.request
urllib.request.urlopen(sys.argv[1] + "/_health", timeout=2).read(1)
PY
}

running() {
    [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# (Re)installs the pins when the venv is missing or was made from other pins.
ensure_venv() {
    local stamp="$VENV/emulator-requirements.txt"
    if [[ ! -x "$VENV/bin/moto_server" ]] || ! cmp -s "$ROOT/infra/emulator-requirements.txt" "$stamp"; then
        echo "emulator: installing infra/emulator-requirements.txt into $VENV" >&2
        [[ -x "$VENV/bin/python" ]] || python3 -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            -r "$ROOT/infra/emulator-requirements.txt" >&2
        cp "$ROOT/infra/emulator-requirements.txt" "$stamp"
    fi
}

up() {
    mkdir -p "$STATE"
    # Serialise concurrent `up` calls (several test binaries).
    exec 9>"$STATE/lock"
    flock 9
    ensure_venv
    if ! running || ! answers; then
        if running; then
            # Started but not answering yet: give it the usual startup time.
            :
        else
            echo "emulator: starting moto (serialised, infra/moto_serial_server.py) on $ENDPOINT (log $LOG)" >&2
            nohup "$VENV/bin/python" "$ROOT/infra/moto_serial_server.py" "$HOST" "$PORT" >"$LOG" 2>&1 </dev/null 9>&- &
            echo $! >"$PIDFILE"
        fi
        for _ in $(seq 1 100); do
            answers && break
            running || { echo "emulator: moto_server exited, see $LOG" >&2; tail -20 "$LOG" >&2; exit 1; }
            sleep 0.2
        done
        answers || { echo "emulator: no answer on $ENDPOINT after 20 s" >&2; exit 1; }
    fi
    bootstrap
}

# pwctl, built when missing or older than a source it is made of (under the
# `up` lock, so concurrent test binaries build it once).
ensure_pwctl() {
    if [[ -x "$PWCTL" ]] && [[ -z "$(find "$ROOT/Cargo.toml" "$ROOT/Cargo.lock" \
        "$ROOT/client/Cargo.toml" "$ROOT/client/src" "$ROOT/shared/Cargo.toml" "$ROOT/shared/src" \
        "$ROOT/shared/aws/Cargo.toml" "$ROOT/shared/aws/src" "$ROOT/shared/password" \
        -newer "$PWCTL" \( -name '*.rs' -o -name Cargo.toml -o -name Cargo.lock \) -print -quit)" ]]; then
        return
    fi
    echo "emulator: building pwctl for the bootstrap" >&2
    (cd "$ROOT" && cargo build --quiet -p client --bin pwctl) >&2
    touch "$PWCTL"
}

bootstrap() {
    ensure_pwctl
    AWS_ENDPOINT_URL="$ENDPOINT" AWS_REGION=us-east-1 \
        AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        TABLE_NAME="$TABLE" SES_FROM_ADDRESS="$SENDER" \
        "$PWCTL" admin bootstrap --kms-alias "$ALIAS" --key-id-file "$KEY_ID_FILE" >/dev/null
}

down() {
    if running; then
        kill "$(cat "$PIDFILE")"
        echo "emulator: stopped" >&2
    else
        echo "emulator: not running" >&2
    fi
    rm -f "$PIDFILE"
}

env_lines() {
    local key_id=""
    [[ -f "$KEY_ID_FILE" ]] && key_id="$(cat "$KEY_ID_FILE")"
    cat <<EOT
export AWS_ENDPOINT_URL=$ENDPOINT
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=test
export AWS_SECRET_ACCESS_KEY=test
export TABLE_NAME=$TABLE
export KMS_KEY_ID=${key_id:-$ALIAS}
export SES_FROM_ADDRESS=$SENDER
EOT
}

case "${1:-}" in
    up) up ;;
    venv) mkdir -p "$STATE"; exec 9>"$STATE/lock"; flock 9; ensure_venv ;;
    down) down ;;
    env) env_lines ;;
    status) if running && answers; then echo "running on $ENDPOINT"; else echo "stopped"; exit 1; fi ;;
    *) echo "usage: $0 up|venv|down|env|status" >&2; exit 2 ;;
esac
