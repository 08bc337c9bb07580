#!/usr/bin/env python3
"""Helpers for servers/bench/proxy.sh (stdlib only).

  proxy_helper.py idle --port P --pid PID [--count N] [--settle S]
                       [--mode partial|none|established --cafile CERT --name SNI]
      Reads the VmRSS of PID (plus its direct children, for nginx's workers), opens N TCP
      connections to 127.0.0.1:P and on each: sends the first bytes of a TLS ClientHello
      (partial), nothing (none), or completes a TLS handshake with the backend through the
      proxy and then sends nothing (established). Waits S seconds, reads VmRSS again, checks
      how many connections are still open, closes them all and prints one line:
          rss_before_kb rss_after_kb opened still_open

  proxy_helper.py report RAW CLK_TCK [TARGET...]
      Turns the raw tab-separated results written by proxy.sh into the markdown report.
"""

import errno
import os
import socket
import statistics
import sys
import time


def proc_children(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    kids += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return kids


def rss_kb(pid):
    total = 0
    for p in [pid] + proc_children(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


# A ClientHello record header announcing 512 bytes, then the start of the handshake
# message: enough for a proxy to know it is TLS and to wait for the rest.
PARTIAL_HELLO = bytes.fromhex("1603010200" "010001fc" "0303") + os.urandom(32)


def ssl_want_read():
    import ssl

    return ssl.SSLWantReadError


def idle(args):
    opts = dict(count="5000", settle="3", mode="partial", port=None, pid=None, host="127.0.0.1",
                cafile=None, name="bench.example.test")
    it = iter(args)
    for a in it:
        key = a.lstrip("-")
        if key not in opts:
            sys.exit(f"unknown option {a}")
        opts[key] = next(it)
    port, pid = int(opts["port"]), int(opts["pid"])
    ctx = None
    if opts["mode"] == "established":
        import ssl

        ctx = ssl.create_default_context(cafile=opts["cafile"])
    count, settle = int(opts["count"]), float(opts["settle"])
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 1000), hard))

    time.sleep(0.5)
    before = rss_kb(pid)
    socks = []
    deadline = time.monotonic() + 90
    for _ in range(count):
        if time.monotonic() > deadline:
            break
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(5)
        try:
            s.connect((opts["host"], port))
            if opts["mode"] == "partial":
                s.sendall(PARTIAL_HELLO)
            elif ctx is not None:
                s = ctx.wrap_socket(s, server_hostname=opts["name"])
        except OSError:
            s.close()
            break
        s.setblocking(False)
        socks.append(s)
    time.sleep(settle)
    after = rss_kb(pid)
    still = 0
    for s in socks:
        try:
            data = s.recv(1)
            if data:  # the proxy answered (an alert?): counts as open but odd
                still += 1
        except (BlockingIOError, ssl_want_read()):
            still += 1
        except OSError:
            pass
    for s in socks:
        s.close()
    print(before, after, len(socks), still)


def fmt(x, nd=0):
    if x is None:
        return "—"
    return f"{x:,.{nd}f}"


