import tempfile
import unittest
from pathlib import Path

from rflh import upstream
from rflh.util import HarnessError


def make_repo(series, upstream_series, own=("upstream/0001-a.patch",)):
    d = Path(tempfile.mkdtemp())
    (d / "patches" / "upstream").mkdir(parents=True)
    (d / "patches" / "series").write_text("# base\n# series\n" + "\n".join(series) + "\n")
    for n in list(series) + list(own):
        (d / "patches" / n).write_text("x\n")
    (d / "patches" / "upstream" / "series").write_text("# c\n" + "\n".join(upstream_series) + "\n")
    return d


class UpstreamTest(unittest.TestCase):
    def test_read_and_replaced(self):
        d = make_repo(["1.patch", "2.patch", "3.patch"],
                      ["upstream/0001-a.patch", "2.patch", "3.patch"])
        own, shared = upstream.read(d)
        self.assertEqual(own, ["upstream/0001-a.patch"])
        self.assertEqual(shared, ["2.patch", "3.patch"])
        self.assertEqual(upstream.replaced(d, shared), ["1.patch"])

    def test_shared_must_be_the_series_tail(self):
        d = make_repo(["1.patch", "2.patch", "3.patch"],
                      ["upstream/0001-a.patch", "2.patch"])
        with self.assertRaisesRegex(HarnessError, "from some point to the end"):
            upstream.replaced(d, upstream.read(d)[1])

    def test_own_patches_first_and_present(self):
        d = make_repo(["1.patch", "2.patch"], ["2.patch", "upstream/0001-a.patch"])
        with self.assertRaisesRegex(HarnessError, "must come first"):
            upstream.read(d)
        d = make_repo(["1.patch"], ["upstream/0001-a.patch", "9.patch"])
        with self.assertRaisesRegex(HarnessError, "9.patch, which is not in patches/"):
            upstream.read(d)

    def test_missing_series_names_the_file(self):
        d = Path(tempfile.mkdtemp())
        with self.assertRaisesRegex(HarnessError, "upstream/series is missing"):
            upstream.read(d)

    def test_split_message(self):
        head = ("From 0 Mon Sep 17 00:00:00 2001\nFrom: A <a@b>\nDate: x\n"
                "Subject: [PATCH 1/3] mm/gup: a long\n subject line\n\nBody one.\n\nBody two.\n")
        subject, body = upstream.split_message(head)
        self.assertEqual(subject, "mm/gup: a long subject line")
        self.assertEqual(body, "Body one.\n\nBody two.\n")

    def test_repo_upstream_form_is_consistent(self):
        repo = Path(__file__).resolve().parents[2]
        own, shared = upstream.read(repo)
        self.assertEqual(len(own), 1)
        self.assertTrue(upstream.replaced(repo, shared))
        cover = (repo / "patches" / "upstream" / "cover-letter.txt").read_text()
        self.assertTrue(cover.splitlines()[0].startswith("mm: "))
        self.assertEqual(cover.splitlines()[1], "")


if __name__ == "__main__":
    unittest.main()
