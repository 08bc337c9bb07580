#!/usr/bin/env bash
# Side-by-side benchmark: `sixgate proxy` against HAProxy (mode tcp + req_ssl_sni), nginx
# stream (ssl_preread) and sniproxy, all routing by SNI to the same TLS backend (nginx) on
# loopback, plus the backend reached directly as the reference.
#
# Usage (from the repo root, as root, after `cargo build --release`):
#     servers/bench/proxy.sh
# Environment:
#     OUT=/tmp/sixgate-proxy-bench.md   where the markdown report is written (also printed;
#                     the raw measurements go next to it as .raw.tsv)
#     SIXGATE=target/release/sixgate    the binary to test ("sixgate: not built" if it has no
#                     `proxy` subcommand; the peers are measured anyway)
#     ROUNDS=5        rounds of the three loads, interleaved over the targets, each round
#                     starting one target later
#     STAT=median     median (or best: highest rate, lowest CPU) of the undisturbed rounds
#     FOREIGN_MAX=0.1 a load is "disturbed" when other processes on the machine used more
#                     than this share of one CPU during it (see below)
#     DURATION=5      seconds per wrk load
#     CONNS=50        wrk connections for the connection and keep-alive loads
#     BULK_MB=256     size of the bulk file, fetched BULK_FETCHES times per round
#     BULK_FETCHES=4
#     IDLE=5000       idle connections for the RSS figures
#     TICKETS=on      off: the backend issues no session tickets, so every new connection is a
#                     full handshake (default: wrk resumes TLS 1.3 sessions, as browsers do)
#     PORT_BASE=18440 backend on [::1]:PORT_BASE, proxies on 127.0.0.1:PORT_BASE+1..7
#     TARGETS="direct sixgate haproxy nginx sniproxy"   optional variants: sixgate-buffer,
#                     sixgate-splice (`--copier buffer|splice`; plain sixgate runs its default),
#                     haproxy-splice (HAProxy with `option splice-auto`)
#     NO_INSTALL=1    do not apt-get install missing packages
#
# Packages (nginx, libnginx-mod-stream, haproxy, sniproxy, wrk, openssl, curl) are installed
# with apt-get if missing, under a policy-rc.d that keeps their services from starting. Every
# server is started here, in a temp dir with its own config, and stopped by PID on exit.
#
# CPU placement (the machine this was written on has 2 cores): every proxy runs under
# `taskset -c 1` with one worker/thread (HAProxy nbthread 1, nginx worker_processes 1,
# sniproxy is single-threaded, sixgate --workers 1 when it has the flag); the load generator
# (wrk/curl) and the backend (one nginx worker) run on core 0. So a proxy never competes with
# the load for its core, and the direct row is the same client and backend with no proxy.
# On 2 cores the proxy is often not the bottleneck: the rates say how much the extra hop
# costs end to end, the CPU figures what the proxy itself spends.
#
# Figures:
#   rates      new TLS connections/s (wrk, `Connection: close`: a new TCP connection and TLS
#              handshake with the backend per request), keep-alive requests/s (wrk),
#              bulk MB/s (curl fetching a BULK_MB file BULK_FETCHES times over one
#              connection; MB = 1e6 bytes); each also divided by the direct backend's rate.
#              SNI: wrk takes it from the URL, so it runs in a private mount namespace with
#              a hosts file naming bench.example.test bind-mounted over /etc/hosts (nothing
#              outside that process changes); curl uses --resolve.
#   CPU        utime+stime of the proxy's processes (/proc/PID/stat; nginx: master + worker)
#              over each load, divided by connections, requests or GB (1e9 bytes) moved.
#   RSS        VmRSS growth per 1,000 connections while IDLE are held open, on a freshly
#              started proxy: "in hello" = each sent the first 43 bytes of a ClientHello and
#              waits (hello/preread/inspect timeouts are 60 s everywhere; sniproxy has none);
#              "established" = a TLS handshake with the backend completed through the proxy,
#              then silence. "held" says how many were still open when RSS was read.
#   Disturbance: the whole machine's busy time (/proc/stat) minus what the proxy, the
#              backend and the load generator used is someone else's (a compile, another
#              VM's steal); loads where that exceeds FOREIGN_MAX of a CPU are left out when
#              any undisturbed round exists ("undisturbed runs" column: conn/keep-alive/bulk).
# The 256 MiB file is sparse (truncate); nginx reads it from the page cache.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BENCH=$ROOT/servers/bench
OUT=${OUT:-/tmp/sixgate-proxy-bench.md}
SIXGATE=${SIXGATE:-$ROOT/target/release/sixgate}
ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-5}
CONNS=${CONNS:-50}
BULK_MB=${BULK_MB:-256}
BULK_FETCHES=${BULK_FETCHES:-4}
IDLE=${IDLE:-5000}
PORT_BASE=${PORT_BASE:-18440}
TARGETS=${TARGETS:-"direct sixgate haproxy nginx sniproxy"}
NAME=bench.example.test
CLK_TCK=$(getconf CLK_TCK)
LOAD_CPU=0
PROXY_CPU=1
[ "$(nproc --all)" -ge 2 ] || { LOAD_CPU=0; PROXY_CPU=0; echo "warning: one CPU; no pinning split" >&2; }

