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
        job = bench.bench_job((2, 128), 10, 128, 4)
        self.assertIn("populate_bench 2 10 /mnt", job)
        self.assertIn("populate_bench 128 10 /mnt", job)
        self.assertIn("lockprobe 128 4", job)


if __name__ == "__main__":
    unittest.main()
