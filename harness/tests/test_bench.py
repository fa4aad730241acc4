import json
import tempfile
import unittest
from pathlib import Path

from rflh import bench

OUT = """# could not reserve 6 huge pages
FLOOR size_mib=2 op=memset min_ms=0.017 median_ms=0.018 n=10
BENCH size_mib=2 map=private backing=anon4k op=Read min_ms=0.343 median_ms=0.344 n=10
BENCH size_mib=2 map=private backing=anon4k op=POPULATE_READ min_ms=0.288 median_ms=0.290 n=10
BENCH size_mib=2 map=shared backing=memfd4k op=FALLOCATE+POPULATE_WRITE min_ms=0.973 median_ms=0.974 n=10
BENCH size_mib=2 map=private backing=hugetlbfs op=Read/Write unavailable=ENOENT
LOCKPROBE size_mib=64 backing=anon p50_us=3.7 p99_us=24.0 max_us=32090.4 samples=1982
[   12.3] unrelated console line
"""


def runs_for(kernel, clock, factor, rounds=3):
    out = []
    for r in range(rounds):
        res = bench.parse_lines(OUT)
        for d in res:
            for k in ("min_ms", "median_ms"):
                if k in d:
                    d[k] = d[k] * factor * (1 + 0.001 * r)
        out.append({"kernel": kernel, "clock": clock, "round": r + 1, "results": res})
    return out


class BenchTest(unittest.TestCase):
    def test_parse(self):
        res = bench.parse_lines(OUT)
        self.assertEqual([d["kind"] for d in res], ["FLOOR", "BENCH", "BENCH", "BENCH", "BENCH", "LOCKPROBE"])
        self.assertEqual(res[3]["op"], "FALLOCATE+POPULATE_WRITE")
        self.assertEqual(res[4]["unavailable"], "ENOENT")
        self.assertEqual(res[1]["median_ms"], 0.344)

    def test_aggregate_ratio_speedup(self):
        runs = (runs_for("reference", "icount", 1.0) + runs_for("series", "icount", 0.99)
                + runs_for("reference", "wall", 1.0) + runs_for("series", "wall", 1.0))
        agg = bench.aggregate(runs)
        k = (2, "private", "anon4k", "POPULATE_READ")
        row = agg["icount"][k]
        self.assertAlmostEqual(row["reference"]["min"], 0.288)
        self.assertAlmostEqual(row["reference"]["median"], 0.290 * 1.001)
        self.assertAlmostEqual(bench.ratio(row), 0.99)
        self.assertAlmostEqual(row["reference"]["spread_pct"], 0.2, places=3)
        self.assertAlmostEqual(bench.speedup(agg["wall"], k, "series"), 0.344 / 0.290)
        self.assertIsNone(bench.speedup(agg["wall"], (2, "private", "anon4k", "Read"), "series"))
        un = agg["icount"][(2, "private", "hugetlbfs", "Read/Write")]["series"]
        self.assertEqual(un["unavailable"], "ENOENT")

    def test_report(self):
        runs = (runs_for("reference", "icount", 1.0) + runs_for("series", "icount", 1.02)
                + runs_for("reference", "wall", 1.0) + runs_for("series", "wall", 1.0))
        agg = bench.aggregate(runs)
        with tempfile.TemporaryDirectory() as d:
            md, summary, rows = bench.report(agg, [], {"rounds": 3, "iterations": 10}, d)
            self.assertTrue((Path(d) / "results.json").exists())
        self.assertIn("| 2 MiB | private | anon4k | POPULATE_READ |", md)
        self.assertIn("unavailable (ENOENT)", md)
        self.assertAlmostEqual(summary["median_ratio_all_rows"], 1.02)
        self.assertEqual(len(summary["rows_rust_more_than_1pct_slower"]), 4)

    def test_job_mentions_every_size(self):
        job = bench.bench_job((2, 128), 10, 256, 3)
        self.assertIn("populate_bench 2 10 /mnt", job)
        self.assertIn("populate_bench 128 10 /mnt", job)
        self.assertIn("populate_bench contention 256 3 >> $out", job)
        self.assertNotIn("lockprobe", job)
        # The wall-clock boots run the table only.
        self.assertNotIn("contention", bench.bench_job((2, 8), 10, 256, 3, contention=False))

    def test_aggregate_ignores_contention_lines(self):
        runs = [{"kernel": "series", "clock": "icount", "round": 1,
                 "results": bench.parse_lines(OUT + contention_out(["x"] * 0, 1.0))}]
        agg = bench.aggregate(runs)
        self.assertTrue(all(k[1] in ("private", "shared", "-") for k in agg["icount"]))


