#!/usr/bin/env python3
"""Writes core/testdata/vectors.json.

Every expected value here is written by hand from the RFC text or the
program's documentation; PTR names are cross-checked against Python's own
`ipaddress.reverse_pointer`, an implementation independent of ours. Run it
again after editing: `python3 core/testdata/gen/make_vectors.py`.
"""
import ipaddress
import json
import pathlib

def ptr(a):
    return ipaddress.ip_address(a).reverse_pointer + "."

rfc6052 = {
    # RFC 6052 §2.4, Table 1, verbatim ("ipv6_rfc"), with the RFC 5952 text.
    "embed": [
        {"prefix": "2001:db8::/32", "ipv4": "192.0.2.33", "ipv6_rfc": "2001:db8:c000:221::", "ipv6": "2001:db8:c000:221::"},
        {"prefix": "2001:db8:100::/40", "ipv4": "192.0.2.33", "ipv6_rfc": "2001:db8:1c0:2:21::", "ipv6": "2001:db8:1c0:2:21::"},
        {"prefix": "2001:db8:122::/48", "ipv4": "192.0.2.33", "ipv6_rfc": "2001:db8:122:c000:2:2100::", "ipv6": "2001:db8:122:c000:2:2100::"},
        {"prefix": "2001:db8:122:300::/56", "ipv4": "192.0.2.33", "ipv6_rfc": "2001:db8:122:3c0:0:221::", "ipv6": "2001:db8:122:3c0:0:221::"},
        {"prefix": "2001:db8:122:344::/64", "ipv4": "192.0.2.33", "ipv6_rfc": "2001:db8:122:344:c0:2:2100:0", "ipv6": "2001:db8:122:344:c0:2:2100:0"},
        {"prefix": "2001:db8:122:344::/96", "ipv4": "192.0.2.33", "ipv6_rfc": "2001:db8:122:344::192.0.2.33", "ipv6": "2001:db8:122:344::c000:221"},
        {"prefix": "64:ff9b::/96", "ipv4": "192.0.2.33", "ipv6_rfc": "64:ff9b::192.0.2.33", "ipv6": "64:ff9b::c000:221"},
        # Beyond the table: the RFC 8215 local-use block as a /48, a /64 of
        # the well-known network, the all-ones and all-zeros IPv4 addresses.
        {"prefix": "64:ff9b:1::/48", "ipv4": "203.0.113.5", "ipv6_rfc": "64:ff9b:1:cb00:71:500::", "ipv6": "64:ff9b:1:cb00:71:500::"},
        {"prefix": "64:ff9b::/64", "ipv4": "192.0.2.33", "ipv6_rfc": "64:ff9b::c0:2:2100:0", "ipv6": "64:ff9b::c0:2:2100:0"},
        {"prefix": "2001:db8::/32", "ipv4": "255.255.255.255", "ipv6_rfc": "2001:db8:ffff:ffff::", "ipv6": "2001:db8:ffff:ffff::"},
        {"prefix": "2001:db8:100::/40", "ipv4": "255.255.255.255", "ipv6_rfc": "2001:db8:1ff:ffff:ff::", "ipv6": "2001:db8:1ff:ffff:ff::"},
        {"prefix": "2001:db8:122:300::/56", "ipv4": "0.0.0.0", "ipv6_rfc": "2001:db8:122:300::", "ipv6": "2001:db8:122:300::"},
        {"prefix": "2001:db8:0:0:1::/96", "ipv4": "198.51.100.7", "ipv6_rfc": "2001:db8::1:0:c633:6407", "ipv6": "2001:db8::1:0:c633:6407"},
    ],
    # Prefixes RFC 6052 §2.2 refuses, with the kind of error.
    "bad_prefixes": [
        {"prefix": "2001:db8::/44", "error": "length"},
        {"prefix": "2001:db8::/128", "error": "length"},
        {"prefix": "2001:db8::/0", "error": "length"},
        {"prefix": "2001:db8::1/96", "error": "host_bits"},
        {"prefix": "2001:db8:1::/32", "error": "host_bits"},
        {"prefix": "2001:db8:0:0:ff00::/96", "error": "u_octet"},
        {"prefix": "64:ff9b::", "error": "syntax"},
        {"prefix": "64:ff9b::/abc", "error": "syntax"},
        {"prefix": "192.0.2.0/24", "error": "syntax"},
        {"prefix": "64:ff9b::/96 ", "error": "syntax"},
        {"prefix": "", "error": "syntax"},
    ],
    "extract_errors": [
        {"prefix": "64:ff9b::/96", "ipv6": "2001:db8::1", "error": "outside_prefix"},
        {"prefix": "64:ff9b::/96", "ipv6": "64:ff9b:0:0:1::c000:221", "error": "outside_prefix"},
        {"prefix": "2001:db8:122:344::/64", "ipv6": "2001:db8:122:344:1c0:2:2100:0", "error": "u_octet"},
        {"prefix": "2001:db8::/32", "ipv6": "2001:db8:c000:221:100::", "error": "u_octet"},
    ],
    # RFC 6052 §3.1: refused under 64:ff9b::/96 with these range names.
    "non_global": [
        {"ipv4": "10.1.2.3", "range": "10.0.0.0/8", "name": "private-use"},
        {"ipv4": "172.16.0.1", "range": "172.16.0.0/12", "name": "private-use"},
        {"ipv4": "192.168.100.1", "range": "192.168.0.0/16", "name": "private-use"},
        {"ipv4": "100.100.1.1", "range": "100.64.0.0/10", "name": "shared address space"},
        {"ipv4": "127.0.0.1", "range": "127.0.0.0/8", "name": "loopback"},
        {"ipv4": "169.254.169.254", "range": "169.254.0.0/16", "name": "link-local"},
        {"ipv4": "0.0.0.0", "range": "0.0.0.0/8", "name": "\"this network\""},
        {"ipv4": "192.0.0.170", "range": "192.0.0.0/24", "name": "IETF protocol assignments"},
        {"ipv4": "192.0.2.33", "range": "192.0.2.0/24", "name": "documentation (TEST-NET-1)"},
        {"ipv4": "198.51.100.7", "range": "198.51.100.0/24", "name": "documentation (TEST-NET-2)"},
        {"ipv4": "203.0.113.5", "range": "203.0.113.0/24", "name": "documentation (TEST-NET-3)"},
        {"ipv4": "198.18.0.1", "range": "198.18.0.0/15", "name": "benchmarking"},
        {"ipv4": "239.1.1.1", "range": "224.0.0.0/4", "name": "multicast"},
        {"ipv4": "255.255.255.255", "range": "255.255.255.255/32", "name": "limited broadcast"},
        {"ipv4": "240.0.0.1", "range": "240.0.0.0/4", "name": "reserved"},
    ],
    # Global: allowed under the well-known prefix.
    "global": ["131.111.150.25", "192.0.0.9", "192.0.0.10", "172.32.0.1", "100.128.0.1", "1.1.1.1", "223.255.255.255"],
    "discover": [
        {"answers": ["64:ff9b::c000:aa", "64:ff9b::c000:ab"], "prefixes": ["64:ff9b::/96"]},
        {"answers": ["2001:db8:122:344:c0:0:aa00:0"], "prefixes": ["2001:db8:122:344::/64"]},
        {"answers": ["2001:db8:c000:aa::", "2001:db8:c000:ab::"], "prefixes": ["2001:db8::/32"]},
        {"answers": ["2001:db8:100:c000:0:ab00::"], "prefixes": ["2001:db8:100::/48"]},
        {"answers": ["2001:db8:1c0:0:aa::"], "prefixes": ["2001:db8:100::/40"]},
        {"answers": ["2001:db8:122:3c0:0:aa::"], "prefixes": ["2001:db8:122:300::/56"]},
        {"answers": ["2001:db8::1", "64:ff9b::c000:aa", "2001:db8:64::c000:ab"], "prefixes": ["64:ff9b::/96", "2001:db8:64::/96"]},
        {"answers": ["2001:db8::1"], "error": "not_discovered"},
    ],
}

