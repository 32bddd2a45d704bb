#!/usr/bin/env bash
# One bounded registrar measurement of one server: start it fresh (empty location table) pinned
# to CPU0, drive it with SIPp pinned to CPU1 (through stunnel for TLS, as Debian's SIPp has no
# TLS), collect CPU, memory and SIPp's counts, stop it, print one TSV line.
#   SERVER=switchboard|kamailio CASE=udp-digest|tls-digest|tls-bearer RATE=4000 COUNT=80000 ./run.sh
# tls-bearer: REGISTER -> 407 -> REGISTER with an OAuth access token (RFC 8898) over TLS:
# Switchboard's SIP OAuth port 5090 (ES256 tokens of its own authorization server,
# $DATA/bearer.csv), Kamailio's 5061 with the team's HS256 check in script (WITH_BEARER,
# $DATA/bearer-kamailio.csv, secret $DATA/jwt.secret); prepare.sh writes them.
# Knobs: TLSCONN=1 (one TLS connection) | n (a new connection, full handshake, per
# registration); LIMIT (registrations in flight, 5000); DATA (prepare.sh's dir); OUT (results);
# DEVICES (use only the CSV's first DEVICES devices, re-registering them in turn);
# RELAY=stunnel | rust: what carries SIPp's TCP over TLS (rust: crates/sip/examples/tls_relay.rs,
# a lighter client than stunnel; its CPU is reported in stunnel's column).
# WARM=N: an unmeasured SIPp pass of N registrations (at WARM_RATE, 2000/s) before the measured
# one; with CASE=tls-bearer DEVICES=N WARM=N the measured run sees only cached tokens.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SERVER=${SERVER:?set SERVER=switchboard or kamailio}
CASE=${CASE:?set CASE=udp-digest, tls-digest or tls-bearer}
RATE=${RATE:-2000}
COUNT=${COUNT:-$((RATE * 20))}
LIMIT=${LIMIT:-5000}
TLSCONN=${TLSCONN:-1}
DATA=${DATA:-/tmp/switchboard-bench}
OUT=${OUT:-/tmp/switchboard-bench-results}
MAXWALL=${MAXWALL:-120}
BIN=${BIN:-"$ROOT/target/release/switchboard"}
RELAY=${RELAY:-stunnel}
# SERVER_QUOTA=50: the server gets at most that percentage of CPU0 (CFS bandwidth control,
# 10 ms period), so that one core of SIPp can saturate it: the rate ratio of two servers at
# saturation under the same quota is the ratio of what each does with the same CPU time.
SERVER_QUOTA=${SERVER_QUOTA:-}
LAUNCH=()
if [ -n "$SERVER_QUOTA" ]; then
  if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    CG=/sys/fs/cgroup/switchboard-bench; mkdir -p "$CG"
    echo "$((SERVER_QUOTA * 100)) 10000" > "$CG/cpu.max"
  else
    CG=/sys/fs/cgroup/cpu/switchboard-bench; mkdir -p "$CG"
    echo 10000 > "$CG/cpu.cfs_period_us"; echo $((SERVER_QUOTA * 100)) > "$CG/cpu.cfs_quota_us"
  fi
  # the server and every process it forks run in the group
  LAUNCH=(sh -c "echo \$\$ > $CG/cgroup.procs && exec \"\$@\"" sh)
fi
RELAY_BIN="$ROOT/target/release/examples/tls_relay"
case "$RELAY" in
  stunnel) ;;
  rust) [ -x "$RELAY_BIN" ] || { echo "no $RELAY_BIN: run prepare.sh (it builds it)" >&2; exit 2; } ;;
  *) echo "unknown RELAY $RELAY (stunnel | rust)" >&2; exit 2 ;;
esac
[ -f "$DATA/devices.csv" ] || { echo "run $HERE/prepare.sh first" >&2; exit 2; }
if [ "$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0)" = 1 ]; then
  echo "warning: kernel.sched_autogroup_enabled=1: other sessions' load shares the pinned cores (see README)" >&2
fi

TP=UDP; CTP=udp; T=u1; DEST=127.0.0.1:5060; STUNNEL=0; UPSTREAM=5061
SCENARIO="$HERE/sipp/reg_digest.xml"; CSV="$DATA/devices.csv"; KEYS=()
case "$CASE" in
  udp-digest) ;;
  tls-digest|tls-bearer)
    TP=TLS; CTP=tls; DEST=127.0.0.1:15061; STUNNEL=1
    if [ "$TLSCONN" = n ]; then T=tn; else T=t1; fi ;;
  *) echo "unknown CASE $CASE" >&2; exit 2 ;;
