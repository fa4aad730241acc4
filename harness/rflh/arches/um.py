from ..arch import Arch

ARCH = Arch(
    name="um",
    linux_arch="um",
    image="linux",
    target="linux",
    config="um.config",
    qemu=None,
    boot_note=("UML is not booted with QEMU; its KUnit run goes through kunit.py "
               "(make kunit), which builds and runs the UML kernel itself"),
    console="tty0",
    kunit_arch="um",
)
