#!/usr/bin/env python3
"""Regenerates the synthetic seed corpus under fuzz/corpus/.

    python3 fuzz/gen_corpus.py

client_hello: the real captures from core/testdata/hellos/*.bin, plus
truncated, re-fragmented and hand-built variants of them. http_head: request
heads in every target form, and junk. proxy_header: PROXY protocol v1 and v2
headers (TCP4, TCP6, LOCAL, UNKNOWN, TLVs, AF_UNIX), whole and cut short.
dns64_response: two bytes choosing the client's query and the DNS64
configuration, then upstream answers as length-prefixed DNS messages (see
fuzz/src/dns64_response.rs): NODATA with SOA, A answers, CNAME chains,
NXDOMAIN, SERVFAIL, truncated, EDE, RRSIGs, PTR, and garbage.
xlat_6to4 / xlat_4to6: IPv6 and IPv4 packets of every kind the translator
handles (UDP, TCP, echo, fragments, extension headers, options, ICMP errors
quoting a packet, RFC 4884 extensions, Packet Too Big, hop limit 1).
nat64_sequence: conversations as records of [flags, dt, len/8] + packet (see
fuzz/src/nat64_sequence.rs): UDP, TCP handshakes, pings, hairpinning, time
jumps that end sessions.
Files are named after what they hold; running this again rewrites them.
"""
import ipaddress
import os
import shutil
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
HELLOS = os.path.join(HERE, "..", "core", "testdata", "hellos")


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# --- client_hello -----------------------------------------------------------

def records(data):
    """The handshake bytes of a captured flight of records."""
    out, i = b"", 0
    while i + 5 <= len(data):
        n = int.from_bytes(data[i + 3:i + 5], "big")
        out += data[i + 5:i + 5 + n]
        i += 5 + n
    return out


def fragment(message, sizes):
    """`message` as handshake records of the given sizes (the last takes the rest)."""
    out, i = b"", 0
    for n in sizes + [len(message)]:
        chunk = message[i:i + n]
        if not chunk:
            break
        out += b"\x16\x03\x01" + struct.pack(">H", len(chunk)) + chunk
        i += len(chunk)
    return out


def ext(kind, body):
    return struct.pack(">HH", kind, len(body)) + body


def hello(exts, legacy=0x0303):
    """A minimal hello; `exts=None` leaves out the extensions block (TLS 1.0)."""
    body = struct.pack(">H", legacy) + bytes(32) + b"\x00"
    body += b"\x00\x02\x13\x01" + b"\x01\x00"
    if exts is not None:
        e = b"".join(exts)
        body += struct.pack(">H", len(e)) + e
    msg = b"\x01" + len(body).to_bytes(3, "big") + body
    return fragment(msg, [])


def sni(*names):
    entries = b"".join(b"\x00" + struct.pack(">H", len(n)) + n for n in names)
    return ext(0x0000, struct.pack(">H", len(entries)) + entries)


def alpn(*protos):
    lst = b"".join(bytes([len(p)]) + p for p in protos)
    return ext(0x0010, struct.pack(">H", len(lst)) + lst)


def versions(*vs):
    lst = b"".join(struct.pack(">H", v) for v in vs)
    return ext(0x002B, bytes([len(lst)]) + lst)


for path in sorted(os.listdir(HELLOS)):
    if path.endswith(".bin"):
        shutil.copy(os.path.join(HELLOS, path), os.path.join(HERE, "corpus", "client_hello", path))

