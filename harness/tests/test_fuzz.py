import unittest

from rflh import fuzz

A = """seed 1 nops 3 hugetlb 1
0 self POPULATE_READ 1+2 shape=9 = 0 0 [3]
1 mmap 5+1 kind=0 prot=3 flags=0x12 off=0 = 5 0
2 fork = 0
done 3
seed 2 nops 1 hugetlb 1
0 self POPULATE_WRITE 0+4 shape=1 = 0 0 [0]
done 1
"""


class FuzzCompareTest(unittest.TestCase):
    def test_lines_after_done_are_not_the_seeds(self):
        tr = fuzz.split(A + "STRESS race ok secs=1.0 errnos=0\n")
        self.assertEqual(tr[2][-1], "done 1")

    def test_identical(self):
        ops, divs = fuzz.compare(fuzz.split(A), fuzz.split(A))
        self.assertEqual((ops, divs), (4, []))

    def test_divergence_names_seed_op_and_prefix(self):
        b = A.replace("1+2 shape=9 = 0 0 [3]", "1+2 shape=9 = -1 12 [1]")
        ops, divs = fuzz.compare(fuzz.split(A), fuzz.split(b))
        self.assertEqual(len(divs), 1)
        self.assertEqual((divs[0]["seed"], divs[0]["op"]), (1, "0"))
        self.assertEqual(divs[0]["repro"], "populate_fuzz 1 1")

    def test_missing_seed_and_truncation(self):
        only1 = A.split("seed 2")[0]
        _, divs = fuzz.compare(fuzz.split(A), fuzz.split(only1))
        self.assertEqual(divs[0]["series"], "(missing)")
        short = A.replace("done 3\n", "")
        _, divs = fuzz.compare(fuzz.split(A), fuzz.split(short))
        self.assertEqual(divs[0]["series"], "4 lines")


if __name__ == "__main__":
    unittest.main()
