import os
import unittest
from pathlib import Path

from rflh import earlyboot, guest, stress
from rflh.util import HarnessError

OK_LINES = "".join(f"STRESS {n} ok secs=1.0 errnos=0\n" for n in stress.TESTS)


def by_name(checks):
    return {c.name.split(" (")[0]: c for c in checks}


class StressChecksTest(unittest.TestCase):
    def test_all_ok(self):
        cs = stress.checks_from(OK_LINES)
        self.assertEqual(len(cs), len(stress.TESTS))
        self.assertTrue(all(c.status == "ok" for c in cs))

    def test_missing_test_fails(self):
        text = OK_LINES.replace("STRESS leak_check ok", "STRESS other_name ok")
        c = by_name(stress.checks_from(text))["leak_check"]
        self.assertEqual(c.status, "fail")
        self.assertIn("did not report", c.detail)

    def test_skip_of_a_required_test_fails(self):
        text = OK_LINES.replace("STRESS leak_check ok secs=1.0 errnos=0",
                                "STRESS leak_check SKIP secs=0.0 no cgroup2")
        c = by_name(stress.checks_from(text))["leak_check"]
        self.assertEqual(c.status, "fail")
        self.assertIn("required stress test skipped", c.detail)

    def test_skip_allowed_only_where_named(self):
        text = OK_LINES.replace("STRESS hwpoison ok secs=1.0 errnos=0",
                                "STRESS hwpoison SKIP secs=0.0 MADV_HWPOISON: EINVAL")
        self.assertEqual(by_name(stress.checks_from(text))["hwpoison"].status, "fail")
        c = by_name(stress.checks_from(text, skips_ok=stress.MAY_SKIP_OFF_X86))["hwpoison"]
        self.assertEqual(c.status, "skip")

    def test_leak_failure_carries_the_figures(self):
        text = OK_LINES.replace(
            "STRESS leak_check ok secs=1.0 errnos=0",
            "STRESS leak_check FAIL secs=5.1 41236 kB charged after reclaim (tolerance 1024 kB)")
        c = by_name(stress.checks_from(text))["leak_check"]
        self.assertEqual(c.status, "fail")
        self.assertIn("41236 kB", c.detail)

    def test_runner_death_fails(self):
        cs = stress.checks_from(OK_LINES + "STRESS runner FAIL secs=0.0 the test process died\n")
        self.assertEqual(by_name(cs)["runner"].status, "fail")

    def test_scale_knob(self):
        old = os.environ.get("STRESS_SCALE")
        try:
            os.environ["STRESS_SCALE"] = "4"
            self.assertEqual(stress.scale_from_env(), 4)
            self.assertIn("-s 4", stress.job(4))
            for bad in ("0", "x", "17"):
                os.environ["STRESS_SCALE"] = bad
                with self.assertRaises(HarnessError):
                    stress.scale_from_env()
        finally:
            if old is None:
                os.environ.pop("STRESS_SCALE", None)
            else:
                os.environ["STRESS_SCALE"] = old

    def test_the_guest_program_knows_every_expected_test(self):
        src = (Path(__file__).parents[2] / "guest" / "populate_stress.c").read_text()
        for name in stress.TESTS:
            self.assertIn(f'"{name}"', src.replace("STRESS leak_check", '"leak_check"'))


class GuestLinkTest(unittest.TestCase):
    def test_liburing_only_where_included(self):
        self.assertEqual(guest.link_libs("#include <liburing.h>\n"), " -luring")
        self.assertEqual(guest.link_libs("#include <stdio.h>\n"), "")


class EarlyBootTest(unittest.TestCase):
    def test_splats(self):
        text = ("[ 0.1] smp: Bringing up secondary CPUs ...\n"
                "[ 0.2] BUG: KASAN: wild-memory-access in do_raw_spin_lock+0x1/0x2\n")
        self.assertTrue(earlyboot.splats(text))
        self.assertEqual(earlyboot.splats("[ 0.3] smp: Brought up 1 node, 2 CPUs\n"), [])

    def test_marker(self):
        self.assertTrue(earlyboot.MARKER.search("[ 1.2] smp: Brought up 1 node, 2 CPUs"))
        self.assertFalse(earlyboot.MARKER.search("[ 1.2] smp: Bringing up secondary CPUs"))

    def test_report_counts_splats_and_unreached_boots_as_failures(self):
        import contextlib
        import io
        import tempfile
        with tempfile.TemporaryDirectory() as d, contextlib.redirect_stdout(io.StringIO()):
            rc = earlyboot.report([("reference", "max", 3, 0, 0, 4.0, []),
                                   ("series", "max", 3, 1, 0, 4.1,
                                    [(2, "BUG: KASAN: x", "c.log")])], Path(d), 10)
            self.assertEqual(rc, 1)
            self.assertIn("| series | max | 3 | 1 | 0 | 4.1 |", (Path(d) / "report.md").read_text())
            self.assertEqual(earlyboot.report([("reference", "max", 3, 0, 0, 4.0, [])],
                                              Path(d), 10), 0)

    def test_boots_knob(self):
        old = os.environ.get("BOOTS")
        try:
            os.environ["BOOTS"] = "0"
            with self.assertRaises(HarnessError):
                earlyboot.boots_from_env()
            os.environ["BOOTS"] = "12"
            self.assertEqual(earlyboot.boots_from_env(), 12)
        finally:
            if old is None:
                os.environ.pop("BOOTS", None)
            else:
                os.environ["BOOTS"] = old


if __name__ == "__main__":
    unittest.main()
