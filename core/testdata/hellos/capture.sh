#!/bin/sh
# Regenerates the ClientHellos in this directory from the real TLS clients
# installed on this machine. Each client connects to a throwaway listener on
# 127.0.0.1 (nothing leaves the machine), which saves the client's first
# flight up to the end of its ClientHello, then closes; the client fails,
# as it should. Every client asks for the name capture.example.test and for
# ALPN h2,http/1.1 where it can be told to.
#
#   core/testdata/hellos/capture.sh [client...]
#
# Clients: openssl openssl-split curl python node rustls (default: all that
# are installed). Needs python3. Run from anywhere; writes <client>.bin here.
set -eu
cd "$(dirname "$0")"
exec python3 - "$@" <<'PY'
import os, shutil, socket, subprocess, sys

NAME = "capture.example.test"
# Enough ALPN names to push openssl's hello past 512 bytes, so that
# -max_send_frag 512 makes it span two records.
MANY = ",".join(["h2", "http/1.1"] + [f"x-capture-protocol-{i:02d}" for i in range(16)])
ROOT = os.path.abspath("../../..")

CLIENTS = {
    "openssl": ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
                "-servername", NAME, "-alpn", "h2,http/1.1"],
    "openssl-split": ["openssl", "s_client", "-connect", "127.0.0.1:{port}",
                      "-servername", NAME, "-alpn", MANY, "-max_send_frag", "512"],
    "curl": ["curl", "-sS", "--max-time", "10", "--resolve",
             NAME + ":{port}:127.0.0.1", "https://" + NAME + ":{port}/"],
    "python": ["python3", "-c",
               "import socket, ssl\n"
               "ctx = ssl.create_default_context()\n"
               "ctx.set_alpn_protocols(['h2', 'http/1.1'])\n"
               "s = socket.create_connection(('127.0.0.1', {port}))\n"
               "ctx.wrap_socket(s, server_hostname='" + NAME + "')\n"],
    "node": ["node", "-e",
             "const s = require('tls').connect({{host: '127.0.0.1', port: {port}, "
             "servername: '" + NAME + "', ALPNProtocols: ['h2', 'http/1.1']}});"
             "s.on('error', () => {{}});"],
    # rustls's client, from core/examples/rustls_hello.rs.
    "rustls": ["cargo", "run", "-q", "-p", "sixgate", "--example", "rustls_hello", "--",
               "127.0.0.1:{port}"],
}


def hello_end(buf):
    """Length of the records holding a whole ClientHello, or None."""
    pos, message = 0, b""
    while len(buf) >= pos + 5:
        if buf[pos] != 0x16:
            raise ValueError(f"record type {buf[pos]} before the hello ended")
        n = int.from_bytes(buf[pos + 3:pos + 5], "big")
        if len(buf) < pos + 5 + n:
            return None
        message += buf[pos + 5:pos + 5 + n]
        pos += 5 + n
        if len(message) >= 4 and len(message) >= 4 + int.from_bytes(message[1:4], "big"):
            return pos
    return None


def capture(client, argv):
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    argv = [a.format(port=port) for a in argv]
    env = dict(os.environ, SIXGATE_CAPTURE_ADDR=f"127.0.0.1:{port}")
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env, cwd=ROOT)
    listener.settimeout(600 if client == "rustls" else 20)
    conn, _ = listener.accept()
    conn.settimeout(20)
    buf, end = b"", None
    while end is None:
        chunk = conn.recv(65536)
        if not chunk:
            raise SystemExit(f"{client}: closed before the hello was complete")
        buf += chunk
        end = hello_end(buf)
    conn.close()
    listener.close()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
    with open(f"{client}.bin", "wb") as f:
        f.write(buf[:end])
    print(f"{client}.bin: {end} bytes")


wanted = sys.argv[1:] or list(CLIENTS)
for client in wanted:
    argv = CLIENTS[client]
    if shutil.which(argv[0]) is None:
        print(f"{client}: {argv[0]} is not installed, skipped")
        continue
    capture(client, argv)
PY
