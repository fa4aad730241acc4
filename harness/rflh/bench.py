"""`make bench`: the seed's populate table, C v7.3 (reference) against the
Rust series, on the bench config, alternating boots, under two clocks; and,
in the icount boots, the mmap_lock contention benchmark."""

import json
import re
import statistics
import time
from pathlib import Path

from . import build, guest, source, toolchain, tree
from .util import die, fmt_secs, in_root, log, stage

LINE = re.compile(r"^(BENCH|FLOOR|LOCKPROBE|CONTENTION|CDF|WRITER) (.*)$")
KV = re.compile(r"(\w+)=(\S+)")
CLOCKS = ("icount", "wall")
KERNELS = ("reference", "series")


def parse_lines(text):
    """Parse populate_bench output into dicts (kind, fields...)."""
    out = []
    for raw in text.splitlines():
        m = LINE.match(raw.strip())
        if not m:
            continue
        d = {"kind": m.group(1)}
        rest = m.group(2)
        # op names contain '/' and '+', values never contain spaces.
        for k, v in KV.findall(rest):
            d[k] = v
        try:
            for k in ("min_ms", "median_ms", "p50_us", "p99_us", "max_us", "alone_ms",
                      "writer_ms"):
                if k in d:
                    d[k] = float(d[k])
            if d["kind"] in ("CONTENTION", "WRITER"):
                for k in ("threads", "rounds", "samples"):
                    if k in d:
                        d[k] = int(d[k])
            if d["kind"] == "CDF" and "q" in d:
                d["q"] = [float(x) for x in d["q"].split(",")]
        except ValueError:
            # A line cut by console output; the smoke check reports it.
            d["malformed"] = True
        out.append(d)
    return out


def key(d):
    if d["kind"] == "BENCH":
        return (int(d["size_mib"]), d["map"], d["backing"], d["op"])
    if d["kind"] == "FLOOR":
        return (int(d["size_mib"]), "-", "memset floor", d["op"])
    return (int(d["size_mib"]), "lock", d["backing"], "mmap+munmap latency")


def aggregate(runs):
    """runs: list of {kernel, clock, round, results: [dict]}.

    Returns {clock: {row key: {kernel: {min, median, medians[]} or
    {'unavailable': reason}}}}. A cell's figure over rounds is the minimum
    of the per-round minima and the median of the per-round medians; the
    per-round medians are kept to show the spread.
    """
    agg = {}
    for r in runs:
        for d in r["results"]:
            if d["kind"] not in ("BENCH", "FLOOR") or d.get("malformed"):
                continue
            cell = agg.setdefault(r["clock"], {}).setdefault(key(d), {}).setdefault(
                r["kernel"], {"mins": [], "medians": [], "unavailable": None})
            if "unavailable" in d:
                cell["unavailable"] = d["unavailable"]
            else:
                cell["mins"].append(d["min_ms"])
                cell["medians"].append(d["median_ms"])
    for clock in agg.values():
        for row in clock.values():
            for c in row.values():
                if c["medians"]:
                    c["min"] = min(c["mins"])
                    c["median"] = statistics.median(c["medians"])
                    lo, hi = min(c["medians"]), max(c["medians"])
                    c["spread_pct"] = 100.0 * (hi - lo) / lo if lo else 0.0
    return agg


TOUCH_FOR = {"POPULATE_READ": "Read", "POPULATE_WRITE": "Write"}


def ratio(row):
    c, r = row.get("reference", {}), row.get("series", {})
    if c.get("median") and r.get("median"):
        return r["median"] / c["median"]
    return None


def speedup(rows, k, kernel):
    """POPULATE vs touching, same size/map/backing, for one kernel."""
    touch = TOUCH_FOR.get(k[3])
    if not touch:
        return None
    t = rows.get((k[0], k[1], k[2], touch), {}).get(kernel, {})
    p = rows.get(k, {}).get(kernel, {})
    if t.get("median") and p.get("median"):
        return t["median"] / p["median"]
    return None


def fmt(c):
    if not c:
        return "-"
    if c.get("median") is None:
        return f"unavailable ({c.get('unavailable')})"
    return f"{c['min']:.3f} / {c['median']:.3f}"


