import tempfile
import unittest
from pathlib import Path

from rflh import kconfig, toolchain, tree
from rflh.util import HarnessError


class KconfigTest(unittest.TestCase):
    def test_parse(self):
        o = kconfig.parse("CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_C=8\n# comment\n")
        self.assertEqual(o, {"CONFIG_A": "y", "CONFIG_B": "n", "CONFIG_C": "8"})

    def test_dropped_option_is_named(self):
        want = {"CONFIG_ADVISE_SYSCALLS": "y", "CONFIG_SLUB_TINY": "n", "CONFIG_NR_CPUS": "8"}
        final = "CONFIG_NR_CPUS=8\n# CONFIG_ADVISE_SYSCALLS is not set\nCONFIG_SLUB_TINY=y\n"
        bad = kconfig.verify(want, final)
        self.assertEqual(sorted(b[0] for b in bad), ["CONFIG_ADVISE_SYSCALLS", "CONFIG_SLUB_TINY"])
        msg = kconfig.explain(bad, "test")
        self.assertIn("CONFIG_ADVISE_SYSCALLS: requested y, got unset", msg)

    def test_absent_counts_as_off(self):
        self.assertEqual(kconfig.verify({"CONFIG_X": "n"}, ""), [])
        self.assertEqual(len(kconfig.verify({"CONFIG_X": "y"}, "")), 1)

    def test_fragments_per_variant(self):
        repo = Path(__file__).resolve().parents[2]
        ref = [f.name for f in kconfig.fragments(repo, "test", "reference")]
        ser = [f.name for f in kconfig.fragments(repo, "test", "series")]
        self.assertEqual(ref, ["base.config", "test.config", "x86_64.config"])
        self.assertEqual(ser, ref + ["series.config", "series-test.config"])
        arm = [f.name for f in kconfig.fragments(repo, "test", "series", "arm64")]
        self.assertEqual(arm[2], "arm64.config")
        k64 = [f.name for f in kconfig.fragments(repo, "matrix", "series", "arm64-64k")]
        self.assertEqual(k64[:5], ["base.config", "test.config", "matrix.config",
                                   "arm64.config", "arm64-64k.config"])

    def test_norust_turns_rust_off_last(self):
        repo = Path(__file__).resolve().parents[2]
        frags = kconfig.fragments(repo, "test", "series-norust")
        names = [f.name for f in frags]
        self.assertEqual(names[-1], "norust.config")
        self.assertNotIn("series.config", names)
        want = kconfig.requested(frags)
        self.assertEqual(want["CONFIG_RUST"], "n")
        self.assertEqual(want["CONFIG_RUST_KERNEL_DOCTESTS"], "n")
        # Nothing else that needs Rust is requested.
        self.assertFalse([k for k, v in want.items() if "RUST" in k and v != "n"])

    def test_every_arch_entry_has_its_fragment(self):
        from rflh import arch
        repo = Path(__file__).resolve().parents[2]
        for a in arch.ARCHES.values():
            self.assertTrue(all(f.exists() for f in arch.config_fragments(repo, a)), a.name)
            self.assertEqual(len(a.channels), 2, a.name)

    def test_repo_fragments_keep_the_known_traps(self):
        repo = Path(__file__).resolve().parents[2]
        want = kconfig.requested(kconfig.fragments(repo, "test", "series"))
        for opt, val in [("CONFIG_ADVISE_SYSCALLS", "y"), ("CONFIG_X86_MCE", "y"),
                         ("CONFIG_MEMORY_FAILURE", "y"), ("CONFIG_SLUB_TINY", "n"),
                         ("CONFIG_KASAN", "y"), ("CONFIG_MADVISE_POPULATE_RUST", "y"),
                         ("CONFIG_BUG", "y")]:
            self.assertEqual(want.get(opt), val, opt)


class SeriesFileTest(unittest.TestCase):
    def test_sections(self):
        s = tree.parse_series("# base\nbase/0001-a.patch\n\n# series\n0001-b.patch -p1\n")
        self.assertEqual((s.base, s.series), (["base/0001-a.patch"], ["0001-b.patch"]))

    def test_empty_sections(self):
        s = tree.parse_series("# base\n# series\n")
        self.assertEqual((s.base, s.series), ([], []))

    def test_errors(self):
        for text in ["0001-a.patch\n", "# series\n# base\n", "# base\n# base\n",
                     "# base\na.patch\na.patch\n", "# base\n# series\na.patch -p0\n",
                     "# base\n# series\n0000-cover-letter.patch\n", ""]:
            with self.assertRaises(HarnessError, msg=text):
                tree.parse_series(text)

    def test_roundtrip(self):
        s = tree.Series(["base/1.patch"], ["1.patch", "2.patch"])
        self.assertEqual(tree.parse_series(tree.format_series(s)), s)

    def test_cover_letter_to_description(self):
        cover = ("From 0000 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\n"
                 "Subject: [PATCH 0/2] mm: do a thing\n in two lines\n\n"
                 "Body first paragraph.\n\nSecond.\n\nA Person (2):\n  x\n  y\n\n"
                 " f | 1 +\n")
        self.assertEqual(tree.cover_to_description(cover),
                         "mm: do a thing in two lines\n\nBody first paragraph.\n\nSecond.\n")

    def test_drop_debian_ignore(self):
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / ".gitignore"
            p.write_text("*.o\n\n#\n# Debian packaging: ignore everything at the top level,"
                         " since it isn't\n# included in our repository\n#\n/*\n!/debian/\n")
            self.assertTrue(tree.drop_debian_ignore(p))
            self.assertEqual(p.read_text(), "*.o\n\n")
            self.assertFalse(tree.drop_debian_ignore(p))


class AptSourcesTest(unittest.TestCase):
    def test_deb822(self):
        text = ("Types: deb\nURIs: http://mirror.invalid/debian\nSuites: bookworm\n"
                "Components: main\n\nTypes: deb\nURIs: http://mirror.invalid/debian-security\n"
                "Suites: bookworm-security\n")
        self.assertEqual(toolchain.parse_apt_sources([("x.sources", text)]),
                         "http://mirror.invalid/debian")

    def test_one_line_format_and_disabled(self):
        text = "# deb http://old.invalid/debian sid main\ndeb [arch=amd64] http://m.invalid/debian/ bookworm main\n"
        self.assertEqual(toolchain.parse_apt_sources([("sources.list", text)]),
                         "http://m.invalid/debian")
        off = "Enabled: no\nTypes: deb\nURIs: http://x.invalid/debian\nSuites: a\n"
        self.assertIsNone(toolchain.parse_apt_sources([("a.sources", off)]))

    def test_no_mirror(self):
        self.assertIsNone(toolchain.parse_apt_sources([("a.list", "")]))


if __name__ == "__main__":
    unittest.main()
