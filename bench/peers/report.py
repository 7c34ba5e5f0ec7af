#!/usr/bin/python3
"""Turns the JSON lines of tools/bench.sh into markdown tables (stdout) and PNG plots.

Usage: report.py RESULTS.jsonl OUT_DIR
Each line is one measurement of one repetition: a peer harness line (system, mode, size, ...)
or a floor line ({"system": "floor", "pingpong_ns": {...}, "memcpy_bytes_per_s": ...}).
Figures are medians over repetitions; the spread is min - max.
"""
import collections
import json
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ORDER = ["shmbus", "shmbus-journal", "iceoryx", "boost-message-queue", "unix-socket", "zeromq-ipc"]
PERCENTILES = [("p50_ns", "p50"), ("p99_ns", "p99"), ("p999_ns", "p99.9"), ("p9999_ns", "p99.99"), ("max_ns", "max")]


def spread(values):
    return statistics.median(values), min(values), max(values)


def load(path):
    latency = collections.defaultdict(lambda: collections.defaultdict(list))  # system -> key -> values
    stream = collections.defaultdict(lambda: collections.defaultdict(lambda: collections.defaultdict(list)))
    memcpy = []
    rep = -1  # each repetition starts with its floor line
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if r["system"] == "floor":
            rep += 1
            for key, _ in PERCENTILES:
                latency["floor (cache line)"][key].append(r["pingpong_ns"][key.replace("_ns", "")])
                if "two_lines_pingpong_ns" in r:
                    latency["floor (two lines)"][key].append(r["two_lines_pingpong_ns"][key.replace("_ns", "")])
            memcpy.append(r["memcpy_bytes_per_s"])
        elif r["mode"] == "latency":
            for key, _ in PERCENTILES:
                latency[r["system"]][key].append(r[key])
            latency[r["system"]]["rep"].append(rep)
        else:
            stream[r["system"]][r["size"]]["msgs"].append(r["msgs_per_s"])
            stream[r["system"]][r["size"]]["bytes"].append(r["bytes_per_s"])
            stream[r["system"]][r["size"]]["rep"].append(rep)
    return latency, stream, memcpy


def systems_in(data):
    known = [s for s in ["floor (cache line)", "floor (two lines)"] + ORDER if s in data]
    return known + sorted(s for s in data if s not in known)


def latency_table(latency):
    out = ["| one-way latency, 64 B (ns) | " + " | ".join(name for _, name in PERCENTILES) + " | p50 spread |",
           "|---|" + "---:|" * (len(PERCENTILES) + 1)]
    for system in systems_in(latency):
        cells = [f"{spread(latency[system][key])[0]:.0f}" for key, _ in PERCENTILES]
        _, lo, hi = spread(latency[system]["p50_ns"])
        out.append(f"| {system} | " + " | ".join(cells) + f" | {lo:.0f} – {hi:.0f} |")
    return "\n".join(out)


def human_size(size):
    return f"{size // 1024} KiB" if size >= 1024 else f"{size} B"


def stream_table(stream, what, scale, unit):
    sizes = sorted({size for s in stream.values() for size in s})
    out = [f"| {unit} | " + " | ".join(human_size(s) for s in sizes) + " |", "|---|" + "---:|" * len(sizes)]
    for system in systems_in(stream):
        cells = []
        for size in sizes:
            values = stream[system].get(size, {}).get(what)
            if not values:
                cells.append("–")
                continue
            median, lo, hi = spread(values)
            cells.append(f"{median / scale:.2f} ({lo / scale:.2f}–{hi / scale:.2f})")
        out.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def verdicts(latency, stream, memcpy):
    rows = []

    # The host flips between a fast and a slow mode within minutes: every ratio pairs the two
    # measurements of the same repetition (run seconds apart) and takes the median of the ratios.
    def paired(ours_values, ours_reps, theirs_by_rep):
        ratios = [v / theirs_by_rep[rep] for v, rep in zip(ours_values, ours_reps) if theirs_by_rep.get(rep)]
        return statistics.median(ratios) if ratios else None

    def by_rep(values, reps):
        return dict(zip(reps, values))

    def latency_ratio(num, den):  # p50 of `num` / p50 of `den`, per repetition
        if num not in latency or den not in latency:
            return None
        return paired(latency[num]["p50_ns"], latency[num]["rep"], by_rep(latency[den]["p50_ns"], latency[den]["rep"]))

    def rate_ratio(num, den, size, what="msgs"):
        a, b = stream.get(num, {}).get(size), stream.get(den, {}).get(size)
        if not a or not b:
            return None
        return paired(a[what], a["rep"], by_rep(b[what], b["rep"]))

    floor_reps = list(range(len(latency.get("floor (cache line)", {}).get("p50_ns", []))))
    if "floor (cache line)" in latency:
        latency["floor (cache line)"]["rep"] = floor_reps
    r = latency_ratio("shmbus", "floor (cache line)")
    if r is not None:
        rows.append(("64 B p50 / floor p50 (same repetition)", r, "<= 1.5", r <= 1.5))
    for peer in ["zeromq-ipc", "unix-socket"]:
        r = latency_ratio(peer, "shmbus")
        if r is not None:
            rows.append((f"{peer} p50 / shmbus p50", r, ">= 10", r >= 10))
    r = latency_ratio("iceoryx", "shmbus")
    if r is not None:
        rows.append(("iceoryx p50 / shmbus p50", r, "> 1", r > 1))
    for peer, bar in [("zeromq-ipc", 5), ("iceoryx", 2)]:
        r = rate_ratio("shmbus", peer, 64)
        if r is not None:
            rows.append((f"64 B msg/s: shmbus / {peer}", r, f">= {bar}", r >= bar))
    if memcpy:
        memcpy_by_rep = dict(enumerate(memcpy))
        for size in sorted(stream.get("shmbus", {})):
            if size >= 1024:
                s = stream["shmbus"][size]
                r = paired(s["bytes"], s["rep"], memcpy_by_rep)
                rows.append((f"{human_size(size)} GB/s / memcpy", r, ">= 0.5", r >= 0.5))
    out = ["| target | measured | bar | |", "|---|---:|---:|---|"]
    for name, value, bar, ok in rows:
        out.append(f"| {name} | {value:.2f} | {bar} | {'met' if ok else 'MISSED'} |")
    return "\n".join(out)


