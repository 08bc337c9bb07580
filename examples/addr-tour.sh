#!/usr/bin/env bash
# A short tour of `sixgate addr`, with documentation addresses only.
# Run it with `make run`, or SIXGATE=/path/to/sixgate examples/addr-tour.sh.
set -euo pipefail
sixgate=${SIXGATE:-sixgate}
run() { printf '\n$ sixgate %s\n' "$*"; "$sixgate" "$@"; }

# RFC 6052 §2.4: 192.0.2.33 under each prefix length.
for p in 2001:db8::/32 2001:db8:100::/40 2001:db8:122::/48 2001:db8:122:300::/56 \
         2001:db8:122:344::/64 2001:db8:122:344::/96; do
  run addr synth --prefix "$p" 192.0.2.33
done
# The well-known prefix refuses non-global IPv4 (RFC 6052 §3.1) unless told.
run addr synth 192.0.2.33 || true
run addr synth --allow-non-global 192.0.2.33 198.51.100.7
run addr extract --prefix 2001:db8:122:344::/64 2001:db8:122:344:c0:2:2100:0
# Who is this? A v4-mapped log entry and a NAT64 address both fold to IPv4.
run addr normalize --nat64-prefix 64:ff9b::/96 ::ffff:203.0.113.5 64:ff9b::cb00:7105 2001:db8::10
run addr ptr 2001:db8::10 203.0.113.5
run addr reverse-zones 2001:db8:1230::/46 198.51.100.0/23
# Each program wants an address written its own way.
for style in hostport url nginx haproxy apache sshd bind nsd known-hosts; do
  run addr fmt --style "$style" --port 2222 2001:db8::10
done
run addr fmt --style munin-allow 203.0.113.5
run addr fmt --style munin-cidr 2001:db8::/64
run addr discover --json 64:ff9b::c000:aa 64:ff9b::c000:ab
