#!/usr/bin/env bash
# Calls benchmark (see README.md): in one run, for each server of SERVERS (Switchboard as a
# B2BUA, Kamailio as a stateful proxy), started fresh on 127.0.0.1:5060 pinned to CPU0 under the
# same CPU quota, with SIPp pinned to CPU1:
#   1. held calls: HOLD_CALLS calls placed at HOLD_RATE and kept up (HOLD_SECONDS after the
#      last is placed): the server's memory with them all up, per call;
#   2. rate ladder: a registered caller (SIPp UAC) calls a registered callee (SIPp UAS) at each
#      rate of RATES for STEP_SECONDS, short calls (INVITE/180/200/ACK/BYE/200, no pause):
#      completed calls/s, failed calls, retransmissions, the server's CPU;
#   3. (Switchboard only) CTI call control: a CTI provider opens a deskphone (a SIPp UAS that
#      answers the auto-answer INVITE) and places MAKECALLS calls one after another to the
#      callee: MakeCallRequest -> connected p50/p99 (bench_makecall).
# Prints the results, appends them to $OUT/calls.txt. Run as root (cgroup quota, ulimit).
#   [SERVERS=switchboard,kamailio] [RATES=250,500,...] [SERVER_QUOTA=50] ./run.sh
# Other knobs: STEP_SECONDS (15), LIMIT (calls in flight during the ladder, 3000), HOLD_CALLS
# (10000), HOLD_RATE (500), HOLD_SECONDS (10), MAKECALLS (1000), DATA
# (/tmp/switchboard-calls-bench), OUT (/tmp/switchboard-bench-results), SERVER_CPUS (0),
# CLIENT_CPUS (1), BUILD (1; 0 = use the binaries as they are), KAMAILIO_CHILDREN (1: one UDP
# worker for the one core; with more, a 180 and the 200 after it can be relayed out of order,
# which SIPp's caller counts as a failed call), SIP_TRACE (Switchboard's `sip` trace level,
# error), PERF (1 = perf record of Switchboard during the rate ladder: $RUN/perf.data).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVERS=${SERVERS:-switchboard,kamailio}
RATES=${RATES:-250,500,750,1000,1250,1500,2000}
STEP_SECONDS=${STEP_SECONDS:-15}
LIMIT=${LIMIT:-3000}
HOLD_CALLS=${HOLD_CALLS:-10000}
HOLD_RATE=${HOLD_RATE:-500}
HOLD_SECONDS=${HOLD_SECONDS:-10}
MAKECALLS=${MAKECALLS:-1000}
SERVER_QUOTA=${SERVER_QUOTA:-50}
SERVER_CPUS=${SERVER_CPUS:-0}
CLIENT_CPUS=${CLIENT_CPUS:-1}
KAMAILIO_CHILDREN=${KAMAILIO_CHILDREN:-1}
DATA=${DATA:-/tmp/switchboard-calls-bench}
OUT=${OUT:-/tmp/switchboard-bench-results}
BUILD=${BUILD:-1}
BIN=${BIN:-$ROOT/target/release/switchboard}
MAKECALL=${MAKECALL:-$ROOT/target/release/examples/bench_makecall}
SERVER_ADDR=127.0.0.1:5060
UAC_PORT=25070; UAS_PORT=25080; DESK_PORT=25090
CALLER_DN=1001; CALLEE_DN=2000; DESK_DN=3000
LOGIN=benchcalls

for tool in taskset python3 sipp; do
  command -v "$tool" >/dev/null || { echo "missing $tool (bench/register/setup.sh installs it)" >&2; exit 2; }
done
if [ "$BUILD" = 1 ]; then
  (cd "$ROOT" && nice -n 19 cargo build --release -p switchboard --bin switchboard \
    && nice -n 19 cargo build --release -p switchboard-cti-client --example bench_makecall)
fi
sysctl -qw kernel.sched_autogroup_enabled=0 2>/dev/null \
  || echo "warning: could not disable kernel.sched_autogroup_enabled" >&2
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

