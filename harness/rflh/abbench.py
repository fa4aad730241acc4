"""make ab-bench: the C and the Rust populate in one kernel, on the same mappings.

The series kernel is built with CONFIG_MADVISE_POPULATE_AB_BENCH
(configs/series-bench.config), whose /sys/module/madvise/parameters/populate_c
chooses the implementation madvise() runs. One boot per clock:

- the seed table's POPULATE cells (`populate_bench ab`): every round runs the
  cell once with C and once with Rust on fresh, identical mappings, C first in
  even rounds and Rust first in odd ones; the row's figure is the median of
  the rounds' Rust/C, with their minimum and maximum;
- the contention rows (`populate_bench contention`), four passes in the order
  C, Rust, Rust, C, so that a drift over the boot cancels.
"""
import json
import re
import statistics
import time

from . import bench, build, guest, source, toolchain, tree
from .util import die, fmt_secs, in_root, log, stage

AB_LINE = re.compile(r"^AB (.*)$")
PASS_LINE = re.compile(r"^ABIMPL impl=(c|rust) pass=(\d+)$")
IMPLS = ("c", "rust")
PASSES = ("c", "rust", "rust", "c")


def parse_ab(text):
    """The AB lines of populate_bench ab, as dicts; ratios and times as floats."""
    out = []
    for raw in text.splitlines():
        m = AB_LINE.match(raw.strip())
        if not m:
            continue
        d = dict(bench.KV.findall(m.group(1)))
        try:
            for k in ("c_median_ms", "rust_median_ms", "ratio_median", "ratio_min", "ratio_max"):
                if k in d:
                    d[k] = float(d[k])
            d["size_mib"] = int(d["size_mib"])
            if "n" in d:
                d["n"] = int(d["n"])
        except (KeyError, ValueError):
            d["malformed"] = True
        out.append(d)
    return out


def split_passes(text, clock):
    """The contention output of each pass, as bench.contention_aggregate() runs:
    the implementation in place of the kernel, the pass as the round."""
    runs, cur = [], None
    for raw in text.splitlines():
        m = PASS_LINE.match(raw.strip())
        if m:
            cur = {"kernel": m.group(1), "clock": clock, "round": int(m.group(2)), "lines": []}
            runs.append(cur)
        elif cur is not None:
            cur["lines"].append(raw)
    return [{"kernel": r["kernel"], "clock": r["clock"], "round": r["round"],
             "results": bench.parse_lines("\n".join(r["lines"]))} for r in runs]


def job(sizes, iterations, mib, rounds, contention=True):
    cells = "\n".join(f'echo "RFL: populate_bench ab {m} MiB, {iterations} rounds"\n'
                      f"/rfl/bin/populate_bench ab {m} {iterations} /mnt >> $out"
                      for m in sizes)
    passes = "\n".join(
        f'echo "RFL: contention pass {i + 1}/{len(PASSES)}: {impl}"\n'
        f'echo "ABIMPL impl={impl} pass={i + 1}" >> $out\n'
        f"/rfl/bin/populate_bench impl {impl} || exit 1\n"
        f"/rfl/bin/populate_bench contention {mib} {rounds} >> $out"
        for i, impl in enumerate(PASSES)) if contention else ""
    return f"""set -u
out=/dev/rfl-tap
echo 1 > /proc/sys/vm/overcommit_memory
/rfl/bin/populate_bench impl c || {{ echo "RFL: no implementation switch"; exit 1; }}
mkdir -p /mnt
mke2fs -q /dev/vda >/dev/null 2>&1 && mount -t ext2 /dev/vda /mnt || echo "RFL: no disk; file rows unavailable"
{cells}
umount /mnt 2>/dev/null
{passes}
/rfl/bin/populate_bench impl rust
echo "RFL: ab-bench done"
exit 0
"""


def table_rows(ab):
    """Per (clock, cell): Rust/C median of the rounds, and their spread."""
    return [d for d in ab if not d.get("malformed")]


def summary(ab):
    ok = [d["ratio_median"] for d in ab if "ratio_median" in d]
    if not ok:
        return None
    return {"rows": len(ok), "median": statistics.median(ok), "min": min(ok), "max": max(ok)}


