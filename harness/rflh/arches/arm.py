from ..arch import Arch

ARCH = Arch(
    name="arm",
    linux_arch="arm",
    image="arch/arm/boot/zImage",
    target="zImage",
    config="arm.config",
    qemu="qemu-system-arm",
    qemu_package="qemu-system-arm",
    machine=("-M", "virt,highmem=off"),
    cpu="cortex-a15",
    console="ttyAMA0",
    channels=("/dev/hvc0", "/dev/hvc1"),
    channel_kind="virtio",
    virtio_serial_device="virtio-serial-device",
    memory="1G",
    cross_compile="arm-linux-gnueabihf-",
    deb_arch="armhf",
    # Static -luring, -lcap and -lnuma for the mm selftests, as on arm64.
    cross_packages=("gcc-arm-linux-gnueabihf", "libc6-dev-armhf-cross", "liburing-dev:armhf",
                    "libcap-dev:armhf", "libnuma-dev:armhf"),
)