# SERVER_QUOTA: the server gets at most that percentage of its core (CFS bandwidth control,
# 10 ms period), so that the SIPp pair on the other core can saturate it; both servers get the
# same quota, so their rates at saturation compare what each does with the same CPU time.
LAUNCH=()
if [ -n "$SERVER_QUOTA" ] && [ "$SERVER_QUOTA" != 100 ]; then
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    CG=/sys/fs/cgroup/switchboard-calls-bench; mkdir -p "$CG"
    echo "$((SERVER_QUOTA * 100)) 10000" > "$CG/cpu.max"
  else
    CG=/sys/fs/cgroup/cpu/switchboard-calls-bench; mkdir -p "$CG"
    echo 10000 > "$CG/cpu.cfs_period_us"; echo $((SERVER_QUOTA * 100)) > "$CG/cpu.cfs_quota_us"
  fi
  LAUNCH=(sh -c "echo \$\$ > $CG/cgroup.procs && exec \"\$@\"" sh)
fi

RUN="$OUT/calls-$(date +%H%M%S)"
mkdir -p "$RUN"
PIDS=""; BG=()
stop_all() {
  local p
  for p in "${BG[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${BG[@]}"; do wait "$p" 2>/dev/null || true; done
  BG=()
  for p in $PIDS; do kill "$p" 2>/dev/null || true; done
  for p in $PIDS; do for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done; done
  PIDS=""
}
trap 'stop_all; rm -f "$RUN/password"' EXIT

ticks() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }
rss_kb() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/status" ] && t=$((t + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done; echo $t; }
# "busy,total" jiffies of one core (/proc/stat), for the client core's load.
core_busy() { awk -v c="cpu$1" '$1 == c {print "(" $2+$3+$4+$7+$8 ", " $2+$3+$4+$5+$6+$7+$8 ")"}' /proc/stat; }
idle() { # wait until the server is idle (< 5 % of a core over 0.5 s)
  local a b
  for _ in $(seq 60); do
    a=$(ticks $PIDS); sleep 0.5; b=$(ticks $PIDS)
    [ $((b - a)) -le 2 ] && break
  done
}
# The last line of a SIPp -trace_stat file: "successful failed retransmissions elapsed_s
# created current rtd_avg_ms".
sipp_stat() {
  python3 - "$1" <<'PY'
import sys
rows = [l.rstrip("\n").split(";") for l in open(sys.argv[1]) if l.strip()]
head, last = rows[0], rows[-1]
v = dict(zip(head, last))
def secs(t):
    parts = [float(x) for x in t.split(":")]
    return parts[0] * 3600 + parts[1] * 60 + parts[2] + (parts[3] / 1e6 if len(parts) > 3 else 0)
rtd = next((v[k] for k in head if k.startswith("ResponseTime1(C)")), "0:0:0:0")
print(v.get("SuccessfulCall(C)", "0"), v.get("FailedCall(C)", "0"), v.get("Retransmissions(C)", "0"),
      "%.3f" % secs(v.get("ElapsedTime(C)", "0:0:0:0")), v.get("TotalCallCreated", "0"),
      v.get("CurrentCall", "0"), "%.3f" % (secs(rtd) * 1000))
PY
}
SIPP=(taskset -c "$CLIENT_CPUS" sipp "$SERVER_ADDR" -i 127.0.0.1 -t u1 -nostdin
  -max_recv_loops 5000 -max_sched_loops 5000 -buff_size 4194304)
register() { # register <port> <csv> <log-name>
  ( cd "$RUN" && "${SIPP[@]}" -sf "$HERE/sipp/reg.xml" -inf "$2" -p "$1" -m 1 -timeout 10s \
      -timeout_error -trace_err -error_file "$RUN/$3.err" > "$RUN/$3.out" 2>&1 ) \
    || { echo "registration $3 failed: $RUN/$3.out" >&2; exit 1; }
}
uas() { # uas <port> <name>: a callee in the background
  ( cd "$RUN" && exec "${SIPP[@]}" -sf "$HERE/sipp/uas.xml" -p "$1" -trace_stat -stf "$RUN/$2.stat.csv" \
      -fd 1 -trace_err -error_file "$RUN/$2.err" > "$RUN/$2.out" 2>&1 ) &
  BG+=($!)
}