# The contention benchmark (populate_bench contention SIZE_MIB ROUNDS).
CONTENTION_ROWS = ("anon4k/POPULATE_WRITE", "anon4k-paced/POPULATE_WRITE",
                   "anon4k/POPULATE_READ", "memfd4k/POPULATE_WRITE",
                   "hugetlb/POPULATE_WRITE", "thp/POPULATE_WRITE", "qemu-like/POPULATE_WRITE")
NQ = 101                       # CDF quantiles q0..q100
CHUNK_KIB = 256                # the Rust populate drops mmap_lock every 64 pages of 4 KiB
HUGE_CHUNK_KIB = max(256, 2048)  # a 2 MiB page is faulted whole
TARGET_P99_ROW = "anon4k/POPULATE_WRITE"
TARGET_P99_US = 2000.0
TARGET_MAX_CHUNKS = 3
TARGET_SLOWDOWN_PCT = 10.0
MEASURED = ("alone_ms", "writer_ms", "p50_us", "p99_us", "max_us", "samples", "threads", "rounds")


def contention_shape_problems(parsed, rows=CONTENTION_ROWS):
    """What is wrong with the shape of one contention run's output: every
    row present once, either measured (all figures, at least one writer
    sample, a CDF line of 101 numbers) or unavailable with a reason.
    Timings are never judged. Returns a list of strings (empty: fine)."""
    probs = []
    cont = [d for d in parsed if d["kind"] == "CONTENTION"]
    cdf = [d for d in parsed if d["kind"] == "CDF"]
    for row in rows:
        mine = [d for d in cont if d.get("row") == row]
        if len(mine) != 1:
            probs.append(f"{row}: {len(mine)} CONTENTION lines")
            continue
        d = mine[0]
        if d.get("malformed"):
            probs.append(f"{row}: malformed CONTENTION line")
        elif "unavailable" in d:
            if not d["unavailable"]:
                probs.append(f"{row}: unavailable without a reason")
        else:
            missing = [k for k in MEASURED if k not in d]
            if missing:
                probs.append(f"{row}: missing {', '.join(missing)}")
            elif d["samples"] < 1:
                probs.append(f"{row}: no writer samples")
            q = [c for c in cdf if c.get("row") == row]
            if len(q) != 1 or q[0].get("malformed") or len(q[0].get("q") or []) != NQ:
                probs.append(f"{row}: no CDF line of {NQ} quantiles")
    extra = sorted({d.get("row") for d in cont} - set(rows), key=str)
    if extra:
        probs.append(f"unknown rows: {', '.join(map(str, extra))}")
    return probs


def weighted_quantile(points, p):
    """points: [(value, weight)]; the smallest value whose cumulative weight
    reaches the fraction p of the total."""
    pts = sorted(points)
    total = sum(w for _, w in pts)
    if not pts:
        return None
    if total <= 0:
        return pts[-1][0] if p >= 1 else pts[0][0]
    acc = 0.0
    for v, w in pts:
        acc += w
        if acc >= p * total - 1e-9 * total:
            return v
    return pts[-1][0]


def chunk_kib(row):
    return HUGE_CHUNK_KIB if row.startswith(("hugetlb/", "thp/")) else CHUNK_KIB


