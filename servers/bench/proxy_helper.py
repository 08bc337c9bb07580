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

    stat = os.environ.get("STAT", "median")
    foreign_max = float(os.environ.get("FOREIGN_MAX", "0.1"))

    def pick(vals, higher_is_better):
        vals = [v for v in vals if v is not None]
        if not vals:
            return None
        if stat == "best":
            return max(vals) if higher_is_better else min(vals)
        return statistics.median(vals)

    res = {}
    for t in order:
        r = {}
        used = []
        for kind in ("conn", "ka", "bulk"):
            runs = []
            for fields in rows.get((t, kind), []):
                count, secs, ticks, nbytes, e = fields[:5]
                foreign = int(fields[5]) if len(fields) > 5 else 0
                count, secs, nbytes = int(count), float(secs), int(nbytes)
                r[kind + "_err"] = r.get(kind + "_err", 0) + int(e)
                if count == 0 or secs <= 0:
                    continue
                if kind == "bulk":
                    rate = nbytes / 1e6 / secs
                    cpu = int(ticks) / clk / (nbytes / 1e9) if ticks != "-" else None  # s/GB
                else:
                    rate = count / secs
                    cpu = int(ticks) / clk / count * 1e6 if ticks != "-" else None  # µs/unit
                # Disturbed: others used more than foreign_max of one CPU during the load.
                clean = foreign <= foreign_max * secs * clk
                runs.append((rate, cpu, clean))
            chosen = [x for x in runs if x[2]] or runs
            used.append(f"{sum(1 for x in runs if x[2])}")
            r[kind] = pick([x[0] for x in chosen], True)
            r[kind + "_cpu"] = pick([x[1] for x in chosen], False)
        r["clean"] = "/".join(used)
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
               "| RSS kB/1k established | held | undisturbed runs |")
    out.append("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for t in order:
        r = res[t]
        if t in notes and not r.get("conn"):
            out.append(f"| {t} | {notes[t]} ||||||||||||||")
            continue
        errs = sum(r.get(k + "_err", 0) for k in ("conn", "ka", "bulk"))
        name = t + (f" ({errs} errors)" if errs else "")
        out.append(
            f"| {name} | {fmt(r.get('conn'))} | {fmt(ratio(t, 'conn'), 2)} "
            f"| {fmt(r.get('ka'))} | {fmt(ratio(t, 'ka'), 2)} "
            f"| {fmt(r.get('bulk'))} | {fmt(ratio(t, 'bulk'), 2)} "
            f"| {fmt(r.get('conn_cpu'))} | {fmt(r.get('ka_cpu'), 1)} | {fmt(r.get('bulk_cpu'), 2)} "
            f"| {fmt(r.get('idle-partial'))} | {r.get('held-partial', '—')} "
            f"| {fmt(r.get('idle-established'))} | {r.get('held-established', '—')} "
            f"| {r.get('clean', '—')} |"
        )

    peers = [t for t in order if t != "direct" and not t.startswith("sixgate") and res[t].get("conn")]
    mine_targets = [t for t in order if t.startswith("sixgate") and res[t].get("conn")] or ["sixgate"]
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
    out.append("| figure | best peer | " + " | ".join(mine_targets) + " | better than the best peer? |")
    out.append("|---|---|" + "---:|" * len(mine_targets) + "---|")
    for label, key, how, nd in figures:
        if how == "ratio":
            vals = [(ratio(t, key), t) for t in peers if ratio(t, key) is not None]
            best = max(vals) if vals else None
            mine = [ratio(m, key) if res.get(m, {}).get(key) else None for m in mine_targets]
            better = [None if best is None or v is None else v > best[0] for v in mine]
        else:
            vals = [(res[t].get(key), t) for t in peers if res[t].get(key) is not None]
            best = min(vals) if vals else None
            mine = [res.get(m, {}).get(key) for m in mine_targets]
            better = [None if best is None or v is None else v < best[0] for v in mine]
        bp = f"{fmt(best[0], nd)} ({best[1]})" if best else "—"
        verdict = ", ".join("—" if b is None else ("yes" if b else "no") for b in better)
        out.append(f"| {label} | {bp} | " + " | ".join(fmt(v, nd) for v in mine) + f" | {verdict} |")
    print("\n".join(out))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "idle":
        idle(sys.argv[2:])
    elif cmd == "report":
        report(sys.argv[2:])
    else:
        sys.exit(__doc__)
