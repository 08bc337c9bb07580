#!/usr/bin/env python3
"""Regenerates the synthetic seed corpus under fuzz/corpus/.

    python3 fuzz/gen_corpus.py

client_hello: the real captures from core/testdata/hellos/*.bin, plus
truncated, re-fragmented and hand-built variants of them. http_head: request
heads in every target form, and junk. proxy_header: PROXY protocol v1 and v2
headers (TCP4, TCP6, LOCAL, UNKNOWN, TLVs, AF_UNIX), whole and cut short.
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
