#!/usr/bin/env bash
# Runs every Switchboard test on this machine, installing and starting what the tests need:
#   - PostgreSQL for the store battery's second backend (an existing server on 127.0.0.1:5432
#     with trust auth is used; otherwise Debian's postgresql is installed when missing and a
#     private throw-away cluster is started on 127.0.0.1:55432);
#   - SIPp (Debian's sip-tester) and stunnel (SIPp has no TLS) for the SIP end-to-end tests,
#     and baresip (Debian's baresip-core) as real softphones calling through the B2BUA;
#   - a real Active Directory for the LDAP tests: scripts/test-ad.sh installs Samba when missing,
#     provisions one domain once into /tmp/switchboard-test-ad (reused by later runs) and starts
#     its domain controllers on 127.0.0.1 and 127.0.0.2 (LDAP tests skip only without
#     SWITCHBOARD_TEST_AD, which this script always sets);
#   - then formatting, clippy (warnings are errors) and the whole workspace's tests.
# Environment: SWITCHBOARD_TEST_PG=<url> to use another PostgreSQL server;
# SWITCHBOARD_TEST_AD_DIR=<dir> to keep the test AD elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '== %s\n' "$*" >&2; }

apt_install() {
    log "installing $* (apt)"
    if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null
}

pg_answers() { psql "$1" -Atqc 'select 1' >/dev/null 2>&1; }

start_private_postgres() {
    local port=55432 dir=/tmp/switchboard-test-pg
    local bin
    bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    if [ -z "$bin" ]; then
        apt_install postgresql
        bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
    fi
    local url="postgres://postgres@127.0.0.1:$port/postgres"
    if pg_answers "$url"; then echo "$url"; return; fi
    local run=()
    if [ "$(id -u)" -eq 0 ]; then run=(runuser -u postgres --); fi
    rm -rf "$dir" && mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$dir"
    log "starting a private PostgreSQL on 127.0.0.1:$port ($dir)"
    "${run[@]}" "$bin/initdb" -D "$dir/data" -U postgres -A trust >/dev/null
    "${run[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off" start >/dev/null
    echo "$url"
}

command -v psql >/dev/null || apt_install postgresql-client
command -v sipp >/dev/null || apt_install sip-tester
command -v stunnel >/dev/null || apt_install stunnel4
command -v baresip >/dev/null || apt_install baresip-core
if [ -z "${SWITCHBOARD_TEST_PG:-}" ]; then
    if pg_answers "postgres://postgres@127.0.0.1:5432/postgres"; then
        SWITCHBOARD_TEST_PG="postgres://postgres@127.0.0.1:5432/postgres"
    elif command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start 2>/dev/null \
        && sleep 2 && pg_answers "postgres://postgres@127.0.0.1:5432/postgres"; then
        SWITCHBOARD_TEST_PG="postgres://postgres@127.0.0.1:5432/postgres"
    else
        SWITCHBOARD_TEST_PG=$(start_private_postgres)
    fi
fi
export SWITCHBOARD_TEST_PG
log "PostgreSQL for tests: $SWITCHBOARD_TEST_PG"
# Databases left by earlier runs (each test creates its own sbtest_* database).
for db in $(psql "$SWITCHBOARD_TEST_PG" -Atqc "select datname from pg_database where datname like 'sbtest_%'"); do
    psql "$SWITCHBOARD_TEST_PG" -qc "drop database if exists $db" >/dev/null 2>&1 || true
done

log "Active Directory for tests (Samba AD)"
ad_env=$(./scripts/test-ad.sh)
eval "$ad_env"
log "Active Directory for tests: $SWITCHBOARD_TEST_AD (plain binds), $SWITCHBOARD_TEST_AD_STRONG (TLS required)"

log "cargo fmt --check"
cargo fmt --all --check
log "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings
log "cargo test"
cargo test --workspace