esac
if [ "$CASE" = tls-bearer ]; then
  SCENARIO="$HERE/sipp/reg_bearer.xml"
  if [ "$SERVER" = kamailio ]; then
    # the team's script parses RFC 6750's bare form
    CSV="$DATA/bearer-kamailio.csv"; KEYS=(-key tok_open "" -key tok_close "")
  else
    # the seed's (Cisco's) form, on the SIP OAuth port
    CSV="$DATA/bearer.csv"; KEYS=(-key tok_open 'token="' -key tok_close '"'); UPSTREAM=5090
  fi
  [ -f "$CSV" ] || { echo "no $CSV: run $HERE/prepare.sh (BEARER_N) first" >&2; exit 2; }
fi
RUN="$OUT/$SERVER-$CASE-c$TLSCONN-r$RATE-m$COUNT-$RELAY-q${SERVER_QUOTA:-100}-$(date +%H%M%S)"
mkdir -p "$RUN"
if [ -n "${DEVICES:-}" ]; then
  # only the first DEVICES devices, registered again and again (SEQUENTIAL wraps): with
  # tls-bearer and DEVICES <= 10000 (the node's token cache) every token after the first pass
  # is a cache hit
  head -n $((DEVICES + 1)) "$CSV" > "$RUN/devices.csv"; CSV="$RUN/devices.csv"
fi
PID=""; SPID=""
cleanup() {
  [ -n "$SPID" ] && kill "$SPID" 2>/dev/null || true
  if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
    kill "$PID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
  fi
}
trap cleanup EXIT

CERT="$DATA/sb/certs/tomcat.pem"; KEY="$DATA/sb/certs/tomcat-key.pem"
if [ "$SERVER" = kamailio ]; then
  DEFS=(-A WITH_DIGEST); SECRET=unused
  if [ "$CASE" = tls-bearer ]; then DEFS=(-A WITH_BEARER); SECRET=$(cat "$DATA/jwt.secret"); fi
  [ "$TP" = TLS ] && DEFS+=(-A WITH_TLS)
  for f in registrar.cfg tls.cfg; do
    sed -e "s#@DATA@#$DATA#g" -e "s#@RUN@#$RUN#g" -e "s#@CHILDREN@#2#g" -e "s#@JWT_SECRET@#$SECRET#g" \
        -e "s#@CERT@#$CERT#g" -e "s#@KEY@#$KEY#g" "$HERE/kamailio/$f.in" > "$RUN/$f"
  done
  [ -f "$CERT" ] || { echo "no certificate yet: start switchboard once (prepare.sh does)" >&2; exit 2; }
  "${LAUNCH[@]}" taskset -c 0 kamailio -f "$RUN/registrar.cfg" "${DEFS[@]}" -DD -E -m 1024 -M 256 -P "$RUN/k.pid" -Y "$RUN" \
    > "$RUN/server.log" 2>&1 &
  PID=$!
  for _ in $(seq 150); do kamcmd -s "unix:$RUN/kamailio_ctl" core.uptime >/dev/null 2>&1 && break; sleep 0.2; done
  PIDS="$PID $(ps -o pid= --ppid "$PID" | tr '\n' ' ')"
else
  rm -f "$DATA/sb/node.url"
  "${LAUNCH[@]}" taskset -c 0 "$BIN" serve --data-dir "$DATA/sb" --node-name bench --https 127.0.0.1:18443 \
    --sip-udp 127.0.0.1:5060 --sip-tcp 127.0.0.1:5060 --sip-tls 127.0.0.1:5061 --sip-oauth 127.0.0.1:5090 --sip-mra-oauth 127.0.0.1:5091 --cti 127.0.0.1:2748 --cti-tls 127.0.0.1:2749 --config-http 127.0.0.1:6970 > "$RUN/server.log" 2>&1 &
  PID=$!
  for _ in $(seq "${START_TRIES:-150}"); do [ -f "$DATA/sb/node.url" ] && break; sleep 0.1; done
  SB=(taskset -c 1 "$BIN" --data-dir "$DATA/sb")
  "${SB[@]}" param set SipMaxRegistrationExpiresSeconds 3600 >/dev/null
  "${SB[@]}" trace level sip error >/dev/null
  if [ "$CASE" = tls-bearer ]; then
    # softphones on the "Bench OAuth" profile (TLS + OAuth, bench_bearer); the cluster's mode on
    "${SB[@]}" sip-oauth-mode enable >/dev/null
  else
    if [ "$CASE" = tls-digest ]; then TRANSPORT=tls; else TRANSPORT=tcp-udp; fi
    "${SB[@]}" profile set "Bench digest" --transport "$TRANSPORT" >/dev/null
  fi
  # The changes above make the node reload its device cache and OAuth state (large with many
  # devices and users): measure only once it is idle again (< 5 % of a core over 0.5 s).
  for _ in $(seq 60); do
    a=$(awk '{print $14+$15}' "/proc/$PID/stat"); sleep 0.5; b=$(awk '{print $14+$15}' "/proc/$PID/stat")
    [ $((b - a)) -le 2 ] && break
  done
  PIDS="$PID"
