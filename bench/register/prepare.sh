#!/usr/bin/env bash
# Prepares a benchmark data directory: builds Switchboard (release), provisions N digest
# deskphones into a fresh node data directory, writes the SIPp CSV and Kamailio's credentials
# for the same devices; then starts the node once (its OAuth signing key, node row and TLS
# certificate) and provisions BEARER_N SIP OAuth softphones with an access token each
# ($DATA/bearer.csv, ES256 by the node's own key) and Kamailio's HS256 tokens for the same names
# ($DATA/bearer-kamailio.csv, $DATA/jwt.secret).
#   [BEARER_N=20000] [BEARER_ONLY=1] ./prepare.sh [N=200000] [DATA=/tmp/switchboard-bench]
# BEARER_ONLY=1 keeps an existing data directory and only (re)does the bearer part.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${1:-200000}
DATA=${DATA:-/tmp/switchboard-bench}
BEARER_N=${BEARER_N:-20000}
BEARER_ONLY=${BEARER_ONLY:-0}
for tool in sipp kamailio stunnel taskset python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run $HERE/setup.sh (as root) first" >&2; exit 2; }
done
mkdir -p "$DATA"
(cd "$ROOT" && cargo build --release -p switchboard \
  && cargo build --release -p switchboard-server --example bench_provision --example bench_bearer \
  && cargo build --release -p switchboard-sip --example tls_relay)
if [ "$BEARER_ONLY" != 1 ]; then
  rm -rf "$DATA/sb"
  "$ROOT/target/release/examples/bench_provision" "$DATA/sb" "$N" "$DATA/devices.csv"
  python3 "$HERE/gen_kamailio_creds.py" "$DATA/devices.csv" "$DATA/creds.sqlite"
fi
# Start the node once, as run.sh does: it creates the OAuth signing key, its node row (the
# issuer is its HTTPS address) and its certificate; the tokens are then minted with those.
rm -f "$DATA/sb/node.url"
"$ROOT/target/release/switchboard" serve --data-dir "$DATA/sb" --node-name bench --https 127.0.0.1:18443 \
  --sip-udp 127.0.0.1:5060 --sip-tcp 127.0.0.1:5060 --sip-tls 127.0.0.1:5061 --sip-oauth 127.0.0.1:5090 \
  --sip-mra-oauth 127.0.0.1:5091 --cti 127.0.0.1:2748 --cti-tls 127.0.0.1:2749 --config-http 127.0.0.1:6970 > "$DATA/prepare-serve.log" 2>&1 &
NODE=$!
for _ in $(seq 300); do [ -f "$DATA/sb/node.url" ] && break; sleep 0.1; done
[ -f "$DATA/sb/node.url" ] || { echo "the node did not start: $DATA/prepare-serve.log" >&2; kill "$NODE"; exit 1; }
kill "$NODE"; wait "$NODE" || true
"$ROOT/target/release/examples/bench_bearer" "$DATA/sb" "$BEARER_N" "$DATA"
echo "ready: $DATA (N=$N, BEARER_N=$BEARER_N)"
