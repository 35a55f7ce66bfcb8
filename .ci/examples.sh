#!/usr/bin/env bash
# Runs the example programs `cargo test --workspace` built, and checks what they say:
# the webhook sender and verifying receiver, and a service of one's own called by the
# safe-retry client.
#
#   .ci/examples.sh TARGET_DIR
set -euo pipefail
examples="$1/debug/examples"
server=""
trap '[ -z "$server" ] || kill "$server" 2>/dev/null || true' EXIT

echo "== send_and_verify"
"$examples/send_and_verify"

echo "== own_service, called by call_own_service"
port=18470
"$examples/own_service" "127.0.0.1:$port" >/dev/null &
server=$!
for _ in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done
out="$("$examples/call_own_service" "http://127.0.0.1:$port")"
echo "$out"
for expected in '"sku":"tea-01"' 'code 5000' 'field sku' 'code 4090'; do
    grep -qF -- "$expected" <<<"$out" || { echo "examples: no $expected in the client's report" >&2; exit 1; }
done
