#!/usr/bin/env python3
"""Helpers for servers/bench/nat64.sh (stdlib only).

  nat64_helper.py accept HOST PORT SECS
      A TCP server for the connection-rate load: accepts and closes every connection, for at
      most SECS seconds; prints "ready" once listening, "accepted N" at the end.

  nat64_helper.py connect HOST PORT SECS CONCURRENCY
      The connection-rate load: keeps CONCURRENCY non-blocking connects in flight for SECS
      seconds; each one, once established, is closed with SO_LINGER 0 (an RST: no TIME_WAIT,
      so the client's ~28k ephemeral ports never run out) and replaced by a new one. A connect
      still pending after 3 s is counted as a timeout. Prints one line:
          established errors timeouts seconds per_second

  nat64_helper.py iperf tcp|udp FILE
      Parses `iperf3 -J` client output (UDP: with --get-server-output) and prints one line:
          tcp: gbit_per_s retransmits seconds
          udp: received_per_s lost_percent sent received seconds
      (UDP received = what the server counted: the last sequence number seen minus the gaps;
      "-" when the file has no result.)

  nat64_helper.py report RAW CLK_TCK VARIANT...
      Turns the raw tab-separated results of nat64.sh into the markdown tables.
"""

import errno
import json
import os
import select
import socket
import statistics
import struct
import sys
import time


def accept(args):
    host, port, secs = args[0], int(args[1]), float(args[2])
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port))
    s.listen(4096)
    s.settimeout(0.5)
    print("ready", flush=True)
    n = 0
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            c, _ = s.accept()
        except socket.timeout:
            continue
        except OSError:
            continue
        c.close()
        n += 1
    print(f"accepted {n}", flush=True)


