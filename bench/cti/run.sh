#!/usr/bin/env bash
# CTI Manager benchmark (see README.md): builds the release binaries, provisions a fresh node
# with N digest deskphones and a CTI super provider, starts `switchboard serve` on loopback
# pinned to CPU0, gets an OAuth access token (scope cti) by the password grant, and runs the
# bench_cti example pinned to CPU1:
#   1. N providers opened by token (CONCURRENCY at a time) and kept open: opens/s;
#   2. one device opened on each: opens/s; the server's VmRSS/VmHWM before and after;
#   3. with the N providers connected: REG_COUNT devices register over SIP UDP (digest) at
#      each rate of REG_RATES, then unregister, in cycles spanning REG_SECONDS (35 s: every
#      provider's heartbeat falls in the window): registration → DeviceInServiceEvent latency;
#   4. the N providers dropped, SWEEP_PROVIDERS providers opened at each concurrency of SWEEP.
# Prints the results, appends them to $OUT/cti.txt, stops the server. Run as root (ulimit -n
# 65536, or at least N + 1024; sysctl).
#   [N=10000] [CONCURRENCY=128] [REG_COUNT=5000] [REG_RATES=250,1000] [SWEEP=64,128,256,512] ./run.sh
# Other knobs: SWEEP_PROVIDERS (N), HEARTBEAT (30 s, the providers' heartbeat), CTI_TRACE (the
# node's `cti` trace level; empty = the node's default), SIP_TRACE (error), DATA
# (/tmp/switchboard-cti-bench), OUT (/tmp/switchboard-bench-results), SERVER_CPUS (0),
# CLIENT_CPUS (1), BUILD (1; 0 = use the binaries as they are), PERF (1 = record a perf profile
# of the server during the whole bench: $RUN/perf.data, with PERF_ARGS, default -g; the release
# build has no frame pointers: PERF_ARGS="--call-graph dwarf -F 499" for usable call graphs).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${N:-10000}
CONCURRENCY=${CONCURRENCY:-128}
REG_COUNT=${REG_COUNT:-5000}
REG_RATES=${REG_RATES:-250,1000}
REG_SECONDS=${REG_SECONDS:-35}
SWEEP=${SWEEP:-64,128,256,512}
SWEEP_PROVIDERS=${SWEEP_PROVIDERS:-$N}
HEARTBEAT=${HEARTBEAT:-30}
CTI_TRACE=${CTI_TRACE:-}
SIP_TRACE=${SIP_TRACE:-error}
DATA=${DATA:-/tmp/switchboard-cti-bench}
OUT=${OUT:-/tmp/switchboard-bench-results}
SERVER_CPUS=${SERVER_CPUS:-0}
CLIENT_CPUS=${CLIENT_CPUS:-1}
BUILD=${BUILD:-1}
PERF=${PERF:-0}
PERF_ARGS=${PERF_ARGS:--g}
LOGIN=benchcti
BIN="$ROOT/target/release/switchboard"
BENCH="$ROOT/target/release/examples/bench_cti"
PROVISION="$ROOT/target/release/examples/bench_provision"

for tool in taskset python3 curl; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
if [ "$BUILD" = 1 ]; then
  (cd "$ROOT" && nice -n 19 cargo build --release -p switchboard --bin switchboard \
    && nice -n 19 cargo build --release -p switchboard-server --example bench_provision \
    && nice -n 19 cargo build --release -p switchboard-cti-client --example bench_cti)
fi

# Autogroups share a pinned core fairly between sessions whatever their nice level (see
# bench/register/README.md): measure without them.
sysctl -qw kernel.sched_autogroup_enabled=0 2>/dev/null \
  || echo "warning: could not disable kernel.sched_autogroup_enabled" >&2
# N connections on each side, plus the node's own files: 65536, or the hard limit when the
# container does not let root raise it.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((N + 1024)) ]; then
  echo "open-file limit $(ulimit -n) is too low for N=$N (run as root, or lower N)" >&2; exit 2
fi

RUN="$OUT/cti-n$N-c$CONCURRENCY-$(date +%H%M%S)"
mkdir -p "$RUN"
PID=""; PERF_PID=""
cleanup() {
  if [ -n "$PERF_PID" ] && kill -0 "$PERF_PID" 2>/dev/null; then
    kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true
  fi
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$RUN/token" "$RUN/grant"
}
trap cleanup EXIT

# A fresh node with N deskphones SEP000000000001… (password pw-<name>).
rm -rf "$DATA/sb"
mkdir -p "$DATA"
"$PROVISION" "$DATA/sb" "$N" "$DATA/devices.csv"

