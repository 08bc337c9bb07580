#!/usr/bin/env bash
# Side-by-side benchmark: `sixgate nat64` against TAYGA (Debian's package, stateless NAT64 on a
# TUN, plus kernel source NAT for statefulness as TAYGA's docs describe), with the kernel's own
# IPv4 forwarding in the same topology as the ceiling, all in one run.
#
# Usage (from the repo root, as root, after `cargo build --release -p sixgate-servers`):
#     servers/bench/nat64.sh              # ~8 minutes on a quiet 2-core VM (3 rounds; ROUNDS=5: ~12)
#     QUICK=1 servers/bench/nat64.sh      # ~1 minute smoke run (one round, 3 s loads)
# Environment:
#     OUT=/tmp/sixgate-nat64-bench.md   where the markdown report is written (also printed;
#                     the raw measurements go next to it as .raw.tsv)
#     SIXGATE=target/release/sixgate    the binary to test ("sixgate: not built" if it has no
#                     `nat64` subcommand, "failed" if it does not start or does not forward;
#                     the other variants are measured anyway)
#     VARIANTS="kernel tayga sixgate"
#     ROUNDS=3        rounds; each builds every variant's topology afresh (new namespaces), one
#                     variant later each round, and runs the four loads through it
#     STAT=median     median (or best) of the undisturbed rounds
#     FOREIGN_MAX=0.2 a load is "disturbed" when other processes on the machine used more than
#                     this share of one CPU during it (see below)
#     DURATION=10     seconds of each load
#     STREAMS=4       iperf3 -P of the second TCP load
#     UDP_BW=0        iperf3 -b of the UDP load (0: as fast as the sender can)
#     UDP_LEN=64      iperf3 -l: UDP payload bytes
#     CONC=32         connects in flight in the connection-rate load
#     NO_INSTALL=1    do not apt-get install missing packages
#     SIX_EXTRA=""    more `sixgate nat64` flags, e.g. "--no-offload" or "--workers 2"; without a
#                     --workers here sixgate gets --workers 1: it is pinned to one CPU, like TAYGA
#     XLAT_CPUS=0     the CPU list the translator is pinned to (taskset -c), e.g. "0,1" to let
#                     sixgate's workers spread (the load stays on CPU 1: they then share it)
#
# Topology, made afresh for each variant and round (namespaces nb64{c,g,s}-PID-N, deleted by
# name on exit; documentation addresses only, no link out of them):
#
#   client (IPv6 only)           gateway                              server (IPv4 only)
#   2001:db8:1::10/64 ── veth ── 2001:db8:1::1   translator   198.51.100.1 ── veth ── 198.51.100.2/24
#   route 64:ff9b::/96 via gw                                            route 203.0.113.0/24 via gw
#
#   kernel   the client also gets 192.0.2.10/24 (gateway 192.0.2.1, server route 192.0.2.0/24
#            via the gateway) and talks IPv4 to 198.51.100.2: plain forwarding, no netfilter.
#   tayga    TAYGA on TUN nat64 (its own address 203.0.113.129, dynamic pool 203.0.113.0/25),
#            prefix TAYGA_PREFIX=2001:db8:64::/96: TAYGA 0.9.2 drops documentation and private
#            IPv4 addresses under the well-known prefix and has no switch for it (RFC 6052
#            §3.1; sixgate's --allow-non-global), so it gets a network-specific /96 from the
#            documentation range instead (the same /96 layout: the same work per packet),
#            and `iptables -t nat -A POSTROUTING -o g1 -s 203.0.113.0/25 -j SNAT --to-source
#            203.0.113.200`: TAYGA's stateful setup (docs: MASQUERADE; SNAT is the same
#            conntrack NAT to a fixed address, since masquerade would pick g1's 198.51.100.1).
#   sixgate  `sixgate nat64 --tun nat64 --prefix 64:ff9b::/96 --pool4 203.0.113.1/32 --setup
#            --allow-non-global`, RFC 6888 log to a file, /metrics on the gateway's loopback,
#            --port-block 1024/63 (the whole port range for one customer) and
#            --max-sessions-per-customer 1000000 (or the older --max-bindings-per-host), so the
#            connection load is not cut by the per-customer policy (TAYGA + SNAT has none).
#   The IPv6 client reaches 198.51.100.2 as 64:ff9b::c633:6402 (sixgate) or
#   2001:db8:64::c633:6402 (TAYGA); its routes send both prefixes to the gateway.
#
# Loads (client → server through the translator; iperf3 server and the Python accept loop in
# the server namespace, iperf3 client and the Python connect loop in the client namespace):
#   tcp1   iperf3 -t DURATION, 1 stream: received Gbit/s (and the sender's retransmits)
#   tcp4   the same with -P STREAMS
#   udp64  iperf3 -u -l UDP_LEN -b UDP_BW -t DURATION: datagrams/s that came through the
#          translator to the server (the server namespace's UDP InDatagrams + RcvbufErrors:
#          every datagram that reached its UDP layer, delivered or dropped for a full socket
#          buffer; counted after the kernel cuts a UDP super-packet, so a translator that
#          writes datagrams coalesced counts the same as one that writes them one by one),
#          beside what the client's veth sent (offered) and what iperf3's server counted
#          (received; on the load CPU beside the sender, it often falls behind: then received
#          is below forwarded whatever the translator does)
#   conn   nat64_helper.py connect: CONC non-blocking connects in flight for DURATION s, each
#          closed with an RST once established (no TIME_WAIT, so the client's ports last);
#          established connections/s. The server accepts and closes.
# CPU placement: the translator (TAYGA, or every sixgate thread) on CPU 0; iperf3 (both ends)
# and the Python loops on CPU 1. The kernel's forwarding runs in softirq wherever the packet
# is, mostly CPU 1 for the kernel variant (nothing of it runs on CPU 0 there), and the TUN
# reader's/writer's CPU for the translators.
# Disturbance: the machine's busy time (/proc/stat: user nice system irq softirq steal) minus
# what the translator, both ends of the load and ksoftirqd used is someone else's; loads where
# that exceeds FOREIGN_MAX of a CPU are left out when any undisturbed round exists.
#
# Packages (tayga, iperf3, iptables, python3) are installed with apt-get if missing, under a
# policy-rc.d that keeps their services from starting; a daemon that starts anyway is stopped
# by PID. Every process is started here and stopped by PID on exit (EXIT trap), then the
# namespaces made here are deleted by name.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BENCH=$ROOT/servers/bench
HELPER=$BENCH/nat64_helper.py
OUT=${OUT:-/tmp/sixgate-nat64-bench.md}
SIXGATE=${SIXGATE:-$ROOT/target/release/sixgate}
VARIANTS=${VARIANTS:-"kernel tayga sixgate"}
if [ -n "${QUICK:-}" ]; then
    ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-3}
