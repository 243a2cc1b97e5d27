#!/usr/bin/env bash
# After a deploy: does the API answer? The public key, a Secure Channel
# handshake (key confirmation checked) and, with TOKEN set to a user's access
# token, that user's password status. Exit 0 only when every step passed.
#   infra/smoke.sh https://api.example.com            (make smoke URL=...)
#   TOKEN=<jwt> infra/smoke.sh https://api.example.com
# PWCTL names the pwctl to run (default: built from this checkout). The token
# goes to pwctl through the environment, never on a command line.
set -euo pipefail

url=${1:?usage: infra/smoke.sh URL   (TOKEN=<access token> for the status step)}
if [[ -n "${PWCTL:-}" ]]; then
  pwctl=("$PWCTL")
else
  pwctl=(cargo run -q -p client --bin pwctl --)
fi

step() {
  local name=$1
  shift
  if out=$("$@" 2>&1); then
    printf 'smoke %-10s ok\n%s\n' "$name" "$out"
  else
    printf 'smoke %-10s FAILED\n%s\n' "$name" "$out" >&2
    exit 1
  fi
}

step public-key "${pwctl[@]}" --url "$url" public-key
step handshake "${pwctl[@]}" --url "$url" handshake
if [[ -n "${TOKEN:-}" ]]; then
  export PWCTL_TOKEN=$TOKEN
  step status "${pwctl[@]}" --url "$url" status
else
  echo "smoke status     skipped (set TOKEN=<access token> to check a user's status)"
fi
echo "smoke: $url answers"
