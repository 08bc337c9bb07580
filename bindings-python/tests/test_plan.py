"""sixgate.Plan: the address plan from Python, and the same plan file shared
with the `sixgate plan` command."""

import copy
import ipaddress
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import sixgate
from conftest import ROOT

T0 = 1_780_000_000  # a fixed wall-clock time, seconds since the Unix epoch
WEEK = 7 * 86_400

V6 = ipaddress.IPv6Network
V4 = ipaddress.IPv4Network


def tree() -> sixgate.Plan:
    """provider /32 (sparse /48s) → site fra1 (/64s) → customer 42's /64 (host
    /128s), and a paid IPv4 /24 beside it."""
    plan = sixgate.Plan()
    plan.add_pool("2001:db8::/32", child_len=48, strategy="sparse", name="provider")
    plan.add_pool(V4("198.51.100.0/24"), child_len=32, name="v4", hold_down=0)
    site = plan.alloc("provider", now=T0)
    plan.subdivide(site, child_len=64, name="fra1")
    cust = plan.alloc("fra1", customer="42", now=T0)
    plan.subdivide(cust, child_len=128, name="c42")
    plan.alloc("c42", customer="42", host="Web1.Example.COM.", tags=["prod"], now=T0)
    plan.alloc("v4", customer="42", host="web1.example.com", now=T0)
    return plan


# --- the tree ---------------------------------------------------------------


def test_provider_site_customer_host_tree() -> None:
    plan = tree()
    assert [(p.prefix, p.name, p.child_len, p.strategy) for p in plan.pools()] == [
        (V4("198.51.100.0/24"), "v4", 32, "first-fit"),
        (V6("2001:db8::/32"), "provider", 48, "sparse"),
        (V6("2001:db8::/48"), "fra1", 64, "first-fit"),
        (V6("2001:db8::/64"), "c42", 128, "first-fit"),
    ]
    allocs = plan.allocations()
    assert [a.prefix for a in allocs] == [
        V4("198.51.100.1/32"),  # .0 is the network address, reserved
        V6("2001:db8::/48"),
        V6("2001:db8::/64"),
        V6("2001:db8::1/128"),  # ::0 is the subnet-router anycast address
    ]
    for a in allocs:
        assert type(a.prefix) in (V4, V6)
        assert a.since == T0
    site, cust, host = allocs[1:]
    assert site.is_pool and site.pool is not None and site.pool.name == "fra1"
    assert site.customer is None and site.tags == frozenset()
    assert cust.customer == "42" and cust.is_pool
    assert host.host == "web1.example.com" and host.tags == frozenset({"prod"})
    assert not host.is_pool and host.pool is None
    assert plan.held_by("42") == [a for a in allocs if a.customer == "42"]
    assert plan.held_by("nobody") == []

    pool = plan.pool("fra1")
    assert pool == plan.pool("2001:db8::/48") == plan.pool(V6("2001:db8::/48")) == plan.pool(pool)
    u = pool.usage
    assert (u.child_len, u.total, u.allocated, u.reserved, u.held, u.free) == (
        64,
        65536,
        1,
        0,
        0,
        65535,
    )
    c42 = plan.pool("c42").usage
    assert c42.total == 2**64 and c42.reserved == 1 + 128  # anycast ::0 and RFC 2526
    assert c42.allocated + c42.reserved + c42.held + c42.free == c42.total
    assert plan.free("fra1", limit=3) == [
        V6("2001:db8:0:1::/64"),
        V6("2001:db8:0:2::/63"),
        V6("2001:db8:0:4::/62"),
    ]
    reasons = plan.reservations("c42")
    assert [r.prefix for r in reasons] == [V6("2001:db8::/128"), V6("2001:db8::fdff:ffff:ffff:ff80/121")]
    assert all(r.automatic for r in reasons)
    assert "<Pool fra1 2001:db8::/48 of /64s" in repr(pool)


def test_a_snapshot_does_not_follow_the_plan() -> None:
    plan = tree()
    before = plan.pool("fra1")
    plan.alloc("fra1", now=T0)
    assert before.usage.allocated == 1
    assert plan.pool("fra1").usage.allocated == 2
    with pytest.raises(AttributeError):
        before.name = "x"  # type: ignore[misc]


