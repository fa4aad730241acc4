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
    # v7.3's uffd-wp-mremap.c initialises an unsigned long * with a size_t
    # array (thpsizes, lines 299-320); on 32-bit size_t is unsigned int, and
    # GCC 14 makes -Wincompatible-pointer-types an error. Keep it a warning.
    selftest_cflags="-Wno-error=incompatible-pointer-types",
    cross_packages=("gcc-arm-linux-gnueabihf", "libc6-dev-armhf-cross", "liburing-dev:armhf",
                    "libcap-dev:armhf", "libnuma-dev:armhf"),
)