def report(args):
    raw, clk = args[0], int(args[1])
    rows = {}
    order = list(args[2:])
    notes = {}
    with open(raw) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            target, kind = parts[0], parts[1]
            if target not in order:
                order.append(target)
            if kind == "note":
                notes[target] = parts[2]
                continue
            rows.setdefault((target, kind), []).append(parts[2:])

    def med(vals):
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None

    res = {}
    for t in order:
        r = {}
        for kind in ("conn", "ka", "bulk"):
            rates, cpus, errs = [], [], 0
            for count, secs, ticks, nbytes, e in rows.get((t, kind), []):
                count, secs, nbytes = int(count), float(secs), int(nbytes)
                errs += int(e)
                if count == 0 or secs <= 0:
                    continue
                if kind == "bulk":
                    rates.append(nbytes / 1e6 / secs)
                    if ticks != "-":
                        cpus.append(int(ticks) / clk / (nbytes / 1e9))  # s per GB
                else:
                    rates.append(count / secs)
                    if ticks != "-":
                        cpus.append(int(ticks) / clk / count * 1e6)  # µs per unit
            r[kind] = med(rates)
            r[kind + "_cpu"] = med(cpus)
            r[kind + "_err"] = errs
        for mode in ("partial", "established"):
            idle = rows.get((t, "idle-" + mode))
            if idle:
                before, after, opened, still = map(int, idle[-1])
                r["idle-" + mode] = (after - before) / opened * 1000 if opened else None
                r["held-" + mode] = f"{still}/{opened}"
        res[t] = r

    direct = res.get("direct", {})

    def ratio(t, k):
        d, v = direct.get(k), res[t].get(k)
        return v / d if d and v else None

    out = []
    out.append("| target | new TLS conn/s | ratio | keep-alive req/s | ratio | bulk MB/s | ratio "
               "| CPU µs/conn | CPU µs/req | CPU s/GB | RSS kB/1k in hello | held "
               "| RSS kB/1k established | held |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in order:
        r = res[t]
        if t in notes and not r.get("conn"):
            out.append(f"| {t} | {notes[t]} |||||||||||||")
            continue
        errs = sum(r.get(k + "_err", 0) for k in ("conn", "ka", "bulk"))
        name = t + (f" ({errs} errors)" if errs else "")
        out.append(
            f"| {name} | {fmt(r.get('conn'))} | {fmt(ratio(t, 'conn'), 2)} "
            f"| {fmt(r.get('ka'))} | {fmt(ratio(t, 'ka'), 2)} "
            f"| {fmt(r.get('bulk'))} | {fmt(ratio(t, 'bulk'), 2)} "
            f"| {fmt(r.get('conn_cpu'))} | {fmt(r.get('ka_cpu'), 1)} | {fmt(r.get('bulk_cpu'), 2)} "
            f"| {fmt(r.get('idle-partial'))} | {r.get('held-partial', '—')} "
            f"| {fmt(r.get('idle-established'))} | {r.get('held-established', '—')} |"
        )

    peers = [t for t in order if t not in ("direct", "sixgate") and res[t].get("conn")]
    figures = [
        ("new TLS conn/s (ratio to direct)", "conn", "ratio", 2),
        ("keep-alive req/s (ratio to direct)", "ka", "ratio", 2),
        ("bulk MB/s (ratio to direct)", "bulk", "ratio", 2),
        ("CPU µs per connection", "conn_cpu", "low", 0),
        ("CPU µs per request", "ka_cpu", "low", 1),
        ("CPU s per GB", "bulk_cpu", "low", 2),
        ("RSS kB per 1,000 idle connections (partial hello)", "idle-partial", "low", 0),
        ("RSS kB per 1,000 idle connections (established)", "idle-established", "low", 0),
    ]
    out.append("")
    out.append("| figure | best peer | sixgate | sixgate better? |")
    out.append("|---|---|---:|---|")
    six = res.get("sixgate", {})
    for label, key, how, nd in figures:
        if how == "ratio":
            vals = [(ratio(t, key), t) for t in peers if ratio(t, key) is not None]
            best = max(vals) if vals else None
            mine = ratio("sixgate", key) if six.get(key) else None
            better = None if best is None or mine is None else mine > best[0]
        else:
            vals = [(res[t].get(key), t) for t in peers if res[t].get(key) is not None]
            best = min(vals) if vals else None
            mine = six.get(key)
            better = None if best is None or mine is None else mine < best[0]
        bp = f"{fmt(best[0], nd)} ({best[1]})" if best else "—"
        out.append(f"| {label} | {bp} | {fmt(mine, nd)} | "
                   f"{'—' if better is None else ('yes' if better else 'no')} |")
    print("\n".join(out))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "idle":
        idle(sys.argv[2:])
    elif cmd == "report":
        report(sys.argv[2:])
    else:
        sys.exit(__doc__)
