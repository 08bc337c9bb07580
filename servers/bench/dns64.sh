#!/usr/bin/env bash
# Side-by-side benchmark: `sixgate dns64` against Unbound's dns64 module, both forwarding to
# the same authoritative server (NSD) for the same zone, loaded by dnsperf with the same query
# files of AAAA queries for IPv4-only names.
#
# Usage (from the repo root, as root, after `cargo build --release -p sixgate-servers`):
#     servers/bench/dns64.sh              # ~3.5 minutes on a quiet 2-core VM (at most ~6)
#     QUICK=1 servers/bench/dns64.sh      # ~1 minute smoke run (one round, short loads)
# Environment:
#     OUT=/tmp/sixgate-dns64-bench.md   where the markdown report is written (also printed;
#                     the raw measurements go next to it as .raw.tsv)
#     SIXGATE=target/release/sixgate    the binary to test ("sixgate: not built" if it has no
#                     `dns64` subcommand; Unbound is measured anyway)
#     SERVERS="sixgate unbound"
#     ROUNDS=3        rounds; each starts every server afresh (empty cache), one server later
#                     each round, and runs both mixes through it
#     STAT=median     median (or best) of the undisturbed rounds
#     FOREIGN_MAX=0.2 a load is "disturbed" when other processes on the machine used more than
#                     this share of one CPU during it (see below; a quiet 2-core VM already
#                     shows ~0.05-0.15 under these loads: ksoftirqd, the VM agent)
#     DURATION=10     seconds of the cache-hit load
#     HIT_NAMES=1000  the cache-hit set: warmed once, then asked round and round
#     MISS_NAMES=100000  unique names of the cache-miss load, each asked once ...
#     MISS_LIMIT=30   ... for at most this many seconds
#     OUTSTANDING=100 dnsperf -q (queries in flight)
#     LAT_QPS=2000    the paced latency runs (dnsperf -v -Q LAT_QPS): p50/p90/p99 ...
#     LAT_SECS=5      ... over this many seconds of hits and as many fresh names
#     CACHE_SIZE=256M sixgate --cache-size, when its `dns64 --help` lists the flag
#     NO_INSTALL=1    do not apt-get install missing packages
#
# Isolation: everything runs on the loopback of a network namespace made here
# (sixgate-bench-PID, only `lo`, up), so no query can leave the machine. Unbound has no root
# hints to use: "." is a refusing local zone, bench.test a transparent one with a forward-zone
# to NSD on 127.0.0.1 (do-not-query-localhost: no). Every process is started here, in a temp
# dir with its own config, and stopped by PID on exit, then the namespace is deleted.
#
# Packages (unbound, nsd, dnsperf, bind9-dnsutils) are installed with apt-get if missing,
# under a policy-rc.d that keeps their services from starting (any daemon that starts anyway
# is stopped by PID).
#
# Zone (NSD, port 5300): bench.test, TTL 3600, `*.v4.bench.test. A 192.0.2.1` (no AAAA, so an
# AAAA query gets NODATA with the SOA, negative TTL 3600) plus a few fixed names. 192.0.2.1 is
# TEST-NET-1, which RFC 6052 §3.1 keeps out of the well-known prefix: sixgate runs with
# --allow-non-global (Unbound has no such check).
#
# Servers: sixgate dns64 (port 5301) `--workers 1`, `--cache-size CACHE_SIZE` when it has the
# flag (else the report says it has none: every query then goes upstream); Unbound (port 5302)
# module-config "dns64 iterator", dns64-prefix 64:ff9b::/96, num-threads 1, 256 MB msg and
# rrset caches, foreground, no chroot/user switch, no log file, qname-minimisation off (it
# forwards, like sixgate). Both pinned to CPU 0; dnsperf and NSD to CPU 1.
#
# Each round and server: start the server; check with dig that an IPv4-only name gets an AAAA
# under 64:ff9b:: and a dual-stack name its own AAAA; warm the hit set (each name once); then
#   hit   dnsperf -l DURATION over the HIT_NAMES names (all answered from a cache, if any)
#   miss  dnsperf -n 1 -l MISS_LIMIT over MISS_NAMES unique names (each needs NSD: AAAA, then A)
#   paced dnsperf -v -Q LAT_QPS for LAT_SECS over the hit set, then over fresh unique names:
#         the latency of every response, from which p50/p90/p99 (Debian 12's dnsperf 2.10
#         has no histogram; later releases have -O latency-histogram, not used so the
#         figures come out the same on either)
# Figures:
#   queries/s and latency average: dnsperf's summary of the hit and miss loads.
#   answered: NOERROR responses (dnsperf does not look inside; the dig check does, once).
#   CPU µs/answer: utime+stime of the server process (/proc/PID/stat, all threads) over the
#              load, divided by the NOERROR answers: the stable figure on a busy machine.
#   RSS bytes/cached name: VmRSS growth of the server over the miss load divided by its
#              answers (~0 when nothing is cached).
#   Disturbance: the machine's busy time (/proc/stat) minus what the server, NSD and dnsperf
#              used is someone else's; loads where that exceeds FOREIGN_MAX of a CPU are left
#              out when any undisturbed round exists ("undisturbed runs").
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BENCH=$ROOT/servers/bench
OUT=${OUT:-/tmp/sixgate-dns64-bench.md}
SIXGATE=${SIXGATE:-$ROOT/target/release/sixgate}
SERVERS=${SERVERS:-"sixgate unbound"}
if [ -n "${QUICK:-}" ]; then
    ROUNDS=${ROUNDS:-1} DURATION=${DURATION:-3} MISS_NAMES=${MISS_NAMES:-20000}
    MISS_LIMIT=${MISS_LIMIT:-10} LAT_SECS=${LAT_SECS:-2}
