from ..arch import Arch

ARCH = Arch(
    name="loongarch64",
    linux_arch="loongarch",
    image="arch/loongarch/boot/vmlinux.efi",
    target="vmlinux.efi",
    config="loongarch64.config",
    qemu=None,
    boot_note=("Debian trixie has no loong64 port (no busybox-static, bash-static or "
               "cross gcc for it), so there is no user space to boot"),
    console="ttyS0",
    cross_compile="loongarch64-linux-gnu-",
    deb_arch="loong64",
)
