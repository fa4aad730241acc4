"""`make bench`: the seed's populate table, C v7.3 (reference) against the
Rust series, on the bench config, alternating boots, under two clocks."""

import json
import re
import statistics
import time
from pathlib import Path

from . import build, guest, source, toolchain, tree
from .util import die, fmt_secs, in_root, log, stage

LINE = re.compile(r"^(BENCH|FLOOR|LOCKPROBE) (.*)$")
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
        for k in ("min_ms", "median_ms", "p50_us", "p99_us", "max_us"):
            if k in d:
                d[k] = float(d[k])
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
            if d["kind"] == "LOCKPROBE":
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


def report(agg, probes, meta, outdir):
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
    lines += ["", f"Median Rust/C ratio (icount): all rows "
              f"{summary['median_ratio_all_rows']}, POPULATE rows "
              f"{summary['median_ratio_populate_rows']}.",
              f"Rows where Rust is more than 1% slower: "
              f"{len(slower)}" + "".join(f"\n- {x}" for x in summary["rows_rust_more_than_1pct_slower"])]
    lines += ["", "## Lock-hold probe: mmap()+munmap() latency while POPULATE_WRITE runs", "",
              "| clock | kernel | size | backing | p50 us | p99 us | max us | samples |",
              "|---|---|---|---|---|---|---|---|"]
    for p in probes:
        lines.append(f"| {p['clock']} | {p['kernel']} | {p['size_mib']} MiB | {p['backing']} | "
                     f"{p['p50_us']:.1f} | {p['p99_us']:.1f} | {p['max_us']:.1f} | {p['samples']} |")
    md = "\n".join(lines) + "\n"
    (outdir / "report.md").write_text(md)
    (outdir / "results.json").write_text(json.dumps(
        {"meta": meta, "summary": summary, "rows": rows_json, "lockprobe": probes},
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
'''


def chart(s, outdir):
    outdir = Path(outdir)
    script = outdir / "chart.py"
    script.write_text(CHART)
    in_root(s, f"python3 {script} {outdir / 'results.json'} {outdir / 'chart.png'}")
    return outdir / "chart.png"


def bench_job(sizes, iterations, probe_mib, probe_rounds):
    runs = "\n".join(f"/rfl/bin/populate_bench {m} {iterations} /mnt >> $out" for m in sizes)
    return f"""set -u
out=/dev/ttyS1
echo 1 > /proc/sys/vm/overcommit_memory
mkdir -p /mnt
mke2fs -q /dev/vda >/dev/null 2>&1 && mount -t ext2 /dev/vda /mnt || echo "RFL: no disk; file rows unavailable"
echo "RFL: populate_bench sizes {' '.join(map(str, sizes))} MiB, {iterations} iterations"
{runs}
/rfl/bin/populate_bench lockprobe {probe_mib} {probe_rounds} >> $out
umount /mnt 2>/dev/null
echo "RFL: bench done"
exit 0
"""


def run(s, rounds=3, sizes=(2, 128), iterations=10, probe_mib=128, probe_rounds=4,
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
    job = bench_job(sizes, iterations, probe_mib, probe_rounds)
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
                guest.make_initramfs(s, trees[k], outs[k], job, initrd, [(tools, "/rfl/bin")])
                with stage(f"bench boot {i}/{n}: round {rnd}, {clock} clock, {k}"):
                    secs, to = guest.boot(
                        s, outs[k] / "arch/x86/boot/bzImage", initrd, d / "console.log",
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
    meta = {"rounds": rounds, "iterations": iterations, "sizes_mib": list(sizes),
            "base": source.describe(s), "note": guest.kvm_note(),
            "boot_seconds": [r["seconds"] for r in runs],
            "total_seconds": round(time.monotonic() - t_all)}
    md, summary, _ = report(agg, probes, meta, res)
    (res / "runs.json").write_text(json.dumps(runs))
    png = chart(s, res)
    print(md)
    log(f"bench: report {res / 'report.md'}, JSON {res / 'results.json'}, chart {png}; "
        f"total {fmt_secs(time.monotonic() - t_all)}")
    return 0