def plot_latency(latency, path):
    fig, ax = plt.subplots(figsize=(9, 5))
    labels = [name for _, name in PERCENTILES]
    for system in systems_in(latency):
        ax.plot(labels, [spread(latency[system][key])[0] for key, _ in PERCENTILES], marker="o", label=system)
    ax.set_yscale("log")
    ax.set_title("One-way latency, 64 B messages, 2 processes on 2 pinned CPUs (median of runs)")
    ax.set_xlabel("percentile")
    ax.set_ylabel("one-way latency (ns, log scale)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def plot_stream(stream, memcpy, what, path, systems=None, title_extra=""):
    fig, ax = plt.subplots(figsize=(9, 5))
    for system in systems or systems_in(stream):
        sizes = sorted(stream[system])
        values = [statistics.median(stream[system][s][what]) for s in sizes]
        lows = [min(stream[system][s][what]) for s in sizes]
        highs = [max(stream[system][s][what]) for s in sizes]
        scale = 1e9 if what == "bytes" else 1e6
        ax.errorbar(sizes, [v / scale for v in values],
                    yerr=[[(v - lo) / scale for v, lo in zip(values, lows)], [(hi - v) / scale for v, hi in zip(values, highs)]],
                    marker="o", capsize=3, label=system)
    if what == "bytes" and memcpy:
        ax.axhline(statistics.median(memcpy) / 1e9, color="gray", linestyle="--", label="memcpy, one thread")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("payload size (bytes, log scale)")
    ax.set_ylabel("GB/s (log scale)" if what == "bytes" else "million messages/s (log scale)")
    ax.set_title(("Throughput, 1 publisher -> 1 subscriber process" if not title_extra else title_extra) +
                 (" (GB/s)" if what == "bytes" else " (msg/s)"))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main():
    path, out_dir = sys.argv[1], sys.argv[2]
    latency, stream, memcpy = load(path)
    print(latency_table(latency))
    print()
    print(stream_table(stream, "msgs", 1e6, "M msg/s (spread)"))
    print()
    print(stream_table(stream, "bytes", 1e9, "GB/s (spread)"))
    if memcpy:
        m, lo, hi = spread(memcpy)
        print(f"\nmemcpy, one thread, 64 MiB: {m / 1e9:.2f} GB/s ({lo / 1e9:.2f} – {hi / 1e9:.2f})")
    print()
    print(verdicts(latency, stream, memcpy))
    plot_latency(latency, f"{out_dir}/peers-latency.png")
    plot_stream(stream, memcpy, "msgs", f"{out_dir}/peers-throughput-msgs.png")
    plot_stream(stream, memcpy, "bytes", f"{out_dir}/peers-throughput-bytes.png")
    both = [s for s in ["shmbus", "shmbus-journal"] if s in stream]
    if both:
        plot_stream(stream, memcpy, "bytes", f"{out_dir}/memory-vs-journal.png", both,
                    "shmbus memory topic vs journal topic (fsync never)")


if __name__ == "__main__":
    main()
