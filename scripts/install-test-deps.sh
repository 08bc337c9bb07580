#!/usr/bin/env bash
# Installs the programs (and munin-node's Net::Server) that
# servers/tests/real_configs.rs checks our config output against, and the
# tools the proxy tests drive, if any is missing. Debian/Ubuntu only (apt-get), root only.
#
# Debian's postinst scripts start every daemon they install. This script
# stops that with a temporary /usr/sbin/policy-rc.d (exit 101: "action
# forbidden"), puts back whatever was there before, and then checks with ps
# that the install left no new nginx/haproxy/named/nsd/unbound/apache2/sshd
# running; any it finds is stopped by its pid.
set -euo pipefail

# command -> Debian package that provides it (checked with dpkg -S).
# nginx-light is only a transitional package depending on nginx in Debian 12,
# so install nginx itself.
declare -A PKG=(
    [haproxy]=haproxy
    [nginx]=nginx
    [sshd]=openssh-server
    [ssh-keygen]=openssh-client
    [named-checkconf]=bind9-utils
    [nsd-checkconf]=nsd
    [apache2]=apache2
    [perl]=perl
    # servers/tests/proxy_*.rs: curl as a real TLS client over IPv4, ip for
    # the NAT46 network namespace, prlimit for the 100,000-connection test,
    # python3 for the small servers inside the namespace.
    # servers/tests/nat64_root.rs: ip, curl and python3 likewise.
    [curl]=curl
    [ip]=iproute2
    [prlimit]=util-linux
    [python3]=python3
    # servers/tests/dns64_e2e.rs: dig as a real DNS client.
    [dig]=bind9-dnsutils
    # servers/tests/dns64_real.rs: a real recursive resolver (and Unbound's
    # own dns64 module for the differential test) in front of nsd.
    [unbound]=unbound
)
# Perl modules -> package: munin-node's allow/deny matching lives in Net::Server.
declare -A PERL_PKG=(
    [Net::Server]=libnet-server-perl
)
DAEMONS=(nginx haproxy named nsd unbound apache2 sshd)

have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }

missing=()
for cmd in "${!PKG[@]}"; do
    have "$cmd" || missing+=("${PKG[$cmd]}")
done
for mod in "${!PERL_PKG[@]}"; do
    perl -M"$mod" -e 1 2>/dev/null || missing+=("${PERL_PKG[$mod]}")
done
# bindings-python/run-tests.sh makes a virtualenv (maturin, pytest, mypy).
python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
# One package may provide several commands.
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

if [ "$(id -u)" -ne 0 ]; then
    echo "note: the real-config tests need: ${missing[*]}" >&2
    echo "      run 'make deps' as root (or apt-get install them); until then they are skipped" >&2
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "note: no apt-get; install by hand: ${missing[*]} (real-config tests are skipped)" >&2
    exit 0
fi

daemon_pids() { ps -eo pid=,comm= | awk -v names=" ${DAEMONS[*]} " 'index(names, " " $2 " ") { print $1 }' | sort; }

before=$(daemon_pids)

policy=/usr/sbin/policy-rc.d
backup=""
if [ -e "$policy" ]; then
    backup=$(mktemp /usr/sbin/policy-rc.d.sixgate.XXXXXX)
    cp -p "$policy" "$backup"
fi
ours=1
restore_policy() { # idempotent: runs once from the trap or the main line
    [ "$ours" = 1 ] || return 0
    if [ -n "$backup" ]; then
        mv -f "$backup" "$policy"
    else
        rm -f "$policy"
    fi
    ours=0
}
trap restore_policy EXIT
printf '#!/bin/sh\n# sixgate install-test-deps.sh: start no services while installing.\nexit 101\n' >"$policy"
chmod 755 "$policy"

echo "installing: ${missing[*]}"
start=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "installed in $(($(date +%s) - start))s"

restore_policy

# Anything new running under a daemon's name was started by the install.
after=$(daemon_pids)
new=$(comm -13 <(echo "$before") <(echo "$after") | grep -v '^$' || true)
if [ -n "$new" ]; then
    echo "warning: the install started daemons; stopping them by pid:" >&2
    for pid in $new; do
        ps -o pid=,comm=,args= -p "$pid" >&2 || true
        kill "$pid" 2>/dev/null || true
    done
    sleep 1
    for pid in $new; do
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    done
fi