# --- strategies -----------------------------------------------------------------


def test_sparse_first_fit_and_deterministic() -> None:
    plan = sixgate.Plan()
    plan.add_pool("2001:db8::/32", child_len=48, strategy="sparse")
    got = [plan.alloc("2001:db8::/32", now=T0) for _ in range(4)]
    assert got == [
        V6("2001:db8::/48"),
        V6("2001:db8:8000::/48"),
        V6("2001:db8:4000::/48"),
        V6("2001:db8:c000::/48"),
    ]
    plan = sixgate.Plan()
    plan.add_pool("2001:db8:100::/48", child_len=64, strategy="deterministic-decimal", name="cust")
    assert plan.pool("cust").strategy == "deterministic-decimal"
    # Like `sixgate plan alloc`: with no at/index/id, the customer id is the id.
    assert plan.alloc("cust", customer="4711", now=T0) == V6("2001:db8:100:4711::/64")
    assert plan.alloc("cust", id="12", customer="x", now=T0) == V6("2001:db8:100:12::/64")
    assert plan.slot_for_id("cust", "99") == V6("2001:db8:100:99::/64")
    with pytest.raises(sixgate.PlanError) as info:
        plan.alloc("cust", customer="4711", now=T0)
    assert info.value.kind == "id_unavailable"
    with pytest.raises(sixgate.PlanError) as info:
        plan.alloc("cust", now=T0)
    assert info.value.kind == "needs_id"
    plan.add_pool("2001:db8:200::/48", child_len=64, strategy="deterministic", name="num")
    assert plan.alloc("num", customer="10", now=T0) == V6("2001:db8:200:a::/64")
    plan.add_pool("2001:db8:300::/48", child_len=64, name="ff")
    assert plan.alloc("ff", index=5, now=T0) == V6("2001:db8:300:5::/64")
    assert plan.alloc("ff", at="2001:db8:300:9::/64", now=T0) == V6("2001:db8:300:9::/64")
    assert plan.alloc("ff", now=T0) == V6("2001:db8:300::/64")


def test_anycast_and_ipv4_specials_are_skipped() -> None:
    plan = sixgate.Plan()
    plan.add_pool("2001:db8:1:2::/64", child_len=128)
    assert plan.alloc("2001:db8:1:2::/64", now=T0) == V6("2001:db8:1:2::1/128")
    with pytest.raises(sixgate.PlanError) as info:
        plan.alloc("2001:db8:1:2::/64", index=0, now=T0)
    assert info.value.kind == "reserved"
    plan.add_pool("2001:db8:1:3::/64", child_len=128, reserve_special=False)
    assert plan.alloc("2001:db8:1:3::/64", now=T0) == V6("2001:db8:1:3::/128")
    plan.add_pool("192.0.2.0/30", child_len=32)
    assert plan.alloc("192.0.2.0/30", now=T0) == V4("192.0.2.1/32")
    assert plan.alloc("192.0.2.0/30", now=T0) == V4("192.0.2.2/32")
    with pytest.raises(sixgate.PlanError) as info:
        plan.alloc("192.0.2.0/30", now=T0)
    assert info.value.kind == "full"


# --- release, hold-down, reservations --------------------------------------------


def test_hold_down() -> None:
    plan = sixgate.Plan()
    plan.add_pool("2001:db8::/48", child_len=64, name="site")
    first = plan.alloc("site", customer="7", host="a.example", now=T0)
    (gone,) = plan.release(first, now=T0 + 10)
    assert gone.prefix == first and gone.customer == "7" and gone.host == "a.example"
    assert gone.until == T0 + 10 + WEEK
    assert plan.pool("site").usage.held == 1
    assert plan.held("site") == [(first, T0 + 10 + WEEK)]
    # Held back: the next customer gets the next /64, and asking for it fails.
    assert plan.alloc("site", now=T0 + 20) == V6("2001:db8:0:1::/64")
    with pytest.raises(sixgate.PlanError) as info:
        plan.alloc("site", at=first, now=T0 + 20)
    assert info.value.kind == "held_down"
    (step,) = plan.lookup("2001:db8::5")
    assert (step.status, step.until, step.allocation) == ("held", T0 + 10 + WEEK, None)
    # A week later it is free again (alloc expires hold-downs itself).
    assert plan.expire(now=T0 + 11) == 0
    assert plan.alloc("site", now=float(T0 + 10 + WEEK) + 0.5) == first
    plan.add_pool("2001:db8:1::/48", child_len=64, name="quick", hold_down=0)
    net = plan.alloc("quick", now=T0)
    plan.release(net, now=T0)
    assert plan.alloc("quick", now=T0) == net