fi
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
STREAMS=${STREAMS:-4}
UDP_BW=${UDP_BW:-0}
UDP_LEN=${UDP_LEN:-64}
CONC=${CONC:-32}
export FOREIGN_MAX=${FOREIGN_MAX:-0.2} STAT=${STAT:-median}
PREFIX=64:ff9b::/96
TAYGA_PREFIX=${TAYGA_PREFIX:-2001:db8:64::/96}
SERVER4=198.51.100.2
SERVER6=${PREFIX%/96}c633:6402
TAYGA_SERVER6=${TAYGA_PREFIX%/96}c633:6402
CLK_TCK=$(getconf CLK_TCK)
XLAT_CPU=0
LOAD_CPU=1
XLAT_CPUS=${XLAT_CPUS:-$XLAT_CPU}
SIX_EXTRA=${SIX_EXTRA:-}
[ "$(nproc --all)" -ge 2 ] || { LOAD_CPU=0; echo "warning: one CPU; no pinning split" >&2; }
IPERF_PORT=5201
CONN_PORT=8080

declare -A PID=()
declare -A NOTE=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, ip netns, TUN)"

# ---- packages -------------------------------------------------------------------------
install_packages() {
    local need=() before after p
    command -v tayga >/dev/null || need+=(tayga)
    command -v iperf3 >/dev/null || need+=(iperf3)
    command -v iptables >/dev/null || need+=(iptables)
    command -v python3 >/dev/null || need+=(python3-minimal)
    command -v taskset >/dev/null || need+=(util-linux)
    command -v ip >/dev/null || need+=(iproute2)
    [ ${#need[@]} -gt 0 ] || return 0
    [ -z "${NO_INSTALL:-}" ] || die "missing: ${need[*]}"
    log "installing ${need[*]}"
    before=$(pgrep -x 'tayga|iperf3' || true)
    # Keep the packages from starting their system services: a policy-rc.d that says no,
    # restored (or removed) afterwards.
    local prc=/usr/sbin/policy-rc.d saved=""
    if [ -e $prc ]; then saved=$(mktemp); cp -p $prc "$saved"; fi
    printf '#!/bin/sh\nexit 101\n' >$prc && chmod 755 $prc
    local rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        -o DPkg::Lock::Timeout=120 "${need[@]}"; } >&2 || rc=$?
    if [ -n "$saved" ]; then cp -p "$saved" $prc; rm -f "$saved"; else rm -f $prc; fi
    [ $rc = 0 ] || die "apt-get failed"
    # A daemon the install started despite the policy (not one that ran before): stop it.
    after=$(pgrep -x 'tayga|iperf3' || true)
    for p in $after; do
        if ! grep -qx "$p" <<<"$before"; then
            log "stopping $(cat /proc/"$p"/comm 2>/dev/null) (pid $p) started by the install"
            kill "$p" 2>/dev/null || true
        fi
    done
}
install_packages

# ---- temp dir, namespaces, cleanup -------------------------------------------------------
T=$(mktemp -d /tmp/sixgate-nat64-bench-run.XXXXXX)
chmod 755 "$T"
NSLIST=()  # every namespace made here, deleted by name on exit
NETSEQ=0
cleanup() {
    local t ns p left
    for t in "${!PID[@]}"; do stop "$t"; done
    for ns in "${NSLIST[@]}"; do
        # Anything still in a namespace was started here (nothing else knows its name).
        left=$(ip netns pids "$ns" 2>/dev/null || true)
        for p in $left; do kill "$p" 2>/dev/null || true; done
        [ -z "$left" ] || sleep 0.5
        for p in $left; do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

stop() { # name: SIGTERM, wait for it to go
    local t=$1 p=${PID[$1]:-} i
    [ -n "$p" ] || return 0
    kill "$p" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    unset "PID[$t]"
}

# Removes the current topology: its processes by PID, its namespaces by name.
teardown_net() {
    local t ns p left
    for t in "${!PID[@]}"; do stop "$t"; done
    for ns in "$C" "$G" "$S"; do
        left=$(ip netns pids "$ns" 2>/dev/null || true)
        for p in $left; do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$ns" 2>/dev/null || true
    done
}

# make_net VARIANT: the three namespaces and veths; sets C G S and DST.
make_net() {
    local v=$1 ns
    NETSEQ=$((NETSEQ + 1))
    C=nb64c-$$-$NETSEQ G=nb64g-$$-$NETSEQ S=nb64s-$$-$NETSEQ
    for ns in "$C" "$G" "$S"; do
        ip netns add "$ns" || die "ip netns add $ns failed"
        NSLIST+=("$ns")
        ip -n "$ns" link set lo up
    done
    ip link add c0 netns "$C" type veth peer name g0 netns "$G"
    ip link add s0 netns "$S" type veth peer name g1 netns "$G"
    ip -n "$C" addr add 2001:db8:1::10/64 dev c0 nodad
    ip -n "$C" link set c0 up
    ip -n "$C" -6 route add $PREFIX via 2001:db8:1::1
    [ "$TAYGA_PREFIX" = $PREFIX ] || ip -n "$C" -6 route add "$TAYGA_PREFIX" via 2001:db8:1::1
    ip -n "$G" addr add 2001:db8:1::1/64 dev g0 nodad
    ip -n "$G" link set g0 up
    ip -n "$G" addr add 198.51.100.1/24 dev g1
    ip -n "$G" link set g1 up
    ip -n "$S" addr add $SERVER4/24 dev s0
    ip -n "$S" link set s0 up
    ip -n "$S" route add 203.0.113.0/24 via 198.51.100.1
    ip netns exec "$G" sh -c 'echo 1 >/proc/sys/net/ipv6/conf/all/forwarding &&
        echo 1 >/proc/sys/net/ipv4/ip_forward'
    DST=$SERVER6
    [ "$v" != tayga ] || DST=$TAYGA_SERVER6
    if [ "$v" = kernel ]; then
        ip -n "$C" addr add 192.0.2.10/24 dev c0
        ip -n "$C" route add default via 192.0.2.1
        ip -n "$G" addr add 192.0.2.1/24 dev g0
        ip -n "$S" route add 192.0.2.0/24 via 198.51.100.1
        DST=$SERVER4
    fi
    # Only the veths and loopback in there: no route can lead out.
    for ns in "$C" "$S"; do
        [ "$(ip -n "$ns" -o link show | wc -l)" = 2 ] || die "namespace $ns has extra links"
    done
    [ "$(ip -n "$G" -o link show | wc -l)" = 3 ] || die "namespace $G has extra links"
}

start_bg() { # name ns cpu cmd...: started in the background; PID[name] is the program's own
    local t=$1 ns=$2 cpu=$3
    shift 3
    # ip netns exec and taskset exec the command: $! is the program's own PID.
    ip netns exec "$ns" taskset -c "$cpu" "$@" >>"$T/$t.out" 2>&1 &
    PID[$t]=$!
}

# ---- the translators --------------------------------------------------------------------
SIX_HELP=$("$SIXGATE" nat64 --help 2>/dev/null || true)
sixgate_has() { grep -q -- "$1" <<<"$SIX_HELP"; }
SIX_ARGS=()
if [ -n "$SIX_HELP" ]; then
    SIX_ARGS=(--tun nat64 --prefix $PREFIX --pool4 203.0.113.1/32 --setup --allow-non-global)
    # The connection load cycles through the client's ~28k ephemeral ports (each a new
    # binding, kept for the 4-minute transitory timeout after its RST): give the one client
    # the whole port range, as TAYGA + SNAT has it, instead of the per-customer defaults.
    if sixgate_has --port-block; then SIX_ARGS+=(--port-block 1024/63); fi
    if sixgate_has --max-sessions-per-customer; then
        SIX_ARGS+=(--max-sessions-per-customer 1000000)
    elif sixgate_has --max-bindings-per-host; then
        SIX_ARGS+=(--max-bindings-per-host 1000000)
    fi
    # One CPU for the translator: one worker, unless asked otherwise.
    if sixgate_has --workers && ! grep -q -- --workers <<<"$SIX_EXTRA"; then
        SIX_ARGS+=(--workers 1)
    fi
    # shellcheck disable=SC2206 # flags, split on purpose
    SIX_ARGS+=($SIX_EXTRA)
fi

setup_kernel() { :; }

setup_tayga() {
    mkdir -p "$T/tayga"
    cat >"$T/tayga/tayga.conf" <<EOF
tun-device nat64
ipv4-addr 203.0.113.129
ipv6-addr 2001:db8:ff::1
prefix $TAYGA_PREFIX
dynamic-pool 203.0.113.0/25
data-dir $T/tayga
EOF
    ip netns exec "$G" tayga --mktun -c "$T/tayga/tayga.conf" >>"$T/tayga.out" 2>&1 ||
        { NOTE[tayga]="tayga --mktun failed: $(tail -c 200 "$T/tayga.out")"; return 1; }
    ip -n "$G" link set nat64 up
    ip -n "$G" -6 route add "$TAYGA_PREFIX" dev nat64
    ip -n "$G" route add 203.0.113.0/25 dev nat64
    ip -n "$G" route add 203.0.113.129/32 dev nat64
    ip netns exec "$G" iptables -t nat -A POSTROUTING -o g1 -s 203.0.113.0/25 \
        -j SNAT --to-source 203.0.113.200
    start_bg tayga "$G" "$XLAT_CPUS" tayga -n -c "$T/tayga/tayga.conf"
    sleep 0.5
    kill -0 "${PID[tayga]}" 2>/dev/null ||
        { NOTE[tayga]="failed: $(tail -c 300 "$T/tayga.out" | tr '\n|' '  ')"; unset "PID[tayga]"; return 1; }
}

setup_sixgate() {
    local i
    start_bg sixgate "$G" "$XLAT_CPUS" env RUST_LOG=warn "$SIXGATE" nat64 "${SIX_ARGS[@]}" \
        --log "$T/sixgate-nat64.log" --metrics 127.0.0.1:9466
    for i in $(seq 100); do
        kill -0 "${PID[sixgate]}" 2>/dev/null || break
        if ip -n "$G" route show 203.0.113.1 2>/dev/null | grep -q nat64 &&
            ip -n "$G" -6 route show $PREFIX 2>/dev/null | grep -q nat64; then
            return 0
        fi
        sleep 0.1
    done
    NOTE[sixgate]="failed to start: $(tail -c 300 "$T/sixgate.out" | tr '\n|' '  ')"
    stop sixgate
    return 1
}

xlat_pid() { case $1 in kernel) echo "" ;; *) echo "${PID[$1]:-}" ;; esac; }

