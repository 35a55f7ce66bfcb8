#!/usr/bin/env bash
# Runs the example programs `cargo test --workspace` built, and checks what they say:
# the webhook sender and verifying receiver, and a service of one's own called by the
# safe-retry client.
#
#   .ci/examples.sh TARGET_DIR PYTHON_VENV
set -euo pipefail
examples="$1/debug/examples"
venv="$2"
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

echo "== own_service's OpenAPI document"
doc="$(mktemp)"
"$venv/bin/python" - "http://127.0.0.1:$port/openapi.json" "$doc" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
    doc = json.load(response)
responses = doc["paths"]["/orders/{id}"]["get"]["responses"]
# The catalog's statuses: 5000 for a bad id, 3001 not found, 4090 sold out.
missing = [s for s in ("200", "400", "404", "409", "500") if s not in responses]
assert not missing, f"GET /orders/{{id}} does not declare {missing}"
json.dump(doc, open(sys.argv[2], "w"))
PY
"$venv/bin/openapi-spec-validator" "$doc"
rm -f "$doc"
