#!/usr/bin/env bash
# LDAP login benchmark: starts the test Samba AD (scripts/test-ad.sh, reused when already up),
# then runs the bench_ldap example (release build) against its global catalog, plain (3268) and
# LDAPS (3269): p50/p99 of sequential logins, then logins/s with CONCURRENCY logins at once.
# Each line also shows the service-account binds (once per pooled connection) and user binds
# (one per login). Rerunnable; results are appended to RESULTS.
#
# Environment:
#   LOGINS=1000        sequential logins per mode (latency)
#   SECONDS_LOAD=10    seconds of concurrent load per mode
#   CONCURRENCY=32     concurrent logins
#   RESULTS=/tmp/switchboard-bench-results/ldap.txt
set -euo pipefail
cd "$(dirname "$0")/../.."

LOGINS=${LOGINS:-1000}
SECONDS_LOAD=${SECONDS_LOAD:-10}
CONCURRENCY=${CONCURRENCY:-32}
RESULTS=${RESULTS:-/tmp/switchboard-bench-results/ldap.txt}

ad_env=$(./scripts/test-ad.sh)
eval "$ad_env"
cargo build --release --quiet -p switchboard-authn --example bench_ldap

mkdir -p "$(dirname "$RESULTS")"
{
    echo "# $(date -u +%Y-%m-%dT%H:%M:%SZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?') samba=$(samba --version | awk '{print $2}') nproc=$(nproc)"
    for server in "$SWITCHBOARD_TEST_AD:3268:plain" "$SWITCHBOARD_TEST_AD:3269:ldaps"; do
        ./target/release/examples/bench_ldap --server "$server" --ca "$SWITCHBOARD_TEST_AD_DIR/pki/ca.pem" \
            --logins "$LOGINS" --seconds "$SECONDS_LOAD" --concurrency "$CONCURRENCY"
    done
} | tee -a "$RESULTS"