fi
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
HIT_NAMES=${HIT_NAMES:-1000}
MISS_NAMES=${MISS_NAMES:-100000}
MISS_LIMIT=${MISS_LIMIT:-30}
OUTSTANDING=${OUTSTANDING:-100}
LAT_QPS=${LAT_QPS:-2000}
LAT_SECS=${LAT_SECS:-5}
CACHE_SIZE=${CACHE_SIZE:-256M}
export FOREIGN_MAX=${FOREIGN_MAX:-0.2} STAT=${STAT:-median}
PREFIX=64:ff9b::/96
CLK_TCK=$(getconf CLK_TCK)
SERVER_CPU=0
LOAD_CPU=1
[ "$(nproc --all)" -ge 2 ] || { LOAD_CPU=0; echo "warning: one CPU; no pinning split" >&2; }

NSD_PORT=5300
declare -A PORT=([sixgate]=5301 [unbound]=5302)
declare -A PID=()
declare -A NOTE=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, ip netns)"

# ---- packages -------------------------------------------------------------------------
install_packages() {
    local need=() before after p
    command -v unbound >/dev/null || need+=(unbound)
    command -v nsd >/dev/null || need+=(nsd)
    command -v dnsperf >/dev/null || need+=(dnsperf)
    command -v dig >/dev/null || need+=(bind9-dnsutils)
    command -v taskset >/dev/null || need+=(util-linux)
    command -v ip >/dev/null || need+=(iproute2)
    command -v python3 >/dev/null || need+=(python3-minimal)
    [ ${#need[@]} -gt 0 ] || return 0
    [ -z "${NO_INSTALL:-}" ] || die "missing: ${need[*]}"
    log "installing ${need[*]}"
    before=$(pgrep -x 'unbound|nsd' || true)
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
    after=$(pgrep -x 'unbound|nsd' || true)
    for p in $after; do
        if ! grep -qx "$p" <<<"$before"; then
            log "stopping $(cat /proc/"$p"/comm 2>/dev/null) (pid $p) started by the install"
            kill "$p" 2>/dev/null || true
        fi
    done
}
install_packages

# ---- temp dir, namespace, cleanup -------------------------------------------------------
T=$(mktemp -d /tmp/sixgate-dns64-bench-run.XXXXXX)
chmod 755 "$T"
NS=sixgate-bench-$$
NS_MADE=""
cleanup() {
    local t
    for t in "${!PID[@]}"; do stop "$t"; done
    if [ -n "$NS_MADE" ]; then
        # Anything still in the namespace was started here (nothing else knows its name).
        local p left
        left=$(ip netns pids "$NS" 2>/dev/null || true)
        for p in $left; do kill "$p" 2>/dev/null || true; done
        [ -z "$left" ] || sleep 0.5
        for p in $left; do kill -9 "$p" 2>/dev/null || true; done
        ip netns del "$NS" 2>/dev/null || true
    fi
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$NS" || die "ip netns add $NS failed"
NS_MADE=1
ip -n "$NS" link set lo up
nsx() { ip netns exec "$NS" "$@"; }
# Nothing but loopback in there: no route can lead out.
[ "$(ip -n "$NS" -o link show | wc -l)" = 1 ] || die "namespace $NS has more than lo"

# ---- zone, configs, query files ---------------------------------------------------------
mkdir -p "$T/nsd" "$T/unbound" "$T/q"
cat >"$T/nsd/bench.test.zone" <<'EOF'
$ORIGIN bench.test.
$TTL 3600
@       SOA   ns.bench.test. hostmaster.bench.test. 1 3600 900 604800 3600
@       NS    ns
ns      A     127.0.0.1
www     A     192.0.2.10
dual    A     192.0.2.11
dual    AAAA  2001:db8::11
*.v4    A     192.0.2.1
EOF

cat >"$T/nsd/nsd.conf" <<EOF
server:
    ip-address: 127.0.0.1@$NSD_PORT
    do-ip6: no
    server-count: 1
    username: ""
    chroot: ""
    zonesdir: "$T/nsd"
    database: ""
    zonelistfile: "$T/nsd/zone.list"
    xfrdfile: "$T/nsd/xfrd.state"
    xfrdir: "$T/nsd"
    pidfile: "$T/nsd/nsd.pid"
    logfile: "$T/nsd/nsd.log"
    verbosity: 0
    hide-version: yes
    # Debian builds NSD with response rate limiting, 200 qps per source by default.
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: bench.test.
    zonefile: "$T/nsd/bench.test.zone"
EOF

cat >"$T/unbound/unbound.conf" <<EOF
server:
    interface: 127.0.0.1@${PORT[unbound]}
    port: ${PORT[unbound]}
    do-ip6: no
    num-threads: 1
    chroot: ""
    username: ""
    directory: "$T/unbound"
    pidfile: "$T/unbound/unbound.pid"
    use-syslog: no
    logfile: ""
    # 0: errors only (1 adds a latency histogram at exit, to stderr)
    verbosity: 0
    module-config: "dns64 iterator"
    dns64-prefix: $PREFIX
    msg-cache-size: 256m
    rrset-cache-size: 256m
    qname-minimisation: no
    do-not-query-localhost: no
    # No way out: "." refuses; bench.test (also under Unbound's default "test." zone)
    # goes to the forward-zone below.
    local-zone: "." refuse
    local-zone: "bench.test." transparent
forward-zone:
    name: "bench.test."
    forward-addr: 127.0.0.1@$NSD_PORT
remote-control:
    control-enable: no
EOF
unbound-checkconf "$T/unbound/unbound.conf" >/dev/null || die "unbound.conf does not check"

LAT_NAMES=$((LAT_QPS * LAT_SECS))
python3 "$BENCH/dns64_helper.py" gen "$T/q" "$HIT_NAMES" "$MISS_NAMES" "$LAT_NAMES" $$

# ---- start / stop servers ---------------------------------------------------------------------
wait_port() { # port pid
    local i
    for i in $(seq 100); do
        kill -0 "$2" 2>/dev/null || return 1
        if nsx ss -Hlun "( sport = :$1 )" | grep -q .; then return 0; fi
        sleep 0.1
    done
    return 1
}

launch() { # name cpu port cmd...
    local t=$1 cpu=$2 port=$3
    shift 3
    if nsx ss -Hlun "( sport = :$port )" | grep -q .; then
        die "$t: port $port is already taken in $NS (a previous instance still running?)"
    fi
    log "starting $t: $*"
    # ip netns exec and taskset exec the command: $! is the server's own PID (no function
    # here: a backgrounded function would be a subshell with the server as its child).
    ip netns exec "$NS" taskset -c "$cpu" "$@" >>"$T/$t.out" 2>&1 &
    PID[$t]=$!
    if ! wait_port "$port" "${PID[$t]}"; then
        NOTE[$t]="failed to start: $(tail -c 300 "$T/$t.out" | tr '\n|' '  ')"
        kill "${PID[$t]}" 2>/dev/null || true
        unset "PID[$t]"
        log "$t: ${NOTE[$t]}"
        return 1
    fi
}

stop() { # name: SIGTERM, wait for it to go
    local t=$1 p=${PID[$1]:-} i
    [ -n "$p" ] || return 0
    kill "$p" 2>/dev/null || true
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    unset "PID[$t]"
}

sixgate_built() { [ -x "$SIXGATE" ] && "$SIXGATE" dns64 --help >/dev/null 2>&1; }
# (The help text is read once: `--help | grep -q` could fail under pipefail when grep quits
# before the writer is done.)
SIX_HELP=$("$SIXGATE" dns64 --help 2>/dev/null || true)
sixgate_has() { grep -q -- "$1" <<<"$SIX_HELP"; }

start_nsd() {
    launch nsd $LOAD_CPU $NSD_PORT nsd -d -c "$T/nsd/nsd.conf"
}
SIX_ARGS=()
start_sixgate() {
    launch sixgate $SERVER_CPU "${PORT[sixgate]}" env RUST_LOG=warn \
        "$SIXGATE" dns64 --listen "127.0.0.1:${PORT[sixgate]}" --upstream "127.0.0.1:$NSD_PORT" \
        --prefix "$PREFIX" "${SIX_ARGS[@]}"
}
start_unbound() {
    launch unbound $SERVER_CPU "${PORT[unbound]}" unbound -d -c "$T/unbound/unbound.conf"
}

check_answers() { # server: IPv4-only names get 64:ff9b::..., a dual-stack one its own AAAA
    local t=$1 v4 wild dual
    q() { nsx dig +short +tries=1 +time=3 -p "${PORT[$t]}" @127.0.0.1 "$1" AAAA 2>&1 || true; }
    v4=$(q www.bench.test) wild=$(q check.v4.bench.test) dual=$(q dual.bench.test)
    if [ "$v4" != 64:ff9b::c000:20a ] || [ "$wild" != 64:ff9b::c000:201 ] ||
        [ "$dual" != 2001:db8::11 ]; then
        log "$t answers wrongly: www.bench.test AAAA -> '$v4', check.v4.bench.test AAAA ->" \
            "'$wild', dual.bench.test AAAA -> '$dual'"
        return 1
    fi
    CHECKED[$t]="check.v4.bench.test AAAA $wild, www.bench.test AAAA $v4, dual.bench.test AAAA $dual"
}
declare -A CHECKED=()

start_nsd || die "nsd did not start: ${NOTE[nsd]}"
a=$(nsx dig +short +tries=1 +time=3 -p $NSD_PORT @127.0.0.1 x.v4.bench.test A || true)
[ "$a" = 192.0.2.1 ] || die "nsd does not answer x.v4.bench.test A (got '$a')"

RAW=$T/raw.tsv
: >"$RAW"
ACTIVE=()
for t in $SERVERS; do
    if [ "$t" = sixgate ]; then
        if ! sixgate_built; then
            NOTE[$t]="sixgate: not built ($SIXGATE dns64 --help failed)"
            log "${NOTE[$t]}"
            printf '%s\tnote\t%s\n' "$t" "${NOTE[$t]}" >>"$RAW"
            continue
        fi
        if sixgate_has --workers; then SIX_ARGS+=(--workers 1); fi
        if sixgate_has --allow-non-global; then SIX_ARGS+=(--allow-non-global); fi
        if sixgate_has --cache-size; then
            SIX_ARGS+=(--cache-size "$CACHE_SIZE")
        else
            printf '%s\tnote\t%s\n' "$t" "this sixgate has no --cache-size: no cache, every query goes upstream" >>"$RAW"
        fi
    fi
    if start_$t && check_answers "$t"; then ACTIVE+=("$t"); fi
    stop "$t" || true
    if [ -z "${CHECKED[$t]:-}" ]; then
        printf '%s\tnote\t%s\n' "$t" "${NOTE[$t]:-wrong answers (see log)}" >>"$RAW"
    fi
done
[ ${#ACTIVE[@]} -gt 0 ] || die "no server to measure"

# ---- measurement helpers ------------------------------------------------------------------------
tree() { # pid: the pid and all its descendants (NSD's server is the main process's grandchild)
    local k
    echo "$1"
    for k in $(cat /proc/"$1"/task/*/children 2>/dev/null || true); do tree "$k"; done
}
cpu_ticks() { # pid [tree]: utime+stime of the process (all threads), with "tree" its descendants'
    local p procs total=0 f
    [ -n "${1:-}" ] || { echo -; return; }
    procs=$1
    [ -z "${2:-}" ] || procs=$(tree "$1")
    for p in $procs; do
        f=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null) || continue
        set -- $f
        total=$((total + ${12} + ${13}))
    done
    echo $total
}
rss_kb() { awk '/^VmRSS:/ {print $2}' /proc/"$1"/status 2>/dev/null || echo -; }
sys_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

# dnsperf runs under `sh -c` that prints its child's CPU ticks (cutime+cstime) at the end.
LOADWRAP='"$@"; rc=$?; read -r s </proc/$$/stat; set -- ${s##*) }; echo "CHILDTICKS $((${14} + ${15}))"; exit $rc'

dnsperf_run() { # server outfile dnsperf-args...: runs dnsperf against the server, on LOAD_CPU
    local t=$1 f=$2
    shift 2
    timeout 300 ip netns exec "$NS" taskset -c $LOAD_CPU sh -c "$LOADWRAP" sh \
        dnsperf -s 127.0.0.1 -p "${PORT[$t]}" -q "$OUTSTANDING" -t 5 \
        -O suppress=timeouts,unexpected,congestion,sockready "$@" >"$f" 2>&1 || true
}

run_load() { # server mix dnsperf-args...: one measured load, appended to RAW
    local t=$1 mix=$2 pid=${PID[$1]} f=$T/dnsperf-$1-$2.txt
    shift 2
    local c0 n0 s0 r0 c1 n1 s1 r1 gen ticks foreign parsed
    c0=$(cpu_ticks "$pid") n0=$(cpu_ticks "${PID[nsd]}" tree) s0=$(sys_busy) r0=$(rss_kb "$pid")
    dnsperf_run "$t" "$f" "$@"
    c1=$(cpu_ticks "$pid") n1=$(cpu_ticks "${PID[nsd]}" tree) s1=$(sys_busy) r1=$(rss_kb "$pid")
    gen=$(awk '/^CHILDTICKS/ {print $2}' "$f")
    ticks=$((c1 - c0))
    foreign=$((s1 - s0 - ticks - (n1 - n0) - ${gen:-0}))
    parsed=$(python3 "$BENCH/dns64_helper.py" dnsperf "$f")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$mix" "$parsed" "$ticks" "$foreign" "$r0" "$r1" \
        >>"$RAW"
    # completed noerror lost secs qps avg sd
    read -r -a P <<<"$parsed"
    log "$t $mix: ${P[1]} NOERROR of ${P[0]} completed (${P[2]} lost) in ${P[3]}s = ${P[4]} q/s," \
        "avg ${P[5]}s; server ticks $ticks, foreign $foreign, RSS ${r0} -> ${r1} kB"
    if [ "${P[0]}" = 0 ]; then log "$t $mix: dnsperf said: $(tail -c 600 "$f")"; fi
}

run_lat() { # server mix file [dnsperf-args...]: paced run, every response's latency
    local t=$1 mix=$2 file=$3 f=$T/lat-$1-$2.txt out
    shift 3
    dnsperf_run "$t" "$f" -v -Q "$LAT_QPS" -l "$LAT_SECS" -d "$file" "$@"
    out=$(python3 "$BENCH/dns64_helper.py" lat "$f")
    printf '%s\tlat-%s\t%s\n' "$t" "$mix" "$(tr ' ' '\t' <<<"$out")" >>"$RAW"
    log "$t paced $mix at $LAT_QPS q/s: responses timeouts p50 p90 p99 max (µs): $out"
}

# ---- run -----------------------------------------------------------------------------------------
n=${#ACTIVE[@]}
for r in $(seq "$ROUNDS"); do
    log "round $r/$ROUNDS"
    for i in $(seq 0 $((n - 1))); do
        t=${ACTIVE[$(((i + r - 1) % n))]}
        start_$t || die "$t did not restart"
        check_answers "$t" || die "$t answers wrongly"
        # Warm-up: every hit name once (not recorded), so the hit load only sees cached names.
        dnsperf_run "$t" "$T/warm.txt" -n 1 -d "$T/q/hit.txt"
        sleep 0.5
        run_load "$t" hit -l "$DURATION" -d "$T/q/hit.txt"
        sleep 0.5
        run_load "$t" miss -n 1 -l "$MISS_LIMIT" -d "$T/q/miss.txt"
        sleep 0.5
        run_lat "$t" hit "$T/q/lathit.txt"
        run_lat "$t" miss "$T/q/latmiss.txt" -n 1
        stop "$t"
        sleep 1
    done
done

# ---- report -------------------------------------------------------------------------------------
{
    echo "## sixgate dns64 vs Unbound dns64 ($(date -u +%F), $(nproc --all) CPUs, $(uname -r))"
    echo
    echo "Loopback in a private network namespace; both forward to NSD (bench.test, \`*.v4.bench.test A 192.0.2.1\`, TTL 3600, no AAAA) and synthesise under $PREFIX."
    echo "Servers pinned to CPU $SERVER_CPU (one worker/thread), dnsperf and NSD to CPU $LOAD_CPU. dnsperf -q $OUTSTANDING, UDP, no EDNS."
    echo "hit: $HIT_NAMES names, warmed once, then asked round and round for ${DURATION}s. miss: $MISS_NAMES unique names, each asked once (at most ${MISS_LIMIT}s). Paced: dnsperf -v -Q $LAT_QPS for ${LAT_SECS}s over the hit set, then over fresh names."
    echo "Each round starts each server afresh; $STAT of the undisturbed of $ROUNDS rounds (others on the machine used < $FOREIGN_MAX CPU during the load; all rounds if none was). CPU = the server's utime+stime per NOERROR answer. RSS = VmRSS growth over the miss load per answered name."
    six="not built"
    if sixgate_built; then
        six="$("$SIXGATE" --version 2>/dev/null | head -1) \`dns64 ${SIX_ARGS[*]}\`"
    fi
    echo "Versions: $six; Unbound $(unbound -V 2>/dev/null | awk '/^Version/ {print $2; exit}'); NSD $(nsd -v 2>&1 | head -1 | awk '{print $3}'); dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ {print $2; exit}')."
    for t in "${ACTIVE[@]}"; do echo "Check ($t): ${CHECKED[$t]:-}."; done
    echo
    python3 "$BENCH/dns64_helper.py" report "$RAW" "$CLK_TCK" $SERVERS
} | tee "$OUT"
cp "$RAW" "${OUT%.md}.raw.tsv"
for t in "${ACTIVE[@]}"; do
    [ -s "$T/$t.out" ] || continue
    log "$t wrote to stdout/stderr ($(wc -l <"$T/$t.out") lines), last: $(tail -n 3 "$T/$t.out")"
done
log "report written to $OUT (raw: ${OUT%.md}.raw.tsv)"