# ---- measurement helpers ------------------------------------------------------------------
cpu_ticks() { # pid...: utime+stime of the processes (all threads)
    local p total=0 f
    for p in "$@"; do
        [ -n "$p" ] || continue
        f=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null) || continue
        set -- $f
        total=$((total + ${12} + ${13}))
    done
    echo $total
}
KSOFTIRQD=$(pgrep -x 'ksoftirqd/[0-9]+' | tr '\n' ' ' || true)
# busy ticks (user nice system irq softirq steal): all CPUs, CPU 0, CPU 1; softirq (all CPUs)
cpu_stat() {
    awk -v a="cpu$XLAT_CPU" -v b="cpu$LOAD_CPU" '
        $1 == "cpu" { all = $2 + $3 + $4 + $7 + $8 + $9; sirq = $8 }
        $1 == a { c0 = $2 + $3 + $4 + $7 + $8 + $9 }
        $1 == b { c1 = $2 + $3 + $4 + $7 + $8 + $9 }
        END { print all, c0, c1, sirq }' /proc/stat
}

# The load generator runs under `sh -c` that prints its child's CPU ticks (cutime+cstime).
LOADWRAP='"$@"; rc=$?; read -r s </proc/$$/stat; set -- ${s##*) }; echo "CHILDTICKS $((${14} + ${15}))" >&2; exit $rc'

