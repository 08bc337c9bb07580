"""The Python surface: ipaddress in and out, errors, HostIndex, the edge
readers and DNS64 on wire-format messages."""

import ipaddress
import struct
from typing import Optional

import pytest

import sixgate
from conftest import TESTDATA

# --- ipaddress in, ipaddress out --------------------------------------------


def test_accepts_str_and_ipaddress_returns_ipaddress() -> None:
    v4 = ipaddress.IPv4Address("198.51.100.7")
    for arg in (v4, "198.51.100.7"):
        out = sixgate.synthesize(arg, prefix="2001:db8:64::/96")
        assert type(out) is ipaddress.IPv6Address
        assert out == ipaddress.IPv6Address("2001:db8:64::c633:6407")
        back = sixgate.extract(out, prefix=ipaddress.IPv6Network("2001:db8:64::/96"))
        assert type(back) is ipaddress.IPv4Address and back == v4
    assert type(sixgate.parse_network("2001:db8::/32")) is ipaddress.IPv6Network
    assert type(sixgate.parse_network("192.0.2.0/24")) is ipaddress.IPv4Network
    assert sixgate.parse_address("2001:DB8::1") == ipaddress.IPv6Address("2001:db8::1")


def test_nat64_prefix_round_trips_with_ipaddress() -> None:
    p = sixgate.Nat64Prefix(ipaddress.IPv6Network("2001:db8:122:344::/64"))
    assert p.prefixlen == 64
    assert p.network == ipaddress.IPv6Network("2001:db8:122:344::/64")
    assert p.network_address == ipaddress.IPv6Address("2001:db8:122:344::")
    assert sixgate.Nat64Prefix(p) == p and sixgate.Nat64Prefix(str(p)) == p
    assert hash(sixgate.Nat64Prefix("64:ff9b::/96")) == hash(sixgate.Nat64Prefix.WELL_KNOWN)
    assert sixgate.Nat64Prefix.WELL_KNOWN.is_well_known
    assert sixgate.Nat64Prefix.LOCAL_USE.is_local_use
    assert sorted([sixgate.Nat64Prefix.WELL_KNOWN, sixgate.Nat64Prefix.LOCAL_USE])
    assert repr(p) == "Nat64Prefix('2001:db8:122:344::/64')"
    for n in range(0, 2**32, 2**32 // 97):
        v4 = ipaddress.IPv4Address(n)
        assert p.extract(p.embed(v4)) == v4
    assert "2001:db8:122:344::1" in p and p.contains(ipaddress.IPv6Address("2001:db8:122:344::1"))
    assert "192.0.2.1" not in p
    answers = sixgate.Nat64Prefix.WELL_KNOWN.ipv4only_answers()
    assert sixgate.discover(answers) == [sixgate.Nat64Prefix.WELL_KNOWN]


def test_normalize_and_ptr_with_ipaddress_objects() -> None:
    mapped = ipaddress.IPv6Address("::ffff:192.0.2.1")
    assert sixgate.normalize(mapped) == ipaddress.IPv4Address("192.0.2.1")
    assert sixgate.normalize("64:ff9b::c000:221") == ipaddress.IPv6Address("64:ff9b::c000:221")
    assert sixgate.normalize(
        "64:ff9b::c000:221", nat64_prefixes=[sixgate.Nat64Prefix.WELL_KNOWN]
    ) == ipaddress.IPv4Address("192.0.2.33")
    # ptr_name agrees with the standard library's reverse_pointer.
    for a in ("192.0.2.33", "2001:db8::1", "::ffff:192.0.2.1"):
        addr = ipaddress.ip_address(a)
        assert sixgate.ptr_name(addr) == addr.reverse_pointer + "."
    assert sixgate.canonical(mapped) == "::ffff:192.0.2.1"
    assert sixgate.url_host(ipaddress.IPv6Address("fe80::1%eth0")) == "[fe80::1%25eth0]"
    assert sixgate.host_port(ipaddress.IPv6Address("2001:db8::1"), 443) == "[2001:db8::1]:443"
    assert sixgate.format_address("nsd", "2001:db8::1", port=5353) == "2001:db8::1@5353"


# --- errors ------------------------------------------------------------------


def test_error_hierarchy() -> None:
    for cls in (
        sixgate.AddressError,
        sixgate.PrefixError,
        sixgate.Nat64Error,
        sixgate.FormatError,
        sixgate.TlsError,
        sixgate.HttpError,
        sixgate.ProxyProtocolError,
        sixgate.DnsError,
    ):
        assert issubclass(cls, sixgate.Error) and issubclass(cls, ValueError)
        assert cls.__module__ == "sixgate" and cls.__doc__


@pytest.mark.parametrize(
    "call, cls, kind, quoted",
    [
        (lambda: sixgate.parse_address("2001:db8::zz"), sixgate.AddressError, "addr", "2001:db8::zz"),
        (lambda: sixgate.url_host("192.0.2.1%eth0"), sixgate.AddressError, "zone", "192.0.2.1%eth0"),
        (lambda: sixgate.extract("192.0.2.1"), sixgate.AddressError, "version", "192.0.2.1"),
        (lambda: sixgate.synthesize("2001:db8::1"), sixgate.AddressError, "version", "2001:db8::1"),
        (lambda: sixgate.parse_network("192.0.2.1/24"), sixgate.PrefixError, "prefix", "192.0.2.0/24"),
        (lambda: sixgate.Nat64Prefix("2001:db8::/44"), sixgate.PrefixError, "length", "44"),
        (lambda: sixgate.Nat64Prefix("2001:db8::1/96"), sixgate.PrefixError, "host_bits", "2001:db8::1"),
        (lambda: sixgate.synthesize("10.1.2.3"), sixgate.Nat64Error, "non_global", "10.1.2.3"),
        (lambda: sixgate.extract("2001:db8::1"), sixgate.Nat64Error, "outside_prefix", "2001:db8::1"),
        (lambda: sixgate.discover(["2001:db8::1"]), sixgate.Nat64Error, "not_discovered", "1"),
        (lambda: sixgate.format_address("postfix", "::1"), sixgate.FormatError, "style", "postfix"),
        (lambda: sixgate.format_address("hostport", "::1"), sixgate.FormatError, "port_required", "hostport"),
        (lambda: sixgate.read_client_hello(b"\x16\x03\x01\x00\x04\x02\x00\x00\x00"), sixgate.TlsError, "not_client_hello", "2"),
        (lambda: sixgate.read_request_head(b"GET / HTTP/1.1\r\nHost : a\r\n\r\n"), sixgate.HttpError, "space_before_colon", "Host"),
        (lambda: sixgate.Authority(b"example.test:65536"), sixgate.HttpError, "port", "65536"),
        (lambda: sixgate.decode_proxy_header(b"PROXY TCP4 192.0.2.1 192.0.2.2 65536 1\r\n"), sixgate.ProxyProtocolError, "v1_port", "65536"),
        (lambda: sixgate.Dns64Config(prefixes=[]), sixgate.DnsError, "no_prefix", "prefix"),
        (lambda: sixgate.Dns64Config(exclude_names=["bad..name"]), sixgate.DnsError, "name", "bad..name"),
        (lambda: sixgate.Dns64Config(never_map=["2001:db8::/32"]), sixgate.PrefixError, "version", "2001:db8::/32"),
    ],
)
def test_errors_have_class_kind_and_quote_the_value(call, cls, kind, quoted) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(cls) as info:
        call()
    assert info.value.kind == kind
    assert quoted in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    "call",
    [
        lambda: sixgate.synthesize(3232235777),  # type: ignore[arg-type]
        lambda: sixgate.synthesize(b"192.0.2.1"),  # type: ignore[arg-type]
        lambda: sixgate.synthesize(ipaddress.IPv6Address("::1")),  # type: ignore[arg-type]
        lambda: sixgate.extract(ipaddress.IPv4Address("192.0.2.1")),  # type: ignore[arg-type]
        lambda: sixgate.reverse_zones(ipaddress.IPv4Address("192.0.2.1")),  # type: ignore[arg-type]
        lambda: sixgate.Nat64Prefix(ipaddress.IPv4Network("192.0.2.0/24")),  # type: ignore[arg-type]
        lambda: sixgate.Nat64Prefix(96),  # type: ignore[arg-type]
        lambda: sixgate.read_client_hello("not bytes"),  # type: ignore[arg-type]
        lambda: sixgate.encode_proxy_header("192.0.2.1", "192.0.2.2"),  # type: ignore[arg-type]
        lambda: sixgate.HostIndex().lookup(None),  # type: ignore[arg-type]
    ],
)
def test_wrong_types_raise_type_error(call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(TypeError):
        call()


def test_options_are_keyword_only() -> None:
    with pytest.raises(TypeError):
        sixgate.synthesize("192.0.2.1", "64:ff9b::/96")  # type: ignore[misc]
    with pytest.raises(TypeError):
        sixgate.normalize("::1", ["64:ff9b::/96"])  # type: ignore[misc]


# --- HostIndex -----------------------------------------------------------------


def test_host_index_identifies_by_any_address() -> None:
    index = sixgate.HostIndex(nat64_prefixes=["64:ff9b::/96"])
    assert index.insert("2001:db8:1::/48", "alice") is None
    index["2001:db8:1:2::/64"] = "bob"
    index.insert(ipaddress.IPv4Network("192.0.2.0/24"), "carol")
    assert index.insert("192.0.2.0/24", "carol2") == "carol"
    assert index.lookup("2001:db8:1:2::80") == (ipaddress.IPv6Network("2001:db8:1:2::/64"), "bob")
    assert index.owner("2001:db8:1:3::80") == "alice"
    assert index.lookup("::ffff:192.0.2.7") == (ipaddress.IPv4Network("192.0.2.0/24"), "carol2")
    assert index.owner(ipaddress.IPv6Address("64:ff9b::192.0.2.7")) == "carol2"
    assert index.lookup("2001:db8:2::1") is None and index.owner("198.51.100.1", "nobody") == "nobody"
    assert index.fold("::ffff:192.0.2.7") == ipaddress.IPv4Address("192.0.2.7")
    assert index.closest("2001:db8:1::/56") == (ipaddress.IPv6Network("2001:db8:1::/48"), "alice")
    assert len(index) == 3 and "2001:db8:1::/48" in index and index["2001:db8:1::/48"] == "alice"
    assert [str(n) for n, _ in index] == ["192.0.2.0/24", "2001:db8:1::/48", "2001:db8:1:2::/64"]
    assert index.items() == list(index)
    del index["2001:db8:1:2::/64"]
    assert index.remove("2001:db8:1:2::/64") is None
    with pytest.raises(KeyError):
        del index["2001:db8:1:2::/64"]
    with pytest.raises(KeyError):
        index["10.0.0.0/8"]
    assert index.get("10.0.0.0/8") is None and index.get("10.0.0.0/8", 1) == 1
    # A host route from an address, and a mapped prefix stored as IPv4.
    index.insert("2001:db8:9::1", "host")
    assert index.get("2001:db8:9::1/128") == "host"
    index.insert("::ffff:198.51.100.0/120", "mapped")
    assert index.get("198.51.100.0/24") == "mapped"
    assert index.nat64_prefixes == [sixgate.Nat64Prefix.WELL_KNOWN]


def test_host_index_holds_objects_without_leaking() -> None:
    import gc
    import weakref

    class Owner:
        pass

    index = sixgate.HostIndex()
    owner = Owner()
    index.insert("10.0.0.0/8", owner)
    ref = weakref.ref(owner)
    owner.index = index  # type: ignore[attr-defined] # a cycle through the index
    del owner, index
    gc.collect()
    assert ref() is None


# --- TLS, HTTP, PROXY ----------------------------------------------------------


@pytest.mark.parametrize("name", ["openssl.bin", "curl.bin", "rustls.bin", "openssl-split.bin"])
def test_real_client_hellos(name: str) -> None:
    data = (TESTDATA / "hellos" / name).read_bytes()
    hello = sixgate.read_client_hello(data)
    assert isinstance(hello, sixgate.ClientHello)
    assert hello.server_name == "capture.example.test"
    assert hello.server_name_kind == "host_name"
    assert hello.server_name_ip is None and hello.server_name_error is None
    assert hello.alpn[:2] == [b"h2", b"http/1.1"]
    assert hello.legacy_version == 0x0303 and hello.supported_versions[0] == 0x0304
    assert hello.length == len(data) and hello.record_count >= 1
    assert not hello.ech_offered
    assert "capture.example.test" in repr(hello)
    # Every proper prefix asks for more, never fails.
    for cut in (0, 1, 5, 9, len(data) // 2, len(data) - 1):
        more = sixgate.read_client_hello(bytearray(data[:cut]))
        assert isinstance(more, sixgate.NeedMore) and more.needed >= 1


def test_not_tls() -> None:
    assert sixgate.read_client_hello(b"SSH-2.0-OpenSSH_9.6\r\n") is None
    assert sixgate.read_client_hello(b"") == sixgate.NeedMore(9)


def test_request_head() -> None:
    buf = b"GET http://[2001:db8::1]:8080/x HTTP/1.1\r\nHost: other.test\r\n\r\nbody"
    head = sixgate.read_request_head(buf)
    assert isinstance(head, sixgate.RequestHead)
    assert (head.method, head.target, head.form, head.version) == (
        "GET",
        "http://[2001:db8::1]:8080/x",
        "absolute",
        "HTTP/1.1",
    )
    assert head.length == len(buf) - 4
    auth = head.authority
    assert auth is not None
    assert auth.ip == ipaddress.IPv6Address("2001:db8::1") and auth.port == 8080
    assert auth.host_name is None and auth.host == "[2001:db8::1]"
    assert str(auth) == "[2001:db8::1]:8080"
    assert sixgate.read_request_head(buf[:20]) == sixgate.NeedMore(1)
    with pytest.raises(sixgate.HttpError) as info:
        sixgate.read_request_head(b"GET / HTTP/1.1\r\n", max_head=10)
    assert info.value.kind == "too_large"
    named = sixgate.Authority(b"WWW.Example.TEST.")
    assert named.host_name == "www.example.test" and named.port is None and named.ip is None
    assert named == sixgate.Authority(bytearray(b"www.example.test"))


def test_proxy_protocol_round_trip() -> None:
    h = sixgate.ProxyHeader.proxy(("::ffff:192.0.2.1", 56324, 0, 0), ("::ffff:192.0.2.11", 443))
    assert h.command == "proxy"
    assert h.source == (ipaddress.IPv4Address("192.0.2.1"), 56324)
    v1 = h.encode()
    assert v1 == b"PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\n"
    assert sixgate.encode_proxy_header(("::ffff:192.0.2.1", 56324), ("::ffff:192.0.2.11", 443)) == v1
    for version in (1, 2):
        data = h.encode(version=version) + b"payload"
        d = sixgate.decode_proxy_header(data)
        assert isinstance(d, sixgate.ProxyDecoded)
        assert d.header == h and d.version == version and data[d.length :] == b"payload"
        assert d.tlvs == []
    v6 = sixgate.ProxyHeader.proxy((ipaddress.IPv6Address("2001:db8::1"), 1), ("2001:db8::2", 2))
    assert v6.encode() == b"PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n"
    assert sixgate.ProxyHeader.local().encode(version=2)[12:] == b"\x20\x00\x00\x00"
    assert sixgate.ProxyHeader.unknown().encode() == b"PROXY UNKNOWN\r\n"
    assert sixgate.ProxyHeader.local().source is None
    assert sixgate.decode_proxy_header(b"GET / HTTP/1.1\r\n") is None
    assert isinstance(sixgate.decode_proxy_header(v1[:10]), sixgate.NeedMore)
    with pytest.raises(ValueError):
        h.encode(version=3)  # type: ignore[arg-type]
    # v2 with a TLV (PP2_TYPE_AUTHORITY) after the addresses.
    tlv = b"\x02\x00\x04a.b."
    v2 = (
        b"\r\n\r\n\0\r\nQUIT\n\x21\x11"
        + struct.pack("!H", 12 + len(tlv))
        + b"\xc0\x00\x02\x01\xc0\x00\x02\x02\xdc\x04\x01\xbb"
        + tlv
    )
    d = sixgate.decode_proxy_header(v2)
    assert isinstance(d, sixgate.ProxyDecoded) and d.tlvs == [(2, b"a.b.")]


# --- DNS64 on wire-format messages ---------------------------------------------


def qname(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode() for p in name.rstrip(".").split(".")) + b"\0"


def query(name: str, qtype: int, qid: int = 0x1234) -> bytes:
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + qname(name) + struct.pack("!HH", qtype, 1)


def answer(q: bytes, records: list[tuple[int, bytes]], ttl: int = 300) -> bytes:
    """A response to the query `q` (ID and question copied) with `records`
    (type, rdata) owned by the question name."""
    qid, flags = struct.unpack("!HH", q[:4])
    end = 12
    while q[end] != 0:
        end += q[end] + 1
    question = q[12 : end + 5]
    rrs = b"".join(
        b"\xc0\x0c" + struct.pack("!HHIH", t, 1, ttl, len(rd)) + rd for t, rd in records
    )
    header = struct.pack("!HHHHHH", qid, 0x8000 | (flags & 0x0110), 1, len(records), 0, 0)
    return header + question + rrs


A, AAAA = 1, 28


def test_dns64_resolution_step_by_step() -> None:
    r = sixgate.Dns64Resolution(query("v4only.example.", AAAA))
    assert (r.query_name, r.query_type) == ("v4only.example.", AAAA)
    action, up = r.poll()
    assert action == "upstream" and up is not None
    assert r.poll() == ("wait", None)
    r.handle_response(answer(up, []))  # NODATA
    action, up_a = r.poll()
    assert action == "upstream" and up_a is not None
    r.handle_response(answer(up_a, [(A, bytes([198, 252, 206, 16]))]))
    action, resp = r.poll()
    assert action == "respond" and resp is not None
    assert resp[:2] == b"\x12\x34"
    assert ipaddress.IPv6Address("64:ff9b::c6fc:ce10").packed in resp
    assert r.poll() == ("done", None)


def test_dns64_resolve_with_an_upstream_callable() -> None:
    config = sixgate.Dns64Config(prefixes=["2001:db8:64::/96"], extended_error=True)
    assert config.prefixes == [sixgate.Nat64Prefix("2001:db8:64::/96")]
    assert config.exclude_aaaa == [ipaddress.IPv6Network("::ffff:0:0/96")]
    asked: list[bytes] = []

    def upstream(q: bytes) -> Optional[bytes]:
        asked.append(q)
        qtype = struct.unpack("!H", q[q.index(b"\0", 12) + 1 :][:2])[0]
        return answer(q, [(A, bytes([192, 0, 2, 33]))] if qtype == A else [])

    resp = sixgate.resolve(query("v4only.example.", AAAA), upstream, config=config)
    assert resp is not None and len(asked) == 2
    assert ipaddress.IPv6Address("2001:db8:64::c000:221").packed in resp
    # MX is not DNS64's business: forwarded, the upstream's answer returned.
    mx = query("example.test.", 15)
    assert sixgate.resolve(mx, lambda q: answer(q, [])) == answer(mx, [])
    # A timeout on a forwarded query gives SERVFAIL; on AAAA, synthesis from A.
    servfail = sixgate.resolve(mx, lambda q: None)
    assert servfail is not None and servfail[3] & 0x0F == 2
    # Garbage gets FORMERR, a response gets nothing.
    formerr = sixgate.resolve(b"\x12\x34\x01\x00\xff", upstream)
    assert formerr is not None and formerr[3] & 0x0F == 1
    assert sixgate.resolve(answer(mx, []), upstream) is None


def test_dns64_ipv4only_arpa_and_errors() -> None:
    r = sixgate.Dns64Resolution(query("ipv4only.arpa.", AAAA))
    action, resp = r.poll()
    assert action == "respond" and resp is not None
    for a in sixgate.Nat64Prefix.WELL_KNOWN.ipv4only_answers():
        assert a.packed in resp
    two = query("a.test.", AAAA)
    two = two[:4] + b"\x00\x02" + two[6:] + qname("b.test.") + struct.pack("!HH", AAAA, 1)
    with pytest.raises(sixgate.DnsError) as info:
        sixgate.Dns64Resolution(two)
    assert info.value.kind == "question_count" and info.value.rcode == 1
    with pytest.raises(sixgate.DnsError) as info:
        sixgate.Dns64Resolution(b"\x00")
    assert info.value.kind == "malformed"
    reply = sixgate.error_reply(two, 1)
    assert reply is not None and reply[:2] == two[:2] and reply[3] & 0x0F == 1
    assert sixgate.error_reply(b"\x12", 2) is None
