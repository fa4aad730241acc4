import tempfile
import unittest
from pathlib import Path
from types import SimpleNamespace

from rflh import arch, guest


class UserlandTest(unittest.TestCase):
    def test_cross_userland_is_found_in_merged_usr(self):
        # Debian trixie's busybox-static and bash-static unpack to usr/bin.
        with tempfile.TemporaryDirectory() as d:
            b = Path(d) / "userland" / "arm64" / "usr" / "bin"
            b.mkdir(parents=True)
            (b / "busybox").write_text("")
            (b / "bash-static").write_text("")
            s = SimpleNamespace(a=arch.get("arm64"), cache=Path(d), toolchain="chroot")
            self.assertEqual(guest.userland(s), (b / "busybox", b / "bash-static"))



class MadvPopulateCasesTest(unittest.TestCase):
    def test_soft_dirty_decides_the_case_count(self):
        from rflh import check
        self.assertEqual(check.madv_populate_cases("CONFIG_MEM_SOFT_DIRTY=y\n"), 21)
        self.assertEqual(check.madv_populate_cases("# CONFIG_MEM_SOFT_DIRTY is not set\n"), 16)
        self.assertEqual(check.madv_populate_cases(""), 16)


if __name__ == "__main__":
    unittest.main()
