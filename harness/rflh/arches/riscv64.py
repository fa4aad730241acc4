from ..arch import Arch

ARCH = Arch(
    name="riscv64",
    linux_arch="riscv",
    image="arch/riscv/boot/Image",
    target="Image",
    config="riscv64.config",
    qemu="qemu-system-riscv64",
    qemu_package="qemu-system-misc",
    machine=("-M", "virt"),
    cpu="rv64",
    console="ttyS0",
    channels=("/dev/hvc0", "/dev/hvc1"),
    channel_kind="virtio",
    virtio_serial_device="virtio-serial-device",
    cross_compile="riscv64-linux-gnu-",
    deb_arch="riscv64",
    # Static -luring, -lcap and -lnuma for the mm selftests, as on arm64.
    cross_packages=("gcc-riscv64-linux-gnu", "libc6-dev-riscv64-cross", "liburing-dev:riscv64",
                    "libcap-dev:riscv64", "libnuma-dev:riscv64"),
)