text = {
    # RFC 5952 §4 (and §5 for IPv4-mapped), with IPv4 unchanged.
    "canonical": [
        {"input": "2001:0db8::0001", "output": "2001:db8::1"},
        {"input": "2001:db8:0:0:0:0:2:1", "output": "2001:db8::2:1"},
        {"input": "2001:db8:0:1:1:1:1:1", "output": "2001:db8:0:1:1:1:1:1"},
        {"input": "2001:0:0:1:0:0:0:1", "output": "2001:0:0:1::1"},
        {"input": "2001:db8:0:0:1:0:0:1", "output": "2001:db8::1:0:0:1"},
        {"input": "2001:DB8::AAAA", "output": "2001:db8::aaaa"},
        {"input": "0:0:0:0:0:0:0:1", "output": "::1"},
        {"input": "::", "output": "::"},
        {"input": "::ffff:192.0.2.1", "output": "::ffff:192.0.2.1"},
        {"input": "::FFFF:C000:0201", "output": "::ffff:192.0.2.1"},
        {"input": "64:ff9b::192.0.2.33", "output": "64:ff9b::c000:221"},
        {"input": "192.0.2.1", "output": "192.0.2.1"},
    ],
    "bad_addresses": ["", "192.0.2", "192.0.2.256", "01.2.3.4", "2001:db8::g", "2001:db8:::1", "[2001:db8::1]", " 192.0.2.1", "2001:db8::1/64"],
    "host_port": [
        {"address": "2001:db8::1", "port": 443, "output": "[2001:db8::1]:443"},
        {"address": "192.0.2.1", "port": 80, "output": "192.0.2.1:80"},
        {"address": "::ffff:192.0.2.1", "port": 22, "output": "[::ffff:192.0.2.1]:22"},
    ],
    # RFC 6874: the zone's % is written %25 in a URL.
    "url_host": [
        {"address": "2001:db8::1", "output": "[2001:db8::1]"},
        {"address": "fe80::1%eth0", "output": "[fe80::1%25eth0]"},
        {"address": "fe80::1%vlan.10", "output": "[fe80::1%25vlan.10]"},
        {"address": "fe80::1%eth0:1", "output": "[fe80::1%25eth0%3A1]"},
        {"address": "192.0.2.1", "output": "192.0.2.1"},
    ],
    "ptr": [{"address": a, "ptr": ptr(a)} for a in [
        "192.0.2.33", "203.0.113.5", "0.0.0.0", "2001:db8::1", "2001:db8:122:344::c000:221", "::", "::ffff:192.0.2.1"]],
    "reverse_zones": [
        {"prefix": "2001:db8::/32", "zones": ["8.b.d.0.1.0.0.2.ip6.arpa."]},
        {"prefix": "2001:db8::/30", "zones": ["8.b.d.0.1.0.0.2.ip6.arpa.", "9.b.d.0.1.0.0.2.ip6.arpa.", "a.b.d.0.1.0.0.2.ip6.arpa.", "b.b.d.0.1.0.0.2.ip6.arpa."]},
        {"prefix": "2001:db8:1234::/48", "zones": ["4.3.2.1.8.b.d.0.1.0.0.2.ip6.arpa."]},
        {"prefix": "2001:db8:1230::/46", "zones": ["0.3.2.1.8.b.d.0.1.0.0.2.ip6.arpa.", "1.3.2.1.8.b.d.0.1.0.0.2.ip6.arpa.", "2.3.2.1.8.b.d.0.1.0.0.2.ip6.arpa.", "3.3.2.1.8.b.d.0.1.0.0.2.ip6.arpa."]},
        {"prefix": "2001:db8:abcd:12::/63", "zones": ["2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.ip6.arpa.", "3.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.ip6.arpa."]},
        {"prefix": "2001:db8::/33", "zones": [f"{n:x}.8.b.d.0.1.0.0.2.ip6.arpa." for n in range(8)]},
        {"prefix": "::/0", "zones": ["ip6.arpa."]},
        {"prefix": "2001:db8::1/128", "zones": [ptr("2001:db8::1")]},
        {"prefix": "192.0.2.0/24", "zones": ["2.0.192.in-addr.arpa."]},
        {"prefix": "10.0.0.0/8", "zones": ["10.in-addr.arpa."]},
        {"prefix": "198.18.0.0/15", "zones": ["18.198.in-addr.arpa.", "19.198.in-addr.arpa."]},
        {"prefix": "192.0.2.0/30", "zones": [f"{n}.2.0.192.in-addr.arpa." for n in range(4)]},
        {"prefix": "192.0.2.128/25", "zones": [f"{n}.2.0.192.in-addr.arpa." for n in range(128, 256)]},
        {"prefix": "0.0.0.0/0", "zones": ["in-addr.arpa."]},
        {"prefix": "203.0.113.5/32", "zones": ["5.113.0.203.in-addr.arpa."]},
    ],
    "bad_prefixes": ["192.0.2.1/24", "2001:db8::1/64", "192.0.2.0", "192.0.2.0/33", "2001:db8::/129", "nope/8"],
    # munin-node matches `allow` regexes against the peer's address text,
    # which may or may not carry ::ffff: for an IPv4 client.
    "munin_allow": [
        {"address": "192.0.2.1", "line": "allow ^(::ffff:)?192\\.0\\.2\\.1$"},
        {"address": "::ffff:192.0.2.1", "line": "allow ^(::ffff:)?192\\.0\\.2\\.1$"},
        {"address": "2001:db8::1", "line": "allow ^2001:db8::1$"},
        {"address": "2001:DB8:0::10", "line": "allow ^2001:db8::10$"},
    ],
    "munin_cidr": [
        {"input": "192.0.2.1", "line": "cidr_allow 192.0.2.1/32"},
        {"input": "192.0.2.0/24", "line": "cidr_allow 192.0.2.0/24"},
        {"input": "2001:db8::/64", "line": "cidr_allow 2001:db8::/64"},
        {"input": "2001:db8::1", "line": "cidr_allow 2001:db8::1/128"},
        {"input": "::ffff:192.0.2.1", "line": "cidr_allow 192.0.2.1/32"},
    ],
    "normalize": [
        {"address": "::ffff:192.0.2.1", "nat64_prefixes": [], "output": "192.0.2.1"},
        {"address": "64:ff9b::c000:221", "nat64_prefixes": ["64:ff9b::/96"], "output": "192.0.2.33"},
        {"address": "64:ff9b::c000:221", "nat64_prefixes": [], "output": "64:ff9b::c000:221"},
        {"address": "::1", "nat64_prefixes": ["64:ff9b::/96"], "output": "::1"},
        {"address": "::", "nat64_prefixes": [], "output": "::"},
        {"address": "::192.0.2.1", "nat64_prefixes": [], "output": "::c000:201"},
        {"address": "2001:db8:122:344:c0:2:2100:0", "nat64_prefixes": ["64:ff9b::/96", "2001:db8:122:344::/64"], "output": "192.0.2.33"},
        {"address": "2001:db8:122:344:1c0:2:2100:0", "nat64_prefixes": ["2001:db8:122:344::/64"], "output": "2001:db8:122:344:1c0:2:2100:0"},
        {"address": "2001:DB8::1", "nat64_prefixes": ["64:ff9b::/96"], "output": "2001:db8::1"},
        {"address": "192.0.2.1", "nat64_prefixes": ["64:ff9b::/96"], "output": "192.0.2.1"},
    ],
    # What each program's config wants. "port": null means no port given.
    "fmt": [
        {"style": "hostport", "address": "2001:db8::1", "port": 443, "output": "[2001:db8::1]:443"},
        {"style": "hostport", "address": "192.0.2.1", "port": 443, "output": "192.0.2.1:443"},
        {"style": "hostport", "address": "fe80::1%eth0", "port": 22, "output": "[fe80::1%eth0]:22"},
        {"style": "hostport", "address": "2001:db8::1", "port": None, "error": "port_required"},
        {"style": "url", "address": "2001:db8::1", "port": None, "output": "[2001:db8::1]"},
        {"style": "url", "address": "fe80::1%eth0", "port": 8080, "output": "[fe80::1%25eth0]:8080"},
        {"style": "url", "address": "192.0.2.1", "port": 8080, "output": "192.0.2.1:8080"},
        {"style": "nginx", "address": "2001:db8::1", "port": 443, "output": "[2001:db8::1]:443"},
        {"style": "nginx", "address": "2001:db8::1", "port": None, "output": "[2001:db8::1]"},
        {"style": "nginx", "address": "192.0.2.1", "port": 80, "output": "192.0.2.1:80"},
        {"style": "haproxy", "address": "2001:db8::1", "port": 443, "output": "[2001:db8::1]:443"},
        {"style": "haproxy", "address": "2001:db8::1", "port": None, "output": "[2001:db8::1]"},
        {"style": "haproxy", "address": "192.0.2.1", "port": None, "output": "192.0.2.1"},
        {"style": "haproxy", "address": "192.0.2.1", "port": 443, "output": "192.0.2.1:443"},
        {"style": "apache", "address": "2001:db8::1", "port": 80, "output": "[2001:db8::1]:80"},
        {"style": "apache", "address": "2001:db8::1", "port": None, "output": "[2001:db8::1]"},
        {"style": "sshd", "address": "::1", "port": None, "output": "::1"},
        {"style": "sshd", "address": "::1", "port": 2222, "output": "[::1]:2222"},
        {"style": "sshd", "address": "192.0.2.1", "port": 2222, "output": "192.0.2.1:2222"},
        {"style": "bind", "address": "2001:db8::53", "port": None, "output": "2001:db8::53"},
        {"style": "bind", "address": "2001:db8::53", "port": 5353, "output": "2001:db8::53 port 5353"},
        {"style": "bind", "address": "192.0.2.53", "port": 5353, "output": "192.0.2.53 port 5353"},
        {"style": "nsd", "address": "2001:db8::53", "port": 5353, "output": "2001:db8::53@5353"},
        {"style": "nsd", "address": "2001:db8::53", "port": None, "output": "2001:db8::53"},
        {"style": "known-hosts", "address": "2001:db8::22", "port": None, "output": "2001:db8::22"},
        {"style": "known-hosts", "address": "2001:db8::22", "port": 22, "output": "2001:db8::22"},
        {"style": "known-hosts", "address": "2001:db8::22", "port": 2222, "output": "[2001:db8::22]:2222"},
        {"style": "known-hosts", "address": "192.0.2.1", "port": 2222, "output": "[192.0.2.1]:2222"},
        {"style": "munin-allow", "address": "192.0.2.1", "port": None, "output": "allow ^(::ffff:)?192\\.0\\.2\\.1$"},
        {"style": "munin-allow", "address": "192.0.2.1", "port": 4949, "error": "port_not_allowed"},
        {"style": "munin-cidr", "address": "2001:db8::/64", "port": None, "output": "cidr_allow 2001:db8::/64"},
        {"style": "nginx", "address": "2001:db8::/64", "port": None, "error": "prefix_not_allowed"},
        {"style": "nginx", "address": "fe80::1%eth0", "port": None, "error": "zone"},
        {"style": "nginx", "address": "2001:db8::zz", "port": None, "error": "addr"},
        {"style": "squid", "address": "2001:db8::1", "port": None, "error": "style"},
    ],
}

out = {
    "_comment": "Shared test vectors for sixgate: read by the Rust, Python, Node and Perl tests. "
                "Written by core/testdata/gen/make_vectors.py from the RFCs; do not edit by hand.",
    "rfc6052": rfc6052,
    "text": text,
}
path = pathlib.Path(__file__).resolve().parent.parent / "vectors.json"
path.write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
print(f"wrote {path}")
