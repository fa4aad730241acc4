import unittest

from rflh import kunittool, verdict

UML_SPLAT = """Linux version 7.3.4
=====================================
WARNING: bad unlock balance detected!
swapper/0 is trying to release lock (rcu_read_lock) at:
[<00000000600e129e>] atomic_notifier_call_chain+0x2e/0x130
 [<6047f90d>] ? _credit_init_bits+0x131/0x1dd
random: crng init done
Zone ranges:
"""


class KunitToolTest(unittest.TestCase):
    def test_known_uml_splat_is_removed_and_reported(self):
        text, known = kunittool.strip_known_uml_splat(UML_SPLAT)
        self.assertTrue(known)
        self.assertNotIn("bad unlock", text)
        self.assertIn("Zone ranges", text)

    def test_other_splats_stay(self):
        other = UML_SPLAT.replace("_credit_init_bits", "some_driver_init")
        text, known = kunittool.strip_known_uml_splat(other)
        self.assertFalse(known)
        st = {c.name: c.status for c in verdict.scan_console(text, False, False)}
        self.assertEqual(st.get("no WARNING report"), "fail")

    def test_command_line(self):
        um = kunittool.command("um", "/b", "/j.json", 2)
        self.assertIn("--kunitconfig=mm", um)
        self.assertNotIn("--arch=um", um)
        self.assertIn("--arch=arm64", kunittool.command("arm64", "/b", "/j.json", 2))


if __name__ == "__main__":
    unittest.main()


class HideKvmTest(unittest.TestCase):
    def test_the_host_mount_hides_kvm_before_the_chroot(self):
        # A fresh toolchain root has no mount(8): the bind must be done by
        # the outer (host) script, before the chroot.
        from pathlib import Path
        from rflh import util
        s = util.Settings(repo=Path("/r"), cache=Path("/c"), build=Path("/b"),
                          variant="series", toolchain="chroot", ksrc="", jobs=2)
        outer = util.root_argv(s, "true", hide_kvm=True)[-1]
        bind = "mount --bind /dev/null /c/toolchain/root/dev/kvm"
        self.assertIn(bind, outer)
        self.assertLess(outer.index(bind), outer.index("exec chroot"))
        self.assertNotIn("/dev/null", util.root_argv(s, "true")[-1])