def cdf_line(row, lo, hi):
    """A CDF line whose quantiles rise linearly from lo to hi."""
    q = ",".join(f"{lo + (hi - lo) * i / 100:.2f}" for i in range(101))
    return f"CDF row={row} q={q}"


def contention_out(unavailable=(), scale=1.0, p99_tail=None, samples=100, size=256):
    """One boot's contention output: alone = 100 ms * scale, writer = 105 ms
    * scale; writer latencies 10..1000 us (max 1000 us) unless p99_tail."""
    lines = ["# contention: populating thread on CPU 0, writer on CPU 1"]
    for row in bench.CONTENTION_ROWS:
        if row in unavailable:
            lines.append(f"CONTENTION row={row} size_mib={size} unavailable=ENOMEM")
            continue
        threads = 4 if row.startswith("qemu-like") else 1
        hi = p99_tail or 1000.0
        lines.append(
            f"CONTENTION row={row} size_mib={size} threads={threads} rounds=3 "
            f"alone_ms={100 * scale:.3f} writer_ms={105 * scale:.3f} p50_us={10 + (hi - 10) / 2:.2f} "
            f"p99_us={10 + (hi - 10) * 0.99:.2f} max_us={hi:.2f} samples={samples}")
        lines.append(cdf_line(row, 10.0, hi))
    return "\n".join(lines) + "\n"


