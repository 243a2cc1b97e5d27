#!/usr/bin/env bash
# make watch: every function as its own process under `cargo lambda watch`
# (the Lambda runtime API emulator) on 127.0.0.1:$WATCH_PORT, against the
# local AWS emulator, with a stream pump feeding the table's stream to
# send-mail. Routes come from [workspace.metadata.lambda.watch.router].
#
# Extra variables for the functions (JWT_JWKS, limits ...) are taken from the
# environment of this script. The functions require JWT_ISSUER and
# JWT_AUDIENCE as deployed; unset, they default to local values here.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${WATCH_PORT:-9000}"
STATE="$ROOT/.emulator"
CARGO_LAMBDA="$ROOT/.venv-tools/bin/cargo-lambda"

bash "$ROOT/infra/emulator.sh" up >&2
eval "$(bash "$ROOT/infra/emulator.sh" env)"
[[ -x "$CARGO_LAMBDA" ]] || make -C "$ROOT" tools >&2

# Everything the functions read, in one env file (never committed: .emulator/).
ENV_FILE="$STATE/watch.env"
export JWT_ISSUER="${JWT_ISSUER:-http://localhost/issuer}" JWT_AUDIENCE="${JWT_AUDIENCE:-password-api}"
{
    bash "$ROOT/infra/emulator.sh" env | sed -e 's/^export //'
    for var in JWT_JWKS JWT_ISSUER JWT_AUDIENCE JWT_HS256_SECRET PASSWORD_CONFIG RUST_LOG \
        INIT_PASSWORD_URL RESET_PASSWORD_URL FORGOT_PASSWORD_URL $(compgen -e | grep '^RATE_LIMIT_' || true); do
        if [[ -n "${!var:-}" ]]; then printf "%s='%s'\n" "$var" "${!var}"; fi
    done
} >"$ENV_FILE"

"$ROOT/.venv/bin/python" "$ROOT/infra/stream_pump.py" "$AWS_ENDPOINT_URL" "$TABLE_NAME" \
    "http://127.0.0.1:$PORT/2015-03-31/functions/send-mail/invocations" "$ROOT/template.yaml" &
PUMP=$!
trap 'kill $PUMP 2>/dev/null || true' EXIT INT TERM

cd "$ROOT"
# Every function built up front, in one cargo run over the package selection
# `cargo lambda watch` uses for each first call (`cargo run --bin <fn>` in the
# whole workspace): its calls then find the binaries fresh instead of compiling
# on the first invocation, where a change in the tree restarts the build.
# With the one feature the workspace's dev-dependencies add to the functions'
# graph (aws-adapters/testing: test-support modules only, no behaviour), every
# library is the one `cargo test --workspace` built, so after a test build only
# the functions' own crates compile (docs/architecture.md, "CI time").
FEATURES=(--features aws-adapters/testing)
# WATCH_RELOAD=0: no rebuild and restart when a file changes (the stack test's
# run, which must not lose a function mid-story to an edit in the tree).
RELOAD=()
[[ "${WATCH_RELOAD:-1}" == 0 ]] && RELOAD=(--ignore-changes)
bins=()
for manifest in "$ROOT"/functions/*/Cargo.toml; do bins+=(--bin "$(basename "$(dirname "$manifest")")"); done
"${CARGO:-cargo}" build --workspace "${FEATURES[@]}" "${bins[@]}" >&2
"$CARGO_LAMBDA" lambda watch "${FEATURES[@]}" ${RELOAD[@]+"${RELOAD[@]}"} --invoke-address 127.0.0.1 --invoke-port "$PORT" --env-file "$ENV_FILE"
