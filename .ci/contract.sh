#!/usr/bin/env bash
# The reference server under tools nobody here wrote: for every profile, on SQLite and on
# PostgreSQL, the served /openapi.json must pass openapi-spec-validator, schemathesis must
# find no server error, no schema violation and no rejected schema-valid request, and a
# standard OAuth 2.0 client library must understand the token endpoint, and the two most
# used OpenAPI linters (Spectral's spectral:oas, Redocly's recommended rules) must find
# neither an error nor a warning.
#
#   .ci/contract.sh APIERR_BINARY PYTHON_VENV NODE_TOOLS
set -euo pipefail
bin="$1"
venv="$2"
node_tools="$3"
# Redocly asks the network for updates and sends usage data unless told not to.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

# The services, as scripts/test names them.
pg="${APIERR_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
pg_server="${pg%%\?*}"
pg_server="${pg_server%/*}"
redis="${APIERR_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

port=18480
# Bounded, reproducible runs: a fixed seed and a fixed number of examples per operation.
examples="${SCHEMATHESIS_EXAMPLES:-40}"
seed="${SCHEMATHESIS_SEED:-20261129}"

# The key that seals webhook secrets (PostgreSQL needs one given; SQLite would make one
# beside its file).
"$bin" keys generate "$work/secret.key"

start() {
    local url="$1" profile="$2"
    shift 2
    port=$((port + 1))
    # No webhook dispatcher: schemathesis registers endpoints at any host name it makes
    # up, and test traffic may only go to loopback addresses. Its test messages
    # (POST /webhooks/endpoints/{id}/test) are sent from the request: through a proxy
    # at a closed loopback port, so that they never leave the machine (nor resolve a
    # name), and fail as a connection failure.
    "$bin" serve --database-url "$url" --demo --profile "$profile" --listen "127.0.0.1:$port" \
        --secret-key-file "$work/secret.key" --no-webhook-dispatcher \
        --webhook-proxy http://127.0.0.1:9 "$@" \
        >"$work/serve-$port.log" 2>&1 &
    server=$!
    for _ in $(seq 1 100); do
        if "$venv/bin/python" - "http://127.0.0.1:$port/openapi.json" "$work/openapi.json" \
            2>/dev/null <<'PY'
import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
    open(sys.argv[2], "wb").write(response.read())
PY
        then
            return 0
        fi
        sleep 0.1
    done
    cat "$work/serve-$port.log"
    echo "server did not start: $profile on $url" >&2
    return 1
}

stop() {
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
    server=""
}

for backend in sqlite postgres redis; do
    profiles="problem wrapper nested errors-array specific-code"
    # Redis holds rate limits and idempotency records only: one profile shows it.
    if [ "$backend" = redis ]; then profiles="problem"; fi
    for profile in $profiles; do
        extra=()
        if [ "$backend" = sqlite ]; then
            url="sqlite://$work/$profile.db"
        elif [ "$backend" = redis ]; then
            url="sqlite://$work/$profile-redis.db"
            extra=(--redis-url "$redis" --redis-prefix "apierr_contract_$$:")
        else
            db="apierr_contract_$(echo "$profile" | tr - _)_$$"
            psql "$pg" -qc "DROP DATABASE IF EXISTS $db" >/dev/null
            psql "$pg" -qc "CREATE DATABASE $db" >/dev/null
            url="$pg_server/$db"
        fi
        echo "== $profile on $backend"
        start "$url" "$profile" "${extra[@]}"
        "$venv/bin/openapi-spec-validator" "$work/openapi.json"
        "$node_tools/node_modules/.bin/spectral" lint --quiet --ruleset "$here/lint/.spectral.yaml" \
            --fail-severity warn "$work/openapi.json"
        "$node_tools/node_modules/.bin/redocly" lint --config "$here/lint/redocly.yaml" \
            "$work/openapi.json" >"$work/redocly.log" 2>&1 || { cat "$work/redocly.log"; exit 1; }
        # From the scratch directory: schemathesis keeps a cache where it runs.
        (cd "$work" && "$venv/bin/schemathesis" --config-file "$here/schemathesis.toml" run "http://127.0.0.1:$port/openapi.json" \
            -H "X-Api-Key: acme-key" --checks all --exclude-checks ensure_resource_availability \
            --generation-allow-x00 true \
            --max-examples "$examples" --seed "$seed" --continue-on-failure \
            --warnings off)
        "$venv/bin/python" "$here/oauth_client.py" "http://127.0.0.1:$port"
        if grep -q "panicked" "$work/serve-$port.log"; then
            cat "$work/serve-$port.log"
            echo "the server panicked: $profile on $backend" >&2
            exit 1
        fi
        stop
        if [ "$backend" = postgres ]; then
            psql "$pg" -qc "DROP DATABASE IF EXISTS $db" >/dev/null
        fi
    done
done
echo "contract: every profile passes on SQLite and PostgreSQL"