class ContentionTest(unittest.TestCase):
    def test_parse(self):
        res = bench.parse_lines(contention_out(["thp/POPULATE_WRITE"]) + "CDF row=x q=1.0,2.\x00\n")
        c = [d for d in res if d["kind"] == "CONTENTION"]
        self.assertEqual(len(c), 7)
        self.assertEqual(c[0]["row"], "anon4k/POPULATE_WRITE")
        self.assertEqual(c[0]["threads"], 1)
        self.assertEqual(c[0]["samples"], 100)
        self.assertAlmostEqual(c[0]["alone_ms"], 100.0)
        self.assertAlmostEqual(c[0]["max_us"], 1000.0)
        self.assertEqual(c[5]["unavailable"], "ENOMEM")
        self.assertEqual(c[6]["threads"], 4)
        q = [d for d in res if d["kind"] == "CDF"]
        self.assertEqual(len(q[0]["q"]), 101)
        self.assertAlmostEqual(q[0]["q"][0], 10.0)
        self.assertAlmostEqual(q[0]["q"][100], 1000.0)
        self.assertTrue(q[-1]["malformed"])

    def test_shape(self):
        good = bench.parse_lines(contention_out(["hugetlb/POPULATE_WRITE", "thp/POPULATE_WRITE"]))
        self.assertEqual(bench.contention_shape_problems(good), [])
        # A row missing, a CDF cut short, no samples.
        text = contention_out().replace("CONTENTION row=memfd4k", "CONTENTIO row=memfd4k")
        text = text.replace(",1000.00\n", "\n", 1)
        probs = bench.contention_shape_problems(bench.parse_lines(text))
        self.assertIn("memfd4k/POPULATE_WRITE: 0 CONTENTION lines", probs)
        self.assertIn("anon4k/POPULATE_WRITE: no CDF line of 101 quantiles", probs)
        probs = bench.contention_shape_problems(bench.parse_lines(contention_out(samples=0)))
        self.assertIn("anon4k/POPULATE_READ: no writer samples", probs)
        text = contention_out().replace("max_us=1000.00 ", "", 1)
        probs = bench.contention_shape_problems(bench.parse_lines(text))
        self.assertEqual(probs, ["anon4k/POPULATE_WRITE: missing max_us"])

    def test_smoke_check(self):
        from rflh import check
        table = "\n".join(f"BENCH size_mib=2 map=private backing=anon4k op=Op{i} "
                          "min_ms=1.0 median_ms=1.0 n=1" for i in range(45))
        text = "[ 1.0] boot\n" + table + "\n" + contention_out(["thp/POPULATE_WRITE"])
        c = check.bench_smoke_check(text)
        self.assertEqual(c.status, "ok", c)
        self.assertIn("6 rows measured, 1 unavailable", c.detail)
        bad = check.bench_smoke_check(table + "\n" + contention_out().split("CONTENTION row=qemu")[0])
        self.assertEqual(bad.status, "fail")

    def runs(self, ref_scale=1.0, ser_scale=1.0, ref_tail=16000.0, ser_tail=None, boots=3):
        out = []
        for r in range(boots):
            for k, sc, tail in (("reference", ref_scale, ref_tail), ("series", ser_scale, ser_tail)):
                res = bench.parse_lines(contention_out(["thp/POPULATE_WRITE"] if k == "series" else (),
                                                       sc * (1 + 0.01 * r), tail))
                out.append({"kernel": k, "clock": "icount", "round": r + 1, "results": res})
        return out

    def test_aggregate(self):
        ent = bench.contention_aggregate(self.runs())
        self.assertEqual(len(ent), 14)
        by = {(e["row"], e["kernel"]): e for e in ent}
        a = by[("anon4k/POPULATE_WRITE", "series")]
        self.assertEqual(a["boots"], 3)
        self.assertAlmostEqual(a["alone_ms"], 101.0)      # median of 100, 101, 102
        self.assertAlmostEqual(a["writer_ms"], 106.05)
        self.assertAlmostEqual(a["slowdown_pct"], 5.0)
        self.assertEqual(a["samples"], 300)
        self.assertAlmostEqual(a["max_us"], 1000.0)
        self.assertAlmostEqual(a["p99_us"], 10 + 990 * 0.99)  # identical boots: the boot's own
        self.assertAlmostEqual(a["p50_us"], 505.0)
        self.assertEqual(len(a["cdf_us"]), 101)
        # Chunks: 256 MiB / 256 KiB = 1024; hugetlb 256 MiB / 2 MiB = 128;
        # qemu-like: each of 4 threads has 64 MiB = 256 chunks.
        self.assertAlmostEqual(a["chunk_ms"], 101.0 / 1024)
        h = by[("hugetlb/POPULATE_WRITE", "series")]
        self.assertEqual(h["chunk_kib"], 2048)
        self.assertAlmostEqual(h["chunk_ms"], 101.0 / 128)
        self.assertAlmostEqual(by[("qemu-like/POPULATE_WRITE", "series")]["chunk_ms"], 101.0 / 256)
        self.assertEqual(by[("thp/POPULATE_WRITE", "series")]["unavailable"], "ENOMEM")
        self.assertIn("max_us", by[("thp/POPULATE_WRITE", "reference")])

    def test_pooled_quantiles(self):
        # Two boots: 300 samples at 10..20 us and 100 samples at 1000..2000 us.
        res1 = bench.parse_lines("CONTENTION row=anon4k/POPULATE_WRITE size_mib=8 threads=1 "
                                 "rounds=1 alone_ms=10 writer_ms=10 p50_us=15 p99_us=19.9 "
                                 "max_us=20 samples=300\n" + cdf_line("anon4k/POPULATE_WRITE", 10, 20))
        res2 = bench.parse_lines("CONTENTION row=anon4k/POPULATE_WRITE size_mib=8 threads=1 "
                                 "rounds=1 alone_ms=30 writer_ms=40 p50_us=1500 p99_us=1990 "
                                 "max_us=2000 samples=100\n" + cdf_line("anon4k/POPULATE_WRITE", 1000, 2000))
        ent = bench.contention_aggregate([
            {"kernel": "series", "clock": "icount", "round": 1, "results": res1},
            {"kernel": "series", "clock": "icount", "round": 2, "results": res2}])
        e = ent[0]
        self.assertAlmostEqual(e["alone_ms"], 20.0)
        self.assertAlmostEqual(e["writer_ms"], 25.0)
        self.assertAlmostEqual(e["slowdown_pct"], 25.0)
        self.assertEqual(e["samples"], 400)
        self.assertAlmostEqual(e["max_us"], 2000.0)
        self.assertLess(e["p50_us"], 20.0)          # 3/4 of the samples are under 20 us
        self.assertGreaterEqual(e["cdf_us"][76], 1000.0)
        self.assertLessEqual(e["cdf_us"][74], 20.0)
        self.assertGreater(e["p99_us"], 1900.0)
        self.assertAlmostEqual(e["cdf_us"][0], 10.0)
        self.assertAlmostEqual(e["cdf_us"][100], 2000.0)
        self.assertEqual(bench.weighted_quantile([(5, 1), (1, 1)], 0.5), 1)
        self.assertEqual(bench.weighted_quantile([(5, 1), (1, 1)], 0.51), 5)

    def test_targets_met(self):
        # Rust: tail 200 us (max 200 us <= 3 * 0.0986 ms), slowdown 5%.
        ent = bench.contention_aggregate(self.runs(ser_tail=200.0))
        t = bench.contention_targets(ent)
        st = {(x["row"], x["target"].split()[1]): x for x in t}
        p99 = st[("anon4k/POPULATE_WRITE", "p99")]
        self.assertEqual(p99["status"], "met")
        self.assertAlmostEqual(p99["value"], 10 + 190 * 0.99)
        self.assertGreater(p99["against_value"], 15000)
        mx = st[("anon4k/POPULATE_WRITE", "max")]
        self.assertEqual(mx["status"], "met")
        self.assertAlmostEqual(mx["limit"], 3 * 101.0 / 1024 * 1e3)
        self.assertAlmostEqual(mx["chunks"], 200.0 / (101.0 / 1024 * 1e3))
        self.assertEqual(st[("anon4k/POPULATE_WRITE", "with")]["status"], "met")
        self.assertEqual(st[("thp/POPULATE_WRITE", "max")]["status"], "n/a")
        self.assertEqual(st[("thp/POPULATE_WRITE", "max")]["why"], "ENOMEM")
        # The p99 target is for anon4k POPULATE_WRITE only.
        self.assertNotIn(("memfd4k/POPULATE_WRITE", "p99"), st)
        self.assertEqual(sum(x["target"].startswith("writer p99") for x in t), 1)
        for x in t:
            self.assertTrue(bench.target_line(x).startswith(f"- **{x['status']}**")
                            or x["status"] == "n/a")

    def test_targets_missed(self):
        # Rust as bad as C: one whole populate of latency, and 50% slower with the writer.
        runs = self.runs(ser_tail=16000.0)
        for r in runs:
            if r["kernel"] == "series":
                for d in r["results"]:
                    if d["kind"] == "CONTENTION" and "writer_ms" in d:
                        d["writer_ms"] = d["alone_ms"] * 1.5
        t = bench.contention_targets(bench.contention_aggregate(runs))
        st = {(x["row"], x["target"].split()[1]): x for x in t}
        self.assertEqual(st[("anon4k/POPULATE_WRITE", "p99")]["status"], "missed")
        self.assertEqual(st[("anon4k/POPULATE_WRITE", "max")]["status"], "missed")
        sd = st[("memfd4k/POPULATE_WRITE", "with")]
        self.assertEqual(sd["status"], "missed")
        self.assertAlmostEqual(sd["value"], 50.0)
        self.assertIn("missed", bench.target_line(sd))

    def test_report_section(self):
        runs = runs_for("reference", "icount", 1.0) + runs_for("series", "icount", 1.0)
        ent = bench.contention_aggregate(self.runs(ser_tail=200.0))
        with tempfile.TemporaryDirectory() as d:
            md, summary, _ = bench.report(bench.aggregate(runs), [], {"rounds": 3, "iterations": 10},
                                          d, ent)
            js = json.loads((Path(d) / "results.json").read_text())
        self.assertIn("## Contention: mmap()+munmap() latency while populate runs", md)
        self.assertIn("| icount | series | anon4k/POPULATE_WRITE | 256 MiB | 1 | 101.000 | 106.050 "
                      "| +5.0 |", md)
        self.assertIn("| icount | series | thp/POPULATE_WRITE | 256 MiB | - | unavailable (ENOMEM)", md)
        self.assertIn("- **met**: writer p99 <= 2 ms (anon4k/POPULATE_WRITE, 256 MiB, icount)", md)
        self.assertNotIn("Lock-hold probe", md)
        self.assertEqual(len(js["contention"]), 14)
        self.assertEqual(summary["contention_targets"]["n/a"], 2)
        self.assertEqual(summary["contention_targets"]["missed"], 0)


if __name__ == "__main__":
    unittest.main()