M_SERVERS=()
measure_start() { # variant
    M_X0=$(cpu_ticks "$(xlat_pid "$1")") M_V0=$(cpu_ticks "${M_SERVERS[@]}")
    M_K0=$(cpu_ticks $KSOFTIRQD) M_S0=$(cpu_stat) M_T0=$(date +%s.%N)
}
measure_end() { # variant genlog -> M_SECS M_XTICKS M_FOREIGN M_CPU0 M_CPU1 M_SIRQ
    local x1 v1 k1 s1 t1 gen
    x1=$(cpu_ticks "$(xlat_pid "$1")") v1=$(cpu_ticks "${M_SERVERS[@]}")
    k1=$(cpu_ticks $KSOFTIRQD) s1=$(cpu_stat) t1=$(date +%s.%N)
    gen=$(awk '/^CHILDTICKS/ {print $2}' "$2" | tail -1)
    read -r a0 c00 c10 q0 <<<"$M_S0"
    read -r a1 c01 c11 q1 <<<"$s1"
    M_SECS=$(awk -v a="$M_T0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    M_XTICKS=$((x1 - M_X0))
    [ "$1" != kernel ] || M_XTICKS=-
    M_FOREIGN=$((a1 - a0 - (x1 - M_X0) - (v1 - M_V0) - (k1 - M_K0) - ${gen:-0}))
    M_CPU0=$((c01 - c00)) M_CPU1=$((c11 - c10)) M_SIRQ=$((q1 - q0))
}

RAW=$T/raw.tsv
: >"$RAW"
record() { # variant round load value x1 x2
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$6" \
        "$M_SECS" "$M_XTICKS" "$M_FOREIGN" "$M_CPU0" "$M_CPU1" "$M_SIRQ" >>"$RAW"
}

client_run() { # outfile errfile timeout cmd...: in the client namespace on LOAD_CPU
    local f=$1 e=$2 to=$3
    shift 3
    timeout -k 5 "$to" ip netns exec "$C" taskset -c $LOAD_CPU sh -c "$LOADWRAP" sh "$@" \
        >"$f" 2>"$e" || true
}

tx_packets() { ip netns exec "$1" cat /sys/class/net/"$2"/statistics/tx_packets; }
# Datagrams that reached a namespace's UDP layer: InDatagrams + RcvbufErrors (/proc/net/snmp).
udp_arrived() {
    ip netns exec "$1" awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $2 + $6 }' /proc/net/snmp
}

