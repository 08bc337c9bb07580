#!/usr/bin/env bash
# Side-by-side benchmark: `sixgate proxy` against HAProxy (mode tcp + req_ssl_sni), nginx
# stream (ssl_preread) and sniproxy, all routing by SNI to the same TLS backend (nginx) on
# loopback, plus the backend reached directly as the reference.
#
# Usage (from the repo root, as root, after `cargo build --release`):
#     servers/bench/proxy.sh
# Environment:
#     OUT=/tmp/sixgate-proxy-bench.md   where the markdown report is written (also printed)
#     SIXGATE=target/release/sixgate    the binary to test
#     ROUNDS=3        rounds of the three loads (interleaved over targets; medians reported)
#     DURATION=5      seconds per wrk load
#     CONNS=50        wrk connections for the connection and keep-alive loads
#     BULK_MB=256     size of the bulk file, fetched BULK_FETCHES times per round
#     BULK_FETCHES=4
#     IDLE=5000       idle connections for the RSS figure
#     PORT_BASE=18440 backend on [::1]:PORT_BASE, proxies on 127.0.0.1:PORT_BASE+1..4
#     TARGETS="direct sixgate haproxy nginx sniproxy"
#     NO_INSTALL=1    do not apt-get install missing packages
#
# CPU placement (the machine this was written on has 2 cores): every proxy runs under
# `taskset -c 1` with one worker/thread where it can be set (HAProxy nbthread 1, nginx
# worker_processes 1, sniproxy is single-threaded, sixgate sizes its runtime from its CPU
# affinity); the load generator (wrk/curl) and the backend run on core 0. The direct row
# therefore has the same client+backend core and no proxy at all.
#
# Figures:
#   rates      new TLS connections/s (wrk, `Connection: close`, a full TLS handshake with the
#              backend each time), keep-alive requests/s (wrk), bulk MB/s (curl fetching a
#              BULK_MB file BULK_FETCHES times over one connection; MB = 1e6 bytes);
#              each also divided by the direct backend's rate.
#   CPU        utime+stime of the proxy's processes (/proc/PID/stat; nginx: master + worker)
#              over each load, divided by requests, connections or GB (1e9 bytes) moved.
#   RSS        VmRSS growth while IDLE connections are held open, each having sent the first
#              bytes of a ClientHello (so every proxy is waiting for the rest of the hello),
#              per 1,000 connections. Hello/inspect timeouts are 60 s everywhere, and the
#              report says how many connections were still open when RSS was read.
# The 256 MiB file is sparse (truncate); nginx reads it from the page cache.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT=$PWD
BENCH=$ROOT/servers/bench
OUT=${OUT:-/tmp/sixgate-proxy-bench.md}
SIXGATE=${SIXGATE:-$ROOT/target/release/sixgate}
ROUNDS=${ROUNDS:-3}
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
    [nginx]=$((PORT_BASE + 3)) [sniproxy]=$((PORT_BASE + 4)))
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
T=$(mktemp -d /tmp/sixgate-proxy-bench.XXXXXX)
chmod 755 "$T"
cleanup() {
    local p
    for p in "${PID[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    sleep 0.5
    for p in "${PID[@]}"; do
        kill -9 "$p" 2>/dev/null || true
    done
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

cat >"$T/haproxy/haproxy.cfg" <<EOF
global
    nbthread 1
    maxconn 9000
defaults
    mode tcp
    timeout connect 5s
    timeout client 5m
    timeout server 5m
frontend tls
    bind 127.0.0.1:${PORT[haproxy]}
    tcp-request inspect-delay 60s
    tcp-request content accept if { req_ssl_hello_type 1 }
    use_backend bench if { req_ssl_sni -i $NAME }
backend bench
    server backend ipv6@::1:$BACKEND_PORT
EOF

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
    kill "$p" 2>/dev/null || true
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
start_sixgate() {
    # RUST_LOG=warn: no per-connection log line (the peers log nothing per connection).
    launch sixgate $PROXY_CPU "${PORT[sixgate]}" env RUST_LOG=warn \
        "$SIXGATE" proxy --tls-listen "127.0.0.1:${PORT[sixgate]}" \
        --route "$NAME=[::1]:$BACKEND_PORT" \
        --max-connections 200000 --max-connections-per-client 200000 --hello-timeout 60s
}
start_haproxy() {
    launch haproxy $PROXY_CPU "${PORT[haproxy]}" haproxy -db -f "$T/haproxy/haproxy.cfg"
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
for t in sixgate haproxy nginx sniproxy; do
    want $t || continue
    if [ $t = sixgate ] && ! sixgate_built; then
        NOTE[sixgate]="sixgate: not built"
        log "sixgate: not built ($SIXGATE proxy --help failed)"
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

run_wrk() { # target kind extra-args...
    local t=$1 kind=$2 pid c0 c1 out reqs secs errs
    shift 2
    pid=$(target_pid "$t")
    c0=$(cpu_ticks "$pid")
    out=$(timeout $((DURATION + 20)) unshare -m sh -c 'mount --bind "$0" /etc/hosts && exec "$@"' \
        "$(hosts_for "$t")" taskset -c "$LOAD_CPU" \
        wrk -t 1 -c "$CONNS" -d "${DURATION}s" --timeout 5s "$@" \
        "https://$NAME:${PORT[$t]}/" 2>&1) || true
    c1=$(cpu_ticks "$pid")
    reqs=$(awk '/requests in/ {print $1}' <<<"$out")
    secs=$(awk '/requests in/ {sub(/s,$/, "", $4); print $4}' <<<"$out")
    errs=$(awk '/Socket errors/ {gsub(/,/, ""); print $4 + $6 + $8 + $10} /Non-2xx/ {print $NF}' \
        <<<"$out" | awk '{s += $1} END {print s + 0}')
    if [ -z "$reqs" ]; then
        log "$t $kind: wrk failed: $out"
        reqs=0 secs=0
    fi
    local ticks=-
    [ -z "$pid" ] || ticks=$((c1 - c0))
    printf '%s\t%s\t%s\t%s\t%s\t0\t%s\n' "$t" "$kind" "$reqs" "$secs" "$ticks" "$errs" >>"$RAW"
    log "$t $kind: $reqs in ${secs}s, cpu ticks $ticks, errors $errs"
}

run_bulk() { # target
    local t=$1 pid c0 c1 out urls=() i addr bytes=0 secs errs=0
    pid=$(target_pid "$t")
    [ "$t" = direct ] && addr="[::1]" || addr=127.0.0.1
    for i in $(seq "$BULK_FETCHES"); do urls+=(-o /dev/null "https://$NAME:${PORT[$t]}/big"); done
    c0=$(cpu_ticks "$pid")
    out=$(taskset -c $LOAD_CPU curl -sS --cacert "$T/cert.pem" --max-time 120 \
        --resolve "$NAME:${PORT[$t]}:$addr" -w '%{size_download} %{time_total}\n' "${urls[@]}" 2>&1) \
        || errs=1
    c1=$(cpu_ticks "$pid")
    bytes=$(awk 'NF == 2 {s += $1} END {print s + 0}' <<<"$out")
    secs=$(awk 'NF == 2 {s += $2} END {print s + 0}' <<<"$out")
    [ "$bytes" = $((BULK_FETCHES * BULK_MB * 1048576)) ] || { errs=1; log "$t bulk: $out"; }
    local ticks=-
    [ -z "$pid" ] || ticks=$((c1 - c0))
    printf '%s\tbulk\t%s\t%s\t%s\t%s\t%s\n' "$t" "$BULK_FETCHES" "$secs" "$ticks" "$bytes" "$errs" >>"$RAW"
    log "$t bulk: $bytes bytes in ${secs}s, cpu ticks $ticks"
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

for r in $(seq "$ROUNDS"); do
    log "round $r/$ROUNDS"
    for t in "${ACTIVE[@]}"; do
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
    echo "Median of $ROUNDS rounds; wrk -t1 -c$CONNS -d${DURATION}s; bulk = ${BULK_FETCHES}x ${BULK_MB} MiB over one connection (curl)."
    echo "Idle: $IDLE connections, each on a fresh proxy process; RSS growth per 1,000 connections that sent a partial ClientHello (in hello) or completed a TLS handshake through the proxy (established); held = still open when RSS was read."
    six=""
    sixgate_built && six=", $("$SIXGATE" --version 2>/dev/null | head -1)"
    echo "Versions: $(haproxy -v 2>/dev/null | head -1 | cut -d' ' -f1-3), $(nginx -v 2>&1 | cut -d' ' -f3), sniproxy $(dpkg-query -W -f='${Version}' sniproxy 2>/dev/null)$six."
    echo
    python3 "$BENCH/proxy_helper.py" report "$RAW" "$CLK_TCK" $TARGETS
} | tee "$OUT"
cp "$RAW" "${OUT%.md}.raw.tsv"
log "report written to $OUT (raw: ${OUT%.md}.raw.tsv)"
