from ..arch import Arch

ARCH = Arch(
    name="s390x",
    linux_arch="s390",
    image="arch/s390/boot/bzImage",
    target="bzImage",
    config="s390x.config",
    rust_note=("scripts/min-tool-version.sh requires rustc 1.96.0 for s390; the trixie "
               "toolchain has 1.85.1, and no newer rustc with rust-src can be installed here"),
    qemu=None,
    boot_note="not built (no suitable rustc)",
    console="ttysclp0",
    cross_compile="s390x-linux-gnu-",
    deb_arch="s390x",
)