run_iperf() { # variant round load iperf3-args...
    local v=$1 r=$2 load=$3 f=$T/iperf-$1-$2-$3.json kind=tcp out c0 g0 c1 g1 offered fwd
    shift 3
    [ "$load" != udp64 ] || kind=udp
    c0=$(tx_packets "$C" c0) g0=$(udp_arrived "$S")
    measure_start "$v"
    client_run "$f" "$f.err" $((DURATION + 30)) iperf3 -c "$DST" -p $IPERF_PORT -t "$DURATION" \
        -J "$@"
    measure_end "$v" "$f.err"
    c1=$(tx_packets "$C" c0) g1=$(udp_arrived "$S")
    out=$(python3 "$HELPER" iperf $kind "$f")
    read -r -a P <<<"$out"
    if [ "$kind" = tcp ]; then
        record "$v" "$r" "$load" "${P[0]}" "${P[1]}" ""
        log "$v $load: ${P[0]} Gbit/s, ${P[1]} retransmits; translator ticks $M_XTICKS," \
            "foreign $M_FOREIGN, cpu0 $M_CPU0 cpu1 $M_CPU1 softirq $M_SIRQ"
    else
        # What the client's veth sent (offered) and what reached the server's UDP layer
        # (forwarded: what got through the translator, whether or not the receiving iperf3,
        # on the load CPU with the sender, kept up), per second of the load.
        offered=$(((c1 - c0) / DURATION)) fwd=$(((g1 - g0) / DURATION))
        record "$v" "$r" "$load" "$fwd" "$offered" "${P[0]}"
        log "$v $load: $fwd pkt/s forwarded of $offered offered, ${P[0]} received (${P[1]}% lost," \
            "${P[3]} of ${P[2]}); translator ticks $M_XTICKS, foreign $M_FOREIGN, cpu0 $M_CPU0" \
            "cpu1 $M_CPU1 softirq $M_SIRQ"
    fi
    if [ "${P[0]}" = - ]; then
        log "$v $load: iperf3 said: $(tail -c 400 "$f" "$f.err" | tr '\n' ' ')"
    fi
}

