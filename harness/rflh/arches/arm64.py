from ..arch import Arch

ARCH = Arch(
    name="arm64",
    linux_arch="arm64",
    image="arch/arm64/boot/Image",
    target="Image",
    config="arm64.config",
    qemu="qemu-system-aarch64",
    qemu_package="qemu-system-arm",
    machine=("-M", "virt"),
    cpu="max",
    console="ttyAMA0",
    channels=("/dev/hvc0", "/dev/hvc1"),
    channel_kind="virtio",
    virtio_serial_device="virtio-serial-device",
    cross_compile="aarch64-linux-gnu-",
    deb_arch="arm64",
    # The mm selftests link statically with -luring (cow, gup_longterm, when
    # its header is found), -lcap and -lnuma (tools/testing/selftests/mm/Makefile).
    cross_packages=("gcc-aarch64-linux-gnu", "libc6-dev-arm64-cross", "liburing-dev:arm64",
                    "libcap-dev:arm64", "libnuma-dev:arm64"),
)