openssl = open(os.path.join(HELLOS, "openssl.bin"), "rb").read()
curl = open(os.path.join(HELLOS, "curl.bin"), "rb").read()
msg = records(openssl)
write("client_hello", "trunc-9.bin", openssl[:9])
write("client_hello", "trunc-half.bin", curl[: len(curl) // 2])
write("client_hello", "trunc-last-byte.bin", openssl[:-1])
write("client_hello", "split-2.bin", fragment(msg, [40]))
write("client_hello", "split-5.bin", fragment(msg, [1, 3, 70, 100]))
write("client_hello", "split-header.bin", fragment(msg, [2]))
write("client_hello", "then-ccs.bin", openssl + b"\x14\x03\x03\x00\x01\x01")
write("client_hello", "then-appdata-in-record.bin", fragment(msg + b"\x17\x00", []))
write("client_hello", "declares-16mib.bin", b"\x16\x03\x01\x40\x00\x01\xff\xff\xff")
write("client_hello", "not-tls-http.bin", b"GET / HTTP/1.1\r\n")
write("client_hello", "not-client-hello.bin", b"\x16\x03\x01\x00\x04\x02\x00\x00\x00")
write("client_hello", "zero-length-record.bin", b"\x16\x03\x01\x00\x00")
write("client_hello", "alert-in-middle.bin", fragment(msg, [40])[:45] + b"\x15\x03\x03\x00\x02\x02\x28")
write("client_hello", "min-sni.bin", hello([sni(b"A.Test.")]))
write("client_hello", "sni-nul.bin", hello([sni(b"a\x00b.test")]))
write("client_hello", "sni-ip.bin", hello([sni(b"192.0.2.1")]))
write("client_hello", "sni-ipv6.bin", hello([sni(b"2001:db8::1")]))
write("client_hello", "sni-two-names.bin", hello([sni(b"a.test", b"b.test")]))
write("client_hello", "sni-duplicate-ext.bin", hello([sni(b"a.test"), sni(b"a.test")]))
write("client_hello", "alpn-versions-ech.bin",
      hello([sni(b"www.example.test"), alpn(b"h2", b"http/1.1"),
             versions(0x7A7A, 0x0304, 0x0303), ext(0xFE0D, b"\x00" * 8)]))
write("client_hello", "no-extensions.bin", hello(None, legacy=0x0301))
write("client_hello", "tls10-record-ssl3.bin", b"\x16\x03\x00" + hello([sni(b"old.test")])[3:])

# --- http_head --------------------------------------------------------------

HEADS = {
    "origin.txt": b"GET / HTTP/1.1\r\nHost: www.example.test\r\nUser-Agent: curl/8.5\r\nAccept: */*\r\n\r\n",
    "origin-port.txt": b"GET /a?b=c HTTP/1.1\r\nHost: WWW.Example.TEST:8080\r\n\r\nbody",
    "absolute.txt": b"GET http://example.test:8080/x HTTP/1.1\r\nHost: other.test\r\n\r\n",
    "absolute-https-ipv6.txt": b"GET https://[2001:db8::1]:8443/ HTTP/1.1\r\nHost: [2001:db8::1]:8443\r\n\r\n",
    "ipv6-host.txt": b"GET / HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n",
    "ipv4-host.txt": b"GET / HTTP/1.1\r\nHost: 192.0.2.1\r\n\r\n",
    "connect.txt": b"CONNECT example.test:443 HTTP/1.1\r\nHost: example.test:443\r\n\r\n",
    "http10-no-host.txt": b"GET / HTTP/1.0\r\n\r\n",
    "http10-host.txt": b"HEAD /index.html HTTP/1.0\r\nhost: a.test.\r\n\r\n",
    "leading-crlf.txt": b"\r\n\r\nPOST /p HTTP/1.1\r\nHost: a.test\r\nContent-Length: 2\r\n\r\nhi",
    "pipelined.txt": b"GET /1 HTTP/1.1\r\nHost: a.test\r\n\r\nGET /2 HTTP/1.1\r\nHost: a.test\r\n\r\n",
    "partial.txt": b"GET / HTTP/1.1\r\nHost: a.te",
    "empty-host.txt": b"OPTIONS * HTTP/1.1\r\nHost:\r\n\r\n",
    "junk-tls.txt": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
    "junk-ssh.txt": b"SSH-2.0-OpenSSH_9.6\r\n",
    "bare-lf.txt": b"GET / HTTP/1.1\nHost: a.test\n\n",
    "obs-fold.txt": b"GET / HTTP/1.1\r\nHost: a.test\r\nX: 1\r\n 2\r\n\r\n",
    "space-before-colon.txt": b"GET / HTTP/1.1\r\nHost : a.test\r\n\r\n",
    "duplicate-host.txt": b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n",
    "bad-port.txt": b"GET / HTTP/1.1\r\nHost: a.test:65536\r\n\r\n",
    "lowercase-version.txt": b"GET / http/1.1\r\nHost: a.test\r\n\r\n",
    "nul-in-host.txt": b"GET / HTTP/1.1\r\nHost: a\x00.test\r\n\r\n",
}
for name, data in HEADS.items():
    write("http_head", name, data)

# --- proxy_header -----------------------------------------------------------

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v2(cmd, fam, body):
    return SIG + bytes([0x20 | cmd, fam]) + struct.pack(">H", len(body)) + body


def addrs(src, dst, sport, dport):
    return ipaddress.ip_address(src).packed + ipaddress.ip_address(dst).packed + struct.pack(">HH", sport, dport)


def tlv(kind, value):
    return bytes([kind]) + struct.pack(">H", len(value)) + value


HEADERS = {
    "v1-tcp4.bin": b"PROXY TCP4 192.0.2.1 192.0.2.11 56324 443\r\n",
    "v1-tcp6.bin": b"PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n",
    "v1-tcp6-mapped.bin": b"PROXY TCP6 ::ffff:192.0.2.1 ::ffff:192.0.2.2 1 2\r\n",
    "v1-unknown.bin": b"PROXY UNKNOWN\r\n",
    "v1-unknown-addrs.bin": b"PROXY UNKNOWN ffff:f...f:ffff ffff:f...f:ffff 65535 65535\r\n",
    "v1-tcp4-then-data.bin": b"PROXY TCP4 10.0.0.1 10.0.0.2 1 65535\r\nGET / HTTP/1.1\r\n\r\n",
    "v1-leading-zero-port.bin": b"PROXY TCP4 192.0.2.1 192.0.2.11 56324 0443\r\n",
    "v1-partial.bin": b"PROXY TCP4 192.0.2.1 19",
    "v1-too-long.bin": b"PROXY TCP6 " + b"1" * 120 + b"\r\n",
    "v2-tcp4.bin": v2(1, 0x11, addrs("192.0.2.1", "192.0.2.2", 56324, 443)),
    "v2-tcp6.bin": v2(1, 0x21, addrs("2001:db8::1", "2001:db8::2", 56324, 443)),
    "v2-tcp6-mapped.bin": v2(1, 0x21, addrs("::ffff:192.0.2.1", "::ffff:192.0.2.2", 1, 2)),
    "v2-local.bin": v2(0, 0x00, b""),
    "v2-local-with-addrs.bin": v2(0, 0x11, addrs("192.0.2.1", "192.0.2.2", 1, 2)),
    "v2-unspec.bin": v2(1, 0x00, b""),
    "v2-udp4.bin": v2(1, 0x12, addrs("192.0.2.1", "192.0.2.2", 53, 53)),
    "v2-unix.bin": v2(1, 0x31, b"/run/a.sock".ljust(108, b"\x00") + b"/run/b.sock".ljust(108, b"\x00")),
    "v2-tcp4-tlvs.bin": v2(1, 0x11, addrs("192.0.2.1", "192.0.2.2", 1, 2)
                           + tlv(0x01, b"h2") + tlv(0x02, b"www.example.test")
                           + tlv(0x04, b"\x00\x00") + tlv(0x20, b"\x01\x00\x00\x00\x00")),
    "v2-tcp6-then-data.bin": v2(1, 0x21, addrs("2001:db8::1", "2001:db8::2", 1, 2)) + b"\x16\x03\x01",
    "v2-short-addrs.bin": v2(1, 0x11, b"\xc0\x00\x02\x01"),
    "v2-bad-version.bin": SIG + b"\x31\x11\x00\x00",
    "v2-bad-command.bin": SIG + b"\x22\x11\x00\x00",
    "v2-partial.bin": v2(1, 0x11, addrs("192.0.2.1", "192.0.2.2", 1, 2))[:20],
    "v2-sig-only.bin": SIG[:7],
    "not-proxy.bin": b"GET / HTTP/1.1\r\n",
}
for name, data in HEADERS.items():
    write("proxy_header", name, data)

# --- dns64_response ---------------------------------------------------------

# Byte 0: query type (bits 0-1), DO, CD, EDNS, "plausible" bits per answer.
AAAA_Q, PTR_Q, A_Q, MX_Q = 0, 1, 2, 3
DO, CD, EDNS = 0x04, 0x08, 0x10
PLAUSIBLE = 0xE0
# Byte 1: config variant (bits 0-2), name (bits 3-4), non-global PTR IPv4
# (bit 5), error_reply RCODE (bits 6-7).
NAME_WWW, NAME_FORCED, NAME_IPV4ONLY, NAME_EXCLUDED = 0x00, 0x08, 0x10, 0x18
QNAMES = {NAME_WWW: "www.Example.COM.", NAME_FORCED: "v4.forced.test.",
          NAME_IPV4ONLY: "ipv4only.arpa.", NAME_EXCLUDED: "a.excluded.test."}
T_A, T_NS, T_CNAME, T_SOA, T_PTR, T_MX, T_AAAA, T_OPT, T_RRSIG = 1, 2, 5, 6, 12, 15, 28, 41, 46


def dname(text):
    out = b""
    for label in text.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def rr(name, rtype, ttl, rdata, rclass=1):
    return dname(name) + struct.pack(">HHIH", rtype, rclass, ttl, len(rdata)) + rdata


def a(name, ip, ttl=300):
    return rr(name, T_A, ttl, ipaddress.IPv4Address(ip).packed)


def aaaa(name, ip, ttl=300):
    return rr(name, T_AAAA, ttl, ipaddress.IPv6Address(ip).packed)


def cname(name, target, ttl=300):
    return rr(name, T_CNAME, ttl, dname(target))


def soa(zone, ttl=3600, minimum=60):
    rdata = dname("ns1." + zone) + dname("hostmaster." + zone) + struct.pack(">IIIII", 1, 7200, 900, 1209600, minimum)
    return rr(zone, T_SOA, ttl, rdata)


def rrsig(name, covered, ttl=300):
    rdata = struct.pack(">HBBIIIH", covered, 13, 3, ttl, 2000000000, 1700000000, 12345) + dname("example.com.") + bytes(64)
    return rr(name, T_RRSIG, ttl, rdata)


def opt(payload=1232, do=False, options=b""):
    return rr(".", T_OPT, 0x8000 if do else 0, options, rclass=payload)


def ede(code, text=b""):
    body = struct.pack(">H", code) + text
    return struct.pack(">HH", 15, len(body)) + body


def dns(qid, qname, qtype, rcode=0, answers=(), authority=(), additional=(), flags=0x8180):
    """A DNS response: QR, RD, RA set unless `flags` says otherwise."""
    header = struct.pack(">HHHHHH", qid, flags | rcode, 1, len(answers), len(authority), len(additional))
    question = dname(qname) + struct.pack(">HH", qtype, 1)
    return header + question + b"".join(answers) + b"".join(authority) + b"".join(additional)


def seed(name, b0, b1, *answers):
    data = bytes([b0, b1]) + b"".join(struct.pack(">H", len(m)) + m for m in answers)
    write("dns64_response", name, data)


def qid(b0, b1):
    return (b0 << 8) | b1


def ptr_name(prefix, v4):
    """The ip6.arpa name of `v4` embedded in a /96 or /64 prefix (as RFC 6052 does)."""
    net = ipaddress.IPv6Network(prefix)
    p4 = ipaddress.IPv4Address(v4).packed
    raw = bytearray(net.network_address.packed)
    if net.prefixlen == 96:
        raw[12:16] = p4
    elif net.prefixlen == 64:
        raw[9:13] = p4
    else:
        raise ValueError(prefix)
    return ".".join(reversed(bytes(raw).hex())) + ".ip6.arpa."


WWW = QNAMES[NAME_WWW]

# 1. AAAA NODATA with SOA, then an A answer with two addresses: synthesis.
b0, b1 = AAAA_Q | EDNS | PLAUSIBLE, 0
i = qid(b0, b1)
seed("nodata-soa-then-a.bin", b0, b1,
     dns(i, WWW, T_AAAA, authority=[soa("example.com.", 3600, 120)], additional=[opt()]),
     dns(i, WWW, T_A, answers=[a(WWW, "93.184.216.34", 900), a(WWW, "93.184.216.35", 30)], additional=[opt()]))

# 2. A real AAAA plus an excluded IPv4-mapped one: relayed, filtered.
b0, b1 = AAAA_Q | PLAUSIBLE, 0x40
i = qid(b0, b1)
seed("aaaa-real-and-mapped.bin", b0, b1,
     dns(i, WWW, T_AAAA, answers=[aaaa(WWW, "2001:db8::1"), aaaa(WWW, "::ffff:192.0.2.1"),
                                  rrsig(WWW, T_AAAA)], flags=0x81A0))

# 3. Only AAAA under excluded ranges (config 3), then A.
b0, b1 = AAAA_Q | EDNS | DO, 3
i = qid(b0, b1)
seed("aaaa-all-excluded-then-a.bin", b0, b1,
     dns(i, WWW, T_AAAA, answers=[aaaa(WWW, "2001:db8:bad::1"), aaaa(WWW, "64:ff9b::102:304")]),
     dns(i, WWW, T_A, answers=[a(WWW, "93.184.216.34"), a(WWW, "198.51.100.7")]))

# 4. A CNAME chain in both answers; an A at the wrong owner is ignored.
b0, b1 = AAAA_Q | EDNS | PLAUSIBLE, 1
i = qid(b0, b1)
chain = [cname(WWW, "cdn.example.net."), cname("cdn.example.net.", "edge.example.org.")]
seed("cname-chain.bin", b0, b1,
     dns(i, WWW, T_AAAA, answers=chain, authority=[soa("example.org.", 300, 30)]),
     dns(i, WWW, T_A, answers=chain + [a("edge.example.org.", "8.8.4.4", 60), a("cdn.example.net.", "1.1.1.1"),
                                       rrsig("cdn.example.net.", T_CNAME), rrsig("edge.example.org.", T_A)]))

# 5. A CNAME loop.
b0, b1 = AAAA_Q, 0
i = qid(b0, b1)
loop = [cname(WWW, "b.example.com."), cname("b.example.com.", WWW)]
seed("cname-loop.bin", b0, b1, dns(i, WWW, T_AAAA, answers=loop), dns(i, WWW, T_A, answers=loop + [a(WWW, "9.9.9.9")]))

# 6. NXDOMAIN: relayed, A never asked.
b0, b1 = AAAA_Q | EDNS, 0x80
i = qid(b0, b1)
seed("nxdomain.bin", b0, b1, dns(i, WWW, T_AAAA, rcode=3, authority=[soa("example.com.")], additional=[opt()]))

# 7. SERVFAIL, then A (synthesize on error, the default).
b0, b1 = AAAA_Q | EDNS | PLAUSIBLE, 0
i = qid(b0, b1)
seed("servfail-then-a.bin", b0, b1,
     dns(i, WWW, T_AAAA, rcode=2, additional=[opt(options=ede(22, b"no reachable authority"))]),
     dns(i, WWW, T_A, answers=[a(WWW, "93.184.216.34", 86400)]))

# 8. SERVFAIL with synthesize_on_error off (config 6): relayed.
b0, b1 = AAAA_Q | EDNS, 6
i = qid(b0, b1)
seed("servfail-no-synthesis.bin", b0, b1, dns(i, WWW, T_AAAA, rcode=2))

# 9. Truncated (TC) AAAA answer, then A.
b0, b1 = AAAA_Q, 0
i = qid(b0, b1)
seed("truncated-then-a.bin", b0, b1,
     dns(i, WWW, T_AAAA, answers=[aaaa(WWW, "2001:db8::2")], flags=0x8380),
     dns(i, WWW, T_A, answers=[a(WWW, "93.184.216.34")]))

# 10. No answer at all (timeouts): SERVFAIL.
seed("timeouts.bin", AAAA_Q | EDNS, 0)

# 11. Garbage upstream answers.
seed("garbage.bin", AAAA_Q | PLAUSIBLE, 0, b"\x00\x01\x02", b"\xff" * 40, bytes(range(64)))

# 12. A forced name (config 2): A asked first; an A answer with an AAAA in it.
b0, b1 = AAAA_Q | EDNS, 2 | NAME_FORCED
i = qid(b0, b1)
f = QNAMES[NAME_FORCED]
seed("forced-name.bin", b0, b1, dns(i, f, T_A, answers=[a(f, "203.0.113.9"), aaaa(f, "2001:db8::9")]))
seed("forced-name-nodata.bin", b0, b1, dns(i, f, T_A, authority=[soa("forced.test.", 60, 600)]))

# 13. PTR under the well-known prefix (config 1, several prefixes).
b0, b1 = PTR_Q | EDNS | PLAUSIBLE, 1
i = qid(b0, b1)
target = "34.216.184.93.in-addr.arpa."
seed("ptr.bin", b0, b1, dns(i, target, T_PTR, answers=[rr(target, T_PTR, 3600, dname("host.example.com."))]))
seed("ptr-nxdomain.bin", b0, b1, dns(i, target, T_PTR, rcode=3, authority=[soa("184.93.in-addr.arpa.")]))
seed("ptr-non-global.bin", PTR_Q, 0x20)

# 14. ipv4only.arpa, answered locally under every prefix.
seed("ipv4only.bin", AAAA_Q | EDNS, 5 | NAME_IPV4ONLY)

# 15. Many A records under several prefixes (config 1).
b0, b1 = AAAA_Q | PLAUSIBLE, 1
i = qid(b0, b1)
seed("many-a-many-prefixes.bin", b0, b1,
     dns(i, WWW, T_AAAA, authority=[soa("example.com.")]),
     dns(i, WWW, T_A, answers=[a(WWW, "93.184.%d.%d" % (n // 250, n % 250 + 1)) for n in range(80)]))

# 16. EDE 29 on (config 5), the upstream's own EDE passed on, AD kept.
b0, b1 = AAAA_Q | EDNS | DO | PLAUSIBLE, 5
i = qid(b0, b1)
seed("ede-and-ad.bin", b0, b1,
     dns(i, WWW, T_AAAA, authority=[soa("example.com."), rrsig("example.com.", T_SOA)], additional=[opt(do=True)], flags=0x81A0),
     dns(i, WWW, T_A, answers=[a(WWW, "93.184.216.34"), rrsig(WWW, T_A)],
         additional=[opt(do=True, options=ede(3, b"stale"))], flags=0x81A0))

# 17. Mismatched answers: wrong ID, wrong question, not a response.
b0, b1 = AAAA_Q, 0
i = qid(b0, b1)
seed("mismatched.bin", b0, b1,
     dns(i ^ 1, "other.example.", T_AAAA, answers=[aaaa("other.example.", "2001:db8::66")]),
     dns(i, WWW, T_A, answers=[a(WWW, "93.184.216.34")], flags=0x0100))

# 18. Never-mapped IPv4 and non-global allowed (config 4).
b0, b1 = AAAA_Q, 4
i = qid(b0, b1)
seed("never-map.bin", b0, b1,
     dns(i, WWW, T_AAAA),
     dns(i, WWW, T_A, answers=[a(WWW, "203.0.113.1"), a(WWW, "10.0.0.1"), a(WWW, "93.184.216.34")]))

# 19. Forwarded: DO+CD, an A query, MX, an excluded name.
seed("forward-do-cd.bin", AAAA_Q | EDNS | DO | CD, 0)
seed("forward-a.bin", A_Q, 0)
seed("forward-mx.bin", MX_Q, 0)
seed("forward-excluded-name.bin", AAAA_Q, 1 | NAME_EXCLUDED)

# 20. Extended RCODE (BADCOOKIE) upstream to a client without EDNS (config 7).
b0, b1 = AAAA_Q | PLAUSIBLE, 7 | 0xC0
i = qid(b0, b1)
seed("badcookie-no-edns.bin", b0, b1, dns(i, WWW, T_AAAA, rcode=7, additional=[rr(".", T_OPT, 0x01000000, b"", rclass=1232)]))


# --- xlat_6to4 / xlat_4to6 ---------------------------------------------------

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(">%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def seal(l4, at, pseudo):
    l4 = l4[:at] + b"\0\0" + l4[at + 2:]
    c = csum(pseudo + l4)
    return l4[:at] + struct.pack(">H", c) + l4[at + 2:]


def v6addr(text):
    return ipaddress.IPv6Address(text).packed


def v4addr(text):
    return ipaddress.IPv4Address(text).packed


H6, S6 = v6addr("64:ff9b::c000:201"), v6addr("64:ff9b::c633:6407")
H4, S4 = v4addr("192.0.2.1"), v4addr("198.51.100.7")


def ip6(src, dst, nh, payload, hop=64, tc=0):
    return (struct.pack(">IHBB", (6 << 28) | (tc << 20), len(payload), nh, hop) + src + dst + payload)


def ps6(src, dst, length, nh):
    return src + dst + struct.pack(">IxxxB", length, nh)


def ip4(src, dst, proto, payload, ttl=64, df=True, mf=False, off=0, ident=0x1234, options=b"", tos=0):
    ihl = 5 + len(options) // 4
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | off
    h = struct.pack(">BBHHHBBH", 0x40 | ihl, tos, ihl * 4 + len(payload), ident, flags, ttl, proto, 0) + src + dst + options
    h = h[:10] + struct.pack(">H", csum(h)) + h[12:]
    return h + payload


def ps4(src, dst, length, proto):
    return src + dst + struct.pack(">xBH", proto, length)


def udp(sport, dport, data, pseudo):
    u = struct.pack(">HHHH", sport, dport, 8 + len(data), 0) + data
    return seal(u, 6, pseudo(len(u)))


def tcp(sport, dport, data, pseudo, flags=0x18):
    t = struct.pack(">HHIIBBHHH", sport, dport, 1, 0, 0x50, flags, 0xFFFF, 0, 0) + data
    return seal(t, 16, pseudo(len(t)))


def icmp4(ty, code, rest, body):
    m = struct.pack(">BBH", ty, code, 0) + rest + body
    return seal(m, 2, b"")


def icmp6(src, dst, ty, code, rest, body):
    m = struct.pack(">BBH", ty, code, 0) + rest + body
    return seal(m, 2, ps6(src, dst, len(m), 58))


def udp6(src, dst, data, sport=40000, dport=53):
    return ip6(src, dst, 17, udp(sport, dport, data, lambda n: ps6(src, dst, n, 17)))


def udp4(src, dst, data, sport=53, dport=40000, **kw):
    return ip4(src, dst, 17, udp(sport, dport, data, lambda n: ps4(src, dst, n, 17)), **kw)


# IPv6 -> IPv4.
T = "xlat_6to4"
write(T, "udp.bin", udp6(H6, S6, b"hello, v4"))
write(T, "tcp-syn.bin", ip6(H6, S6, 6, tcp(40000, 443, b"", lambda n: ps6(H6, S6, n, 6), flags=0x02)))
write(T, "tcp-1500.bin", ip6(H6, S6, 6, tcp(40000, 443, bytes(1440), lambda n: ps6(H6, S6, n, 6))))
write(T, "echo-request.bin", ip6(H6, S6, 58, icmp6(H6, S6, 128, 0, struct.pack(">HH", 7, 1), b"ping")))
write(T, "hop-limit-1.bin", ip6(H6, S6, 17, udp(1, 2, b"x", lambda n: ps6(H6, S6, n, 17)), hop=1))
u = udp(1, 2, bytes(64), lambda n: ps6(H6, S6, n, 17))
write(T, "fragment-first.bin", ip6(H6, S6, 44, struct.pack(">BxHI", 17, 1, 0xABCD) + u[:48]))
write(T, "fragment-later.bin", ip6(H6, S6, 44, struct.pack(">BxHI", 17, 48, 0xABCD) + u[48:]))
write(T, "hop-by-hop-dstopts.bin", ip6(H6, S6, 0, bytes([60, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0]) + udp(1, 2, b"ext", lambda n: ps6(H6, S6, n, 17))))
write(T, "routing-segments-left.bin", ip6(H6, S6, 43, bytes([17, 2, 0, 1]) + bytes(20) + udp(1, 2, b"rt", lambda n: ps6(H6, S6, n, 17))))
write(T, "udp-zero-checksum.bin", ip6(H6, S6, 17, struct.pack(">HHHH", 1, 2, 10, 0) + b"zz"))
write(T, "mld-query.bin", ip6(H6, S6, 58, icmp6(H6, S6, 130, 0, bytes(4), bytes(16)), hop=1))
q6 = udp6(S6, H6, bytes(40), sport=53, dport=40000)
R6 = v6addr("2001:db8::1")
for name, ty, code, rest in [("dest-unreach-port", 1, 4, bytes(4)), ("packet-too-big", 2, 0, struct.pack(">I", 1400)),
                             ("time-exceeded", 3, 0, bytes(4)), ("param-problem-next-header", 4, 1, struct.pack(">I", 6)),
                             ("param-problem-pointer", 4, 0, struct.pack(">I", 24))]:
    write(T, name + ".bin", ip6(R6, S6, 58, icmp6(R6, S6, ty, code, rest, q6)))
ext = bytes([0x20, 0, 0, 0, 0, 8, 1, 1, 1, 2, 3, 4])
orig = q6 + bytes(128 - len(q6))
write(T, "rfc4884-extension.bin", ip6(R6, S6, 58, icmp6(R6, S6, 1, 0, bytes([16, 0, 0, 0]), orig + ext)))
write(T, "error-about-error.bin", ip6(R6, S6, 58, icmp6(R6, S6, 1, 0, bytes(4), ip6(S6, H6, 58, icmp6(S6, H6, 1, 4, bytes(4), bytes(48))))))
write(T, "junk.bin", b"\x60" + bytes(10))

# IPv4 -> IPv6.
T = "xlat_4to6"
write(T, "udp.bin", udp4(S4, H4, b"hello, v6"))
write(T, "tcp.bin", ip4(S4, H4, 6, tcp(443, 40000, b"data", lambda n: ps4(S4, H4, n, 6))))
write(T, "echo-reply.bin", ip4(S4, H4, 1, icmp4(0, 0, struct.pack(">HH", 7, 1), b"pong")))
write(T, "ttl-1.bin", udp4(S4, H4, b"x", ttl=1))
write(T, "udp-zero-checksum.bin", ip4(S4, H4, 17, struct.pack(">HHHH", 53, 40000, 10, 0) + b"zz"))
write(T, "df0-3000.bin", udp4(S4, H4, bytes(range(256)) * 12, df=False))
write(T, "df1-too-big.bin", udp4(S4, H4, bytes(1472)))
write(T, "fragment-first.bin", udp4(S4, H4, bytes(64), df=False, mf=True)[:20 + 48])
write(T, "options-record-route.bin", udp4(S4, H4, b"opts", options=bytes([7, 7, 4, 0, 0, 0, 0, 0])))
write(T, "options-source-route.bin", udp4(S4, H4, b"lsrr", options=bytes([131, 7, 4, 10, 0, 0, 1, 0])))
write(T, "timestamp.bin", ip4(S4, H4, 1, icmp4(13, 0, bytes(4), bytes(12))))
q4 = udp4(H4, S4, bytes(40), sport=40000, dport=53)
R4 = v4addr("203.0.113.254")
for name, ty, code, rest in [("dest-unreach-port", 3, 3, bytes(4)), ("frag-needed", 3, 4, struct.pack(">HH", 0, 1400)),
                             ("frag-needed-mtu-0", 3, 4, bytes(4)), ("protocol-unreach", 3, 2, bytes(4)),
                             ("time-exceeded", 11, 0, bytes(4)), ("param-problem", 12, 0, bytes([9, 0, 0, 0]))]:
    write(T, name + ".bin", ip4(R4, H4, 1, icmp4(ty, code, rest, q4), df=False))
orig = q4 + bytes(128 - len(q4))
write(T, "rfc4884-extension.bin", ip4(R4, H4, 1, icmp4(11, 0, bytes([0, 32, 0, 0]), orig + ext), df=False))
write(T, "error-about-error.bin", ip4(R4, H4, 1, icmp4(3, 1, bytes(4), ip4(H4, S4, 1, icmp4(3, 3, bytes(4), q4[:28]))), df=False))
write(T, "junk.bin", b"\x45" + bytes(10))


# --- nat64_sequence --------------------------------------------------------------

def rec(flags, dt, pkt):
    pkt = pkt + bytes(-len(pkt) % 8)
    return bytes([flags]) + struct.pack("<H", dt) + bytes([len(pkt) // 8]) + pkt


T = "nat64_sequence"
POOL0 = v4addr("203.0.113.0")
SRV = v4addr("198.51.100.7")
SRV6 = v6addr("64:ff9b::c633:6407")
HOST = v6addr("2001:db8:1::10")
up = udp6(HOST, SRV6, b"query", sport=1100, dport=53)
down = udp4(SRV, POOL0, b"answer", sport=53, dport=1100)
write(T, "udp-conversation.bin", rec(0, 0, up) + rec(0x01, 10, down) + rec(0x30, 400, up) + rec(0x01, 0, down) + rec(1, 0, down))
syn = ip6(HOST, SRV6, 6, tcp(1101, 443, b"", lambda n: ps6(HOST, SRV6, n, 6), flags=0x02))
synack = ip4(SRV, POOL0, 6, tcp(443, 1101, b"", lambda n: ps4(SRV, POOL0, n, 6), flags=0x12))
fin = ip6(HOST, SRV6, 6, tcp(1101, 443, b"", lambda n: ps6(HOST, SRV6, n, 6), flags=0x11))
write(T, "tcp-open-close.bin", rec(0, 0, syn) + rec(0x01, 5, synack) + rec(0, 5, fin) + rec(0x01, 5, synack) + rec(0x31, 300, synack))
ping = ip6(HOST, SRV6, 58, icmp6(HOST, SRV6, 128, 0, struct.pack(">HH", 1102, 1), b"ping"))
pong = ip4(SRV, POOL0, 1, icmp4(0, 0, struct.pack(">HH", 1102, 1), b"ping"))
write(T, "ping.bin", rec(0, 0, ping) + rec(0x01, 1, pong) + rec(1, 1, pong))
hair = udp6(HOST, SRV6, b"to a pool address", sport=1103, dport=1100)
write(T, "hairpin.bin", rec(0, 0, up) + rec(4, 1, hair))
write(T, "raw-junk.bin", rec(0x08, 0, b"\x60" + bytes(50)) + rec(0x09, 0, b"\x45" + bytes(30)))
big = udp6(HOST, SRV6, bytes(range(256)) * 8, sport=1104, dport=53)
body = big[40:]
f1 = ip6(HOST, SRV6, 44, struct.pack(">BxHI", 17, 1, 7) + body[:1232])
f2 = ip6(HOST, SRV6, 44, struct.pack(">BxHI", 17, 1232 | 0, 7) + body[1232:])
write(T, "fragments-v6.bin", rec(0, 0, f2) + rec(0, 1, f1))
whole = udp4(SRV, POOL0, bytes(range(256)) * 8, sport=53, dport=1104, df=False)
pay = whole[20:]
g1 = ip4(SRV, POOL0, 17, pay[:1480], df=False, mf=True)
g2 = ip4(SRV, POOL0, 17, pay[1480:], df=False, off=1480 // 8)
write(T, "fragments-v4.bin", rec(0, 0, up) + rec(0x41, 1, g2) + rec(0x41, 1, g1) + rec(0x21, 90, g2))
# The state layer's timers and stored SYNs (RFC 6146 §3.5.2.2): an
# unsolicited SYN kept six seconds then answered with Port Unreachable; a
# simultaneous open under address-dependent filtering (first flags bit 7):
# the host's mapping exists, a peer's SYN to it is stored, the host's SYN to
# the peer releases it; an established session probed at its lifetime, the
# host answering, then nobody.
PEER = v4addr("192.0.2.1")
PEER6 = v6addr("64:ff9b::c000:201")
lone = ip4(PEER, POOL0, 6, tcp(5555, 1200, b"", lambda n: ps4(PEER, POOL0, n, 6), flags=0x02))
write(T, "syn-stored-expires.bin", rec(0x81, 0, lone) + rec(0x38, 5, b"") + rec(0x38, 2, b"") + rec(0x81, 0, lone))
peer_syn = ip4(PEER, POOL0, 6, tcp(5555, 1101, b"", lambda n: ps4(PEER, POOL0, n, 6), flags=0x02))
syn_to_peer = ip6(HOST, PEER6, 6, tcp(1101, 5555, b"", lambda n: ps6(HOST, PEER6, n, 6), flags=0x02))
peer_synack = ip4(PEER, POOL0, 6, tcp(5555, 1101, b"", lambda n: ps4(PEER, POOL0, n, 6), flags=0x12))
write(T, "simultaneous-open.bin", rec(0x80, 0, syn) + rec(0x43, 1000, peer_syn) + rec(0x40, 2000, syn_to_peer) + rec(0x43, 10, peer_synack) + rec(0x38, 10, b""))
ack = ip6(HOST, SRV6, 6, tcp(1101, 443, b"", lambda n: ps6(HOST, SRV6, n, 6), flags=0x10))
write(T, "probe.bin", rec(0, 0, syn) + rec(0x01, 5, synack) + rec(0x38, 7440, b"") + rec(0x10, 1, ack) + rec(0x38, 7440, b"") + rec(0x38, 240, b""))
