#!/usr/bin/env bash
# Runs the cargo-fuzz targets one after another, each for FUZZ_SECONDS (default 60), on one
# core at the lowest priority, growing fuzz/corpus/<target>. Rerunnable; not part of CI.
#
#   fuzz/run.sh                    # every target, 60 s each
#   FUZZ_SECONDS=900 fuzz/run.sh sip_message sip_stream
#   FUZZ_CMIN=1 fuzz/run.sh        # minimise each corpus afterwards (cargo fuzz cmin)
#
# A crash stops the run; its input is in fuzz/artifacts/<target>/ (replay it with
# `cargo +nightly fuzz run <target> <file>`, then add it as a unit test in the crate at fault).
set -euo pipefail
cd "$(dirname "$0")"

seconds=${FUZZ_SECONDS:-60}
toolchain=${FUZZ_TOOLCHAIN:-nightly}
# Release build with debug assertions (integer overflow panics too). The SIP, CTI and trace targets
# alone: FUZZ_FEATURES=--no-default-features (skips the server's dependency tree).
build=(-O -a ${FUZZ_FEATURES:-})

rustup toolchain list | grep -q "^$toolchain" || rustup toolchain install "$toolchain" --profile minimal
cargo "+$toolchain" fuzz --version >/dev/null 2>&1 || cargo install cargo-fuzz

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo "+$toolchain" fuzz list)
    if [ -n "${FUZZ_FEATURES:-}" ]; then
        mapfile -t targets < <(printf '%s\n' "${targets[@]}" | grep -E '^(sip_|trace_|cti_)')
    fi
fi

for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    echo "== $target: ${seconds}s" >&2
    # -jobs=1 -workers=1: a single fuzzing process (its output goes to fuzz-0.log).
    rm -f fuzz-0.log
    status=0
    nice -n 19 cargo "+$toolchain" fuzz run "${build[@]}" "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -jobs=1 -workers=1 \
        -rss_limit_mb=2048 -malloc_limit_mb=512 -timeout=10 -print_final_stats=1 || status=$?
    if [ -f fuzz-0.log ]; then
        grep -E '^(#[0-9]+.*(DONE|pulse)|stat::|==[0-9]+==|SUMMARY|artifact_prefix|Test unit written)' fuzz-0.log | tail -n 15 >&2 || true
        grep -q 'Test unit written\|ERROR: libFuzzer\|panicked' fuzz-0.log && status=1
        mv fuzz-0.log "fuzz-$target.log"
    fi
    if [ "$status" -ne 0 ]; then
        echo "== $target: FAILED (see fuzz/fuzz-$target.log and fuzz/artifacts/$target/)" >&2
        exit "$status"
    fi
    if [ "${FUZZ_CMIN:-0}" = 1 ]; then
        nice -n 19 cargo "+$toolchain" fuzz cmin "${build[@]}" "$target" "corpus/$target"
    fi
    rm -f "fuzz-$target.log"
done
