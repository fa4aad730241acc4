import tempfile
import unittest
from pathlib import Path

from rflh import gates

OBJDUMP = """
mm/populate.o:\tfile format elf64-x86-64

Disassembly of section .text:

0000000000000000 <populate::populate>:
       0: 55                           \tpushq\t%rbp
       1: e8 00 00 00 00               \tcallq\t0x6 <populate::populate+0x6>
\t\t\t\t0000000000000002:  R_X86_64_PLT32\tgup_faultin_range-0x4
0000000000000010 <populate::tests::spans_several_vmas>:
      10: e8 00 00 00 00               \tcallq\t0x15
\t\t\t\t0000000000000011:  R_X86_64_PLT32\tcore::panicking::panic_const::panic_const_mul_overflow-0x4
0000000000000020 <populate::advance>:
      20: e8 00 00 00 00               \tcallq\t0x25
\t\t\t\t0000000000000021:  R_X86_64_PLT32\tcore::panicking::panic_const::panic_const_add_overflow-0x4
"""

BUILD_LOG = """  RUSTDOC TK rust/kernel/lib.rs
running 3 tests
test /t/linux/rust/kernel/mm.rs - mm::MmWithUser::with_assumed_mmap_read_lock (line 260) - compile fail ... ok
test /t/linux/rust/kernel/mm.rs - mm::MmWithUser::with_assumed_mmap_read_lock (line 272) - compile fail ... FAILED
test /t/linux/rust/kernel/mm.rs - mm::MmWithUser::mmap_read_lock (line 10) - compile ... ok
"""

MAINTAINERS = """MEMORY MANAGEMENT - GUP (GET USER PAGES)
M:\tAndrew Morton <akpm@linux-foundation.org>
M:\tDavid Hildenbrand <david@kernel.org>
R:\tJason Gunthorpe <jgg@nvidia.com>
F:\tmm/gup.c

MEMORY MAPPING - MADVISE (MEMORY ADVICE)
M:\tAndrew Morton <akpm@linux-foundation.org>
M:\tLorenzo Stoakes <ljs@kernel.org>
F:\tmm/madvise.c
"""


class NoPanicTest(unittest.TestCase):
    def test_finds_panics_outside_tests(self):
        found = gates.panic_references(OBJDUMP, gates.is_test_code)
        self.assertEqual(found, {"populate::advance":
                                 ["core::panicking::panic_const::panic_const_add_overflow"]})

    def test_unwrap_and_indexing_failures_count_as_panics(self):
        text = OBJDUMP.replace("core::panicking::panic_const::panic_const_add_overflow",
                               "core::option::unwrap_failed")
        text = text.replace("core::panicking::panic_const::panic_const_mul_overflow",
                            "core::slice::index::slice_end_index_len_fail")
        self.assertEqual(gates.panic_references(text),
                         {"populate::tests::spans_several_vmas":
                          ["core::slice::index::slice_end_index_len_fail"],
                          "populate::advance": ["core::option::unwrap_failed"]})

    def test_test_code_is_excepted_but_seen_without_the_filter(self):
        self.assertEqual(len(gates.panic_references(OBJDUMP)), 2)


DIFF = """diff --git a/rust/kernel/mm.rs b/rust/kernel/mm.rs
--- a/rust/kernel/mm.rs
+++ b/rust/kernel/mm.rs
@@ -1,3 +1,9 @@
+    /// fn f(mm: &MmWithUser) {
+    pub fn yield_if_contended(&mut self) -> bool {
+fn wait_for_writer(mm: &Mm, seq: Option<u32>) {
     fn unchanged(&self) {}
diff --git a/rust/kernel/mm/faultin.rs b/rust/kernel/mm/faultin.rs
--- /dev/null
+++ b/rust/kernel/mm/faultin.rs
+    pub const fn bits(self) -> u32 {
+    pub(crate) unsafe fn raw(self) {
diff --git a/mm/populate.rs b/mm/populate.rs
+++ b/mm/populate.rs
+fn populate() {}
"""


