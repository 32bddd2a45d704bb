#!/usr/bin/env bash
# Live bindings and a re-registration storm, on one Switchboard node (UDP digest):
#   1. start the node pinned to CPU0 and read its resident memory (RSS0);
#   2. register N distinct devices (SIPp on CPU1, RATE/s, Expires 3600);
#   3. storm: the first STORM of them register again at STORM_RATE/s (a site whose phones
#      all come back at once); every one must succeed, with no failed call;
#   4. wait for the transient state to expire (answers kept for retransmissions live 32–64 s:
#      two OPTIONS 35 s apart turn both generations over), read RSS1 and the live bindings;
#   5. print: bindings, (RSS1 - RSS0) / bindings, and the storm's counts.
# RSS1 still holds the digest nonces used in the last 5–10 minutes (~30 B per registration).
#   N=100000 STORM=50000 RATE=8000 STORM_RATE=15000 ./live.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
N=${N:-100000}
STORM=${STORM:-50000}
RATE=${RATE:-8000}
STORM_RATE=${STORM_RATE:-15000}
DATA=${DATA:-/tmp/switchboard-bench}
OUT=${OUT:-/tmp/switchboard-bench-results}
BIN="$ROOT/target/release/switchboard"
[ -f "$DATA/devices.csv" ] || { echo "run $HERE/prepare.sh first" >&2; exit 2; }
[ "$(($(wc -l < "$DATA/devices.csv") - 1))" -ge "$N" ] || { echo "prepare.sh provisioned fewer than $N devices" >&2; exit 2; }
RUN="$OUT/live-n$N-s$STORM-$(date +%H%M%S)"
mkdir -p "$RUN"
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null || true; }
trap cleanup EXIT

rm -f "$DATA/sb/node.url"
taskset -c 0 "$BIN" serve --data-dir "$DATA/sb" --node-name bench --https 127.0.0.1:18443 \
  --sip-udp 127.0.0.1:5060 --sip-tcp 127.0.0.1:5060 --sip-tls 127.0.0.1:5061 --sip-oauth 127.0.0.1:5090 --sip-mra-oauth 127.0.0.1:5091 --cti 127.0.0.1:2748 --cti-tls 127.0.0.1:2749 --config-http 127.0.0.1:6970 > "$RUN/server.log" 2>&1 &
PID=$!
for _ in $(seq 150); do [ -f "$DATA/sb/node.url" ] && break; sleep 0.1; done
SB=(taskset -c 1 "$BIN" --data-dir "$DATA/sb")
"${SB[@]}" param set SipMaxRegistrationExpiresSeconds 3600 >/dev/null
"${SB[@]}" trace level sip error >/dev/null
"${SB[@]}" profile set "Bench digest" --transport tcp-udp >/dev/null
sleep 2
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$PID/status"; }
# The node prints "memory: heap in use N bytes, M live SIP bindings" on SIGUSR1.
heap() {
  kill -USR1 "$PID"; sleep 1
  grep '^memory: heap in use' "$RUN/server.log" | tail -1 | awk '{print $5}'
}
RSS0=$(rss_kb)
HEAP0=$(heap)

# SIPp pass: $1 = name, $2 = count, $3 = rate. Prints "ok failed retrans".
pass() {
  local name=$1 count=$2 rate=$3
  ( cd "$RUN" && timeout 300 taskset -c 1 sipp 127.0.0.1:5060 -sf "$HERE/sipp/reg_digest.xml" \
      -inf "$DATA/devices.csv" -t u1 -i 127.0.0.1 -p 25060 -key tp UDP -key ctp udp \
      -r "$rate" -rp 1000 -m "$count" -l 5000 -recv_timeout 5000 -max_recv_loops 5000 \
      -max_sched_loops 5000 -buff_size 4194304 -nostdin -trace_stat -stf "$RUN/$name.csv" \
      -fd 1 > "$RUN/$name.out" 2>&1 ) || true
  python3 - "$RUN/$name.csv" <<'PY'
import sys
rows = [l.rstrip("\n").split(";") for l in open(sys.argv[1]) if l.strip()]
r = dict(zip(rows[0], rows[-1]))
print(r["SuccessfulCall(C)"], r["FailedCall(C)"], r["Retransmissions(C)"])
PY
}
read -r OK1 FAIL1 RT1 < <(pass register "$N" "$RATE")
read -r OK2 FAIL2 RT2 < <(pass storm "$STORM" "$STORM_RATE")

# Turn the retransmission cache over twice (it rotates when a request arrives).
poke() { python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b'OPTIONS sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:25999;branch=z9hG4bK-live-$1\r\nFrom: <sip:bench@127.0.0.1>;tag=1\r\nTo: <sip:127.0.0.1>\r\nCall-ID: live-$1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n', ('127.0.0.1', 5060))
"; }
sleep 35; poke 1; sleep 35; poke 2; sleep 2
RSS1=$(rss_kb)
HEAP1=$(heap)
LIVE=$("${SB[@]}" registrations --json | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")
PER=$(( (RSS1 - RSS0) * 1024 / (LIVE > 0 ? LIVE : 1) ))
HEAP_PER=$(( (HEAP1 - HEAP0) / (LIVE > 0 ? LIVE : 1) ))
printf 'live\tN=%s\tregistered ok=%s failed=%s retrans=%s\tstorm %s at %s/s: ok=%s failed=%s retrans=%s\tlive bindings=%s\theap per binding=%s B\tRSS per binding=%s B (RSS0=%s kB RSS1=%s kB)\t%s\n' \
  "$N" "$OK1" "$FAIL1" "$RT1" "$STORM" "$STORM_RATE" "$OK2" "$FAIL2" "$RT2" "$LIVE" "$HEAP_PER" "$PER" "$RSS0" "$RSS1" "$RUN" \
  | tee -a "$OUT/summary.tsv"
