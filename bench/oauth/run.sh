#!/usr/bin/env bash
# OAuth token endpoint benchmark: starts a fresh `switchboard serve --demo` (release build) on
# loopback ephemeral ports, runs the bench_oauth example against it (password grant, then
# refresh-token grant) and stops the node. See README.md.
#
# Environment:
#   CONCURRENCY=16        concurrent clients
#   SECONDS_PER_GRANT=10  seconds of load per grant type
#   GRANT=both            password | refresh | both
#   STORE_URL=            a PostgreSQL URL to bench the PostgreSQL store (default: SQLite)
#   SERVER_CPUS=0 CLIENT_CPUS=1   pin the node and the load generator with taskset (optional)
#   RESULTS=/tmp/switchboard-bench-results/oauth.txt   where the summary lines are appended
set -euo pipefail
cd "$(dirname "$0")/../.."

CONCURRENCY=${CONCURRENCY:-16}
SECONDS_PER_GRANT=${SECONDS_PER_GRANT:-10}
GRANT=${GRANT:-both}
RESULTS=${RESULTS:-/tmp/switchboard-bench-results/oauth.txt}

# A command line, prefixed with taskset when CPUs are given (taskset execs the command, so a
# background job's $! is the command's own PID).
pinned() { # pinned <cpus> <command...>: sets the array `cmd`
    local cpus=$1
    shift
    cmd=("$@")
    if [ -n "$cpus" ] && command -v taskset >/dev/null; then cmd=(taskset -c "$cpus" "$@"); fi
}

cargo build --release --quiet -p switchboard --bin switchboard
cargo build --release --quiet -p switchboard-server --example bench_oauth

data=$(mktemp -d /tmp/switchboard-oauth-bench.XXXXXX)
serve_pid=
cleanup() {
    if [ -n "$serve_pid" ]; then kill -TERM "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
    rm -rf "$data"
}
trap cleanup EXIT

store=()
if [ -n "${STORE_URL:-}" ]; then store=(--store-url "$STORE_URL"); fi
pinned "${SERVER_CPUS:-}" ./target/release/switchboard serve --demo --node-name oauthbench \
    --https 127.0.0.1:0 --sip-udp 127.0.0.1:0 --sip-tcp 127.0.0.1:0 --sip-tls 127.0.0.1:0 \
    --sip-oauth 127.0.0.1:0 --sip-mra-oauth 127.0.0.1:0 --cti 127.0.0.1:0 --cti-tls 127.0.0.1:0 --config-http 127.0.0.1:0 \
    --data-dir "$data/node" "${store[@]}"
"${cmd[@]}" >"$data/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 1 300); do
    [ -s "$data/node/node.url" ] && break
    kill -0 "$serve_pid" 2>/dev/null || { cat "$data/serve.log" >&2; exit 1; }
    sleep 0.1
done
[ -s "$data/node/node.url" ] || { echo "the node did not start" >&2; exit 1; }

mkdir -p "$(dirname "$RESULTS")"
backend=sqlite
[ -n "${STORE_URL:-}" ] && backend=postgres
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?') store=$backend nproc=$(nproc)"
    pinned "${CLIENT_CPUS:-}" ./target/release/examples/bench_oauth "$data/node" \
        --concurrency "$CONCURRENCY" --seconds "$SECONDS_PER_GRANT" --grant "$GRANT"
    "${cmd[@]}"
} | tee -a "$RESULTS"