BACKEND_PORT=$PORT_BASE
declare -A PORT=([direct]=$PORT_BASE [sixgate]=$((PORT_BASE + 1)) [haproxy]=$((PORT_BASE + 2))
    [nginx]=$((PORT_BASE + 3)) [sniproxy]=$((PORT_BASE + 4)) [sixgate-splice]=$((PORT_BASE + 5))
    [sixgate-buffer]=$((PORT_BASE + 6)) [haproxy-splice]=$((PORT_BASE + 7)))
declare -A PID=()

log() { printf '%s %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (apt-get, unshare -m for wrk's private /etc/hosts)"

# ---- packages -------------------------------------------------------------------------
install_packages() {
    local need=()
    command -v nginx >/dev/null || need+=(nginx)
    [ -e /usr/lib/nginx/modules/ngx_stream_module.so ] || need+=(libnginx-mod-stream)
    command -v haproxy >/dev/null || need+=(haproxy)
    command -v sniproxy >/dev/null || need+=(sniproxy)
    command -v wrk >/dev/null || need+=(wrk)
    command -v openssl >/dev/null || need+=(openssl)
    command -v curl >/dev/null || need+=(curl)
    command -v taskset >/dev/null || need+=(util-linux)
    [ ${#need[@]} -gt 0 ] || return 0
    [ -z "${NO_INSTALL:-}" ] || die "missing: ${need[*]}"
    log "installing ${need[*]}"
    # Keep the packages from starting their system services: a policy-rc.d that says no,
    # restored (or removed) afterwards.
    local prc=/usr/sbin/policy-rc.d saved=""
    if [ -e $prc ]; then saved=$(mktemp); cp -p $prc "$saved"; fi
    printf '#!/bin/sh\nexit 101\n' >$prc && chmod 755 $prc
    local rc=0
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"; } \
        >&2 || rc=$?
    if [ -n "$saved" ]; then cp -p "$saved" $prc; rm -f "$saved"; else rm -f $prc; fi
    [ $rc = 0 ] || die "apt-get failed"
}
install_packages

# ---- temp dir, cleanup ----------------------------------------------------------------
T=$(mktemp -d /tmp/sixgate-proxy-bench-run.XXXXXX)
chmod 755 "$T"
cleanup() {
    local t
    for t in "${!PID[@]}"; do stop "$t"; done
    rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

for p in "${PORT[@]}"; do
    ! ss -Hltn "( sport = :$p )" | grep -q . || die "port $p is in use (set PORT_BASE)"
done

# ---- certificate, content, hosts files ---------------------------------------------------
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=$NAME" -addext "subjectAltName=DNS:$NAME" \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2>/dev/null
mkdir -p "$T/www"
echo ok >"$T/www/small"
truncate -s "${BULK_MB}M" "$T/www/big"
chmod -R a+rX "$T/www"
# wrk takes the SNI from the URL's host and has no --resolve: it runs in a private mount
# namespace with one of these bind-mounted over /etc/hosts (nothing outside changes).
echo "127.0.0.1 $NAME" >"$T/hosts4"
echo "::1 $NAME" >"$T/hosts6"

# ---- configs ------------------------------------------------------------------------------
mkdir -p "$T/backend" "$T/nginx" "$T/haproxy" "$T/sniproxy" "$T/sixgate"

cat >"$T/backend/nginx.conf" <<EOF
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $T/backend/nginx.pid;
error_log $T/backend/error.log warn;
events { worker_connections 20000; }
http {
    access_log off;
    client_body_temp_path $T/backend/body;
    proxy_temp_path $T/backend/proxy;
    fastcgi_temp_path $T/backend/fastcgi;
    uwsgi_temp_path $T/backend/uwsgi;
    scgi_temp_path $T/backend/scgi;
    default_type text/plain;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    server {
        listen [::1]:$BACKEND_PORT ssl;
        server_name $NAME;
        ssl_certificate $T/cert.pem;
        ssl_certificate_key $T/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_tickets ${TICKETS:-on};
        root $T/www;
        location = / { return 200 "ok\n"; }
        location = /big { }
    }
}
EOF

cat >"$T/nginx/nginx.conf" <<EOF
load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes 1;
worker_rlimit_nofile 20000;
daemon off;
pid $T/nginx/nginx.pid;
error_log $T/nginx/error.log warn;
events { worker_connections 20000; }
stream {
    map \$ssl_preread_server_name \$backend {
        $NAME [::1]:$BACKEND_PORT;
        default unix:$T/nginx/nowhere.sock;
    }
    server {
        listen 127.0.0.1:${PORT[nginx]};
        ssl_preread on;
        preread_timeout 60s;
        proxy_connect_timeout 5s;
        proxy_timeout 5m;
        proxy_pass \$backend;
    }
}
EOF

haproxy_cfg() { # target [extra defaults line]
    cat <<EOF
global
    nbthread 1
    maxconn 7000
defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m
    ${2:-}
frontend tls
    bind 127.0.0.1:${PORT[$1]}
    tcp-request inspect-delay 60s
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend bench if { req_ssl_sni -i $NAME }
backend bench
    server backend ipv6@::1:$BACKEND_PORT
EOF
}
haproxy_cfg haproxy >"$T/haproxy/haproxy.cfg"
haproxy_cfg haproxy-splice "option splice-auto" >"$T/haproxy/haproxy-splice.cfg"

cat >"$T/sniproxy/sniproxy.conf" <<EOF
pidfile $T/sniproxy/sniproxy.pid
error_log {
    filename $T/sniproxy/error.log
    priority warning
}
listener 127.0.0.1:${PORT[sniproxy]} {
    protocol tls
    table bench
}
table bench {
    ^bench\\\\.example\\\\.test\$ [::1]:$BACKEND_PORT
}
EOF

# ---- start / stop servers ----------------------------------------------------------------------
wait_port() { # port pid
    local i
    for i in $(seq 100); do
        kill -0 "$2" 2>/dev/null || return 1
        if ss -Hltn "( sport = :$1 )" | grep -q .; then return 0; fi
        sleep 0.1
    done
    return 1
}

declare -A NOTE=()
launch() { # target cpu port cmd...
    local t=$1 cpu=$2 port=$3
    shift 3
    log "starting $t: $*"
    taskset -c "$cpu" "$@" >>"$T/$t.out" 2>&1 &
    PID[$t]=$!
    if ! wait_port "$port" "${PID[$t]}"; then
        NOTE[$t]="failed to start: $(tail -c 300 "$T/$t.out" | tr '\n|' '  ')"
        kill "${PID[$t]}" 2>/dev/null || true
        unset "PID[$t]"
        log "$t: ${NOTE[$t]}"
        return 1
    fi
}

stop() { # target: SIGTERM, wait for it (and nginx's workers) to go
    local t=$1 p=${PID[$1]:-} i
    [ -n "$p" ] || return 0
    kill "$p" 2>/dev/null || true   # nginx's master stops its workers before it exits
    for i in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
    unset "PID[$t]"
}

sixgate_built() { [ -x "$SIXGATE" ] && "$SIXGATE" proxy --help >/dev/null 2>&1; }

start_backend() {
    launch backend $LOAD_CPU "$BACKEND_PORT" nginx -p "$T/backend" -e "$T/backend/error.log" \
        -c "$T/backend/nginx.conf"
}
sixgate_has() { "$SIXGATE" proxy --help 2>/dev/null | grep -q -- "$1"; }
start_sixgate() { # [target] [extra args]: also sixgate-splice
    local t=${1:-sixgate}
    shift || true
    local extra=("$@")
    # One worker thread, like the peers (also implied by the CPU affinity).
    if sixgate_has --workers; then extra+=(--workers 1); fi
    # RUST_LOG=warn: no per-connection log line (the peers log nothing per connection).
    launch "$t" $PROXY_CPU "${PORT[$t]}" env RUST_LOG=warn \
        "$SIXGATE" proxy --tls-listen "127.0.0.1:${PORT[$t]}" \
        --route "$NAME=[::1]:$BACKEND_PORT" \
        --max-connections 200000 --max-connections-per-client 200000 --hello-timeout 60s \
        "${extra[@]}"
}
start_sixgate-splice() { start_sixgate sixgate-splice --copier splice; }
start_sixgate-buffer() { start_sixgate sixgate-buffer --copier buffer; }
start_haproxy() {
    launch haproxy $PROXY_CPU "${PORT[haproxy]}" haproxy -db -f "$T/haproxy/haproxy.cfg"
}
start_haproxy-splice() {
    launch haproxy-splice $PROXY_CPU "${PORT[haproxy-splice]}" haproxy -db \
        -f "$T/haproxy/haproxy-splice.cfg"
}
start_nginx() {
    launch nginx $PROXY_CPU "${PORT[nginx]}" nginx -p "$T/nginx" -e "$T/nginx/error.log" \
        -c "$T/nginx/nginx.conf"
}
start_sniproxy() {
    launch sniproxy $PROXY_CPU "${PORT[sniproxy]}" sniproxy -f -n 20000 -c "$T/sniproxy/sniproxy.conf"
}

start_backend || die "backend did not start"

want() { [[ " $TARGETS " == *" $1 "* ]]; }
PROXIES=()
for t in sixgate sixgate-splice sixgate-buffer haproxy haproxy-splice nginx sniproxy; do
    want $t || continue
    if [[ $t == sixgate* ]] && ! sixgate_built; then
        NOTE[$t]="sixgate: not built"
        log "sixgate: not built ($SIXGATE proxy --help failed)"
        continue
    fi
    if [[ $t == sixgate-* ]] && ! sixgate_has --copier; then
        NOTE[$t]="sixgate has no --copier"
        continue
    fi
    # A first start to check the config; the idle tests restart each proxy anyway.
    if start_$t; then PROXIES+=("$t"); stop $t; fi
done

# ---- measurement helpers ------------------------------------------------------------------------
RAW=$T/raw.tsv
: >"$RAW"
for t in $TARGETS; do
    [ -z "${NOTE[$t]:-}" ] || printf '%s\tnote\t%s\n' "$t" "${NOTE[$t]}" >>"$RAW"
done

cpu_ticks() { # pid: utime+stime of the process and its direct children
    local p kids total=0 f
    [ -n "${1:-}" ] || { echo -; return; }
    kids=$(cat /proc/"$1"/task/*/children 2>/dev/null || true)
    for p in $1 $kids; do
        f=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null) || continue
        set -- $f
        total=$((total + ${12} + ${13}))
    done
    echo $total
}

target_pid() { [ "$1" = direct ] && echo "" || echo "${PID[$1]:-}"; }
hosts_for() { [ "$1" = direct ] && echo "$T/hosts6" || echo "$T/hosts4"; }

# Busy ticks of the whole machine (user nice system irq softirq steal, all CPUs). What the
# proxy, the backend and the load generator did not use of it was someone else's work (a
# compile, another VM): "foreign" ticks, recorded with each measurement so the report can
# leave out the disturbed ones.
sys_busy() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }

# Runs "$@" (the load generator) through sh, which then prints its waited-for children's
# CPU ticks (cutime+cstime) as "CHILDTICKS n": the load generator's own CPU time.
LOADWRAP='"$@"; rc=$?; read -r s </proc/$$/stat; set -- ${s##*) }; echo "CHILDTICKS $((${14} + ${15}))"; exit $rc'

measure_start() { # pid
    M_C0=$(cpu_ticks "$1") M_B0=$(cpu_ticks "${PID[backend]}") M_S0=$(sys_busy)
}
measure_end() { # pid output -> sets M_TICKS (proxy) and M_FOREIGN
    local c1 b1 s1 gen
    c1=$(cpu_ticks "$1") b1=$(cpu_ticks "${PID[backend]}") s1=$(sys_busy)
    gen=$(awk '/^CHILDTICKS/ {print $2}' <<<"$2")
    M_TICKS=-
    [ -z "$1" ] || M_TICKS=$((c1 - M_C0))
    M_FOREIGN=$((s1 - M_S0 - (b1 - M_B0) - ${gen:-0}))
    [ -z "$1" ] || M_FOREIGN=$((M_FOREIGN - M_TICKS))
}

run_wrk() { # target kind extra-args...
    local t=$1 kind=$2 pid out reqs secs errs
    shift 2
    pid=$(target_pid "$t")
    measure_start "$pid"
    out=$(timeout $((DURATION + 20)) unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
        "$(hosts_for "$t")" taskset -c "$LOAD_CPU" sh -c "$LOADWRAP" sh \
        wrk -t 1 -c "$CONNS" -d "${DURATION}s" --timeout 5s "$@" \
        "https://$NAME:${PORT[$t]}/" 2>&1) || true
    measure_end "$pid" "$out"
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    secs=$(awk '/requests in/ {sub(/s,$/, "", $4); print $4}' <<<"$out")
    errs=$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10} /Non-2xx/ {print $NF}' \
        <<<"$out" | awk '{s += $1} END {print s + 0}')
    if [ -z "$reqs" ]; then
        log "$t $kind: wrk failed: $out"
        reqs=0 secs=0
    fi
    printf '%s\t%s\t%s\t%s\t%s\t0\t%s\t%s\n' "$t" "$kind" "$reqs" "$secs" "$M_TICKS" "$errs" \
        "$M_FOREIGN" >>"$RAW"
    log "$t $kind: $reqs in ${secs}s, cpu ticks $M_TICKS, errors $errs, foreign ticks $M_FOREIGN"
}

run_bulk() { # target
    local t=$1 pid out urls=() i addr bytes=0 secs errs=0
    pid=$(target_pid "$t")
    [ "$t" = direct ] && addr="[::1]" || addr=127.0.0.1
    for i in $(seq "$BULK_FETCHES"); do urls+=(-o /dev/null "https://$NAME:${PORT[$t]}/big"); done
    measure_start "$pid"
    out=$(taskset -c $LOAD_CPU sh -c "$LOADWRAP" sh curl -sS --cacert "$T/cert.pem" --max-time 120 \
        --resolve "$NAME:${PORT[$t]}:$addr" -w 'SIZE_TIME %{size_download} %{time_total}\n' \
        "${urls[@]}" 2>&1) || errs=1
    measure_end "$pid" "$out"
    bytes=$(awk '/^SIZE_TIME/ {s += $2} END {print s + 0}' <<<"$out")
    secs=$(awk '/^SIZE_TIME/ {s += $3} END {print s + 0}' <<<"$out")
    [ "$bytes" = $((BULK_FETCHES * BULK_MB * 1048576)) ] || { errs=1; log "$t bulk: $out"; }
    printf '%s\tbulk\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$BULK_FETCHES" "$secs" "$M_TICKS" "$bytes" \
        "$errs" "$M_FOREIGN" >>"$RAW"
    log "$t bulk: $bytes bytes in ${secs}s, cpu ticks $M_TICKS, foreign ticks $M_FOREIGN"
}

run_idle() { # target mode
    local t=$1 mode=$2 out
    out=$(taskset -c $LOAD_CPU timeout 180 python3 "$BENCH/proxy_helper.py" idle --port "${PORT[$t]}" \
        --pid "${PID[$t]}" --count "$IDLE" --settle 3 --mode "$mode" --cafile "$T/cert.pem" \
        --name "$NAME")
    printf '%s\tidle-%s\t%s\n' "$t" "$mode" "$(tr ' ' '\t' <<<"$out")" >>"$RAW"
    log "$t idle ($mode): rss before/after kB, opened, still open: $out"
}

check_forwards() { # target
    local t=$1 addr body
    [ "$t" = direct ] && addr="[::1]" || addr=127.0.0.1
    if ! body=$(curl -sS --max-time 5 --cacert "$T/cert.pem" --resolve "$NAME:${PORT[$t]}:$addr" \
        "https://$NAME:${PORT[$t]}/" 2>&1) || [ "$body" != ok ]; then
        die "$t does not forward: $body"
    fi
}

if [ -n "${PAUSE:-}" ]; then # debugging: keep the servers up for PAUSE seconds, measure nothing
    for t in "${PROXIES[@]}"; do start_$t; done
    log "servers up in $T: ${PID[*]}; ports ${PORT[*]}"
    sleep "$PAUSE" &
    wait $!
    exit 0
fi

# ---- run ---------------------------------------------------------------------------------------
# Idle connections first, each kind on a freshly started proxy (before any load grows its heap).
for mode in partial established; do
    for t in "${PROXIES[@]}"; do
        start_$t || die "$t did not restart"
        check_forwards "$t"
        run_idle "$t" "$mode"
        stop "$t"
    done
done

for t in "${PROXIES[@]}"; do start_$t || die "$t did not restart"; done
ACTIVE=()
for t in $TARGETS; do
    if [ "$t" = direct ] || [ -n "${PID[$t]:-}" ]; then ACTIVE+=("$t"); fi
done
for t in "${ACTIVE[@]}"; do check_forwards "$t"; done

# Warm-up (not recorded): one short pass of each load through each target.
log "warm-up"
for t in "${ACTIVE[@]}"; do
    RAW=/dev/null DURATION=1 run_wrk "$t" conn -H 'Connection: close'
    RAW=/dev/null DURATION=1 run_wrk "$t" ka
    RAW=/dev/null BULK_FETCHES=1 run_bulk "$t"
done
sleep 1

# Each round starts one target later, so no target always runs first or right after another.
n=${#ACTIVE[@]}
for r in $(seq "$ROUNDS"); do
    log "round $r/$ROUNDS"
    for i in $(seq 0 $((n - 1))); do
        t=${ACTIVE[$(((i + r - 1) % n))]}
        run_wrk "$t" conn -H 'Connection: close'
        sleep 1
        run_wrk "$t" ka
        run_bulk "$t"
    done
done

# ---- report -------------------------------------------------------------------------------------
{
    echo "## sixgate proxy vs peers ($(date -u +%F), $(nproc --all) CPUs, $(uname -r))"
    echo
    echo "Loopback; SNI routing of $NAME to one nginx TLS backend on [::1]:$BACKEND_PORT."
    echo "Proxies pinned to CPU $PROXY_CPU (one worker/thread), wrk/curl and backend to CPU $LOAD_CPU."
    echo "wrk -t1 -c$CONNS -d${DURATION}s (new connections: \`Connection: close\`, TLS 1.3, session tickets ${TICKETS:-on}); bulk = ${BULK_FETCHES}x ${BULK_MB} MiB over one connection (curl)."
    echo "Rates and CPU: ${STAT:-median} of the undisturbed of $ROUNDS rounds (others on the machine used < ${FOREIGN_MAX:-0.1} CPU during the load; all rounds if none was). CPU = the proxy's utime+stime per connection, request or GB (1e9 bytes)."
    echo "Idle: $IDLE connections, each on a fresh proxy process; RSS growth per 1,000 connections that sent a partial ClientHello (in hello) or completed a TLS handshake through the proxy (established); held = still open when RSS was read."
    six=""
    sixgate_built && six=", $("$SIXGATE" --version 2>/dev/null | head -1)"
    echo "Versions: $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3), $(nginx -v 2>&1 | cut -d' ' -f3), sniproxy $(dpkg-query -W -f='${Version}' sniproxy 2>/dev/null)$six."
    echo
    python3 "$BENCH/proxy_helper.py" report "$RAW" "$CLK_TCK" $TARGETS
} | tee "$OUT"
cp "$RAW" "${OUT%.md}.raw.tsv"
for t in "${ACTIVE[@]}"; do
    [ "$t" != direct ] && [ -s "$T/$t.out" ] || continue
    log "$t wrote to stdout/stderr ($(wc -l <"$T/$t.out") lines), last: $(tail -n 3 "$T/$t.out")"
done
log "report written to $OUT (raw: ${OUT%.md}.raw.tsv)"
