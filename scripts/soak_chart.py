#!/usr/bin/env python3
"""Draws a soak run's samples (target/soak/<name>.csv, written by scripts/soak.py) as one PNG:
throughput and errors, latency (p50 and p99 of each 10 s window, beside the machine's load
average) and the server's resident memory
(VmRSS and its anonymous part) over the run, the warm-up shaded.

  python3 scripts/soak_chart.py target/soak/<name>.csv [OUT.png]

OUT defaults to the CSV's path with .png. Needs matplotlib (`pip install matplotlib`).
"""

import csv
import sys
from pathlib import Path


def main() -> int:
    if len(sys.argv) not in (2, 3):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    source = Path(sys.argv[1])
    target = Path(sys.argv[2]) if len(sys.argv) == 3 else source.with_suffix(".png")
    with open(source, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print(f"{source} holds no samples", file=sys.stderr)
        return 1

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = [float(r["t_s"]) / 60 for r in rows]
    warmup_end = max((m for m, r in zip(minutes, rows) if r["phase"] == "warmup"), default=0.0)
    rps = [float(r["rps"]) for r in rows]
    errors = [int(r["errors"]) for r in rows]
    p50 = [float(r["p50_ms"]) for r in rows]
    p99 = [float(r["p99_ms"]) for r in rows]
    rss = [int(r["rss_kib"]) / 1024 for r in rows]
    anon = [int(r["rss_anon_kib"]) / 1024 for r in rows]

    fig, (top, middle, bottom) = plt.subplots(3, 1, figsize=(10, 9), sharex=True)
    for ax in (top, middle, bottom):
        ax.axvspan(0, warmup_end, color="0.9", label="_warm-up")
        ax.grid(True, alpha=0.3)

    top.plot(minutes, rps, color="tab:blue", label="requests/s (10 s windows)")
    top.set_ylabel("requests/s")
    top.set_ylim(bottom=0)
    errors_axis = top.twinx()
    errors_axis.bar(minutes, errors, width=0.1, color="tab:red", label="errors (5xx, connection)")
    errors_axis.set_ylabel("errors per window")
    errors_axis.set_ylim(0, max(1, max(errors)) * 1.2)
    lines = top.get_legend_handles_labels()
    bars = errors_axis.get_legend_handles_labels()
    top.legend(lines[0] + bars[0], lines[1] + bars[1], loc="lower right")
    top.set_title(f"Soak: {source.stem}, {sum(int(r['requests']) for r in rows):,} requests sampled, "
                  f"{sum(errors)} errors")

    middle.plot(minutes, p50, color="tab:green", label="p50")
    middle.plot(minutes, p99, color="tab:orange", label="p99")
    middle.set_yscale("log")
    middle.set_ylabel("latency (ms, log scale)")
    # The machine's load average: the server, the load generator and whatever else ran beside them.
    load_axis = middle.twinx()
    load_axis.plot(minutes, [float(r["loadavg1"]) for r in rows], color="0.6", linestyle="--",
                   label="load average (1 min)")
    load_axis.set_ylabel("load average")
    load_axis.set_ylim(bottom=0)
    lines = middle.get_legend_handles_labels()
    loads = load_axis.get_legend_handles_labels()
    middle.legend(lines[0] + loads[0], lines[1] + loads[1], loc="upper left")

    bottom.plot(minutes, rss, color="tab:purple", label="resident memory (VmRSS)")
    bottom.plot(minutes, anon, color="tab:gray", label="anonymous part (RssAnon)")
    bottom.set_ylabel("MiB")
    bottom.set_ylim(0, max(rss) * 1.15)
    bottom.set_xlabel("minutes since the load started (warm-up shaded)")
    bottom.legend(loc="lower right")

    fig.tight_layout()
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(target, dpi=80)
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
