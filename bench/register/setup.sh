#!/usr/bin/env bash
# Installs what the registrar benchmark needs (Debian packages only). Run as root.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends sip-tester kamailio kamailio-tls-modules \
  kamailio-extra-modules kamailio-utils-modules kamailio-sqlite-modules sqlite3 stunnel4 \
  python3 util-linux procps time
# Autogroups make a pinned core shared fairly between sessions whatever their nice level: a
# build in another terminal would take half of the server's core. Measure without them.
sysctl -qw kernel.sched_autogroup_enabled=0 2>/dev/null || echo "warning: could not disable kernel.sched_autogroup_enabled" >&2
command -v systemctl >/dev/null 2>&1 && systemctl disable --now kamailio >/dev/null 2>&1 || true
sipp -v 2>&1 | sed -n 2p; kamailio -v | head -1