def test_release_customer_takes_sub_pools_with_it() -> None:
    plan = tree()
    gone = plan.release_customer("42", now=T0 + 1)
    # Outermost first; the host /128 goes with its /64.
    assert [r.prefix for r in gone] == [
        V4("198.51.100.1/32"),
        V6("2001:db8::/64"),
        V6("2001:db8::1/128"),
    ]
    assert gone[0].until == T0 + 1  # the v4 pool has no hold-down
    assert gone[1].until == gone[2].until == T0 + 1 + WEEK
    assert plan.held_by("42") == []
    assert plan.release_customer("42", now=T0 + 2) == []
    with pytest.raises(sixgate.PlanError) as info:
        plan.release("2001:db8::/64", now=T0 + 2)
    assert info.value.kind == "not_allocated"
    # The site stays, with its /64 held.
    assert plan.pool("fra1").usage.held == 1


def test_reserve_unreserve_expire_remove_pool() -> None:
    plan = sixgate.Plan()
    plan.add_pool("2001:db8::/32", child_len=48, strategy="sparse", name="p")
    plan.reserve("p", "2001:db8::/44", reason="infrastructure")
    (step,) = plan.lookup("2001:db8:5::1")
    assert step.status == "reserved" and step.reason == "infrastructure"
    assert step.reservation is not None and step.reservation.prefix == V6("2001:db8::/44")
    assert plan.alloc("p", now=T0) == V6("2001:db8:8000::/48")
    with pytest.raises(sixgate.PlanError) as info:
        plan.reserve("p", "2001:db8::/48")
    assert info.value.kind == "overlap" and "infrastructure" in str(info.value)
    plan.unreserve("2001:db8::/44")
    with pytest.raises(sixgate.PlanError) as info:
        plan.unreserve("2001:db8::/44")
    assert info.value.kind == "not_reserved"
    with pytest.raises(sixgate.PlanError) as info:
        plan.remove_pool("2001:db8::/32")
    assert info.value.kind == "pool_in_use"
    plan.release("2001:db8:8000::/48", now=T0)
    assert plan.expire(now=T0 + WEEK) == 1
    plan.remove_pool("2001:db8::/32")
    assert plan.pools() == []


# --- lookup ---------------------------------------------------------------------


def test_lookup_path_and_v4_mapped() -> None:
    plan = tree()
    steps = plan.lookup("2001:db8::1")
    assert [(s.pool, s.pool_name, s.child, s.status) for s in steps] == [
        (V6("2001:db8::/32"), "provider", V6("2001:db8::/48"), "allocated"),
        (V6("2001:db8::/48"), "fra1", V6("2001:db8::/64"), "allocated"),
        (V6("2001:db8::/64"), "c42", V6("2001:db8::1/128"), "allocated"),
    ]
    last = steps[-1].allocation
    assert last is not None and last.host == "web1.example.com" and last.customer == "42"
    assert steps[-1].reason is None and steps[-1].until is None
    # An IPv4-mapped address (a dual-stack socket's view of an IPv4 client)
    # is looked up as the IPv4 address, as `sixgate plan lookup` does.
    for query in ("::ffff:198.51.100.1", ipaddress.IPv6Address("::ffff:198.51.100.1"), "198.51.100.1"):
        (step,) = plan.lookup(query)
        assert step.pool == V4("198.51.100.0/24") and step.child == V4("198.51.100.1/32")
        assert step.status == "allocated" and step.allocation is not None
        assert step.allocation.host == "web1.example.com"
    (step,) = plan.lookup("::ffff:198.51.100.0/120")
    assert step.child is None and step.status == "reserved"  # spans .0, the network address
    (step,) = plan.lookup("64:ff9b::c633:6401", nat64_prefixes=[sixgate.Nat64Prefix.WELL_KNOWN])
    assert step.child == V4("198.51.100.1/32")
    assert plan.lookup("2001:db8:4000::/64")[0].status == "free"
    with pytest.raises(sixgate.PlanError) as info:
        plan.lookup("2001:db9::1")
    assert info.value.kind == "not_in_plan" and "2001:db9::1" in str(info.value)


