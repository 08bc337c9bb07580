"""core/testdata/vectors.json through the Python API: every language agrees
bit for bit with the Rust core."""

import ipaddress
from typing import Any

import pytest

import sixgate


def test_rfc6052_embed_table(vectors: Any) -> None:
    rows = vectors["rfc6052"]["embed"]
    assert len(rows) >= 7
    for row in rows:
        prefix = sixgate.Nat64Prefix(row["prefix"])
        v4 = ipaddress.IPv4Address(row["ipv4"])
        got = prefix.embed(v4)
        assert got == ipaddress.IPv6Address(row["ipv6_rfc"]), row
        assert sixgate.canonical(got) == row["ipv6"], row
        assert prefix.extract(got) == v4, row
        assert str(prefix) == row["prefix"]
        # The module functions agree, with str input as well.
        allow = not prefix.is_well_known or sixgate.non_global_range(v4) is not None
        assert sixgate.synthesize(row["ipv4"], prefix=row["prefix"], allow_non_global=allow) == got
        assert sixgate.extract(str(got), prefix=prefix) == v4


def test_rfc6052_bad_prefixes(vectors: Any) -> None:
    for row in vectors["rfc6052"]["bad_prefixes"]:
        with pytest.raises(sixgate.PrefixError) as info:
            sixgate.Nat64Prefix(row["prefix"])
        assert info.value.kind == row["error"], row


def test_rfc6052_extract_errors(vectors: Any) -> None:
    for row in vectors["rfc6052"]["extract_errors"]:
        prefix = sixgate.Nat64Prefix(row["prefix"])
        with pytest.raises(sixgate.Nat64Error) as info:
            prefix.extract(row["ipv6"])
        assert info.value.kind == row["error"], row
        assert str(ipaddress.IPv6Address(row["ipv6"])) in str(info.value)


def test_rfc6052_non_global_rule(vectors: Any) -> None:
    wkp = sixgate.Nat64Prefix.WELL_KNOWN
    for row in vectors["rfc6052"]["non_global"]:
        with pytest.raises(sixgate.Nat64Error) as info:
            wkp.synthesize(row["ipv4"])
        assert info.value.kind == "non_global"
        assert row["ipv4"] in str(info.value) and row["range"] in str(info.value)
        net, name, _rfc = sixgate.non_global_range(row["ipv4"]) or (None, None, None)
        assert (str(net), name) == (row["range"], row["name"])
        assert wkp.synthesize(row["ipv4"], allow_non_global=True) == wkp.embed(row["ipv4"])
        embedded = wkp.embed(row["ipv4"])
        with pytest.raises(sixgate.Nat64Error):
            wkp.extract_checked(embedded)
        assert wkp.extract(embedded) == ipaddress.IPv4Address(row["ipv4"])
    for g in vectors["rfc6052"]["global"]:
        assert sixgate.synthesize(g) == wkp.embed(g)
        assert sixgate.non_global_range(g) is None


def test_rfc6052_discover(vectors: Any) -> None:
    for row in vectors["rfc6052"]["discover"]:
        if "prefixes" in row:
            found = sixgate.discover(row["answers"])
            assert [str(p) for p in found] == row["prefixes"], row
        else:
            with pytest.raises(sixgate.Nat64Error) as info:
                sixgate.discover(row["answers"])
            assert info.value.kind == row["error"], row


def test_text_canonical_and_bad_addresses(vectors: Any) -> None:
    for row in vectors["text"]["canonical"]:
        assert sixgate.canonical(row["input"]) == row["output"], row
    for bad in vectors["text"]["bad_addresses"]:
        with pytest.raises(sixgate.AddressError) as info:
            sixgate.parse_address(bad)
        assert info.value.kind == "addr"
        assert repr(bad)[1:-1] in str(info.value) or bad == ""


def test_text_host_port_url_ptr(vectors: Any) -> None:
    for row in vectors["text"]["host_port"]:
        assert sixgate.host_port(row["address"], row["port"]) == row["output"]
    for row in vectors["text"]["url_host"]:
        assert sixgate.url_host(row["address"]) == row["output"]
    for row in vectors["text"]["ptr"]:
        assert sixgate.ptr_name(row["address"]) == row["ptr"]
        assert sixgate.ptr_name(ipaddress.ip_address(row["address"])) == row["ptr"]


def test_text_reverse_zones(vectors: Any) -> None:
    for row in vectors["text"]["reverse_zones"]:
        assert sixgate.reverse_zones(row["prefix"]) == row["zones"], row
        net = ipaddress.ip_network(row["prefix"])
        assert sixgate.reverse_zones(net) == row["zones"], row
    for bad in vectors["text"]["bad_prefixes"]:
        with pytest.raises(sixgate.PrefixError):
            sixgate.parse_network(bad)


def test_text_munin(vectors: Any) -> None:
    for row in vectors["text"]["munin_allow"]:
        assert sixgate.munin_allow(row["address"]) == row["line"]
        assert sixgate.format_address("munin-allow", row["address"]) == row["line"]
        assert row["line"] == "allow " + sixgate.munin_allow_regex(row["address"])
    for row in vectors["text"]["munin_cidr"]:
        assert sixgate.munin_cidr_allow(row["input"]) == row["line"]
        assert sixgate.format_address("munin-cidr", row["input"]) == row["line"]


def test_text_normalize(vectors: Any) -> None:
    for row in vectors["text"]["normalize"]:
        got = sixgate.normalize(row["address"], nat64_prefixes=row["nat64_prefixes"])
        assert got == ipaddress.ip_address(row["output"]), row
        assert sixgate.canonical(got) == row["output"]


def test_text_fmt_styles(vectors: Any) -> None:
    rows = vectors["text"]["fmt"]
    for style in sixgate.STYLES:
        assert any(r["style"] == style for r in rows), style
        assert sixgate.style_pitfall(style)
    for row in rows:
        if "output" in row:
            got = sixgate.format_address(row["style"], row["address"], port=row["port"])
            assert got == row["output"], row
        else:
            with pytest.raises(sixgate.Error) as info:
                sixgate.format_address(row["style"], row["address"], port=row["port"])
            assert info.value.kind == row["error"], row
