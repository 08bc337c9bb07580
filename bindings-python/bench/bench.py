#!/usr/bin/env python3
"""Per-call cost of sixgate's synthesize / extract / HostIndex lookups,
against a plain-Python implementation on the standard library's ipaddress.

Build the release module first, then run:

    SIXGATE_PY_RELEASE=1 bindings-python/run-tests.sh   # or: maturin develop --release
    target/py-venv/bin/python bindings-python/bench/bench.py

Both sides take the same inputs (address text, as read from a log or a
form, and ipaddress objects) and return ipaddress objects; the ratio is
pure Python's time over sixgate's.
"""

from __future__ import annotations

import ipaddress
import random
import timeit
from typing import Any, Callable

import sixgate

IPv4Address = ipaddress.IPv4Address
IPv6Address = ipaddress.IPv6Address
IPv6Network = ipaddress.IPv6Network
WKP = IPv6Network("64:ff9b::/96")

# --- the pure-Python reference ---------------------------------------------


def py_embed(prefix: IPv6Network, v4: Any) -> IPv6Address:
    """RFC 6052 §2.2 embedding for any of the six lengths."""
    v = int(IPv4Address(v4))
    n = int(prefix.network_address)
    length = prefix.prefixlen
    if length == 96:
        return IPv6Address(n | v)
    hi_bits = 64 - length  # IPv4 bits before the u-octet
    lo_bits = 32 - hi_bits
    hi = v >> lo_bits
    lo = v & ((1 << lo_bits) - 1)
    return IPv6Address(n | (hi << 64) | (lo << (56 - lo_bits)))


def py_synthesize(v4: Any, prefix: IPv6Network = WKP) -> IPv6Address:
    """Embedding with the RFC 6052 §3.1 check under the well-known prefix."""
    a = IPv4Address(v4)
    if prefix == WKP and not a.is_global:
        raise ValueError(f"{a} is not global")
    return py_embed(prefix, a)


def py_extract(v6: Any, prefix: IPv6Network = WKP) -> IPv4Address:
    a = IPv6Address(v6)
    if a not in prefix:
        raise ValueError(f"{a} is not inside {prefix}")
    x = int(a)
    length = prefix.prefixlen
    if length == 96:
        return IPv4Address(x & 0xFFFFFFFF)
    if (x >> 56) & 0xFF:
        raise ValueError("u-octet")
    hi_bits = 64 - length
    lo_bits = 32 - hi_bits
    hi = (x >> 64) & ((1 << hi_bits) - 1)
    lo = (x >> (56 - lo_bits)) & ((1 << lo_bits) - 1)
    return IPv4Address((hi << lo_bits) | lo)


class PyHostIndex:
    """Longest-prefix match: one dict per prefix length, longest first, with
    IPv4-mapped and NAT64 (/96) addresses folded to IPv4."""

    def __init__(self, nat64: IPv6Network | None = None) -> None:
        self.nat64 = nat64
        self.tables: dict[tuple[int, int], dict[int, tuple[Any, Any]]] = {}
        self.order: list[tuple[int, int]] = []

    def insert(self, net: str, owner: Any) -> None:
        n = ipaddress.ip_network(net)
        key = (n.version, n.prefixlen)
        if key not in self.tables:
            self.tables[key] = {}
            self.order = sorted(self.tables, key=lambda k: -k[1])
        self.tables[key][int(n.network_address)] = (n, owner)

    def lookup(self, addr: Any) -> tuple[Any, Any] | None:
        a = ipaddress.ip_address(addr)
        if a.version == 6:
            mapped = a.ipv4_mapped
            if mapped is not None:
                a = mapped
            elif self.nat64 is not None and a in self.nat64:
                a = IPv4Address(int(a) & 0xFFFFFFFF)
        x = int(a)
        bits = 32 if a.version == 4 else 128
        for version, plen in self.order:
            if version != a.version:
                continue
            hit = self.tables[(version, plen)].get(x >> (bits - plen) << (bits - plen))
            if hit is not None:
                return hit
        return None


# --- the runs ---------------------------------------------------------------


def per_call_ns(fn: Callable[[], Any], batch: int) -> float:
    """Best of 5 runs; each run calls `fn`, which makes `batch` calls."""
    number = 20
    best = min(timeit.repeat(fn, number=number, repeat=5))
    return best / (number * batch) * 1e9


def row(name: str, ours: float, theirs: float) -> None:
    print(f"{name:<44} {ours:9.0f} ns {theirs:9.0f} ns {theirs / ours:7.1f}x")