def connect(args):
    host, port, secs, conc = args[0], int(args[1]), float(args[2]), int(args[3])
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    addr = (host, port)
    linger = struct.pack("ii", 1, 0)
    ep = select.epoll()
    live = {}  # fd -> (socket, started)
    ok = err = tmo = 0

    def start():
        nonlocal err
        s = socket.socket(fam, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
        e = s.connect_ex(addr)
        if e not in (0, errno.EINPROGRESS):
            err += 1
            s.close()
            return
        ep.register(s.fileno(), select.EPOLLOUT)
        live[s.fileno()] = (s, time.monotonic())

    t0 = time.monotonic()
    end = t0 + secs
    for _ in range(conc):
        start()
    last_sweep = t0
    while True:
        now = time.monotonic()
        if now >= end:
            break
        for fd, _ev in ep.poll(min(0.1, end - now)):
            s, _ = live.pop(fd)
            ep.unregister(fd)
            if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                ok += 1
            else:
                err += 1
            s.close()
            start()
        now = time.monotonic()
        if now - last_sweep > 0.5:
            last_sweep = now
            for fd in [fd for fd, (_, t) in live.items() if now - t > 3]:
                s, _ = live.pop(fd)
                ep.unregister(fd)
                s.close()
                tmo += 1
                start()
        while len(live) < conc and time.monotonic() < end:
            before = err
            start()
            if err > before:
                time.sleep(0.001)  # out of ports or similar: do not spin
    secs = time.monotonic() - t0
    for s, _ in live.values():
        s.close()
    print(f"{ok} {err} {tmo} {secs:.3f} {ok / secs:.1f}")


def iperf(args):
    kind, path = args[0], args[1]
    try:
        with open(path) as f:
            j = json.load(f)
    except (OSError, ValueError):
        print("- - - - - -" if kind == "udp" else "- - -")
        return
    end = j.get("end") or {}
    if kind == "tcp":
        r = end.get("sum_received") or {}
        s = end.get("sum_sent") or {}
        if not r.get("seconds"):
            print("- - -")
            return
        print(f"{r['bits_per_second'] / 1e9:.3f} {s.get('retransmits', '-')} {r['seconds']:.2f}")
        return
    # UDP: the server's own result (what arrived), from --get-server-output.
    srv = j.get("server_output_json") or {}
    ss = (srv.get("end") or {}).get("sum") or {}
    if not ss.get("seconds"):
        print("- - - - - -")
        return
    sent = ss["packets"]
    lost = ss["lost_packets"]
    rx = sent - lost
    secs = ss["seconds"]
    print(f"{rx / secs:.0f} {ss.get('lost_percent', 0):.2f} {sent} {rx} {secs:.2f}")


# ---- report --------------------------------------------------------------------------------

LOADS = [
    ("tcp1", "TCP, 1 stream (Gbit/s)", 1.0),
    ("tcp4", "TCP, 4 streams (Gbit/s)", 1.0),
    ("udp64", "UDP 64-byte payloads, forwarded (kpps)", 1e-3),
    ("conn", "new TCP connections/s", 1.0),
]
TITLE = {"kernel": "kernel IPv4 forwarding", "tayga": "TAYGA + masquerade", "sixgate": "sixgate nat64"}


def fmt(x, nd):
    if x is None:
        return "-"
    if nd == 0:
        return f"{x:,.0f}"
    return f"{x:,.{nd}f}"


def report(args):
    raw, clk = args[0], float(args[1])
    variants = args[2:]
    foreign_max = float(os.environ.get("FOREIGN_MAX", "0.2"))
    stat = os.environ.get("STAT", "median")
    notes = {}
    rows = []  # dicts
    facts = []
    with open(raw) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) >= 3 and p[1] == "note":
                notes.setdefault(p[0], []).append(p[2])
                continue
            if p[0] == "fact":
                facts.append((p[1], p[2]))
                continue
            # variant round load value extra1 extra2 secs xticks foreign cpu0 cpu1 softirq
            v, rnd, load = p[0], int(p[1]), p[2]

            def num(x):
                try:
                    return float(x)
                except ValueError:
                    return None

            secs = num(p[6]) or 0.0
            rows.append({
                "v": v, "round": rnd, "load": load, "value": num(p[3]), "x1": p[4], "x2": p[5],
                "secs": secs, "xcpu": (num(p[7]) / clk / secs) if num(p[7]) is not None and secs else None,
                "foreign": (num(p[8]) / clk / secs) if secs else None,
                "cpu0": (num(p[9]) / clk / secs) if secs else None,
                "cpu1": (num(p[10]) / clk / secs) if secs else None,
                "sirq": (num(p[11]) / clk / secs) if secs else None,
            })

    def chosen(v, load):
        rs = [r for r in rows if r["v"] == v and r["load"] == load and r["value"] is not None]
        und = [r for r in rs if r["foreign"] is not None and r["foreign"] <= foreign_max]
        return (und if und else rs), len(und), len(rs)

    def pick(rs, key):
        vals = [r[key] for r in rs if r[key] is not None]
        if not vals:
            return None
        if stat == "best" and key == "value":
            return max(vals)
        return statistics.median(vals)

    res = {}
    for v in variants:
        for load, _, scale in LOADS:
            rs, und, total = chosen(v, load)
            val = pick(rs, "value")
            extra = None
            if load == "udp64":
                # offered, received (pps)
                def med(k):
                    xs = [float(r[k]) for r in rs if r[k] not in ("-", "")]
                    return statistics.median(xs) if xs else None
                extra = (med("x1"), med("x2"))
            elif load == "conn":
                es = [int(r["x1"]) + int(r["x2"]) for r in rs if r["x1"].isdigit() and r["x2"].isdigit()]
                extra = max(es) if es else None
            elif load.startswith("tcp"):
                es = [int(r["x1"]) for r in rs if r["x1"].isdigit()]
                extra = statistics.median(es) if es else None
            per = []
            for r in rs:
                if r["xcpu"] is not None and r["value"]:
                    if load.startswith("tcp"):  # CPU-ms per GB (1e9 bytes) received
                        per.append(r["xcpu"] / (r["value"] / 8) * 1e3)
                    else:  # CPU-µs per packet forwarded / per connection
                        per.append(r["xcpu"] / r["value"] * 1e6)
            res[(v, load)] = {
                "per": statistics.median(per) if per else None,
                "value": None if val is None else val * scale, "extra": extra, "und": und,
                "total": total, "xcpu": pick(rs, "xcpu"), "cpu0": pick(rs, "cpu0"),
                "cpu1": pick(rs, "cpu1"), "sirq": pick(rs, "sirq"),
            }

    def cell(v, load):
        r = res[(v, load)]
        if r["value"] is None:
            n = notes.get(v)
            return n[0].split(" (")[0].split(":")[0] if n else "no result"
        nd = 2 if load.startswith("tcp") else (1 if load == "udp64" else 0)
        s = fmt(r["value"], nd)
        if r["und"] == 0:
            s += " *"
        if load == "udp64" and r["extra"] is not None:
            o, rx = r["extra"]
            s += f" (offered {fmt(o and o / 1e3, 0)}, received {fmt(rx and rx / 1e3, 0)})"
        if load == "conn" and r["extra"]:
            s += f" ({r['extra']} failed)"
        return s

    def ratio(a, b, load):
        x, y = res.get((a, load)), res.get((b, load))
        if not x or not y or x["value"] is None or not y["value"]:
            return "-"
        star = " *" if x["und"] == 0 or y["und"] == 0 else ""
        return f"{x['value'] / y['value']:.2f}{star}"

    head = ["load"] + [TITLE.get(v, v) for v in variants]
    pairs = []
    if "sixgate" in variants and "tayga" in variants:
        pairs.append(("sixgate", "tayga"))
    if "sixgate" in variants and "kernel" in variants:
        pairs.append(("sixgate", "kernel"))
    if "tayga" in variants and "kernel" in variants:
        pairs.append(("tayga", "kernel"))
    head += [f"{a}/{b}" for a, b in pairs] + ["undisturbed runs (" + "/".join(variants) + ")"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for load, title, _ in LOADS:
        line = [title] + [cell(v, load) for v in variants]
        line += [ratio(a, b, load) for a, b in pairs]
        line.append("/".join(f"{res[(v, load)]['und']} of {res[(v, load)]['total']}" for v in variants))
        print("| " + " | ".join(line) + " |")
    print()
    if any(r["und"] == 0 and r["value"] is not None for r in res.values()):
        print("\\* only disturbed runs of this load (others used more than "
              f"{foreign_max} of a CPU during every one): a lower bound, and a ratio with it is "
              "not a fair comparison.")
        print()
    print("CPU during each load (" + stat + " of the runs above; shares of one CPU): "
          "translator process (TAYGA or sixgate, all threads, with the kernel work done in its "
          "system calls: TUN reads/writes, and for TAYGA the SNAT of what it writes) / CPU 0 busy / "
          "CPU 1 busy / softirq on both CPUs / others on the machine (process times are exact, "
          "/proc/stat is sampled by ticks: about ±0.05, shown from 0). Per unit: the translator's "
          "CPU per GB received (TCP, ms), per packet forwarded (UDP, µs), per connection (µs): "
          "what it costs whether or not it was the bottleneck. TCP retransmits: iperf3's count "
          "on the sender.")
    print()
    print("| load | variant | translator | per unit | CPU 0 | CPU 1 | softirq | others | TCP retransmits |")
    print("|---|---|---|---|---|---|---|---|---|")
    for load, title, _ in LOADS:
        for v in variants:
            r = res[(v, load)]
            if r["value"] is None:
                continue
            rs, _, _ = chosen(v, load)
            fo = pick(rs, "foreign")
            retr = fmt(r["extra"], 0) if load.startswith("tcp") and r["extra"] is not None else ""
            unit = {"tcp1": "ms/GB", "tcp4": "ms/GB", "udp64": "µs/packet", "conn": "µs/conn"}[load]
            per = f"{fmt(r['per'], 0 if load.startswith('tcp') else 2)} {unit}" if r["per"] is not None else "-"
            print(f"| {title} | {TITLE.get(v, v)} | {fmt(r['xcpu'], 2)} | {per} | {fmt(r['cpu0'], 2)} | "
                  f"{fmt(r['cpu1'], 2)} | {fmt(r['sirq'], 2)} | {fmt(max(fo, 0.0) if fo is not None else None, 2)} | {retr} |")
    print()
    dist = [r for r in rows if r["foreign"] is not None and r["foreign"] > foreign_max]
    if dist:
        parts = []
        for v in variants:
            ds = [r for r in dist if r["v"] == v]
            if ds:
                parts.append(f"{v} " + ", ".join(
                    f"{r['load']} r{r['round']} ({r['foreign']:.2f})" for r in ds))
        print(f"Disturbed loads (others used more than {foreign_max} of a CPU; left out where an "
              "undisturbed run of the same load exists), with the others' CPU share: "
              + "; ".join(parts) + ".")
    else:
        print(f"Disturbance: no load saw others use more than {foreign_max} of a CPU "
              f"(largest: {max((r['foreign'] or 0) for r in rows) if rows else 0:.2f}).")
    for v in variants:
        seen = {}
        for n in notes.get(v, []):
            rnd, text = None, n
            if n.startswith("round ") and ": " not in n.split(" ", 2)[1]:
                head, _, text = n.partition(" ")[2].partition(" ")
                rnd = head
            seen.setdefault(text, []).append(rnd)
        for text, rnds in seen.items():
            rs = [x for x in rnds if x]
            where = f"rounds {', '.join(rs)}: " if len(rs) > 1 else (f"round {rs[0]}: " if rs else "")
            print(f"\n{TITLE.get(v, v)}: {where}{text}")


def main():
    cmd, args = sys.argv[1], sys.argv[2:]
    {"accept": accept, "connect": connect, "iperf": iperf, "report": report}[cmd](args)


if __name__ == "__main__":
    main()