def report(ab_by_clock, cont, meta, outdir, two_kernel=None):
    lines = ["# Same-image benchmark: the C and the Rust populate in one kernel", "",
             f"Base {meta['base']}; series kernel with CONFIG_MADVISE_POPULATE_AB_BENCH; QEMU TCG, "
             f"2 vCPUs, 3 GiB; {meta['iterations']} rounds per cell; contention "
             f"{meta['mib']} MiB, {meta['rounds']} rounds per pass, passes "
             f"{', '.join(PASSES)}; total {fmt_secs(meta['total_seconds'])}.", "",
             "Rust/C is the median over the rounds of (Rust time / C time) on fresh, identical "
             "mappings, C and Rust alternating call by call; min and max are the rounds' "
             "extremes.", ""]
    sums = {}
    for clock, ab in ab_by_clock.items():
        s = summary(ab)
        sums[clock] = s
        lines += [f"## Seed table, {clock} clock", ""]
        if s:
            lines += [f"{s['rows']} rows: Rust/C median {s['median']:.3f}, "
                      f"min {s['min']:.3f}, max {s['max']:.3f}.", ""]
        lines += ["| MiB | map | backing | op | C ms | Rust ms | Rust/C | min | max |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for d in ab:
            if "unavailable" in d or d.get("malformed"):
                lines.append(f"| {d.get('size_mib')} | {d.get('map')} | {d.get('backing')} | "
                             f"{d.get('op')} | unavailable: {d.get('unavailable', 'malformed')}"
                             " | | | | |")
                continue
            lines.append(f"| {d['size_mib']} | {d['map']} | {d['backing']} | {d['op']} | "
                         f"{d['c_median_ms']:.3f} | {d['rust_median_ms']:.3f} | "
                         f"{d['ratio_median']:.3f} | {d['ratio_min']:.3f} | "
                         f"{d['ratio_max']:.3f} |")
        lines.append("")
    if cont:
        lines += ["## Contention rows, same image", "",
                  "Per implementation, over its two passes: the populate alone and with the "
                  "writer (median), the slowdown, and the writer's mmap()+munmap() latency.", "",
                  "| clock | row | impl | alone ms | with writer ms | slower % | writer p99 ms "
                  "| max ms | alone Rust/C |", "|---|---|---|---|---|---|---|---|---|"]
        by = {(e["clock"], e["row"], e["kernel"]): e for e in cont}
        for e in cont:
            if "alone_ms" not in e:
                lines.append(f"| {e['clock']} | {e['row']} | {e['kernel']} | unavailable: "
                             f"{e.get('unavailable')} | | | | | |")
                continue
            c = by.get((e["clock"], e["row"], "c"))
            r = (f"{e['alone_ms'] / c['alone_ms']:.3f}"
                 if e["kernel"] == "rust" and c and c.get("alone_ms") else "")
            lines.append(f"| {e['clock']} | {e['row']} | {e['kernel']} | {e['alone_ms']:.1f} | "
                         f"{e['writer_ms']:.1f} | {e['slowdown_pct']:+.1f} | "
                         f"{e['p99_us'] / 1e3:.2f} | {e['max_us'] / 1e3:.1f} | {r} |")
        lines.append("")
    md = "\n".join(lines)
    (outdir / "report.md").write_text(md)
    (outdir / "results.json").write_text(json.dumps(
        {"meta": meta, "ab": ab_by_clock, "summary": sums, "contention": cont}, indent=1))
    return md


CHART = r'''
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
d = json.load(open(sys.argv[1]))
clocks = [c for c in d["ab"] if any("ratio_median" in x for x in d["ab"][c])]
fig, axes = plt.subplots(1, len(clocks), figsize=(8 * len(clocks), 12), squeeze=False)
for ax, clock in zip(axes[0], clocks):
    rows = [x for x in d["ab"][clock] if "ratio_median" in x]
    ys = range(len(rows))
    med = [x["ratio_median"] for x in rows]
    lo = [x["ratio_median"] - x["ratio_min"] for x in rows]
    hi = [x["ratio_max"] - x["ratio_median"] for x in rows]
    ax.errorbar(med, list(ys), xerr=[lo, hi], fmt="o", ms=3, capsize=2)
    ax.axvline(1.0, color="grey", lw=1)
    ax.set_yticks(list(ys), [f"{x['size_mib']}M {x['map'][:4]} {x['backing']} {x['op']}"
                             for x in rows], fontsize=6)
    ax.invert_yaxis()
    ax.set_xlabel("Rust/C (median of rounds; bars: min-max)")
    ax.set_title(f"{clock} clock")
fig.suptitle("MADV_POPULATE: Rust vs C in one kernel (QEMU TCG, 2 vCPUs)")
fig.tight_layout(rect=(0, 0, 1, 0.97))
fig.savefig(sys.argv[2], dpi=100)
'''


def chart(s, outdir):
    script = outdir / "chart.py"
    script.write_text(CHART)
    in_root(s, f"python3 {script} {outdir / 'results.json'} {outdir / 'chart.png'}")
    return outdir / "chart.png"


def run(s, clocks=bench.CLOCKS, sizes=(2, 8), iterations=10, mib=256, rounds=3,
        contention=True):
    t_all = time.monotonic()
    for c in clocks:
        if c not in bench.CLOCKS:
            die(f"CLOCKS={c}: the clocks are {' '.join(bench.CLOCKS)}")
    toolchain.ensure(s)
    pristine = source.pristine(s)
    with stage("tree: sync series with patches/"):
        t = tree.sync(s, "series", pristine, source.describe(s))
    out, _ = build.build_kernel(s, "series", t, "bench")
    cfg = (out / ".config").read_text()
    if "CONFIG_MADVISE_POPULATE_AB_BENCH=y" not in cfg:
        die(f"{out / '.config'} has no CONFIG_MADVISE_POPULATE_AB_BENCH=y: the queue must have "
            "the patch that adds it, and configs/series-bench.config must ask for it")
    tools = guest.build_guest_tools(s, out)
    res = s.build / "ab-bench"
    res.mkdir(parents=True, exist_ok=True)
    disk = s.cache / "bench-disk.img"
    if not disk.exists() or disk.stat().st_size != 2 << 30:
        with open(disk, "wb") as f:
            f.truncate(2 << 30)
    ab_by_clock, cruns, secs_all = {}, [], []
    for i, clock in enumerate(clocks, 1):
        d = res / clock
        d.mkdir(exist_ok=True)
        initrd = d / "initramfs.cpio"
        guest.make_initramfs(s, t, out, job(sizes, iterations, mib, rounds, contention), initrd,
                             [(tools, "/rfl/bin")])
        with stage(f"ab-bench boot {i}/{len(clocks)}: {clock} clock"):
            secs, to = guest.boot(
                s, out / s.a.image, initrd, d / "console.log", d / "ab.out", 5400, mem="3G",
                icount=(clock == "icount"), append="transparent_hugepage=never",
                extra_args=["-drive", f"file={disk},if=virtio,format=raw,cache=unsafe"],
                progress=lambda l: l.startswith("RFL"), label=f"ab/{clock}")
        text = (d / "ab.out").read_text(errors="replace")
        ab = parse_ab(text)
        passes = split_passes(text, clock)
        if to or not ab or (contention and len(passes) != len(PASSES)):
            die(f"ab-bench boot {d} failed (timed out: {to}; {len(ab)} AB lines, "
                f"{len(passes)} contention passes); see {d / 'console.log'}")
        log(f"    {len(ab)} cells, {len(passes)} contention passes in {fmt_secs(secs)}")
        ab_by_clock[clock] = table_rows(ab)
        cruns += passes
        secs_all.append(round(secs, 1))
    cont = bench.contention_aggregate(cruns) if cruns else []
    meta = {"base": source.describe(s), "iterations": iterations, "sizes_mib": list(sizes),
            "mib": mib, "rounds": rounds, "clocks": list(clocks), "boot_seconds": secs_all,
            "total_seconds": round(time.monotonic() - t_all)}
    print(report(ab_by_clock, cont, meta, res))
    png = chart(s, res)
    log(f"ab-bench: {res / 'report.md'}, {res / 'results.json'}, {png}; total "
        f"{fmt_secs(time.monotonic() - t_all)}")
    return 0
