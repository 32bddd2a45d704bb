#!/usr/bin/env bash
# Starts the real Active Directory the LDAP tests and the LDAP bench run against: two Samba AD
# domain controllers of one provisioned domain (JOSHLAB.NET) on loopback, installed through apt
# when missing, provisioned once into $SWITCHBOARD_TEST_AD_DIR (default /tmp/switchboard-test-ad,
# rebuilt when the version stamp below changes) and reused by later runs:
#   - 127.0.0.1 (and ::1): plain binds allowed; LDAP 389, LDAPS 636, global catalog 3268/3269,
#     with our own CA and a server certificate for dc1.joshlab.net, joshlab.net, IP 127.0.0.1;
#   - 127.0.0.2: a copy of the same domain that refuses simple binds without TLS (result 8,
#     "strong auth required"), for the "plain bind refused" case.
# Prints the environment the tests read, as shell `export` lines:
#   eval "$(scripts/test-ad.sh)"
# See ../shared/notes/test-directory.md for the facts this relies on. Users and passwords are
# test fixtures of a throw-away domain on loopback (crates/authn/tests/ldap.rs names the same).
set -euo pipefail

STAMP=switchboard-test-ad-v1
DIR=${SWITCHBOARD_TEST_AD_DIR:-/tmp/switchboard-test-ad}
REALM=JOSHLAB.NET
BASE="DC=joshlab,DC=net"
ADMIN_PW='Adm1n-Pass!'
USER_PW='Heisenberg-8'

log() { printf '== %s\n' "$*" >&2; }

install_samba() {
    log "installing Samba AD (apt)"
    local sudo=
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    local pkgs=(samba samba-ad-dc samba-ad-provision samba-dsdb-modules samba-vfs-modules winbind
        ldap-utils)
    $sudo apt-get update -qq >&2
    # Once more after repairing, when an interrupted or disturbed install left dpkg half done.
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null 2>&1 || {
        log "apt-get failed; repairing and retrying"
        $sudo dpkg --configure -a >&2 || true
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -f >/dev/null || true
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >/dev/null
    }
}

# The configuration of instance $1 (a, b), listening on $2, requiring strong auth $3 (yes/no).
write_conf() {
    local name=$1 addr=$2 strong=$3 root=$DIR/$1
    cat >"$root/etc/smb.conf" <<EOF
[global]
    netbios name = DC1
    realm = $REALM
    workgroup = JOSHLAB
    server role = active directory domain controller
    server services = ldap
    dns forwarder = 127.0.0.1
    interfaces = $addr
    bind interfaces only = yes
    private dir = $root/private
    lock dir = $root/lock
    state directory = $root/state
    cache directory = $root/cache
    pid directory = $root/run
    ncalrpc dir = $root/run/ncalrpc
    winbindd socket directory = $root/run/winbindd
    log file = $root/log/samba.log
    log level = 0
    ldap server require strong auth = $strong
    tls enabled = yes
    tls keyfile = $DIR/pki/server-key.pem
    tls certfile = $DIR/pki/server.pem
    tls cafile = $DIR/pki/ca.pem

[sysvol]
    path = $root/state/sysvol
    read only = no
EOF
}

