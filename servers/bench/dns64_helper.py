#!/usr/bin/env python3
"""Helpers for servers/bench/dns64.sh (stdlib only).

  dns64_helper.py gen DIR HIT MISS LAT SEED
      Writes the dnsperf query files (AAAA queries for names that only have an A record,
      all under the wildcard *.v4.bench.test):
          DIR/hit.txt      HIT fixed names h0 .. h{HIT-1} (the cache-hit set)
          DIR/miss.txt     MISS unique random labels, each asked once (the cache-miss load)
          DIR/lathit.txt   the hit set again (for the paced latency run)
          DIR/latmiss.txt  LAT unique random labels, distinct from miss.txt (paced latency run)

  dns64_helper.py dnsperf FILE
      Parses a dnsperf (2.x) summary and prints one tab-separated line:
          completed noerror lost run_seconds qps avg_latency_s latency_stddev_s

  dns64_helper.py lat FILE
      Parses `dnsperf -v` output (one "> RCODE name type latency" line per response, "T"
      for a timeout) and prints: responses timeouts p50_us p90_us p99_us max_us

  dns64_helper.py report RAW CLK_TCK [SERVER...]
      Turns the raw tab-separated results written by dns64.sh into the markdown tables.
"""

import os
import random
import re
import statistics
import sys


def gen(args):
    d, hit, miss, lat, seed = args[0], int(args[1]), int(args[2]), int(args[3]), int(args[4])
    rnd = random.Random(seed)
    with open(os.path.join(d, "hit.txt"), "w") as f:
        for i in range(hit):
            f.write(f"h{i}.v4.bench.test AAAA\n")
    with open(os.path.join(d, "lathit.txt"), "w") as f:
        for i in range(hit):
            f.write(f"h{i}.v4.bench.test AAAA\n")
    # A random part so no two runs (or implementations) see a tidy sequence, a counter so
    # every label is unique; "m" and "l" keep the two sets apart.
    for name, tag, n in (("miss.txt", "m", miss), ("latmiss.txt", "l", lat)):
        with open(os.path.join(d, name), "w") as f:
            for i in range(n):
                f.write(f"{tag}{rnd.getrandbits(40):010x}-{i}.v4.bench.test AAAA\n")


def parse_dnsperf(text):
    def num(pattern, default=None):
        m = re.search(pattern, text)
        return m.group(1) if m else default

    completed = int(num(r"Queries completed:\s+(\d+)", "0"))
    lost = int(num(r"Queries lost:\s+(\d+)", "0"))
    noerror = int(num(r"Response codes:.*?NOERROR (\d+)", "0"))
    secs = float(num(r"Run time \(s\):\s+([\d.]+)", "0"))
    qps = float(num(r"Queries per second:\s+([\d.]+)", "0"))
    avg = num(r"Average Latency \(s\):\s+([\d.]+)", "")
    sd = num(r"Latency StdDev \(s\):\s+([\d.]+)", "")
    return [completed, noerror, lost, secs, qps, avg or "-", sd or "-"]


def dnsperf_cmd(args):
    with open(args[0], errors="replace") as f:
        print("\t".join(str(x) for x in parse_dnsperf(f.read())))


def lat(args):
    lats = []
    timeouts = 0
    with open(args[0], errors="replace") as f:
        for line in f:
            if not line.startswith(">"):
                continue
            parts = line.split()
            if len(parts) >= 2 and parts[1] == "T":
                timeouts += 1
                continue
            try:
                lats.append(float(parts[-1]))
            except (ValueError, IndexError):
                pass
    if not lats:
        print(0, timeouts, "-", "-", "-", "-")
        return
    lats.sort()

    def pct(p):
        return lats[min(len(lats) - 1, int(round(p / 100 * (len(lats) - 1))))] * 1e6

    print(len(lats), timeouts, f"{pct(50):.0f}", f"{pct(90):.0f}", f"{pct(99):.0f}",
          f"{lats[-1] * 1e6:.0f}")


def fmt(x, nd=0):
    if x is None:
        return "—"
    return f"{x:,.{nd}f}"


