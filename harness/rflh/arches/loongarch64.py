from ..arch import Arch

ARCH = Arch(
    name="loongarch64",
    linux_arch="loongarch",
    image="arch/loongarch/boot/vmlinux.efi",
    target="vmlinux.efi",
    config="loongarch64.config",
    qemu=None,
    # Debian's QEMU boots it (qemu-system-misc), but loong64 is not a trixie
    # release architecture: busybox-static, bash-static and the static
    # liburing, libcap and libnuma that the mm selftests link are not there
    # (the cross gcc and libc are). So no user space of ours; the KUnit suite
    # runs through kunit.py's own loongarch QEMU config.
    qemu_package="qemu-system-misc",
    kunit_arch="loongarch",
    boot_note=("no loong64 busybox-static, bash-static or static liburing/libcap/libnuma in "
               "Debian trixie (not a release architecture), so madv_populate cannot run; "
               "KUnit via kunit.py --arch=loongarch"),
    console="ttyS0",
    cross_compile="loongarch64-linux-gnu-",
    deb_arch="loong64",
)