run_conn() { # variant round
    local v=$1 r=$2 f=$T/conn-$1-$2.txt i
    start_bg accept "$S" $LOAD_CPU python3 "$HELPER" accept $SERVER4 $CONN_PORT $((DURATION + 20))
    for i in $(seq 50); do grep -q ready "$T/accept.out" 2>/dev/null && break; sleep 0.1; done
    M_SERVERS=("${PID[iperf3]:-}" "${PID[accept]}")
    measure_start "$v"
    client_run "$f" "$f.err" $((DURATION + 20)) python3 "$HELPER" connect "$DST" $CONN_PORT \
        "$DURATION" "$CONC"
    measure_end "$v" "$f.err"
    stop accept
    M_SERVERS=("${PID[iperf3]:-}")
    rm -f "$T/accept.out"
    # established errors timeouts seconds per_second
    read -r -a P <<<"$(cat "$f")"
    if [ ${#P[@]} -lt 5 ]; then
        log "$v conn: the connect loop said: $(tail -c 400 "$f" "$f.err" | tr '\n' ' ')"
        P=(- - - - -)
    fi
    record "$v" "$r" conn "${P[4]}" "${P[1]}" "${P[2]}"
    log "$v conn: ${P[4]} connections/s (${P[0]} in ${P[3]}s, ${P[1]} errors, ${P[2]} timeouts);" \
        "translator ticks $M_XTICKS, foreign $M_FOREIGN, cpu0 $M_CPU0 cpu1 $M_CPU1 softirq $M_SIRQ"
}

check_path() { # variant: a 1 s iperf3 run through the translator must move data
    local f=$T/check-$1.json out
    client_run "$f" "$f.err" 20 iperf3 -c "$DST" -p $IPERF_PORT -t 1 -J
    out=$(python3 "$HELPER" iperf tcp "$f")
    if [ "${out%% *}" = - ]; then
        NOTE[$1]="failed: no TCP through it ($(tail -c 200 "$f" | tr '\n|' '  '))"
        return 1
    fi
    CHECKED[$1]="${out%% *} Gbit/s in a 1 s check"
}
declare -A CHECKED=()

# setup_and_check VARIANT: topology, translator, iperf3 server, a check; 0 when it forwards.
setup_and_check() {
    local v=$1 i
    make_net "$v"
    if ! setup_"$v"; then
        log "$v: ${NOTE[$v]}"
        return 1
    fi
    start_bg iperf3 "$S" $LOAD_CPU iperf3 -s -J -B $SERVER4 -p $IPERF_PORT
    for i in $(seq 50); do
        ip netns exec "$S" ss -Hltn "( sport = :$IPERF_PORT )" | grep -q . && break
        sleep 0.1
    done
    M_SERVERS=("${PID[iperf3]}")
    if ! check_path "$v"; then
        log "$v: ${NOTE[$v]}"
        return 1
    fi
}

metrics_note() { # after a sixgate run: its drop counters
    local m
    m=$(ip netns exec "$G" curl -sf -m 2 http://127.0.0.1:9466/metrics 2>/dev/null |
        grep -E '^sixgate_nat64_(drops|dropped)[a-z_]*(\{[^}]*\})? [1-9]' | tr '\n' ' ' || true)
    [ -z "$m" ] || printf 'sixgate\tnote\tround %s drop counters after the loads: %s\n' "$1" "$m" >>"$RAW"
}

# ---- which variants can run ------------------------------------------------------------------
ACTIVE=()
for v in $VARIANTS; do
    case $v in kernel | tayga | sixgate) ;; *) die "unknown variant $v" ;; esac
    if [ "$v" = sixgate ] && [ -z "$SIX_HELP" ]; then
        if [ -x "$SIXGATE" ]; then
            why=$("$SIXGATE" nat64 --help 2>&1 | head -1 | tr '|' ' ' || true)
            NOTE[sixgate]="not built ($SIXGATE has no working \`nat64\` subcommand: $why)"
        else
            NOTE[sixgate]="not built ($SIXGATE does not exist)"
        fi
        log "sixgate: ${NOTE[sixgate]}"
        printf '%s\tnote\t%s\n' sixgate "${NOTE[sixgate]}" >>"$RAW"
        continue
    fi
    ACTIVE+=("$v")