fi

if [ "$STUNNEL" = 1 ] && [ "$RELAY" = rust ]; then
  taskset -c 1 "$RELAY_BIN" 127.0.0.1:15061 "127.0.0.1:$UPSTREAM" > "$RUN/relay.log" 2>&1 &
  SPID=$!
  sleep 0.5
elif [ "$STUNNEL" = 1 ]; then
  cat > "$RUN/stunnel.conf" <<CONF
foreground = yes
pid =
output = $RUN/stunnel.log
debug = 3
[sip-tls]
client = yes
sessionResume = no
accept = 127.0.0.1:15061
connect = 127.0.0.1:$UPSTREAM
CONF
  taskset -c 1 stunnel "$RUN/stunnel.conf" > /dev/null 2>&1 &
  SPID=$!
  sleep 1
fi

ticks() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/stat" ] && t=$((t + $(awk '{print $14+$15}' "/proc/$p/stat"))); done; echo $t; }
rss_kb() { local t=0 p; for p in "$@"; do [ -r "/proc/$p/status" ] && t=$((t + $(awk '/^VmRSS/ {print $2}' "/proc/$p/status"))); done; echo $t; }
cpustat() { grep -E '^cpu[0-9]+ ' /proc/stat; }

# One SIPp pass over the CSV at rate $1 for $2 registrations, in directory $3 (extra options after).
sipp_pass() {
  local rate=$1 count=$2 dir=$3; shift 3
  ( cd "$dir" && taskset -c 1 sipp "$DEST" -sf "$SCENARIO" -inf "$CSV" -t "$T" -i 127.0.0.1 -p 25060 \
      -key tp "$TP" -key ctp "$CTP" "${KEYS[@]}" -r "$rate" -rp 1000 -m "$count" -l "$LIMIT" \
      -recv_timeout 5000 -buff_size 4194304 -max_socket 10000 -nostdin "$@" )
}
if [ "${WARM:-0}" -gt 0 ]; then
  # An unmeasured first pass over the first WARM devices (each server alike): with
  # tls-bearer and DEVICES=WARM every token is then in Switchboard's verified-token cache.
  mkdir -p "$RUN/warm"
  sipp_pass "${WARM_RATE:-2000}" "$WARM" "$RUN/warm" > "$RUN/warm/sipp.out" 2>&1 \
    || { echo "warm-up pass failed: $RUN/warm/sipp.out" >&2; exit 1; }
  sleep 1
fi
K0=$(ticks $PIDS); S0=0; [ "$STUNNEL" = 1 ] && S0=$(ticks "$SPID")
M0=$(rss_kb $PIDS)
cpustat > "$RUN/procstat.before"
T0=$(date +%s.%N)
set +e
/usr/bin/time -f "%U %S %e" -o "$RUN/sipp.time" timeout "$MAXWALL" \
  bash -c "$(declare -f sipp_pass); $(declare -p DEST SCENARIO CSV T TP CTP KEYS LIMIT); sipp_pass \"\$@\"" _ \
    "$RATE" "$COUNT" "$RUN" -max_recv_loops 5000 -max_sched_loops 5000 -trace_stat \
    -stf "$RUN/sipp_stat.csv" -fd 1 -trace_err -error_file "$RUN/sipp_err.log" > "$RUN/sipp.out" 2>&1
SRC=$?
set -e
T1=$(date +%s.%N)
cpustat > "$RUN/procstat.after"
K1=$(ticks $PIDS); S1=0; [ "$STUNNEL" = 1 ] && S1=$(ticks "$SPID")
M1=$(rss_kb $PIDS)
echo "$M0 $M1" > "$RUN/rss_kb"
python3 "$HERE/summarize.py" "$RUN" "$SERVER:$CASE" "$TLSCONN" "$RATE" "$COUNT" "$LIMIT" "2" \
  "$T0" "$T1" "$K0" "$K1" "$S0" "$S1" "$SRC" 0 1 | tee -a "$OUT/summary.tsv"
