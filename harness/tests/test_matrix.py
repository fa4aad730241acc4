import unittest

from rflh import arch, matrix
from rflh.util import HarnessError
from rflh.matrix import Row


class MatrixVerdictTest(unittest.TestCase):
    def ok_row(self, **kw):
        base = dict(arch="riscv64", build="yes", warnings="0", uapi="22/23", boot="yes",
                    madv_populate="16/16", madv_populate_extra="12/12", kunit="17/17")
        base.update(kw)
        return Row(**base)

    def test_a_complete_row_passes(self):
        self.assertEqual(matrix.failures([self.ok_row()]), [])

    def test_a_blocked_build_with_a_reason_passes(self):
        r = Row("s390x", build="no", blocked=True, note="rustc 1.96.0 required")
        self.assertEqual(matrix.failures([r]), [])

    def test_each_defect_fails(self):
        for kw in (dict(build="no"), dict(boot="no"), dict(warnings="2"), dict(uapi="FAIL"),
                   dict(madv_populate="15/16"), dict(madv_populate="0/0"),
                   dict(madv_populate_extra="11/12"), dict(madv_populate_extra="0/0"),
                   dict(kunit="16/17"), dict(kunit="0/0"), dict(other_failures=1)):
            with self.subTest(**kw):
                self.assertEqual(len(matrix.failures([self.ok_row(**kw)])), 1)

    def test_kunit_only_rows(self):
        # loongarch: no user space, KUnit through kunit.py.
        r = self.ok_row(arch="loongarch64", boot="kunit.py", madv_populate="n/a",
                        madv_populate_extra="n/a")
        self.assertEqual(matrix.failures([r]), [])
        r = self.ok_row(arch="loongarch64", boot="kunit.py", madv_populate="n/a",
                        madv_populate_extra="n/a", kunit="3/4")
        self.assertEqual(len(matrix.failures([r])), 1)

    def test_a_case_that_fails_on_c_v73_too_passes(self):
        r = self.ok_row(madv_populate="15/16", reference="15/16", same_as_reference=True)
        self.assertEqual(matrix.failures([r]), [])
        self.assertIn("15/16 (C v7.3: 15/16)", matrix.table([r]))
        r = self.ok_row(madv_populate="15/16", reference="16/16", same_as_reference=False)
        self.assertEqual(len(matrix.failures([r])), 1)

    def test_outcomes_compare_case_by_case(self):
        from rflh.ktap import Case
        a = [("x", Case("x", "ok")), ("y", Case("y", "fail"))]
        b = [("x", Case("x", "fail")), ("y", Case("y", "ok"))]
        self.assertEqual(matrix.ratio(a), matrix.ratio(b))
        self.assertNotEqual(matrix.outcomes(a), matrix.outcomes(b))

    def test_same_outcomes_needs_every_test_on_both_kernels(self):
        from rflh.ktap import Case
        ok, bad = Case("x", "ok"), Case("x", "fail")
        series = {"madv_populate": [("x", bad)], "madv_populate_extra": [("x", ok)]}
        self.assertTrue(matrix.same_outcomes(series, {"madv_populate": [("x", bad)],
                                                      "madv_populate_extra": [("x", ok)]}))
        # The reference did not run one of the tests: nothing to compare with.
        self.assertFalse(matrix.same_outcomes(series, {"madv_populate": [("x", bad)],
                                                       "madv_populate_extra": []}))
        self.assertFalse(matrix.same_outcomes(series, {"madv_populate": [("x", ok)],
                                                       "madv_populate_extra": [("x", ok)]}))

    def test_extra_failing_on_c_v73_too_passes(self):
        r = self.ok_row(madv_populate_extra="11/12", reference="16/16", same_as_reference=True)
        self.assertEqual(matrix.failures([r]), [])

    def test_kunit_cell_counts_the_series_cases_and_fails_on_others(self):
        from rflh.verdict import Check
        checks = [Check("kunit", "madvise_populate: a", "ok"),
                  Check("kunit", "rust_doctests_kernel: rust_doctest_kernel_mm_faultin_rs_0", "ok"),
                  Check("kunit", "rust_doctests_kernel: rust_doctest_kernel_xarray_rs_0", "ok")]
        r = self.ok_row()
        matrix.kunit_cells(r, checks)
        self.assertEqual((r.kunit, r.other_failures), ("2/2", 0))
        checks.append(Check("kunit-um", "no KASAN report", "fail", "KASAN: ..."))
        r = self.ok_row()
        matrix.kunit_cells(r, checks)
        self.assertEqual((r.kunit, r.other_failures), ("2/2", 1))
        self.assertIn("no KASAN report", r.note)
        self.assertEqual(len(matrix.failures([r])), 1)

    def test_complete(self):
        self.assertTrue(matrix.complete("21/21"))
        self.assertFalse(matrix.complete("20/21"))
        self.assertFalse(matrix.complete("-"))


class ArchEntryTest(unittest.TestCase):
    def test_kunit_names(self):
        self.assertEqual(arch.for_kunit("loongarch").name, "loongarch64")
        self.assertEqual(arch.for_kunit("um").name, "um")
        self.assertEqual(arch.for_kunit("arm64").name, "arm64")
        self.assertEqual(arch.for_kunit("x86_64").name, "x86_64")

    def test_the_64k_entry_is_arm64_with_one_more_fragment(self):
        a, b = arch.get("arm64"), arch.get("arm64-64k")
        self.assertEqual(b.linux_arch, "arm64")
        self.assertEqual(b.configs[:-1], a.configs)
        self.assertIn("arm64-64k", matrix.EXTRA)


if __name__ == "__main__":
    unittest.main()
