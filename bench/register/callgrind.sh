#!/usr/bin/env bash
# Instructions per registration, counted by callgrind (repeatable, unlike seconds: the same
# binary and inputs give the same count whatever else the machine does). Runs the node under
# valgrind twice through run.sh, with COUNT_A and COUNT_B measured registrations after the same
# warm-up, counting only the SIP connection tasks (`serve_stream`: framing, parsing, the
# registrar, TLS records); the difference divided by COUNT_B - COUNT_A cancels start-up,
# warm-up and every first-time cost (ES256 verification of each token, binding inserts).
#   [SB=target/release/switchboard] [CASE=tls-bearer] [DEVICES=3000] [COUNT_A=3000]
#   [COUNT_B=9000] ./callgrind.sh
# Prints `<instructions per registration>` and leaves both profiles in $OUT (callgrind_annotate
# them; the difference of two inclusive profiles is the per-registration profile).
# SHA-256 shows larger here than on the machine: valgrind hides the CPU's SHA extensions.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
SB=${SB:-$ROOT/target/release/switchboard}
CASE=${CASE:-tls-bearer}
DEVICES=${DEVICES:-3000}
COUNT_A=${COUNT_A:-3000}
COUNT_B=${COUNT_B:-9000}
OUT=${OUT:-/tmp/switchboard-callgrind}
command -v valgrind >/dev/null || { echo "missing valgrind" >&2; exit 2; }
mkdir -p "$OUT"
cat > "$OUT/wrap.sh" <<WRAP
#!/usr/bin/env bash
# serve under callgrind (only the connection tasks counted); every other command as it is
if [ "\$1" = serve ]; then
  exec valgrind --tool=callgrind --toggle-collect='*serve_stream*' --callgrind-out-file="\$CG_OUT" "$SB" "\$@"
fi
exec "$SB" "\$@"
WRAP
chmod +x "$OUT/wrap.sh"
total() { grep -m1 '^summary:' "$1" | cut -d' ' -f2; }
for count in "$COUNT_A" "$COUNT_B"; do
  # 150/s: what the node manages under valgrind with room to spare
  CG_OUT="$OUT/callgrind.$count" START_TRIES=3000 BIN="$OUT/wrap.sh" RELAY=rust SERVER=switchboard \
    CASE="$CASE" DEVICES="$DEVICES" WARM="$DEVICES" WARM_RATE=150 RATE=150 COUNT="$count" \
    MAXWALL=$((count / 100 + 60)) "$HERE/run.sh" | tail -1 | cut -f1-10 >&2
done
a=$(total "$OUT/callgrind.$COUNT_A"); b=$(total "$OUT/callgrind.$COUNT_B")
echo $(( (b - a) / (COUNT_B - COUNT_A) ))
