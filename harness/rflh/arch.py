"""Architectures: one small declarative entry per architecture.

Each module in harness/rflh/arches/ defines ARCH = Arch(...), in the manner
of kunit.py's tools/testing/kunit/qemu_configs/*.py: how to build the
kernel (ARCH=, image, config fragment), how to boot it (QEMU binary,
machine, CPU, console, the two extra channels the guest job writes to) and
how to build user space for it (cross compiler, Debian architecture).
Nothing else in the harness knows about a particular architecture.
"""

import importlib
import pkgutil
from dataclasses import dataclass, field
from pathlib import Path

from .util import die


@dataclass(frozen=True)
class Arch:
    name: str                 # the harness's name: ARCH=<name> on the make command line
    linux_arch: str           # the kernel's ARCH=
    image: str                # kernel image, relative to the O= directory
    target: str               # make target that builds it
    config: str               # fragment in configs/arch/ (merged after base.config)
    rust_note: str = ""       # why Rust cannot be built here, if it cannot
    # Booting. qemu is None for an architecture QEMU cannot boot here (reason
    # in boot_note); um boots the kernel binary itself.
    qemu: str = None
    qemu_package: str = ""
    machine: tuple = ()
    cpu: str = "max"
    console: str = "ttyS0"
    # Guest devices for the test output (TAP) and the auxiliary output.
    channels: tuple = ("/dev/ttyS1", "/dev/ttyS2")
    # "serial": three -serial ports; "virtio": console on -serial, the two
    # channels as virtconsole ports (hvc0, hvc1) on a virtio-serial device.
    channel_kind: str = "serial"
    virtio_serial_device: str = "virtio-serial-pci"
    boot_note: str = ""
    # kunit.py's --arch name (tools/testing/kunit/qemu_configs/), for an
    # architecture whose KUnit run goes through kunit.py when the harness
    # cannot boot it with a user space of its own (loongarch, um).
    kunit_arch: str = ""
    extra_qemu: tuple = ()
    memory: str = "3G"
    # User space: "" builds natively; otherwise the cross compiler prefix and
    # the Debian architecture of busybox-static and bash-static.
    cross_compile: str = ""
    deb_arch: str = "amd64"
    cross_packages: tuple = ()
    # Extra CFLAGS for the mm selftests (an upstream test that does not build
    # as it stands on this arch).
    selftest_cflags: str = ""
    kernel_params: tuple = field(default_factory=tuple)

    # More fragments in configs/arch/, merged after `config` (a variant of
    # an architecture: arm64-64k is arm64 plus arm64-64k.config).
    extra_configs: tuple = ()

    @property
    def configs(self):
        return (self.config, *self.extra_configs)

    @property
    def native(self):
        return not self.cross_compile

    def qemu_argv(self, kernel, initrd, console, tap, aux, cmdline):
        """The QEMU command line (without -accel/-icount, which the caller adds)."""
        argv = [self.qemu, *self.machine]
        if self.cpu:
            argv += ["-cpu", self.cpu]
        argv += ["-nodefaults", "-display", "none", "-no-reboot", "-monitor", "none",
                 "-serial", f"file:{console}"]
        if self.channel_kind == "serial":
            argv += ["-serial", f"file:{tap}", "-serial", f"file:{aux}"]
        else:
            argv += ["-device", self.virtio_serial_device,
                     "-chardev", f"file,id=rfltap,path={tap}",
                     "-device", "virtconsole,chardev=rfltap",
                     "-chardev", f"file,id=rflaux,path={aux}",
                     "-device", "virtconsole,chardev=rflaux"]
        argv += ["-kernel", str(kernel), "-initrd", str(initrd), "-append", cmdline,
                 *self.extra_qemu]
        return argv


def _load():
    from . import arches
    out = {}
    for m in pkgutil.iter_modules(arches.__path__):
        mod = importlib.import_module(f"{arches.__name__}.{m.name}")
        out[mod.ARCH.name] = mod.ARCH
    return out


ARCHES = _load()
DEFAULT = "x86_64"


def get(name):
    name = name or DEFAULT
    if name not in ARCHES:
        die(f"ARCH={name!r} is not one of {', '.join(sorted(ARCHES))}; the entries are in "
            "harness/rflh/arches/")
    return ARCHES[name]


def for_kunit(kunit_arch):
    """The entry whose kunit.py --arch name is `kunit_arch` (by default an
    entry's kunit.py name is its own name: x86_64, arm64)."""
    for a in ARCHES.values():
        if (a.kunit_arch or a.name) == kunit_arch:
            return a
    die(f"no entry in harness/rflh/arches/ runs kunit.py --arch={kunit_arch}; known: "
        f"{', '.join(sorted(a.kunit_arch or a.name for a in ARCHES.values()))}")


def config_fragments(repo, a):
    fs = [Path(repo) / "configs" / "arch" / c for c in a.configs]
    for f in fs:
        if not f.exists():
            die(f"config fragment {f} for ARCH={a.name} is missing")
    return fs
