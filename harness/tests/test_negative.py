import unittest

from rflh import negative, verdict
from rflh.util import HarnessError


def proves(key, console, timed_out=False):
    pred = {k: p for k, _, _, _, p in negative.BOOT_CASES}[key]
    checks = verdict.scan_console(console, timed_out)
    return [c for c in checks if c.status == "fail" and pred(c)]


class NegativeCaseTest(unittest.TestCase):
    def test_warning_is_proved_by_the_warning_splat_only(self):
        warn = "[ 1.0] WARNING: drivers/misc/lkdtm/bugs.c:164 at lkdtm_WARNING\nRFL-SENTINEL: exit=0\n"
        self.assertTrue(proves("warning", warn))
        kasan = "[ 1.0] BUG: KASAN: slab-out-of-bounds in foo\nRFL-SENTINEL: exit=0\n"
        self.assertFalse(proves("warning", kasan))
        self.assertFalse(proves("warning", "[ 1.0] lkdtm: Performing direct entry WARNING\n"
                                           "RFL-SENTINEL: exit=0\n"))

    def test_hang_is_proved_by_timeout_and_missing_sentinel(self):
        self.assertTrue(proves("hang", "RFL: hanging on purpose\n", timed_out=True))
        self.assertFalse(proves("hang", "RFL-SENTINEL: exit=0\n"))

    def test_unknown_case_is_refused(self):
        with self.assertRaises(HarnessError):
            negative.run(None, ("warnings",))