# Every socket on loopback, on ports the kernel picks (read back with `switchboard ports`).
taskset -c "$SERVER_CPUS" "$BIN" serve --data-dir "$DATA/sb" --node-name ctibench \
  --https 127.0.0.1:0 --sip-udp 127.0.0.1:0 --sip-tcp 127.0.0.1:0 --sip-tls 127.0.0.1:0 \
  --sip-oauth 127.0.0.1:0 --sip-mra-oauth 127.0.0.1:0 --cti 127.0.0.1:0 --cti-tls 127.0.0.1:0 \
  --config-http 127.0.0.1:0 > "$RUN/server.log" 2>&1 &
PID=$!
for _ in $(seq 300); do
  [ -s "$DATA/sb/node.url" ] && break
  kill -0 "$PID" 2>/dev/null || { cat "$RUN/server.log" >&2; exit 1; }
  sleep 0.1
done
[ -s "$DATA/sb/node.url" ] || { echo "the node did not start: $RUN/server.log" >&2; exit 1; }
SB=(taskset -c "$CLIENT_CPUS" "$BIN" --data-dir "$DATA/sb")
"${SB[@]}" param set SipMaxRegistrationExpiresSeconds 3600 >/dev/null
"${SB[@]}" trace level sip "$SIP_TRACE" >/dev/null
[ -n "$CTI_TRACE" ] && "${SB[@]}" trace level cti "$CTI_TRACE" >/dev/null
CTI_LEVEL=$("${SB[@]}" --json trace levels 2>/dev/null | python3 -c '
import json, sys
try:
    levels = json.load(sys.stdin)
except Exception:
    print("?"); sys.exit()
rows = levels if isinstance(levels, list) else levels.get("levels", [])
print(next((r.get("level", "?") for r in rows if r.get("service") == "cti"), "?"))' || echo "?")

# The CTI super provider, with a random password (through the node's API).
PASSWORD=$(head -c 18 /dev/urandom | base64 | tr -d '/+=')
printf '%s\n' "$PASSWORD" | "${SB[@]}" user add "$LOGIN" --password-stdin --display-name "CTI bench" \
  --cti-enabled true --super-provider true >/dev/null

read -r CTI SIP HTTPS < <("${SB[@]}" --json ports | python3 -c '
import json, sys
ls = json.load(sys.stdin)["listeners"]
get = lambda s, t: next(l["address"] for l in ls if l["service"] == s and l["transport"] == t)
print(get("cti", "tcp"), get("sip", "udp"), get("https", "tcp"))')

# An access token with scope cti: OAuth password grant, client jabber.
umask 077
printf 'grant_type=password&client_id=jabber&username=%s&password=%s&scope=cti' "$LOGIN" "$PASSWORD" > "$RUN/grant"
curl -sS --fail-with-body --cacert "$DATA/sb/certs/tomcat.pem" -d "@$RUN/grant" "https://$HTTPS/oauth/token" \
  | python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])' > "$RUN/token"
rm -f "$RUN/grant"
umask 022

# Wait for the node to be idle (< 5 % of a core over 0.5 s).
for _ in $(seq 60); do
  a=$(awk '{print $14+$15}' "/proc/$PID/stat"); sleep 0.5; b=$(awk '{print $14+$15}' "/proc/$PID/stat")
  [ $((b - a)) -le 2 ] && break
done

if [ "$PERF" = 1 ]; then
  # shellcheck disable=SC2086
  perf record $PERF_ARGS -p "$PID" -o "$RUN/perf.data" > "$RUN/perf.log" 2>&1 &
  PERF_PID=$!
  sleep 1
fi

{
  echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\" server=CPU$SERVER_CPUS client=CPU$CLIENT_CPUS autogroup=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo '?') cti_trace=$CTI_LEVEL sip_trace=$SIP_TRACE"
  echo "# N=$N CONCURRENCY=$CONCURRENCY REG_COUNT=$REG_COUNT REG_RATES=$REG_RATES REG_SECONDS=$REG_SECONDS SWEEP=$SWEEP SWEEP_PROVIDERS=$SWEEP_PROVIDERS HEARTBEAT=$HEARTBEAT run=$RUN"
  taskset -c "$CLIENT_CPUS" "$BENCH" --cti "$CTI" --sip "$SIP" --login "$LOGIN" --token-file "$RUN/token" \
    --server-pid "$PID" --server-log "$RUN/server.log" --providers "$N" --concurrency "$CONCURRENCY" --reg-count "$REG_COUNT" \
    --reg-rates "$REG_RATES" --reg-seconds "$REG_SECONDS" --sweep "$SWEEP" --sweep-providers "$SWEEP_PROVIDERS" \
    --heartbeat "$HEARTBEAT" --samples "$RUN/samples"
} 2>&1 | tee "$RUN/bench.txt" | tee -a "$OUT/cti.txt"

if [ -n "$PERF_PID" ]; then
  kill -INT "$PERF_PID" 2>/dev/null || true; wait "$PERF_PID" 2>/dev/null || true; PERF_PID=""
  echo "perf profile: perf report -i $RUN/perf.data --no-children"
fi
echo "run directory: $RUN (server.log, bench.txt, samples/)"