make_pki() {
    local p=$DIR/pki
    mkdir -p "$p"
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Switchboard Test AD CA" \
        -keyout "$p/ca-key.pem" -out "$p/ca.pem" 2>/dev/null
    openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Some Other CA" \
        -keyout "$p/other-ca-key.pem" -out "$p/other-ca.pem" 2>/dev/null
    openssl req -newkey rsa:2048 -nodes -subj "/CN=dc1.joshlab.net" \
        -keyout "$p/server-key.pem" -out "$p/server.csr" 2>/dev/null
    printf 'subjectAltName=DNS:dc1.joshlab.net,DNS:joshlab.net,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$p/ext"
    openssl x509 -req -in "$p/server.csr" -CA "$p/ca.pem" -CAkey "$p/ca-key.pem" -CAcreateserial \
        -days 3650 -extfile "$p/ext" -out "$p/server.pem" 2>/dev/null
    chmod 600 "$p"/*-key.pem
}

provision() {
    log "provisioning a Samba AD domain controller in $DIR (once; ~30 s)"
    rm -rf "$DIR"
    local a=$DIR/a
    mkdir -p "$a"/{etc,private,lock,state,cache,run,log}
    make_pki
    : >"$a/etc/smb.conf"
    samba-tool domain provision -s "$a/etc/smb.conf" --targetdir="$a" --realm=$REALM \
        --domain=JOSHLAB --server-role=dc --dns-backend=NONE --host-name=dc1 \
        --adminpass="$ADMIN_PW" --use-rfc2307 \
        --option="interfaces=lo" --option="bind interfaces only=yes" \
        --option="server services=ldap" >"$DIR/provision.log" 2>&1
    write_conf a lo no
    local H=(-s "$a/etc/smb.conf" -H "$a/private/sam.ldb")
    samba-tool domain passwordsettings set "${H[@]}" --complexity=off --min-pwd-age=0 \
        --max-pwd-age=0 --account-lockout-threshold=0 >/dev/null
    samba-tool ou create "${H[@]}" "OU=Breaking Bad,$BASE" >/dev/null
    samba-tool ou create "${H[@]}" "OU=DEA,$BASE" >/dev/null
    local bb="OU=Breaking Bad"
    add() { # userid, given name, surname, ou, extra options...
        local u=$1 g=$2 s=$3 ou=$4
        shift 4
        samba-tool user create "${H[@]}" "$u" "$USER_PW" --given-name="$g" --surname="$s" \
            --userou="$ou" "$@" >/dev/null
    }
    add wwhite Walter White "$bb"
    add jpinkman Jesse Pinkman "$bb"
    add 'jesse(p)' Jesse Parens "$bb"
    add skyler Skyler White "$bb"
    samba-tool user rename "${H[@]}" skyler --force-new-cn='White\, Skyler' >/dev/null
    add gboetticher Gale Boetticher "$bb"
    samba-tool user disable "${H[@]}" gboetticher >/dev/null
    add tuco Tuco Salamanca "$bb"
    add lalo Lalo Salamanca "$bb"
    add hector Hector Salamanca "$bb" --must-change-at-next-login
    add gfring Gustavo Fring "$bb"
    samba-tool user setexpiry "${H[@]}" gfring --days=0 >/dev/null
    add mike Mike Ehrmantraut "$bb"
    add kaylee Kaylee Ehrmantraut "$bb"
    add hschrader Hank Schrader "OU=DEA"
    add svc-ldap Service Directory "CN=Users"
    add svc-other Other Service "CN=Users"
    # Only tuco is ever locked out: a fine-grained policy (threshold 2, 1 minute) applies to him
    # alone, so that wrong passwords in other tests and re-runs lock nobody else.
    samba-tool domain passwordsettings pso create "${H[@]}" lockout-tuco 1 \
        --account-lockout-threshold=2 --account-lockout-duration=1 \
        --reset-account-lockout-after=1 --complexity=off --min-pwd-age=0 --max-pwd-age=0 >/dev/null
    samba-tool domain passwordsettings pso apply "${H[@]}" lockout-tuco tuco >/dev/null
    # The second instance: a copy of the same domain on 127.0.0.2 that requires strong auth.
    cp -a "$a" "$DIR/b"
    write_conf b 127.0.0.2/8 yes
    echo "$STAMP" >"$DIR/stamp"
}

ldap_answers() { # address
    LDAPTLS_REQCERT=never ldapsearch -x -H "ldap://$1:389" -s base -b "" -LLL dn >/dev/null 2>&1
}

start() { # instance, address
    local name=$1 addr=$2
    if ldap_answers "$addr"; then return; fi
    log "starting Samba AD ($name) on $addr"
    samba -M single -s "$DIR/$name/etc/smb.conf" -D
    for _ in $(seq 1 100); do
        ldap_answers "$addr" && return
        sleep 0.1
    done
    log "Samba AD ($name) did not answer on $addr:389; see $DIR/$name/log"
    exit 1
}

command -v samba >/dev/null && command -v ldapsearch >/dev/null || install_samba
if [ "$(cat "$DIR/stamp" 2>/dev/null)" != "$STAMP" ]; then
    # A DC of an older layout may still run from the directory being replaced.
    for pid in "$DIR"/*/run/samba.pid; do
        [ -f "$pid" ] && kill "$(cat "$pid")" 2>/dev/null || true
    done
    sleep 0.5
    provision
fi
start a 127.0.0.1
start b 127.0.0.2
# Each run starts with tuco unlocked (a lockout lasts a minute).
samba-tool user unlock -H ldap://127.0.0.1 -U "Administrator%$ADMIN_PW" tuco >/dev/null 2>&1 || true

cat <<EOF
export SWITCHBOARD_TEST_AD=127.0.0.1
export SWITCHBOARD_TEST_AD_STRONG=127.0.0.2
export SWITCHBOARD_TEST_AD_DIR=$DIR
EOF