# --- exports --------------------------------------------------------------------


def test_exports() -> None:
    plan = tree()
    ptr = plan.ptr_records()
    assert [str(r) for r in ptr] == [
        "1.100.51.198.in-addr.arpa. IN PTR web1.example.com.",
        "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. "
        "IN PTR web1.example.com.",
    ]
    assert (ptr[0].name, ptr[0].type, ptr[0].data) == (
        "1.100.51.198.in-addr.arpa.",
        "PTR",
        "web1.example.com.",
    )
    assert ptr[1].name == ipaddress.ip_address("2001:db8::1").reverse_pointer + "."
    fwd = plan.forward_records()
    assert [(r.name, r.type, r.data) for r in fwd] == [
        ("web1.example.com.", "A", "198.51.100.1"),
        ("web1.example.com.", "AAAA", "2001:db8::1"),
    ]
    assert plan.forward_records(within="2001:db8::/32") == fwd[1:]
    assert plan.ptr_records(within=V4("203.0.113.0/24")) == []
    # Prefixes handed out that are neither pools nor single addresses.
    plan.alloc("fra1", customer="43", now=T0)
    (zone,) = plan.reverse_zones()
    assert zone.prefix == V6("2001:db8:0:1::/64") and zone.customer == "43"
    assert zone.zones == tuple(sixgate.reverse_zones("2001:db8:0:1::/64"))
    assert zone.host is None and zone.tags == frozenset()
    assert plan.reverse_zones(within="2001:db8:0:2::/63") == []


# --- errors ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "call, kind, quoted",
    [
        (lambda p: p.alloc("fra2", now=T0), "no_pool", "fra2"),
        (lambda p: p.pool("2001:db8:1::/48"), "no_pool", "2001:db8:1::/48"),
        (lambda p: p.add_pool("2001:db8:1::/48", child_len=64), "pool_overlap", "2001:db8:1::/48"),
        (lambda p: p.add_pool("2001:db9::/48", child_len=64, strategy="best-fit"), "strategy", "best-fit"),
        (lambda p: p.add_pool("2001:db9::/48", child_len=62), "unaligned", "/62"),
        (lambda p: p.add_pool("2001:db9::/48", child_len=64, name="fra1"), "duplicate_name", "fra1"),
        (lambda p: p.add_pool("2001:db9::/48", child_len=64, name="a b"), "bad_name", "a b"),
        (lambda p: p.alloc("fra1", at="2001:db8::/64", now=T0), "taken", "2001:db8::/64"),
        (lambda p: p.alloc("c42", host="not a host", now=T0), "bad_host", "not a host"),
        (lambda p: p.subdivide("2001:db8::/64", child_len=128), "already_pool", "2001:db8::/64"),
        (lambda p: p.release("2001:db8:0:9::/64", now=T0), "not_allocated", "2001:db8:0:9::/64"),
        (lambda p: p.alloc("provider", at="2001:db9::/48", now=T0), "not_in_pool", "2001:db9::/48"),
    ],
)
def test_plan_errors_have_kind_and_quote_the_value(call: Any, kind: str, quoted: str) -> None:
    plan = tree()
    before = plan.to_json()
    with pytest.raises(sixgate.PlanError) as info:
        call(plan)
    assert isinstance(info.value, sixgate.Error) and isinstance(info.value, ValueError)
    assert info.value.kind == kind, str(info.value)
    assert quoted in str(info.value)
    assert plan.to_json() == before  # a refused change changes nothing


