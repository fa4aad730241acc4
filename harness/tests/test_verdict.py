import json
import unittest

from rflh import verdict
from rflh.verdict import Required

from .test_ktap import NESTED

GOOD_TAP = """TAP version 13
1..1
# selftests: mm: ksft_madv_populate.sh
# # TAP version 13
# # 1..2
# # ok 1 a
# # ok 2 b
# ok 1 madv_populate
ok 1 selftests: mm: ksft_madv_populate.sh
"""


def statuses(checks):
    return {c.name: c.status for c in checks}


class ConsoleTest(unittest.TestCase):
    def test_clean_console_with_sentinel(self):
        cs = verdict.scan_console("[ 1.0] booting\nRFL-SENTINEL: exit=0\n", False)
        self.assertTrue(all(c.status == "ok" for c in cs), cs)

    def test_missing_sentinel_fails(self):
        cs = verdict.scan_console("[ 1.0] booting\n", False)
        self.assertEqual(statuses(cs)["sentinel"], "fail")

    def test_nonzero_job_exit_fails(self):
        cs = verdict.scan_console("RFL-SENTINEL: exit=3\n", False)
        self.assertEqual(statuses(cs)["sentinel"], "fail")

    def test_timeout_fails(self):
        cs = verdict.scan_console("RFL-SENTINEL: exit=0\n", True)
        self.assertIn("fail", [c.status for c in cs])

    def test_splats_fail(self):
        for line, kind in [
            ("[ 5.1] WARNING: CPU: 0 PID: 1 at mm/gup.c:1 x+0x1/0x2", "WARNING"),
            ("[ 5.1] BUG: KASAN: slab-out-of-bounds in foo", "BUG"),
            ("[ 5.1] WARNING: possible circular locking dependency detected", "WARNING"),
            ("[ 5.1] INFO: task a.out:77 blocked for more than 120 seconds.", "hung task"),
            ("[ 5.1] rcu: INFO: rcu_preempt self-detected stall on CPU", "RCU stall"),
            ("[ 5.1] Oops: general protection fault", "Oops"),
        ]:
            cs = verdict.scan_console(line + "\nRFL-SENTINEL: exit=0\n", False)
            self.assertIn(f"no {kind} report", statuses(cs), line)
            self.assertEqual(statuses(cs)[f"no {kind} report"], "fail")

    def test_boot_banners_are_not_splats(self):
        text = ("[ 0.0] kasan: KernelAddressSanitizer initialized (generic)\n"
                "[ 0.0] Lock dependency validator: Copyright (c) 2006 Red Hat, Inc., Ingo Molnar\n"
                "[ 0.0] ... MAX_LOCKDEP_SUBCLASSES:  8\n"
                "RFL-SENTINEL: exit=0\n")
        self.assertTrue(all(c.status == "ok" for c in verdict.scan_console(text, False)))


class SelftestRulesTest(unittest.TestCase):
    def test_all_ok(self):
        cs = verdict.selftest_checks(GOOD_TAP, [Required("madv_populate", cases=2)])
        self.assertEqual({c.status for c in cs}, {"ok"})
        self.assertEqual(len(cs), 2)

    def test_case_count_mismatch_fails(self):
        cs = verdict.selftest_checks(GOOD_TAP, [Required("madv_populate", cases=21)])
        self.assertIn("madv_populate: case count", statuses(cs))

    def test_required_case_skip_and_failure(self):
        cs = verdict.selftest_checks(NESTED, [Required("madv_populate")])
        st = [c.status for c in cs if c.name.startswith("madv_populate")]
        self.assertEqual(st.count("fail"), 2)   # one "not ok", one required SKIP

    def test_allowed_skips(self):
        cs = verdict.selftest_checks(NESTED, [Required("madv_populate", skips_allowed=True)])
        s = statuses(cs)
        self.assertEqual(s["madv_populate: range is not softdirty"], "skip")

    def test_required_whole_skip_fails(self):
        cs = verdict.selftest_checks(NESTED, [Required("pfnmap", skips_allowed=True)])
        self.assertEqual(statuses(cs)["pfnmap"], "fail")

    def test_required_missing_fails(self):
        cs = verdict.selftest_checks(GOOD_TAP, [Required("madv_populate_extra")])
        self.assertEqual(statuses(cs)["madv_populate_extra"], "fail")

    def test_no_output_fails(self):
        cs = verdict.selftest_checks("", [])
        self.assertEqual(cs[0].status, "fail")


class KunitRulesTest(unittest.TestCase):
    DATA = {"name": "KUnit Test Group", "sub_groups": [
        {"name": "madvise_populate", "sub_groups": [], "test_cases": [
            {"name": "write_populates_private_anon", "status": "PASS"},
            {"name": "prot_none_is_einval", "status": "FAIL"}]},
        {"name": "rust_doctests_kernel", "sub_groups": [], "test_cases": [
            {"name": "rust_doctest_kernel_mm_gup_rs_0", "status": "SKIP"}]}],
        "test_cases": []}

    def test_cases_and_requirements(self):
        cs = verdict.kunit_checks(json.dumps(self.DATA), ["madvise_populate", "absent"],
                                  ["rust_doctest_kernel_mm_gup_rs"])
        s = statuses(cs)
        self.assertEqual(s["madvise_populate: write_populates_private_anon"], "ok")
        self.assertEqual(s["madvise_populate: prot_none_is_einval"], "fail")
        self.assertEqual(s["absent"], "fail")
        # A required case that skipped is a failure.
        self.assertEqual(s["rust_doctests_kernel: rust_doctest_kernel_mm_gup_rs_0"], "fail")

    def test_no_kunit_output(self):
        self.assertEqual(verdict.kunit_checks(None)[0].status, "fail")


class SummaryTest(unittest.TestCase):
    def test_closing_line(self):
        cs = [verdict.Check("a", "x", "ok"), verdict.Check("a", "y", "fail", "why"),
              verdict.Check("b", "z", "skip")]
        text = verdict.summary(cs, "t")
        self.assertEqual(text.splitlines()[-1], "1 passed, 1 failed, 1 skipped")
        self.assertIn("FAIL [a] y: why", text)
        j = json.loads(verdict.to_json(cs, {"variant": "series"}))
        self.assertEqual((j["passed"], j["failed"], j["skipped"]), (1, 1, 1))


if __name__ == "__main__":
    unittest.main()
