#!/usr/bin/env python3
"""Pools the paired ratios of several bench/http.sh series.

    bench/http-pool.py bench/results/http-*.csv

One series of one download per round gives recon's speed over a peer's to about +-2 % (150
rounds), and the machine's state drifts between series by more than that (bench/README.md
"http.sh"), so one series can say "ahead" and the next "behind". This puts the series
together two ways, per test and peer: every round of every series as one sample (the geometric
mean of recon / peer over the rounds, Student's t interval, rounds taken as independent), and
each series as one sample (the mean of the series' log ratios, t with series - 1 degrees of
freedom: wider, but it does not assume the series' states alike). Rounds pair only within their
own series. The CSVs are http.sh's own (server,test,run,...,MBps,...).
"""

import csv
import math
import statistics
import sys

# Student's t, 97.5 %, by degrees of freedom, rounded up: t(11) 2.201, t(20) 2.086, t(60) 2.000,
# t(120) 1.980 (pooling gives hundreds of rounds; 1.96 is the limit). bench/http.sh uses it too.
T975 = {1: 12.71, 2: 4.31, 3: 3.19, 4: 2.78, 5: 2.58, 6: 2.45, 7: 2.37, 8: 2.31, 9: 2.27, 10: 2.23}


def t975(df):
    return T975.get(df, 2.21 if df < 20 else 2.09 if df < 60 else 2.0 if df < 120 else 1.98)


def interval(logs):
    """exp of the mean of logs with its 95 % t interval; None with fewer than two."""
    if len(logs) < 2:
        return None
    m = statistics.fmean(logs)
    h = t975(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
    return math.exp(m), math.exp(m - h), math.exp(m + h)


def shown(v):
    return f"{v[0]:.3f}x ({v[1]:.3f}-{v[2]:.3f})" if v else "-"


def main(paths):
    if not paths:
        sys.exit(__doc__)
    series = []  # per file: {(test, server): {run: MBps}}
    for p in paths:
        cells = {}
        with open(p, newline="") as f:
            for r in csv.DictReader(f):
                cells.setdefault((r["test"], r["server"]), {})[r["run"]] = float(r["MBps"])
        series.append(cells)
    tests = sorted({t for c in series for t, _ in c}, key=lambda t: (t != "single", t))
    print(f"{len(paths)} series; recon / peer, geometric mean (95 %)")
    for t in tests:
        for peer in ("nginx", "apache"):
            rounds, per_series = [], []
            for c in series:
                a, b = c.get((t, "recon"), {}), c.get((t, peer), {})
                logs = [math.log(a[k] / b[k]) for k in a if k in b and a[k] > 0 and b[k] > 0]
                if logs:
                    rounds += logs
                    per_series.append(statistics.fmean(logs))
            if not rounds:
                continue
            each = ", ".join(f"{math.exp(x):.2f}" for x in per_series)
            print(f"  {t} recon/{peer}: {len(rounds)} rounds pooled {shown(interval(rounds))}; "
                  f"by series {shown(interval(per_series))} [{each}]")


if __name__ == "__main__":
    main(sys.argv[1:])