def test_wrong_types_are_type_errors() -> None:
    plan = tree()
    with pytest.raises(TypeError):
        plan.alloc(48, now=T0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        plan.alloc("fra1", now="now")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        plan.alloc("fra1", now=True)
    with pytest.raises(TypeError):
        plan.alloc("fra1", tags="prod", now=T0)
    with pytest.raises(TypeError):
        plan.alloc("fra1", tags=["prod", 1], now=T0)  # type: ignore[list-item]
    with pytest.raises(TypeError):
        plan.alloc("fra1", index=1, at="2001:db8:0:1::/64", now=T0)
    with pytest.raises(TypeError):
        plan.alloc("fra1", T0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        plan.release(b"2001:db8::/64", now=T0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        plan.lookup(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sixgate.Plan.from_json(b"{}")  # type: ignore[arg-type]
    for bad in (-1, float("nan"), float("inf"), 2**64):
        with pytest.raises(ValueError):
            plan.alloc("fra1", now=bad)
    # Text with host bits set is refused, never truncated.
    with pytest.raises(sixgate.PrefixError):
        plan.add_pool("2001:db9::1/48", child_len=64)


# --- JSON -----------------------------------------------------------------------


def test_json_round_trip(tmp_path: Path) -> None:
    plan = tree()
    plan.reserve("fra1", "2001:db8:0:ff00::/56", reason="infra")
    plan.release("198.51.100.1/32", now=T0)
    text = plan.to_json()
    assert text.endswith("\n")
    doc = json.loads(text)
    assert doc["version"] == 1
    assert [p["prefix"] for p in doc["pools"]] == ["198.51.100.0/24", "2001:db8::/32"]
    again = sixgate.Plan.from_json(text)
    assert again == plan and again.to_json() == text
    assert copy.deepcopy(plan) == plan and plan.copy() is not plan
    path = tmp_path / "plan.json"
    plan.save(path)
    assert path.read_text() == text
    assert sixgate.Plan.load(str(path)) == plan
    assert [p.name for p in tmp_path.iterdir()] == ["plan.json"]  # no temporary left
    with pytest.raises(FileNotFoundError):
        sixgate.Plan.load(tmp_path / "missing.json")
    with pytest.raises(sixgate.PlanError) as info:
        sixgate.Plan.from_json('{"version": 2, "pools": []}')
    assert info.value.kind == "version"
    with pytest.raises(sixgate.PlanError) as info:
        sixgate.Plan.from_json('{"version": 1, "pools": [')
    assert info.value.kind == "json" and "line 1 column" in str(info.value)
    damaged = text.replace('"2001:db8::/64"', '"2001:db8::1/64"', 1)
    with pytest.raises(sixgate.PlanError):
        sixgate.Plan.from_json(damaged)


# --- the same file as `sixgate plan` ------------------------------------------------


@pytest.fixture(scope="session")
def cli() -> str:
    """The `sixgate` binary: $SIXGATE_BIN, else target/debug/sixgate (built
    with cargo when missing)."""
    env = os.environ.get("SIXGATE_BIN")
    if env:
        return env
    binary = ROOT / "target" / "debug" / "sixgate"
    if not binary.exists():
        cargo = shutil.which("cargo")
        if cargo is None:
            pytest.skip("no sixgate binary (target/debug/sixgate, $SIXGATE_BIN) and no cargo to build it")
        subprocess.run([cargo, "build", "-q", "-p", "sixgate-servers"], cwd=ROOT, check=True)
    return str(binary)


def run_cli(cli: str, path: Path, *args: str) -> Any:
    out = subprocess.run(
        [cli, "plan", "--file", str(path), "--json", *args],
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "SIXGATE_PLAN"},
    )
    assert out.returncode == 0, f"sixgate plan {' '.join(args)}: {out.stderr}"
    return json.loads(out.stdout)


def test_a_plan_saved_by_python_is_read_by_sixgate_plan(cli: str, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    tree().save(path)
    shown = run_cli(cli, path, "--now", str(T0), "show")
    rows = {p["prefix"]: p for p in shown["pools"]}
    assert list(rows) == ["198.51.100.0/24", "2001:db8::/32", "2001:db8::/48", "2001:db8::/64"]
    assert rows["2001:db8::/48"]["name"] == "fra1"
    assert rows["2001:db8::/48"]["usage"]["allocated"] == 1
    assert rows["2001:db8::/32"]["strategy"] == "sparse"
    (found,) = run_cli(cli, path, "--now", str(T0), "lookup", "::ffff:198.51.100.1")
    assert found["prefix"] == "198.51.100.1/32"
    (step,) = found["path"]
    assert (step["status"], step["customer"], step["host"]) == ("allocated", "42", "web1.example.com")
    (found,) = run_cli(cli, path, "--now", str(T0), "lookup", "2001:db8::1")
    assert [s["pool_name"] for s in found["path"]] == ["provider", "fra1", "c42"]
    assert found["path"][-1]["tags"] == ["prod"]
    # The CLI's write of the same plan is byte for byte what Python writes.
    before = path.read_text()
    run_cli(cli, path, "--now", str(T0), "reserve", "-p", "fra1", "2001:db8:0:ff00::/56")
    run_cli(cli, path, "--now", str(T0), "unreserve", "2001:db8:0:ff00::/56")
    assert path.read_text() == before


def test_a_plan_changed_by_sixgate_plan_is_read_by_python(cli: str, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    run_cli(cli, path, "init", "--pool", "2001:db8:100::/48", "--child", "64",
            "--strategy", "deterministic-decimal", "--name", "cust")
    made = run_cli(cli, path, "--now", str(T0), "alloc", "-p", "cust", "--customer", "4711",
                   "--subdivide", "128", "--name", "c4711")
    assert made["prefix"] == "2001:db8:100:4711::/64"
    run_cli(cli, path, "--now", str(T0), "alloc", "-p", "c4711", "--customer", "4711",
            "--host", "db.example.net", "--tag", "db")
    plan = sixgate.Plan.load(path)
    assert plan.to_json() == path.read_text()
    (cust, host) = plan.held_by("4711")
    assert cust.prefix == V6("2001:db8:100:4711::/64") and cust.is_pool and cust.since == T0
    assert host.prefix == V6("2001:db8:100:4711::1/128") and host.tags == frozenset({"db"})
    assert [str(r) for r in plan.forward_records()] == ["db.example.net. IN AAAA 2001:db8:100:4711::1"]
    # Python changes it; the CLI sees the change.
    plan.release_customer("4711", now=T0 + 5)
    plan.save(path)
    assert run_cli(cli, path, "show", "--customer", "4711") == []
    shown = run_cli(cli, path, "--now", str(T0 + 6), "show", "cust")
    assert shown["held"] == [{"prefix": "2001:db8:100:4711::/64", "until": T0 + 5 + WEEK}]


def test_edit_plan_shares_the_cli_writer_lock(cli: str, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    run_cli(cli, path, "init", "--pool", "2001:db8::/48", "--child", "64")
    with sixgate.edit_plan(path) as plan:
        mine = plan.alloc("2001:db8::/48", customer="py", now=T0)
        # While Python holds the lock, a CLI writer waits and then gives up.
        out = subprocess.run(
            [cli, "plan", "--file", str(path), "--wait", "1s", "alloc", "-p", "2001:db8::/48"],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 1 and "locked" in out.stderr, out.stderr
    # Saved on leaving the block; the CLI sees it and allocates the next one.
    theirs = run_cli(cli, path, "alloc", "-p", "2001:db8::/48", "--customer", "cli")
    assert str(mine) == "2001:db8::/64"
    assert theirs["prefix"] == "2001:db8:0:1::/64"
    # A CLI writer holds the lock the same way: nothing is lost either way.
    assert [str(a.prefix) for a in sixgate.Plan.load(path).allocations()] == [
        "2001:db8::/64",
        "2001:db8:0:1::/64",
    ]
    # A failing block saves nothing.
    with pytest.raises(sixgate.PlanError):
        with sixgate.edit_plan(path) as plan:
            plan.alloc("2001:db8::/48", now=T0)
            plan.alloc("nope", now=T0)
    assert len(sixgate.Plan.load(path).allocations()) == 2
