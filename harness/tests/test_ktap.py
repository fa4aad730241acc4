import unittest

from rflh import ktap

# Shape of run_kselftest.sh -> ksft_madv_populate.sh -> run_vmtests.sh ->
# madv_populate output (each level prefixed with "# ").
NESTED = """TAP version 13
1..2
# timeout set to 180
# selftests: mm: ksft_madv_populate.sh
# # -----------------------
# # running ./madv_populate
# # -----------------------
# # TAP version 13
# # 1..3
# # ok 1 MADV_POPULATE_READ with PROT_READ
# # not ok 2 MADV_POPULATE_WRITE with PROT_READ
# # ok 3 range is not softdirty # SKIP soft-dirty not supported
# # # Totals: pass:1 fail:1 xfail:0 xpass:0 skip:1 error:0
# # [FAIL]
# not ok 1 madv_populate # exit=1
ok 1 selftests: mm: ksft_madv_populate.sh
# selftests: mm: ksft_pfnmap.sh
# # Cannot open '/dev/mem'
# ok 1 pfnmap # SKIP
ok 2 selftests: mm: ksft_pfnmap.sh # SKIP
"""


class KtapTest(unittest.TestCase):
    def test_nesting_by_hash_prefix(self):
        top = ktap.parse(NESTED)
        self.assertEqual([c.name for c in top],
                         ["selftests: mm: ksft_madv_populate.sh",
                          "selftests: mm: ksft_pfnmap.sh"])
        mp = top[0].children[0]
        self.assertEqual(mp.name, "madv_populate")
        self.assertEqual(mp.status, "fail")
        self.assertEqual(mp.plan, 3)
        self.assertEqual([c.status for c in mp.children], ["ok", "fail", "skip"])
        self.assertEqual(mp.children[2].reason, "soft-dirty not supported")

    def test_whole_binary_skip(self):
        top = ktap.parse(NESTED)
        pf = top[1].children[0]
        self.assertEqual((pf.name, pf.status, pf.children), ("pfnmap", "skip", []))

    def test_four_space_indent_is_a_level(self):
        top = ktap.parse("KTAP version 1\n1..1\n    ok 1 a\n    ok 2 b\nok 1 suite\n")
        self.assertEqual([c.name for c in top[0].children], ["a", "b"])

    def test_result_line_forms(self):
        self.assertEqual(ktap.parse_result("ok 4 - foo bar").name, "foo bar")
        self.assertEqual(ktap.parse_result("not ok 7 x # TODO later").status, "skip")
        self.assertEqual(ktap.parse_result("not ok 1 x # exit=1").reason, "exit=1")
        self.assertIsNone(ktap.parse_result("okay then"))
        self.assertIsNone(ktap.parse_result("# ok 1 nested"))

    def test_find(self):
        top = ktap.parse(NESTED)
        self.assertEqual(ktap.find(top, "pfnmap").status, "skip")
        self.assertIsNone(ktap.find(top, "nope"))


if __name__ == "__main__":
    unittest.main()