class AddedFunctionsTest(unittest.TestCase):
    def test_functions_and_modules_from_a_diff(self):
        self.assertEqual(gates.added_kernel_fns(DIFF), [
            ("kernel::mm", "yield_if_contended"), ("kernel::mm", "wait_for_writer"),
            ("kernel::mm::faultin", "bits"), ("kernel::mm::faultin", "raw")])

    def test_matches_instances_and_closures_only(self):
        added = gates.added_kernel_fns(DIFF)
        for fn in ("kernel::mm::wait_for_writer", "kernel::mm::wait_for_writer::{closure#0}",
                   "<kernel::mm::MmapReadGuard<kernel::mm::hold::Owned>>::yield_if_contended",
                   "<kernel::mm::faultin::FaultinFlags>::bits"):
            self.assertTrue(gates.is_added_fn(fn, added), fn)
        for fn in ("kernel::mm::virt::VmaRef::end", "<kernel::mm::MmWithUser>::mmap_read_lock",
                   "<kernel::page::Page>::bits", "kernel::mm::wait_for_writer_x"):
            self.assertFalse(gates.is_added_fn(fn, added), fn)


class CompileFailTest(unittest.TestCase):
    def test_results(self):
        r = gates.compile_fail_results(BUILD_LOG)
        self.assertEqual([(x[2], x[3]) for x in r], [(260, "ok"), (272, "FAILED")])

    def test_checks_count_examples(self):
        with tempfile.TemporaryDirectory() as d:
            f = Path(d, "rust/kernel/mm.rs")
            f.parent.mkdir(parents=True)
            f.write_text("/// ```compile_fail,E0507\n/// x\n/// ```\n"
                         "/// ```compile_fail,E0308\n/// y\n/// ```\n"
                         "/// ```compile_fail,E0521\n/// z\n/// ```\n")
            cs = gates.compile_fail_checks(d, ["rust/kernel/mm.rs"], BUILD_LOG)
        st = [c.status for c in cs]
        # one ok, one failed, and three examples with two results is a failure too
        self.assertEqual(st.count("ok"), 1)
        self.assertEqual(st.count("fail"), 2)


class MaintainersTest(unittest.TestCase):
    def test_entry(self):
        self.assertEqual(gates.entry_maintainers(MAINTAINERS, "MEMORY MANAGEMENT - GUP (GET USER PAGES)"),
                         ["Andrew Morton <akpm@linux-foundation.org>",
                          "David Hildenbrand <david@kernel.org>"])
        self.assertEqual(gates.entry_maintainers(MAINTAINERS, "NO SUCH ENTRY"), [])

    def test_email_ignores_quoting(self):
        self.assertEqual(gates.email('"Liam R. Howlett" <Liam@infradead.org>'),
                         gates.email("Liam R. Howlett <liam@infradead.org>"))

    def test_reached(self):
        out = "Andrew Morton <akpm@linux-foundation.org>\nlinux-mm@kvack.org\nDavid <d@k.org>\n"
        self.assertEqual(gates.maintainers_reached(out),
                         ["Andrew Morton <akpm@linux-foundation.org>", "linux-mm@kvack.org", "David <d@k.org>"])


if __name__ == "__main__":
    unittest.main()


class CheckpatchIgnores(unittest.TestCase):
    def test_no_patch_ignores_yield(self):
        # mmap_read_yield() no longer polls with yield(): no patch may hide
        # checkpatch's YIELD warning.
        from rflh import gates
        for name in ("0013-mm-mmap_lock-add-mmap_read_yield.patch",
                     "0012-locking-rwsem-add-down_read_nosteal.patch",
                     "0001-uapi.patch"):
            self.assertNotIn("YIELD", gates.checkpatch_ignores(name))
        self.assertEqual(gates.checkpatch_ignores("0001-uapi.patch"), gates.CHECKPATCH_IGNORE)

    def test_extern_only_for_the_rwsem_patch(self):
        from rflh import gates
        self.assertIn("AVOID_EXTERNS",
                      gates.checkpatch_ignores("0012-locking-rwsem-add-down_read_nosteal.patch"))
        self.assertNotIn("AVOID_EXTERNS",
                         gates.checkpatch_ignores("0013-mm-mmap_lock-add-mmap_read_yield.patch"))

    def test_lock_paths(self):
        from rflh import gates
        import re
        for path in ("kernel/locking/rwsem.c", "include/linux/rwsem.h",
                     "mm/mmap_lock.c", "include/linux/mmap_lock.h"):
            self.assertTrue(re.search(gates.LOCK_PATHS, path), path)
        self.assertFalse(re.search(gates.LOCK_PATHS, "mm/madvise.c"))