def contention_aggregate(runs):
    """runs: list of {kernel, clock, round, results}. One entry per (clock,
    row, size, kernel), over the boots (harness rounds) that ran it:

    - alone_ms, writer_ms: median of the per-boot figures, each of which is
      already the median over the guest's own rounds; slowdown_pct from
      those two medians.
    - p50_us, p99_us, cdf_us: quantiles of all writer samples of all boots,
      pooled from each boot's 101 quantiles weighted by its sample count
      (exact for one boot; each boot's line is exact over its rounds).
    - max_us: the largest sample of all boots; samples: their total.
    - chunk_ms: alone_ms / (size per populating thread / chunk), chunk 256
      KiB, or 2 MiB on the hugetlb and THP rows.
    """
    groups = {}
    for r in runs:
        res = r["results"]
        cdfs = {d.get("row"): d["q"] for d in res
                if d["kind"] == "CDF" and not d.get("malformed") and len(d.get("q") or []) == NQ}
        for d in res:
            if d["kind"] != "CONTENTION" or d.get("malformed"):
                continue
            k = (r.get("clock", "icount"), d["row"], int(d["size_mib"]), r["kernel"])
            b = {"round": r.get("round"), **{x: d[x] for x in d if x not in ("kind",)}}
            if "unavailable" not in d:
                b["cdf"] = cdfs.get(d["row"])
            groups.setdefault(k, []).append(b)
    order = {row: i for i, row in enumerate(CONTENTION_ROWS)}
    out = []
    for k in sorted(groups, key=lambda k: (k[0], k[2], order.get(k[1], 99), k[1],
                                           KERNELS.index(k[3]) if k[3] in KERNELS else 9)):
        clock, row, size, kernel = k
        boots = groups[k]
        ok = [b for b in boots if "unavailable" not in b and b.get("cdf")]
        e = {"clock": clock, "row": row, "size_mib": size, "kernel": kernel,
             "boots": len(boots)}
        if not ok:
            e["unavailable"] = next((b["unavailable"] for b in boots if "unavailable" in b),
                                    "no CDF")
            out.append(e)
            continue
        if len(ok) < len(boots):
            e["unavailable_boots"] = len(boots) - len(ok)
        alone = statistics.median(b["alone_ms"] for b in ok)
        writer = statistics.median(b["writer_ms"] for b in ok)
        pts = [(v, b["samples"] / NQ) for b in ok for v in b["cdf"]]
        cdf = [weighted_quantile(pts, i / (NQ - 1)) for i in range(NQ)]
        threads = ok[0]["threads"]
        ck = chunk_kib(row)
        chunks = max(1.0, size * 1024 / threads / ck)
        e.update({
            "threads": threads, "rounds_per_boot": ok[0]["rounds"],
            "alone_ms": alone, "writer_ms": writer,
            "slowdown_pct": 100.0 * (writer - alone) / alone if alone else None,
            "p50_us": cdf[50], "p99_us": cdf[99], "max_us": max(b["max_us"] for b in ok),
            "samples": sum(b["samples"] for b in ok),
            "chunk_kib": ck, "chunk_ms": alone / chunks, "cdf_us": cdf,
            "per_boot": [{x: b[x] for x in ("round",) + MEASURED if x in b} for b in ok],
        })
        out.append(e)
    return out


def contention_targets(entries, kernel="series", against="reference"):
    """The contention targets for @kernel, with @against's figures beside
    them. One dict per (target, clock, size, row): status met / missed / n/a."""
    by = {(e["clock"], e["size_mib"], e["row"], e["kernel"]): e for e in entries}
    out = []
    for clock, size, row in sorted({(e["clock"], e["size_mib"], e["row"]) for e in entries},
                                   key=lambda k: (k[0], k[1], CONTENTION_ROWS.index(k[2])
                                                  if k[2] in CONTENTION_ROWS else 99)):
        mine = by.get((clock, size, row, kernel)) or {}
        ref = by.get((clock, size, row, against)) or {}
        have = "max_us" in mine
        checks = []
        if row == TARGET_P99_ROW:
            checks.append(("writer p99 <= 2 ms", "p99_us", TARGET_P99_US, "us"))
        if have:
            checks.append((f"writer max <= {TARGET_MAX_CHUNKS} chunk times", "max_us",
                           TARGET_MAX_CHUNKS * mine["chunk_ms"] * 1e3, "us"))
        else:
            checks.append((f"writer max <= {TARGET_MAX_CHUNKS} chunk times", "max_us", None, "us"))
        checks.append((f"slowdown with the writer <= {TARGET_SLOWDOWN_PCT:g}%", "slowdown_pct",
                       TARGET_SLOWDOWN_PCT, "%"))
        for name, field, limit, unit in checks:
            t = {"target": name, "clock": clock, "size_mib": size, "row": row,
                 "kernel": kernel, "value": mine.get(field), "limit": limit,
                 "against": against, "against_value": ref.get(field)}
            if field == "max_us":
                for who, e in (("chunks", mine), ("against_chunks", ref)):
                    if e.get("max_us") is not None and e.get("chunk_ms"):
                        t[who] = e["max_us"] / (e["chunk_ms"] * 1e3)
            if not have or t["value"] is None or limit is None:
                t["status"] = "n/a"
                t["why"] = mine.get("unavailable", "not measured")
            else:
                t["status"] = "met" if t["value"] <= limit else "missed"
            out.append(t)
    return out


