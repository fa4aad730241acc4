from ..arch import Arch

ARCH = Arch(
    name="x86_64",
    linux_arch="x86",
    image="arch/x86/boot/bzImage",
    target="bzImage",
    config="x86_64.config",
    qemu="qemu-system-x86_64",
    qemu_package="qemu-system-x86",
    cpu="max",
    console="ttyS0",
    channels=("/dev/ttyS1", "/dev/ttyS2"),
    channel_kind="serial",
    deb_arch="amd64",
)
