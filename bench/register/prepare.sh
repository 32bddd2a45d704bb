#!/usr/bin/env bash
# Prepares a benchmark data directory: builds Switchboard (release), provisions N digest
# deskphones into a fresh node data directory, writes the SIPp CSV and Kamailio's credentials
# for the same devices.
#   ./prepare.sh [N=200000] [DATA=/tmp/switchboard-bench]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${1:-200000}
DATA=${DATA:-/tmp/switchboard-bench}
for tool in sipp kamailio stunnel taskset python3; do
  command -v "$tool" >/dev/null || { echo "missing $tool: run $HERE/setup.sh (as root) first" >&2; exit 2; }
done
mkdir -p "$DATA"
(cd "$ROOT" && cargo build --release -p switchboard && cargo build --release -p switchboard-server --example bench_provision)
rm -rf "$DATA/sb"
"$ROOT/target/release/examples/bench_provision" "$DATA/sb" "$N" "$DATA/devices.csv"
python3 "$HERE/gen_kamailio_creds.py" "$DATA/devices.csv" "$DATA/creds.sqlite"
echo "ready: $DATA (N=$N)"