def _num(x, unit, nd=1):
    return "-" if x is None else f"{x:.{nd}f} {unit}".strip()


def target_line(t):
    where = f"{t['row']}, {t['size_mib']} MiB, {t['clock']}"
    if t["status"] == "n/a":
        return f"- n/a: {t['target']} ({where}): {t['kernel']} {t['why']}"
    if t["target"].startswith("slowdown"):
        ag = "-" if t["against_value"] is None else f"{t['against_value']:+.1f}%"
        val = f"{t['kernel']} {t['value']:+.1f}% (limit {t['limit']:g}%); {t['against']} {ag}"
    elif "chunks" in t:
        ag = ("-" if t.get("against_chunks") is None
              else f"{t['against_value']:.0f} us = {t['against_chunks']:.1f} chunks")
        val = (f"{t['kernel']} {t['value']:.0f} us = {t['chunks']:.1f} chunk times "
               f"(limit {t['limit']:.0f} us); {t['against']} {ag}")
    else:
        val = (f"{t['kernel']} {t['value']:.0f} us (limit {t['limit']:.0f} us); "
               f"{t['against']} {_num(t['against_value'], 'us', 0)}")
    return f"- **{t['status']}**: {t['target']} ({where}): {val}"


def contention_section(entries, targets):
    lines = ["", "## Contention: mmap()+munmap() latency while populate runs", "",
             "`populate_bench contention`: each row populates a fresh mapping alone, then "
             "again with a writer thread on the other CPU looping mmap()+munmap() of one "
             "PROT_READ page. Times are medians over rounds; latencies pool every writer "
             "sample of every round and boot (p50/p99 from the pooled CDF, max the largest "
             "sample). Chunk time = populate alone / (size per populating thread / chunk), "
             f"chunk {CHUNK_KIB} KiB (64 pages), or {HUGE_CHUNK_KIB} KiB on the hugetlb and "
             "THP rows (a 2 MiB page is faulted whole). Under icount both vCPUs share one "
             "instruction clock: a writer that runs (instead of sleeping on mmap_lock) "
             "slows the populate's guest time by its own instructions.", "",
             "| clock | kernel | row | size | threads | alone ms | with writer ms | slowdown % "
             "| writer p50 us | p99 us | max us | samples | chunk ms |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        head = f"| {e['clock']} | {e['kernel']} | {e['row']} | {e['size_mib']} MiB |"
        if "unavailable" in e:
            lines.append(f"{head} - | unavailable ({e['unavailable']}) | | | | | | | |")
            continue
        sd = e["slowdown_pct"]
        lines.append(
            f"{head} {e['threads']} | {e['alone_ms']:.3f} | {e['writer_ms']:.3f} | "
            f"{'-' if sd is None else f'{sd:+.1f}'} | {e['p50_us']:.1f} | {e['p99_us']:.1f} | "
            f"{e['max_us']:.1f} | {e['samples']} | {e['chunk_ms']:.3f} |")
    met = sum(t["status"] == "met" for t in targets)
    missed = sum(t["status"] == "missed" for t in targets)
    lines += ["", f"### Targets: series (Rust) against reference (C v7.3): {met} met, "
              f"{missed} missed, {len(targets) - met - missed} n/a", ""]
    lines += [target_line(t) for t in targets]
    return lines


def report(agg, probes, meta, outdir, contention=None):
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    ic, wall = agg.get("icount", {}), agg.get("wall", {})
    keys = sorted(set(ic) | set(wall), key=lambda k: (k[0], k[1] != "-", k[1], k[2], k[3]))
    lines = ["# MADV_POPULATE: C v7.3 (reference) vs Rust (series)", "",
             f"Rounds: {meta['rounds']} per kernel and clock, alternating boots; "
             f"{meta['iterations']} iterations per cell on fresh mappings. "
             "Times are ms, min / median. The Rust/C ratio is from the icount "
             "clock (instructions executed), the POPULATE speed-up over touching "
             "from the TCG wall clock. KVM is not usable on these machines.", "",
             "| size | map | backing | op | C icount | Rust icount | Rust/C | spread C/Rust % "
             "| C wall | Rust wall | speed-up C | speed-up Rust |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    rows_json = []
    for k in keys:
        a, w = ic.get(k, {}), wall.get(k, {})
        rt = ratio(a)
        sc, sr = speedup(wall, k, "reference"), speedup(wall, k, "series")
        spread = "/".join(f"{a.get(x, {}).get('spread_pct', 0):.2f}" for x in KERNELS)
        lines.append(
            f"| {k[0]} MiB | {k[1]} | {k[2]} | {k[3]} | {fmt(a.get('reference'))} | "
            f"{fmt(a.get('series'))} | {f'{rt:.4f}' if rt else '-'} | {spread} | "
            f"{fmt(w.get('reference'))} | {fmt(w.get('series'))} | "
            f"{f'{sc:.2f}x' if sc else '-'} | {f'{sr:.2f}x' if sr else '-'} |")
        rows_json.append({"size_mib": k[0], "map": k[1], "backing": k[2], "op": k[3],
                          "icount": a, "wall": w, "rust_c_ratio_icount": rt,
                          "speedup_wall_c": sc, "speedup_wall_rust": sr})
    pop = [r["rust_c_ratio_icount"] for r in rows_json
           if r["rust_c_ratio_icount"] and "POPULATE" in r["op"]]
    allr = [r["rust_c_ratio_icount"] for r in rows_json if r["rust_c_ratio_icount"]]
    slower = [r for r in rows_json if r["rust_c_ratio_icount"] and r["rust_c_ratio_icount"] > 1.01]
    summary = {
        "median_ratio_all_rows": statistics.median(allr) if allr else None,
        "median_ratio_populate_rows": statistics.median(pop) if pop else None,
        "rows_rust_more_than_1pct_slower": [
            f"{r['size_mib']} MiB {r['map']} {r['backing']} {r['op']}: {r['rust_c_ratio_icount']:.4f}"
            for r in slower],
    }
    def r4(x):
        return "n/a" if x is None else f"{x:.4f}"
    lines += ["", f"Median Rust/C ratio (icount): all rows "
              f"{r4(summary['median_ratio_all_rows'])}, POPULATE rows "
              f"{r4(summary['median_ratio_populate_rows'])}"
              + (f" (range {min(pop):.4f} to {max(pop):.4f} over {len(pop)} rows)." if pop else "."),
              f"Rows where Rust is more than 1% slower: "
              f"{len(slower)}" + "".join(f"\n- {x}" for x in summary["rows_rust_more_than_1pct_slower"])]
    targets = contention_targets(contention) if contention else []
    if contention:
        lines += contention_section(contention, targets)
    if probes:  # runs from before the contention benchmark
        lines += ["", "## Lock-hold probe: mmap()+munmap() latency while POPULATE_WRITE runs", "",
                  "| clock | kernel | size | backing | p50 us | p99 us | max us | samples |",
                  "|---|---|---|---|---|---|---|---|"]
        for p in probes:
            lines.append(f"| {p['clock']} | {p['kernel']} | {p['size_mib']} MiB | {p['backing']} | "
                         f"{p['p50_us']:.1f} | {p['p99_us']:.1f} | {p['max_us']:.1f} | "
                         f"{p['samples']} |")
    md = "\n".join(lines) + "\n"
    (outdir / "report.md").write_text(md)
    summary["contention_targets"] = {
        s: sum(t["status"] == s for t in targets) for s in ("met", "missed", "n/a")}
    (outdir / "results.json").write_text(json.dumps(
        {"meta": meta, "summary": summary, "rows": rows_json, "lockprobe": probes,
         "contention": contention or [], "contention_targets": targets},
        indent=1, default=str))
    return md, summary, rows_json


CHART = r'''
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
d = json.load(open(sys.argv[1]))
rows = [r for r in d["rows"] if r["rust_c_ratio_icount"] and "POPULATE" in r["op"]]
labels = [f'{r["size_mib"]}M {r["map"][:4]} {r["backing"]} {r["op"].replace("POPULATE_", "P_")}' for r in rows]
ratios = [r["rust_c_ratio_icount"] for r in rows]
sp = [r for r in d["rows"] if r["speedup_wall_c"] and r["speedup_wall_rust"]]
fig, (a, b) = plt.subplots(1, 2, figsize=(16, max(6, 0.28 * max(len(rows), len(sp)) + 2)))
a.barh(range(len(rows)), ratios, color=["tab:red" if x > 1.01 else "tab:green" for x in ratios])
a.axvline(1.0, color="k", lw=1)
a.set_yticks(range(len(rows)), labels, fontsize=7)
a.set_xlabel("Rust / C time (icount; < 1 is faster)")
lo = min(ratios + [0.98]); hi = max(ratios + [1.02])
a.set_xlim(lo - 0.01, hi + 0.01)
a.set_title("POPULATE rows: Rust/C ratio")
ys = range(len(sp))
b.barh([y - 0.2 for y in ys], [r["speedup_wall_c"] for r in sp], 0.4, label="C v7.3")
b.barh([y + 0.2 for y in ys], [r["speedup_wall_rust"] for r in sp], 0.4, label="Rust series")
b.axvline(1.0, color="k", lw=1)
b.set_yticks(list(ys), [f'{r["size_mib"]}M {r["map"][:4]} {r["backing"]} {r["op"].replace("POPULATE_", "P_")}' for r in sp], fontsize=7)
b.set_xlabel("POPULATE speed-up over touching (TCG wall clock)")
b.legend()
b.set_title("POPULATE vs touching")
fig.suptitle("MADV_POPULATE: C v7.3 vs Rust series (QEMU TCG)")
fig.tight_layout(rect=(0, 0, 1, 0.97))
fig.savefig(sys.argv[2], dpi=110)

# Second figure: the writer's latency CDFs, C vs Rust, one panel per row.
cs = [c for c in d.get("contention", []) if c.get("cdf_us")]
panels = []
for c in cs:
    p = (c["clock"], c["size_mib"], c["row"])
    if p not in panels:
        panels.append(p)
if len(sys.argv) > 3 and panels:
    ncol = min(3, len(panels)); nrow = (len(panels) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(5.6 * ncol, 4.2 * nrow), squeeze=False)
    for ax, (clock, size, row) in zip(axes.flat, panels):
        for kernel, name, color in (("reference", "C v7.3", "tab:blue"),
                                    ("series", "Rust", "tab:orange")):
            c = next((c for c in cs if (c["clock"], c["size_mib"], c["row"], c["kernel"])
                      == (clock, size, row, kernel)), None)
            if not c:
                continue
            xs = [max(x, 0.01) for x in c["cdf_us"]]
            ys = [i / (len(xs) - 1) for i in range(len(xs))]
            ax.step(xs, ys, where="post", color=color,
                    label=f'{name}: p99 {c["p99_us"]:.0f}, max {c["max_us"]:.0f} us, n={c["samples"]}')
            if kernel == "series":
                ax.axvline(3e3 * c["chunk_ms"], color=color, ls="--", lw=0.8,
                           label=f'3 Rust chunk times ({3e3 * c["chunk_ms"]:.0f} us)')
        if row == "anon4k/POPULATE_WRITE":
            ax.axvline(2000, color="grey", ls=":", lw=1, label="p99 target 2 ms")
        ax.set_xscale("log")
        ax.set_ylim(0, 1.02)
        ax.set_title(f"{row}, {size} MiB ({clock})", fontsize=9)
        ax.set_xlabel("mmap()+munmap() latency, us (log)")
        ax.set_ylabel("fraction of writer operations")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6.5, loc="lower right")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("Writer latency while populate runs: C v7.3 vs Rust (CDF)")
    fig.tight_layout(rect=(0, 0, 1, 0.96))
    fig.savefig(sys.argv[3], dpi=110)
'''


def chart(s, outdir):
    """chart.png (the table) and, when there are contention results,
    chart-contention.png (writer latency CDFs)."""
    outdir = Path(outdir)
    script = outdir / "chart.py"
    script.write_text(CHART)
    in_root(s, f"python3 {script} {outdir / 'results.json'} {outdir / 'chart.png'} "
               f"{outdir / 'chart-contention.png'}")
    return outdir / "chart.png"


def bench_job(sizes, iterations, contention_mib=256, contention_rounds=3, contention=True):
    """The guest job: the table at every size, then (if @contention: the
    icount boots) the contention benchmark, all on /dev/rfl-tap."""
    runs = "\n".join(f"/rfl/bin/populate_bench {m} {iterations} /mnt >> $out" for m in sizes)
    cont = (f'echo "RFL: populate_bench contention {contention_mib} MiB, '
            f'{contention_rounds} rounds"\n'
            f"/rfl/bin/populate_bench contention {contention_mib} {contention_rounds} >> $out"
            if contention else "")
    return f"""set -u
out=/dev/rfl-tap
echo 1 > /proc/sys/vm/overcommit_memory
mkdir -p /mnt
mke2fs -q /dev/vda >/dev/null 2>&1 && mount -t ext2 /dev/vda /mnt || echo "RFL: no disk; file rows unavailable"
echo "RFL: populate_bench sizes {' '.join(map(str, sizes))} MiB, {iterations} iterations"
{runs}
umount /mnt 2>/dev/null
{cont}
echo "RFL: bench done"
exit 0
"""


def run(s, rounds=3, sizes=(2, 128), iterations=10, contention_mib=256, contention_rounds=3,
        clocks=CLOCKS):
    t_all = time.monotonic()
    toolchain.ensure(s)
    pristine = source.pristine(s)
    outs, trees = {}, {}
    for k in KERNELS:
        with stage(f"tree: sync {k} with patches/"):
            trees[k] = tree.sync(s, k, pristine, source.describe(s))
        outs[k], _ = build.build_kernel(s, k, trees[k], "bench")
    tools = guest.build_guest_tools(s, outs["series"])
    res = s.build / "bench"
    res.mkdir(parents=True, exist_ok=True)
    disk = s.cache / "bench-disk.img"
    if not disk.exists() or disk.stat().st_size != 2 << 30:
        with open(disk, "wb") as f:
            f.truncate(2 << 30)
    # The contention benchmark runs in the icount boots only.
    jobs = {c: bench_job(sizes, iterations, contention_mib, contention_rounds,
                         contention=(c == "icount")) for c in clocks}
    runs, probes = [], []
    n = rounds * len(KERNELS) * len(clocks)
    i = 0
    for rnd in range(1, rounds + 1):
        order = KERNELS if rnd % 2 else tuple(reversed(KERNELS))
        for clock in clocks:
            for k in order:
                i += 1
                d = res / f"r{rnd}-{clock}-{k}"
                d.mkdir(exist_ok=True)
                initrd = d / "initramfs.cpio"
                guest.make_initramfs(s, trees[k], outs[k], jobs[clock], initrd, [(tools, "/rfl/bin")])
                with stage(f"bench boot {i}/{n}: round {rnd}, {clock} clock, {k}"):
                    secs, to = guest.boot(
                        s, outs[k] / s.a.image, initrd, d / "console.log",
                        d / "bench.out", 3600, mem="3G", icount=(clock == "icount"),
                        append="transparent_hugepage=never",
                        extra_args=["-drive", f"file={disk},if=virtio,format=raw,cache=unsafe"],
                        progress=lambda l: l.startswith("RFL"), label=f"{k}/{clock}")
                    results = parse_lines((d / "bench.out").read_text(errors="replace"))
                    if to or not results:
                        die(f"bench boot {d} produced no results (timed out: {to}); "
                            f"see {d / 'console.log'}")
                    log(f"    {len(results)} results in {fmt_secs(secs)}")
                runs.append({"kernel": k, "clock": clock, "round": rnd, "results": results,
                             "seconds": round(secs, 1)})
                for p in results:
                    if p["kind"] == "LOCKPROBE":
                        probes.append({"kernel": k, "clock": clock, "round": rnd, **p})
    agg = aggregate(runs)
    cont = contention_aggregate(runs)
    meta = {"rounds": rounds, "iterations": iterations, "sizes_mib": list(sizes),
            "contention_mib": contention_mib, "contention_rounds": contention_rounds,
            "base": source.describe(s), "note": guest.kvm_note(),
            "boot_seconds": [r["seconds"] for r in runs],
            "total_seconds": round(time.monotonic() - t_all)}
    md, summary, _ = report(agg, probes, meta, res, cont)
    (res / "runs.json").write_text(json.dumps(runs))
    png = chart(s, res)
    print(md)
    log(f"bench: report {res / 'report.md'}, JSON {res / 'results.json'}, chart {png}"
        f"{', ' + str(res / 'chart-contention.png') if cont else ''}; "
        f"total {fmt_secs(time.monotonic() - t_all)}")
    return 0
