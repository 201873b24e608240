#!/usr/bin/env python3
"""Plots `capillary bench ledger --report` files as one SVG: transfers per second over time (one
line per report) above batch latency over time. Python's standard library only, so it runs wherever
the benchmark does.

    bench/plot.py OUT.svg REPORT.json [REPORT.json ...]
"""
import json
import sys

WIDTH, PANEL_HEIGHT, MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, GAP = 800, 220, 70, 190, 30, 60
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b"]
BUCKET_S = 0.5  # throughput is counted per half second: finer is noise, coarser hides stalls


def label_lines(report):
    second = f"{report['hot_percent']}% hot, history {'on' if report['history'] else 'off'}"
    if not report["sync"]:
        second += ", no fsync"
    return [f"{report['accounts']:,} accounts", second,
            f"{report['transfers_per_s']:,.0f}/s overall"]


def throughput_series(report):
    """(time, transfers/s) per bucket, from each batch's completion time."""
    batches = report["batches"]
    if not batches:
        return []
    per_batch = report["transfers"] / len(batches)
    buckets = {}
    for done_s, _ in batches:
        bucket = int(done_s / BUCKET_S)
        buckets[bucket] = buckets.get(bucket, 0) + per_batch
    # The last bucket is cut short by the end of the run; drawn, it would look like a collapse.
    last = max(max(buckets) - 1, 0)
    return [((b + 0.5) * BUCKET_S, buckets.get(b, 0) / BUCKET_S) for b in range(last + 1)]


def nice_max(value):
    """The smallest 1, 2 or 5 times a power of ten at or above value."""
    if value <= 0:
        return 1
    power = 1
    while power * 10 <= value:
        power *= 10
    while power > value:
        power /= 10
    for step in (1, 2, 5, 10):
        if step * power >= value:
            return step * power
    return 10 * power


def panel(out, top, series_list, y_title, x_max, y_format):
    plot_width = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    y_max = nice_max(max((y for series, _ in series_list for _, y in series), default=1))
    x_of = lambda x: MARGIN_LEFT + plot_width * x / x_max
    y_of = lambda y: top + PANEL_HEIGHT * (1 - y / y_max)
    out.append(f'<rect x="{MARGIN_LEFT}" y="{top}" width="{plot_width}" height="{PANEL_HEIGHT}" '
               'fill="none" stroke="#999"/>')
    # 1 and 5 split into fifths, 2 into quarters: every grid label is a round number.
    divisions = 4 if f"{y_max:.0e}".startswith("2") else 5
    for i in range(divisions + 1):
        y = y_max * i / divisions
        out.append(f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + plot_width}" y1="{y_of(y):.1f}" '
                   f'y2="{y_of(y):.1f}" stroke="#eee"/>')
        out.append(f'<text x="{MARGIN_LEFT - 6}" y="{y_of(y) + 4:.1f}" text-anchor="end" '
                   f'font-size="11">{y_format(y)}</text>')
    out.append(f'<text x="{MARGIN_LEFT}" y="{top - 8}" font-size="13">{y_title}</text>')
    for series, colour in series_list:
        points = " ".join(f"{x_of(x):.1f},{y_of(y):.1f}" for x, y in series)
        out.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
    for i in range(6):
        x = x_max * i / 5
        out.append(f'<text x="{x_of(x):.1f}" y="{top + PANEL_HEIGHT + 16}" text-anchor="middle" '
                   f'font-size="11">{x:.1f} s</text>')


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out_path, report_paths = sys.argv[1], sys.argv[2:]
    reports = []
    for path in report_paths:
        with open(path) as file:
            reports.append(json.load(file))
    throughput = [(throughput_series(r), COLOURS[i % len(COLOURS)]) for i, r in enumerate(reports)]
    latency = [([(done, ms) for done, ms in r["batches"]], COLOURS[i % len(COLOURS)])
               for i, r in enumerate(reports)]
    x_max = max((x for series, _ in latency for x, _ in series), default=1)
    height = MARGIN_TOP + 2 * PANEL_HEIGHT + GAP + 40
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
           'font-family="sans-serif">', f'<rect width="{WIDTH}" height="{height}" fill="white"/>']
    panel(out, MARGIN_TOP, throughput, "durable transfers per second", x_max,
          lambda y: f"{y / 1e6:.1f}M" if y >= 1e6 else f"{y / 1e3:.0f}k")
    panel(out, MARGIN_TOP + PANEL_HEIGHT + GAP, latency, "batch latency (submit to durable), ms",
          x_max, lambda y: f"{y:.0f}")
    for i, report in enumerate(reports):
        y = MARGIN_TOP + 14 + 52 * i
        x = WIDTH - MARGIN_RIGHT + 12
        out.append(f'<rect x="{x}" y="{y - 9}" width="10" height="10" fill="{COLOURS[i % len(COLOURS)]}"/>')
        for line_index, line in enumerate(label_lines(report)):
            out.append(f'<text x="{x + 14}" y="{y + 14 * line_index}" font-size="11">{line}</text>')
    out.append("</svg>")
    with open(out_path, "w") as file:
        file.write("\n".join(out) + "\n")
    print(f"wrote {out_path}", file=sys.stderr)


if __name__ == "__main__":
    main()