def main() -> None:
    rng = random.Random(6052)
    v4s = [str(IPv4Address(rng.randrange(0x01000000, 0xDF000000))) for _ in range(1000)]
    v4s = [a for a in v4s if IPv4Address(a).is_global][:500]
    v4objs = [IPv4Address(a) for a in v4s]
    nsp = IPv6Network("2001:db8:122:344::/64")
    nsp_s = sixgate.Nat64Prefix(nsp)
    v6s = [str(py_embed(WKP, a)) for a in v4s]
    v6objs = [IPv6Address(a) for a in v6s]
    v6s_nsp = [str(py_embed(nsp, a)) for a in v4s]

    # Sanity: both sides agree.
    for a, b in zip(v4s, v6s):
        assert sixgate.synthesize(a) == py_synthesize(a) == IPv6Address(b)
        assert sixgate.extract(b) == py_extract(b) == IPv4Address(a)
    for a, b in zip(v4s, v6s_nsp):
        assert nsp_s.embed(a) == py_embed(nsp, a) == IPv6Address(b)
        assert nsp_s.extract(b) == py_extract(b, nsp) == IPv4Address(a)

    n = len(v4s)
    synth, extr = sixgate.synthesize, sixgate.extract
    print(f"{'per call (best of 5)':<44} {'sixgate':>12} {'pure Python':>12} {'ratio':>8}")
    row(
        "synthesize(str) 64:ff9b::/96",
        per_call_ns(lambda: [synth(a) for a in v4s], n),
        per_call_ns(lambda: [py_synthesize(a) for a in v4s], n),
    )
    row(
        "synthesize(IPv4Address) 64:ff9b::/96",
        per_call_ns(lambda: [synth(a) for a in v4objs], n),
        per_call_ns(lambda: [py_synthesize(a) for a in v4objs], n),
    )
    row(
        "Nat64Prefix.embed(str) /64",
        per_call_ns(lambda: [nsp_s.embed(a) for a in v4s], n),
        per_call_ns(lambda: [py_embed(nsp, a) for a in v4s], n),
    )
    row(
        "extract(str) 64:ff9b::/96",
        per_call_ns(lambda: [extr(a) for a in v6s], n),
        per_call_ns(lambda: [py_extract(a) for a in v6s], n),
    )
    row(
        "extract(IPv6Address) 64:ff9b::/96",
        per_call_ns(lambda: [extr(a) for a in v6objs], n),
        per_call_ns(lambda: [py_extract(a) for a in v6objs], n),
    )
    row(
        "Nat64Prefix.extract(str) /64",
        per_call_ns(lambda: [nsp_s.extract(a) for a in v6s_nsp], n),
        per_call_ns(lambda: [py_extract(a, nsp) for a in v6s_nsp], n),
    )

    # An index of 10,000 customer networks: /48 sites, /56 and /64
    # customers, IPv4 /24s and /32s; lookups of addresses that hit, as text
    # from logs (IPv6, IPv4-mapped, NAT64) and as ipaddress objects.
    ours = sixgate.HostIndex(nat64_prefixes=[sixgate.Nat64Prefix.WELL_KNOWN])
    theirs = PyHostIndex(nat64=WKP)
    nets = []
    for i in range(2000):
        nets.append(f"2001:db8:{i:x}::/48")
        nets.append(f"2001:db8:{i:x}:{i % 256:x}00::/56")
        nets.append(f"2001:db8:{i:x}:{i % 256:x}{i % 16:x}:/64".replace(":/64", "::/64"))
        nets.append(f"10.{i // 256}.{i % 256}.0/24")
        nets.append(f"172.16.{i // 256}.{i % 256}/32")
    for i, net in enumerate(nets):
        ours.insert(net, i)
        theirs.insert(net, i)
    addrs = []
    for i in range(0, 2000, 4):
        addrs.append(f"2001:db8:{i:x}:{i % 256:x}{i % 16:x}::1")
        addrs.append(f"::ffff:10.{i // 256}.{i % 256}.9")
        addrs.append(f"64:ff9b::ac10:{i // 256:x}{i % 256:02x}")
        addrs.append(f"2001:db8:{i:x}:ffff::1")
    addr_objs = [ipaddress.ip_address(a) for a in addrs]
    for a in addrs:
        want = theirs.lookup(a)
        got = ours.lookup(a)
        assert got is not None and want is not None and got[1] == want[1], (a, got, want)
    m = len(addrs)
    row(
        f"HostIndex.lookup(str), {len(nets)} nets",
        per_call_ns(lambda: [ours.lookup(a) for a in addrs], m),
        per_call_ns(lambda: [theirs.lookup(a) for a in addrs], m),
    )
    row(
        "HostIndex.lookup(ipaddress)",
        per_call_ns(lambda: [ours.lookup(a) for a in addr_objs], m),
        per_call_ns(lambda: [theirs.lookup(a) for a in addr_objs], m),
    )
    row(
        "HostIndex.owner(str) (owner only)",
        per_call_ns(lambda: [ours.owner(a) for a in addrs], m),
        per_call_ns(lambda: [theirs.lookup(a) for a in addrs], m),
    )


if __name__ == "__main__":
    main()
