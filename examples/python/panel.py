#!/usr/bin/env python3
"""A hosting panel's day, with sixgate: give a customer a /64 from the
address plan, write the munin-node access lines and the reverse zone for it,
and find which host a log line's address belongs to, even when the log shows
an IPv4-mapped or NAT64 address.

Run it after building the package (bindings-python/run-tests.sh does both):

    python examples/python/panel.py [OUTPUT_DIR]

Files go to OUTPUT_DIR (default: a fresh temporary directory), the address
plan to OUTPUT_DIR/plan.json (made on first use; `sixgate plan --file
OUTPUT_DIR/plan.json show` reads it), and a summary to stdout.
"""

from __future__ import annotations

import ipaddress
import sys
import tempfile
import time
from pathlib import Path

import sixgate

# The provider's NAT64 prefix: IPv6-only hosts reach IPv4 through it, and
# IPv4 clients' addresses show up under it in the hosts' own logs.
NAT64 = sixgate.Nat64Prefix("64:ff9b::/96")

# The monitoring servers allowed to poll munin-node on every host: one
# IPv6, one IPv4 (seen as ::ffff:… on a dual-stack socket) and a subnet.
MONITORS = ["2001:db8:ffff::10", "198.51.100.10"]
MONITOR_NETS = ["2001:db8:ffff:1::/64"]

# The block customers' /64s come from, in the panel's address plan.
CUSTOMER_BLOCK = "2001:db8:100::/48"


def allocate_customer_prefix(plan_path: Path, customer: str) -> ipaddress.IPv6Network:
    """The customer's /64 from the address plan in `plan_path`: the /64 it
    holds already, else a new one from the customer block (first-fit).

    The plan file is the one `sixgate plan --file PLAN_PATH` reads and
    writes; it is created on first use with the customer block as a pool of
    /64s. Changes go through `sixgate.edit_plan`, which holds the same
    writer lock as `sixgate plan`, so other panels and the CLI can allocate
    at the same time. Time is wall-clock (`time.time()`): the plan outlives
    this process.
    """
    if not plan_path.exists():
        plan = sixgate.Plan()
        plan.add_pool(CUSTOMER_BLOCK, child_len=64, name="customers")
        plan.save(plan_path)
    with sixgate.edit_plan(plan_path) as plan:
        for held in plan.held_by(customer):
            if isinstance(held.prefix, ipaddress.IPv6Network) and held.prefix.prefixlen == 64:
                return held.prefix
        net = plan.alloc("customers", customer=customer, tags=["panel"], now=time.time())
    assert isinstance(net, ipaddress.IPv6Network)
    return net


def munin_node_conf(monitors: list[str], monitor_nets: list[str]) -> str:
    """The access lines of munin-node.conf for the monitoring servers."""
    lines = ["# written by the panel: who may poll munin-node"]
    lines += [sixgate.munin_allow(m) for m in monitors]
    lines += [sixgate.munin_cidr_allow(n) for n in monitor_nets]
    return "\n".join(lines) + "\n"


def reverse_zone(net: ipaddress.IPv6Network, hosts: dict[str, str]) -> str:
    """A BIND zone file for the reverse zone of `net`, with PTRs for `hosts`
    (address -> name)."""
    (zone,) = sixgate.reverse_zones(net)  # a /64 is on a nibble boundary: one zone
    out = [
        f"$ORIGIN {zone}",
        "$TTL 3600",
        "@ IN SOA ns1.example.net. hostmaster.example.net. 1 7200 3600 1209600 3600",
        "@ IN NS ns1.example.net.",
    ]
    for addr, name in sorted(hosts.items()):
        out.append(f"{sixgate.ptr_name(addr)} IN PTR {name}.")
    return "\n".join(out) + "\n"


def main() -> int:
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="panel-"))
    outdir.mkdir(parents=True, exist_ok=True)

    customer = "acme"
    plan_path = outdir / "plan.json"
    net = allocate_customer_prefix(plan_path, customer)
    # The plan knows who holds it, down to the address.
    holder = sixgate.Plan.load(plan_path).lookup(net.network_address + 0x80)[-1].allocation
    assert holder is not None and holder.customer == customer
    web = net.network_address + 0x80
    mail = net.network_address + 0x25
    hosts = {str(web): "www.acme.example", str(mail): "mail.acme.example"}

    (outdir / "munin-node.conf").write_text(munin_node_conf(MONITORS, MONITOR_NETS))
    (outdir / "reverse.zone").write_text(reverse_zone(net, hosts))

    # Who is it? Every customer network and every legacy IPv4 host, in one
    # index that folds IPv4-mapped and NAT64 addresses to IPv4.
    owners = sixgate.HostIndex(nat64_prefixes=[NAT64])
    owners[net] = customer
    owners["192.0.2.0/28"] = "legacy-vps-14"
    log_lines = [
        # nginx on a dual-stack socket logs IPv4 clients as IPv4-mapped.
        '::ffff:192.0.2.9 - - [26/Nov/2025:11:20:00 +0000] "GET / HTTP/1.1" 200',
        # An IPv6-only host reached by an IPv4 host through NAT64.
        '64:ff9b::c000:20b - - [26/Nov/2025:11:20:01 +0000] "GET /x HTTP/1.1" 404',
        f'{web} - - [26/Nov/2025:11:20:02 +0000] "GET /health HTTP/1.1" 200',
        '203.0.113.50 - - [26/Nov/2025:11:20:03 +0000] "GET / HTTP/1.1" 200',
    ]
    found = []
    for line in log_lines:
        addr = line.split(" ", 1)[0]
        hit = owners.lookup(addr)
        who = f"{hit[1]} ({hit[0]})" if hit else "unknown"
        found.append(f"{sixgate.normalize(addr, nat64_prefixes=[NAT64])} -> {who}")

    assert owners.owner("::ffff:192.0.2.9") == "legacy-vps-14"
    assert owners.owner("64:ff9b::c000:20b") == "legacy-vps-14"
    assert owners.owner(str(web)) == customer
    assert owners.owner("203.0.113.50") is None

    print(f"customer {customer}: {net} (address plan {plan_path})")
    print(f"wrote {outdir / 'munin-node.conf'} and {outdir / 'reverse.zone'}")
    print((outdir / "munin-node.conf").read_text(), end="")
    print((outdir / "reverse.zone").read_text(), end="")
    print("\n".join(found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