start_switchboard() {
  rm -rf "$DATA/sb"; mkdir -p "$DATA/sb"
  "${LAUNCH[@]}" taskset -c "$SERVER_CPUS" "$BIN" serve --data-dir "$DATA/sb" --node-name callbench \
    --https 127.0.0.1:0 --sip-udp "$SERVER_ADDR" --sip-tcp 127.0.0.1:0 --sip-tls 127.0.0.1:0 \
    --sip-oauth 127.0.0.1:0 --sip-mra-oauth 127.0.0.1:0 --cti 127.0.0.1:0 --cti-tls 127.0.0.1:0 \
    --config-http 127.0.0.1:0 > "$RUN/switchboard.log" 2>&1 &
  PIDS=$!
  for _ in $(seq 300); do
    [ -s "$DATA/sb/node.url" ] && break
    kill -0 "$PIDS" 2>/dev/null || { cat "$RUN/switchboard.log" >&2; exit 1; }
    sleep 0.1
  done
  SB=(taskset -c "$CLIENT_CPUS" "$BIN" --data-dir "$DATA/sb")
  "${SB[@]}" param set SipMaxRegistrationExpiresSeconds 3600 >/dev/null
  "${SB[@]}" trace level sip "${SIP_TRACE:-error}" >/dev/null
  "${SB[@]}" profile add "Bench digest" --product-type "Cisco 8841" --security-mode non-secure \
    --transport tcp-udp --digest-auth true >/dev/null
  local dn name i=0
  : > "$RUN/sb.devices"
  for dn in "$CALLER_DN" "$CALLEE_DN" "$DESK_DN"; do
    i=$((i + 1)); name=$(printf 'SEPBE00000000%02d' "$i")
    "${SB[@]}" line add "$dn" >/dev/null
    printf 'pw-%s\n' "$name" | "${SB[@]}" device add "$name" --product "Cisco 8841" --class deskphone \
      --profile "Bench digest" --digest-password-stdin --line "1:$dn" >/dev/null
    printf 'SEQUENTIAL\n%s;[authentication username=%s password=pw-%s]\n' "$name" "$name" "$name" > "$RUN/sb-$dn.csv"
    echo "$dn $name" >> "$RUN/sb.devices"
  done
  DESK_NAME=$(awk -v dn="$DESK_DN" '$1 == dn {print $2}' "$RUN/sb.devices")
  umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=' > "$RUN/password"; umask 022
  "${SB[@]}" user add "$LOGIN" --password-stdin --display-name "Calls bench" --cti-enabled true \
    --control "$DESK_NAME" < "$RUN/password" >/dev/null
  CTI_ADDR=$("${SB[@]}" --json ports | python3 -c '
import json, sys
ls = json.load(sys.stdin)["listeners"]
print(next(l["address"] for l in ls if l["service"] == "cti" and l["transport"] == "tcp"))')
  CSV_CALLER="$RUN/sb-$CALLER_DN.csv"; CSV_CALLEE="$RUN/sb-$CALLEE_DN.csv"; CSV_DESK="$RUN/sb-$DESK_DN.csv"
}

start_kamailio() {
  command -v kamailio >/dev/null || { echo "missing kamailio (bench/register/setup.sh installs it)" >&2; exit 2; }
  sed -e "s#@RUN@#$RUN#g" -e "s#@CHILDREN@#$KAMAILIO_CHILDREN#g" "$HERE/kamailio/proxy.cfg.in" > "$RUN/proxy.cfg"
  "${LAUNCH[@]}" taskset -c "$SERVER_CPUS" kamailio -f "$RUN/proxy.cfg" -DD -E -m 1024 -M 64 \
    -P "$RUN/k.pid" -Y "$RUN" > "$RUN/kamailio.log" 2>&1 &
  local main=$!
  for _ in $(seq 150); do kamcmd -s "unix:$RUN/kamailio_ctl" core.uptime >/dev/null 2>&1 && break; sleep 0.2; done
  PIDS="$main $(ps -o pid= --ppid "$main" | tr '\n' ' ')"
  for dn in "$CALLER_DN" "$CALLEE_DN"; do printf 'SEQUENTIAL\n%s;\n' "$dn" > "$RUN/k-$dn.csv"; done
  CSV_CALLER="$RUN/k-$CALLER_DN.csv"; CSV_CALLEE="$RUN/k-$CALLEE_DN.csv"
}

# Memory the server holds for calls: Switchboard's VmRSS; Kamailio's shared memory in use
# (its processes' RSS counts the same shared pages several times).
server_mem_kb() {
  if [ "$1" = kamailio ]; then
    kamcmd -s "unix:$RUN/kamailio_ctl" core.shmmem | awk '$1 == "real_used:" {print int($2 / 1024)}'
  else
    rss_kb $PIDS
  fi
}

HEADER="# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?') nproc=$(nproc) cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\" server=CPU$SERVER_CPUS quota=${SERVER_QUOTA:-100}% client=CPU$CLIENT_CPUS autogroup=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo '?') run=$RUN"
echo "$HEADER" | tee -a "$RUN/results.txt"
echo "# RATES=$RATES STEP_SECONDS=$STEP_SECONDS LIMIT=$LIMIT HOLD_CALLS=$HOLD_CALLS HOLD_RATE=$HOLD_RATE HOLD_SECONDS=$HOLD_SECONDS MAKECALLS=$MAKECALLS" | tee -a "$RUN/results.txt"

IFS=, read -ra SERVER_LIST <<< "$SERVERS"
IFS=, read -ra RATE_LIST <<< "$RATES"
for server in "${SERVER_LIST[@]}"; do
  case "$server" in
    switchboard) start_switchboard ;;
    kamailio) start_kamailio ;;
    *) echo "unknown server $server" >&2; exit 2 ;;
  esac
  register "$UAC_PORT" "$CSV_CALLER" "$server-reg-caller"
  register "$UAS_PORT" "$CSV_CALLEE" "$server-reg-callee"
  uas "$UAS_PORT" "$server-uas"
  sleep 0.5
  idle

  # 1. Held calls.
  idle
  m0=$(server_mem_kb "$server")
  hold_ms=$(( (HOLD_CALLS / HOLD_RATE + HOLD_SECONDS) * 1000 ))
  stat="$RUN/$server-hold.stat.csv"
  ( cd "$RUN" && exec "${SIPP[@]}" -sf "$HERE/sipp/uac.xml" -s "$CALLEE_DN" -key me "$CALLER_DN" \
      -p "$UAC_PORT" -r "$HOLD_RATE" -rp 1000 -m "$HOLD_CALLS" -l $((HOLD_CALLS + 1000)) -d "$hold_ms" \
      -recv_timeout 10000 -trace_stat -stf "$stat" -fd 1 -trace_err -error_file "$RUN/$server-hold.err" \
      > "$RUN/$server-hold.out" 2>&1 ) &
  HOLD_PID=$!
  sleep $((HOLD_CALLS / HOLD_RATE + HOLD_SECONDS / 2))
  m1=$(server_mem_kb "$server")
  live="-"
  if [ "$server" = switchboard ]; then
    live=$("${SB[@]}" --json calls | python3 -c '
import json, sys
d = json.load(sys.stdin)
calls = d if isinstance(d, list) else d.get("calls", [])
print(len(calls))')
  fi
  wait "$HOLD_PID" || true
  read -r ok failed retrans _ _ _ _ < <(sipp_stat "$stat")
  echo "## $server: held calls (placed, completed, failed, live at the sample, memory before kB, with them up kB, bytes per call)" | tee -a "$RUN/results.txt"
  python3 -c "
m0, m1, n = $m0, $m1, $HOLD_CALLS
print(f'$server\t{n}\t$ok\t$failed\t$live\t{m0}\t{m1}\t{(m1 - m0) * 1024 / n:.0f}')" | tee -a "$RUN/results.txt"

  # 2. The rate ladder (after the held calls: past saturation, calls its callers gave up on
  # stay up in a B2BUA and would skew the memory figure).
  echo "## $server: short calls (target/s, completed, failed, retransmissions, elapsed s, calls/s, INVITE->200 avg ms (SIPp: whole ms), server CPU %, client core busy %)" | tee -a "$RUN/results.txt"
  PERF_PID=""
  if [ "${PERF:-0}" = 1 ] && [ "$server" = switchboard ]; then
    perf record --call-graph dwarf -F 499 -p "$PIDS" -o "$RUN/perf.data" > "$RUN/perf.log" 2>&1 &
    PERF_PID=$!
    sleep 1
  fi
  for rate in "${RATE_LIST[@]}"; do
    count=$((rate * STEP_SECONDS))
    stat="$RUN/$server-uac-$rate.stat.csv"
    c0=$(ticks $PIDS); t0=$(date +%s.%N); b0=$(core_busy "$CLIENT_CPUS")
    set +e
    ( cd "$RUN" && timeout $((STEP_SECONDS * 4 + 60)) "${SIPP[@]}" -sf "$HERE/sipp/uac.xml" -s "$CALLEE_DN" \
        -key me "$CALLER_DN" -p "$UAC_PORT" -r "$rate" -rp 1000 -m "$count" -l "$LIMIT" -d 0 \
        -recv_timeout 10000 -trace_stat -stf "$stat" -fd 1 -trace_err -error_file "$RUN/$server-uac-$rate.err" \
        > "$RUN/$server-uac-$rate.out" 2>&1 )
    set -e
    t1=$(date +%s.%N); c1=$(ticks $PIDS); b1=$(core_busy "$CLIENT_CPUS")
    read -r ok failed retrans elapsed _ _ rtd < <(sipp_stat "$stat")
    python3 -c "
ok, failed, retrans, elapsed, rate = $ok, $failed, $retrans, $elapsed, $rate
wall = $t1 - $t0
b0, b1 = ($b0), ($b1)
busy = 100 * (b1[0] - b0[0]) / max(1, b1[1] - b0[1])
print(f'$server\t{rate}\t{ok}\t{failed}\t{retrans}\t{elapsed:.1f}\t{ok / elapsed if elapsed else 0:.0f}\t$rtd\t{($c1 - $c0) / wall:.0f}\t{busy:.0f}')" \
      | tee -a "$RUN/results.txt"
    sleep 2
  done

  if [ -n "$PERF_PID" ]; then kill -INT "$PERF_PID"; wait "$PERF_PID" || true; fi

  # 3. CTI MakeCallRequest -> connected (Switchboard).
  if [ "$server" = switchboard ] && [ "$MAKECALLS" -gt 0 ]; then
    register "$DESK_PORT" "$CSV_DESK" "$server-reg-desk"
    uas "$DESK_PORT" "$server-desk"
    sleep 0.5
    idle
    echo "## $server: CTI MakeCallRequest on $DESK_NAME to $CALLEE_DN, one call at a time" | tee -a "$RUN/results.txt"
    taskset -c "$CLIENT_CPUS" "$MAKECALL" --cti "$CTI_ADDR" --login "$LOGIN" --password-file "$RUN/password" \
      --device "$DESK_NAME" --destination "$CALLEE_DN" --calls "$MAKECALLS" --samples "$RUN/makecall.csv" \
      2>&1 | tee -a "$RUN/results.txt" || true
  fi
  stop_all
  sleep 1
done
cat "$RUN/results.txt" >> "$OUT/calls.txt"
echo "results: $RUN/results.txt (appended to $OUT/calls.txt)"
