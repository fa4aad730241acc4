import tempfile
import unittest
from pathlib import Path

from rflh import abbench

OUT = """# a comment
AB size_mib=2 map=private backing=anon4k op=POPULATE_READ c_median_ms=1.000 rust_median_ms=1.010 ratio_median=1.0100 ratio_min=0.9900 ratio_max=1.0300 n=10
AB size_mib=2 map=shared backing=hugetlbfs op=POPULATE_WRITE unavailable=ENOMEM
AB size_mib=2 map=private backing=anon4k op=POPULATE_WRITE c_median_ms=1.0 rust_median_ms=x ratio_median=oops
ABIMPL impl=c pass=1
CONTENTION row=anon4k/POPULATE_WRITE size_mib=256 threads=1 rounds=3 alone_ms=100.0 writer_ms=110.0 p50_us=10.0 p99_us=900.0 max_us=1000.0 samples=50
CDF row=anon4k/POPULATE_WRITE q=""" + ",".join(["1.0"] * 101) + """
ABIMPL impl=rust pass=2
CONTENTION row=anon4k/POPULATE_WRITE size_mib=256 threads=1 rounds=3 alone_ms=101.0 writer_ms=111.0 p50_us=10.0 p99_us=950.0 max_us=1100.0 samples=50
CDF row=anon4k/POPULATE_WRITE q=""" + ",".join(["2.0"] * 101) + "\n"


class Parse(unittest.TestCase):
    def test_ab_lines(self):
        ab = abbench.parse_ab(OUT)
        self.assertEqual(len(ab), 3)
        self.assertEqual(ab[0]["ratio_median"], 1.01)
        self.assertEqual(ab[0]["size_mib"], 2)
        self.assertEqual(ab[1]["unavailable"], "ENOMEM")
        self.assertTrue(ab[2].get("malformed"))

    def test_passes_become_runs(self):
        runs = abbench.split_passes(OUT, "icount")
        self.assertEqual([(r["kernel"], r["round"]) for r in runs], [("c", 1), ("rust", 2)])
        kinds = [d["kind"] for d in runs[1]["results"]]
        self.assertEqual(kinds, ["CONTENTION", "CDF"])

    def test_summary_ignores_unavailable_and_malformed(self):
        s = abbench.summary(abbench.table_rows(abbench.parse_ab(OUT)))
        self.assertEqual(s["rows"], 1)
        self.assertEqual(s["median"], 1.01)
        self.assertIsNone(abbench.summary([]))


class Job(unittest.TestCase):
    def test_passes_alternate_and_switch_first(self):
        j = abbench.job((2, 8), 10, 256, 3)
        self.assertEqual(abbench.PASSES, ("c", "rust", "rust", "c"))
        order = [l.split()[2] for l in j.splitlines() if l.startswith("/rfl/bin/populate_bench impl")]
        self.assertEqual(order, ["c", "c", "rust", "rust", "c", "rust"])
        self.assertIn("populate_bench ab 8 10 /mnt", j)
        self.assertIn("|| exit 1", j)
        self.assertNotIn("ABIMPL", abbench.job((2,), 10, 256, 3, contention=False))


class Report(unittest.TestCase):
    def test_report_has_every_row_and_ratio(self):
        from rflh import bench
        ab = abbench.table_rows(abbench.parse_ab(OUT))
        cont = bench.contention_aggregate(abbench.split_passes(OUT, "icount"))
        meta = {"base": "v7.3", "iterations": 10, "mib": 256, "rounds": 3, "total_seconds": 60}
        with tempfile.TemporaryDirectory() as d:
            md = abbench.report({"icount": ab}, cont, meta, Path(d))
            self.assertTrue((Path(d) / "results.json").exists())
        self.assertIn("| 2 | private | anon4k | POPULATE_READ | 1.000 | 1.010 | 1.010 | 0.990 | 1.030 |", md)
        self.assertIn("unavailable: ENOMEM", md)
        self.assertIn("Rust/C median 1.010", md)
        self.assertIn("| icount | anon4k/POPULATE_WRITE | rust | 101.0 |", md)
        self.assertIn("| 1.010 |", md)