def report(args):
    raw, clk = args[0], int(args[1])
    order = list(args[2:])
    rows, notes = {}, {}
    with open(raw) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            server, kind = parts[0], parts[1]
            if server not in order:
                order.append(server)
            if kind == "note":
                notes.setdefault(server, []).append(parts[2])
                continue
            rows.setdefault((server, kind), []).append(parts[2:])

    stat = os.environ.get("STAT", "median")
    foreign_max = float(os.environ.get("FOREIGN_MAX", "0.2"))

    def pick(vals, higher_is_better):
        vals = [v for v in vals if v is not None]
        if not vals:
            return None
        if stat == "best":
            return max(vals) if higher_is_better else min(vals)
        return statistics.median(vals)

    res = {}
    for s in order:
        for mix in ("hit", "miss"):
            runs = []
            for fields in rows.get((s, mix), []):
                (completed, noerror, lost, secs, qps, avg, _sd, ticks, foreign, rss0,
                 rss1) = fields[:11]
                noerror, secs = int(noerror), float(secs)
                if noerror == 0 or secs <= 0:
                    continue
                cpu = int(ticks) / clk / noerror * 1e6 if ticks != "-" else None  # µs/answer
                avg_ms = float(avg) * 1e3 if avg != "-" else None
                per_name = None
                if mix == "miss" and rss0 != "-" and rss1 != "-":
                    per_name = (int(rss1) - int(rss0)) * 1024 / noerror  # bytes per name
                clean = int(foreign) <= foreign_max * secs * clk
                runs.append(dict(qps=float(qps), answered=noerror, lost=int(lost),
                                 completed=int(completed), cpu=cpu, avg=avg_ms,
                                 rss=per_name, clean=clean))
            chosen = [r for r in runs if r["clean"]] or runs
            r = {"runs": f"{sum(1 for x in runs if x['clean'])}/{len(runs)}"}
            if chosen:
                r["qps"] = pick([x["qps"] for x in chosen], True)
                r["answered"] = pick([x["answered"] for x in chosen], True)
                r["lost"] = pick([x["lost"] for x in chosen], False)
                r["unanswered"] = pick([x["completed"] - x["answered"] for x in chosen], False)
                r["cpu"] = pick([x["cpu"] for x in chosen], False)
                r["avg"] = pick([x["avg"] for x in chosen], False)
                r["rss"] = pick([x["rss"] for x in chosen], False)
            lat_runs = []
            for fields in rows.get((s, "lat-" + mix), []):
                n, to, p50, p90, p99, mx = fields[:6]
                if p50 != "-":
                    lat_runs.append((int(n), int(to), float(p50), float(p90), float(p99)))
            if lat_runs:
                r["p50"] = pick([x[2] for x in lat_runs], False)
                r["p90"] = pick([x[3] for x in lat_runs], False)
                r["p99"] = pick([x[4] for x in lat_runs], False)
                r["lat_to"] = sum(x[1] for x in lat_runs)
            res[(s, mix)] = r

    out = []
    out.append("| server | mix | queries/s | answered (NOERROR) | lost | CPU µs/answer "
               "| avg latency under load (ms) | p50 µs (paced) | p90 µs | p99 µs "
               "| RSS bytes/cached name | undisturbed runs |")
    out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for s in order:
        for mix in ("hit", "miss"):
            r = res.get((s, mix), {})
            if not r.get("qps"):
                note = "; ".join(notes.get(s, [])) or "no result"
                out.append(f"| {s} | {mix} | {note} |||||||||")
                continue
            lost = fmt(r.get("lost"))
            if r.get("unanswered"):
                lost += f" (+{fmt(r['unanswered'])} not NOERROR)"
            p99 = fmt(r.get("p99"))
            if r.get("lat_to"):
                p99 += f" ({r['lat_to']} timeouts)"
            out.append(
                f"| {s} | {mix} | {fmt(r.get('qps'))} | {fmt(r.get('answered'))} | {lost} "
                f"| {fmt(r.get('cpu'), 2)} | {fmt(r.get('avg'), 3)} "
                f"| {fmt(r.get('p50'))} | {fmt(r.get('p90'))} | {p99} "
                f"| {fmt(r.get('rss')) if mix == 'miss' else '—'} | {r.get('runs', '—')} |")

    mine = [s for s in order if s.startswith("sixgate")]
    peers = [s for s in order if not s.startswith("sixgate")]
    if mine and peers:
        peer = peers[0]
        figures = [
            ("queries/s", "qps", 0, True),
            ("CPU µs per answer", "cpu", 2, False),
            ("avg latency under load (ms)", "avg", 3, False),
            ("p50 latency, paced (µs)", "p50", 0, False),
            ("p99 latency, paced (µs)", "p99", 0, False),
            ("RSS bytes per cached name", "rss", 0, False),
        ]
        out.append("")
        out.append(f"| figure | mix | {mine[0]} | {peer} | {mine[0]}/{peer} | better? |")
        out.append("|---|---|---:|---:|---:|---|")
        for label, key, nd, higher in figures:
            for mix in ("hit", "miss"):
                if key == "rss" and mix == "hit":
                    continue
                a = res.get((mine[0], mix), {}).get(key)
                b = res.get((peer, mix), {}).get(key)
                ratio = a / b if a is not None and b else None
                better = "—"
                if key == "rss" and (a is None or b is None or a <= 0 or b <= 0):
                    ratio, better = None, "— (nothing cached?)"
                elif a is not None and b is not None:
                    better = "yes" if (a > b if higher else a < b) else "no"
                out.append(f"| {label} | {mix} | {fmt(a, nd)} | {fmt(b, nd)} "
                           f"| {fmt(ratio, 2)} | {better} |")
    for s in order:
        for n in notes.get(s, []):
            out.append("")
            out.append(f"Note ({s}): {n}")
    print("\n".join(out))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "gen":
        gen(sys.argv[2:])
    elif cmd == "dnsperf":
        dnsperf_cmd(sys.argv[2:])
    elif cmd == "lat":
        lat(sys.argv[2:])
    elif cmd == "report":
        report(sys.argv[2:])
    else:
        sys.exit(__doc__)