done
[ ${#ACTIVE[@]} -gt 0 ] || die "no variant to measure"

# ---- run ---------------------------------------------------------------------------------------
n=${#ACTIVE[@]}
declare -A FAILED=()
for r in $(seq "$ROUNDS"); do
    log "round $r/$ROUNDS"
    for i in $(seq 0 $((n - 1))); do
        v=${ACTIVE[$(((i + r - 1) % n))]}
        [ -z "${FAILED[$v]:-}" ] || continue
        if ! setup_and_check "$v"; then
            FAILED[$v]=1
            printf '%s\tnote\t%s\n' "$v" "${NOTE[$v]}" >>"$RAW"
            teardown_net
            continue
        fi
        log "$v: forwards (${CHECKED[$v]}); namespaces $C $G $S"
        sleep 1
        run_iperf "$v" "$r" tcp1 -P 1
        sleep 1
        run_iperf "$v" "$r" tcp4 -P "$STREAMS"
        sleep 1
        run_iperf "$v" "$r" udp64 -u -l "$UDP_LEN" -b "$UDP_BW" --get-server-output
        sleep 1
        run_conn "$v" "$r"
        [ "$v" != sixgate ] || metrics_note "$r"
        if [ -n "${PID[$v]:-}" ] && ! kill -0 "${PID[$v]}" 2>/dev/null; then
            printf '%s\tnote\t%s\n' "$v" "round $r: exited during the loads: $(tail -c 200 "$T/$v.out" | tr '\n|' '  ')" >>"$RAW"
        fi
        teardown_net
        sleep 1
    done
done

# ---- report -------------------------------------------------------------------------------------
{
    echo "## sixgate nat64 vs TAYGA + masquerade vs kernel IPv4 forwarding ($(date -u +%F))"
    echo
    echo "Machine: $(nproc --all) CPUs ($(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1); $(lscpu 2>/dev/null | sed -n 's/^Hypervisor vendor: *//p' | head -1) hypervisor, $(systemd-detect-virt 2>/dev/null || echo unknown) container), $(awk '/^MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo), kernel $(uname -r)."
    echo "Topology: IPv6-only client ns ─veth─ gateway ns ─veth─ IPv4-only server ns, made afresh per variant and round; the client reaches $SERVER4 as $SERVER6 (sixgate, $PREFIX) or $TAYGA_SERVER6 (TAYGA, $TAYGA_PREFIX: TAYGA 0.9.2 drops documentation IPv4 addresses under the well-known prefix, with no switch). kernel: the client also has 192.0.2.10/24 and talks IPv4 (plain forwarding). tayga: TAYGA on a TUN (dynamic pool 203.0.113.0/25) + iptables SNAT to 203.0.113.200 on the server-facing veth (conntrack). sixgate: \`sixgate nat64 ${SIX_ARGS[*]}\` (pool4 203.0.113.1)."
    echo "Translator (TAYGA or all sixgate threads) pinned to CPU $XLAT_CPUS; iperf3 (both ends) and the Python connect/accept loops to CPU $LOAD_CPU."
    echo "Loads, ${DURATION} s each: iperf3 TCP 1 and $STREAMS streams (received rate); iperf3 UDP -l $UDP_LEN -b $UDP_BW (datagrams/s that reached the server's UDP layer, i.e. came through the translator, delivered or dropped for a full socket buffer; offered = sent by the client's veth, received = counted by iperf3's server, which shares CPU $LOAD_CPU with the sender); new TCP connections/s ($CONC connects in flight, each closed with an RST once established, the server accepts and closes)."
    echo "$STAT of the undisturbed of $ROUNDS rounds (others on the machine used < $FOREIGN_MAX CPU during the load; all rounds if none was). Ratios are between the figures of this run only. A load with CPU $LOAD_CPU at ~1.00 and CPU $XLAT_CPU below it (see the CPU table) was set by the load generators, not the translator: there compare the translator's CPU per unit."
    six="not built"
    if [ -n "$SIX_HELP" ]; then
        six="$("$SIXGATE" --version 2>/dev/null | head -1) ($SIXGATE, built $(date -u -r "$SIXGATE" +'%F %T UTC')"
        if [ "$SIXGATE" = "$ROOT/target/release/sixgate" ]; then
            six+="; tree $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null)$(git -C "$ROOT" diff --quiet HEAD -- core servers 2>/dev/null || echo ' with uncommitted changes in core/ or servers/')"
        fi
        six+=")"
    fi
    echo "Versions: $six; TAYGA $(dpkg-query -W -f='${Version}' tayga 2>/dev/null); $(iperf3 --version 2>/dev/null | head -1 | cut -d' ' -f1-2); $(iptables --version 2>/dev/null); Python $(python3 -c 'import platform; print(platform.python_version())')."
    for v in "${ACTIVE[@]}"; do
        [ -z "${CHECKED[$v]:-}" ] || echo "Check ($v): ${CHECKED[$v]}."
    done
    echo
    python3 "$HELPER" report "$RAW" "$CLK_TCK" $VARIANTS
} | tee "$OUT"
cp "$RAW" "${OUT%.md}.raw.tsv"
for v in tayga sixgate; do
    [ -s "$T/$v.out" ] || continue
    log "$v wrote to stdout/stderr ($(wc -l <"$T/$v.out") lines), last: $(tail -n 3 "$T/$v.out")"
done
log "report written to $OUT (raw: ${OUT%.md}.raw.tsv)"