class AbChecks(unittest.TestCase):
    LOG = ("[ 24.1] madvise_populate: A/B: 36 seeds, 5000 populate calls per implementation, "
           "0 differences (0 in the pages only)\n"
           "[ 44.1] madvise_populate: A/B: 36 seeds, 5000 populate calls per implementation, "
           "0 differences (0 in the pages only)\n"
           "[ 47.4] madvise_populate: A/B negative control (skips the last page): 8 seeds, 1000 "
           "populate calls per implementation, 116 differences (80 in the pages only)\n"
           "[ 47.4] madvise_populate: A/B negative control (skips the last page): first "
           "difference: seed 1 after op 3 (returns 0/0, page 5: state 0xb/0x0); "
           "madvise.populate_ab_seed=1 madvise.populate_ab_ops=4 runs it alone\n"
           "[ 50.6] madvise_populate: A/B negative control (EFAULT as EINVAL): 8 seeds, 1000 "
           "populate calls per implementation, 29 differences (0 in the pages only)\n"
           "[ 52.6] madvise_populate: A/B negative control (WRITE mapped read-only): 8 seeds, "
           "1000 populate calls per implementation, 300 differences (200 in the pages only)\n")

    def test_clean_run_passes_with_figures(self):
        from rflh import verdict
        cs = verdict.ab_checks(self.LOG)
        self.assertEqual([c.status for c in cs], ["ok", "ok", "ok", "ok"])
        self.assertIn("80 in the pages only", cs[1].detail)
        self.assertIn("10000 populate calls", cs[0].detail)

    def test_both_halves_are_counted(self):
        from rflh import verdict
        cs = verdict.ab_checks(self.LOG)
        self.assertEqual(cs[0].status, "ok")
        self.assertIn("10000 populate calls, 72 seeds", cs[0].detail.replace(" per implementation", ""))
        self.assertEqual(verdict.ab_checks(self.LOG.replace(", 0 differences", ", 1 differences", 1))[0].status, "fail")
        # One half alone, even with enough calls, or a half printed twice, fails.
        lines = self.LOG.splitlines(keepends=True)
        lone = "".join(lines[1:]).replace("5000 populate", "10000 populate")
        c = verdict.ab_checks(lone)[0]
        self.assertEqual(c.status, "fail")
        self.assertIn("1 A/B lines", c.detail)
        self.assertEqual(verdict.ab_checks(lines[0] + self.LOG)[0].status, "fail")

    def test_controls_are_named_and_the_page_only_one_must_see_pages(self):
        from rflh import verdict
        # The same control twice instead of two controls.
        twice = self.LOG.replace("(EFAULT as EINVAL)", "(skips the last page)")
        st = {c.name: c.status for c in verdict.ab_checks(twice)}
        self.assertEqual(st["A/B negative control: EFAULT as EINVAL"], "fail")
        self.assertEqual(st["A/B negative control: skips the last page"], "fail")
        # WRITE mapped read-only must differ in the page states alone.
        blind = self.LOG.replace("300 differences (200 in the pages only)",
                                 "300 differences (0 in the pages only)")
        c = [c for c in verdict.ab_checks(blind) if "read-only" in c.name][0]
        self.assertEqual(c.status, "fail")
        self.assertIn("none in the page states alone", c.detail)
        # A control the harness does not know of is not silently ignored.
        new = self.LOG + ("madvise_populate: A/B negative control (new one): 8 seeds, 1000 populate "
                          "calls per implementation, 5 differences (0 in the pages only)\n")
        self.assertIn("fail", [c.status for c in verdict.ab_checks(new)])

    def test_difference_too_few_calls_and_blind_control_fail(self):
        from rflh import verdict
        self.assertEqual(verdict.ab_checks(self.LOG.replace(", 0 differences", ", 3 differences", 1))[0].status, "fail")
        self.assertEqual(verdict.ab_checks(self.LOG, want_calls=100000)[0].status, "fail")
        blind = self.LOG.replace("116 differences", "0 differences")
        self.assertIn("fail", [c.status for c in verdict.ab_checks(blind)])
        self.assertEqual(verdict.ab_checks("")[0].status, "fail")
        one = "\n".join(self.LOG.splitlines()[:2])
        self.assertIn("fail", [c.status for c in verdict.ab_checks(one)])

    def test_summary_shows_the_figures(self):
        from rflh import verdict
        cs = verdict.ab_checks(self.LOG, group="kunit-arm64")
        out = verdict.summary(cs, "t")
        self.assertIn("[kunit-arm64] A/B C vs Rust: 10000 populate calls per implementation, "
                      "72 seeds, 0 differences", out)
        self.assertIn("A/B negative control: skips the last page: 116 differences", out)
        # A failed A/B check is listed once, with the failures.
        bad = verdict.summary(verdict.ab_checks(self.LOG.replace(", 0 differences", ", 3 differences", 1)), "t")
        self.assertEqual(bad.count("A/B C vs Rust"), 1)
        self.assertIn("FAIL [kunit] A/B C vs Rust", bad)

    def test_kernel_args(self):
        from rflh import kunittool
        self.assertEqual(kunittool.ab_kernel_args(0), [])
        self.assertEqual(kunittool.ab_kernel_args(100000),
                         ["madvise.populate_ab_calls=100000", "kunit.timeout=3000"])
        self.assertEqual(kunittool.ab_kernel_args(5000)[1], "kunit.timeout=300")
        cmd = kunittool.command("x86_64", "/b", "/j", 2, 100000)
        self.assertIn("--kernel_args=madvise.populate_ab_calls=100000", cmd)
        self.assertIn("--timeout=3600", cmd)
        self.assertNotIn("--kernel_args", " ".join(kunittool.command("um", "/b", "/j", 2)))

    def test_has_ab(self):
        from rflh import kunittool
        with tempfile.TemporaryDirectory() as d:
            self.assertFalse(kunittool.has_ab(d))
            (Path(d) / "mm").mkdir()
            (Path(d) / "mm" / "populate.rs").write_text("fn ab_rust_matches_c() {}")
            self.assertTrue(kunittool.has_ab(d))


if __name__ == "__main__":
    unittest.main()
