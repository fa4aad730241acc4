"""The guest: static mm selftests, an initramfs made with the tree's
usr/gen_init_cpio, and a QEMU TCG boot with a host-side timeout."""

import os
import re
import shlex
import shutil
import subprocess
import threading
import time
from pathlib import Path

from . import util
from .util import die, fmt_secs, in_root, log, stage

SENTINEL = "RFL-SENTINEL"


def build_selftests(s, tree, out):
    """Build the mm selftests statically with the tree's own uapi headers
    and install them with the kselftest install target."""
    inst = Path(out) / "kselftest-install"
    bdir = Path(out) / "kselftest-build"
    logf = s.results() / "selftests-build.log"
    logf.parent.mkdir(parents=True, exist_ok=True)
    a = s.a
    cross = f"ARCH={a.linux_arch} CROSS_COMPILE={a.cross_compile}" if a.cross_compile else ""
    ensure_cross(s)
    with stage(f"selftests: build and install mm (static, {s.arch})"):
        r = in_root(s, f"""
            make -s -C {tree} O={out} LLVM=1 ARCH={a.linux_arch} headers >/dev/null
            make -C {tree}/tools/testing/selftests TARGETS=mm O={bdir} {cross} \\
                KHDR_INCLUDES='-isystem {out}/usr/include' \\
                CC={a.cross_compile}gcc EXTRA_CFLAGS='-static {a.selftest_cflags}' -j{s.jobs} \\
                INSTALL_PATH={inst} install
        """, check=False, stdout=open(logf, "w"), stderr=subprocess.STDOUT)
        if r.returncode != 0:
            lines = logf.read_text(errors="replace").splitlines()
            errs = [l for l in lines if " error: " in l or ": error:" in l][:8]
            die(f"building the mm selftests failed; {'errors' if errs else 'last lines'} in "
                f"{logf}:\n  " + "\n  ".join(errs or lines[-15:]))
        n = len([p for p in (inst / "mm").iterdir() if os.access(p, os.X_OK)])
        log(f"    {n} executables in {inst}/mm")
    return inst


def build_guest_tools(s, out):
    """Build our own guest programs (guest/*.c) statically."""
    dst = Path(out) / "rfl-guest"
    srcs = sorted((s.repo / "guest").glob("*.c"))
    if not srcs:
        return dst
    ensure_cross(s)
    with stage(f"guest: build {len(srcs)} program(s) from guest/ ({s.arch})"):
        dst.mkdir(parents=True, exist_ok=True)
        cmds = "\n".join(
            f"{s.a.cross_compile}gcc -static -O2 -Wall -Werror -o {dst / p.stem} {p}"
            + link_libs(p.read_text(errors="replace"))
            for p in srcs)
        in_root(s, cmds)
    return dst


def link_libs(text):
    """The libraries a guest program links: liburing (liburing-dev, in the
    toolchain root and in each cross arch's packages) where it includes it."""
    return " -luring" if "#include <liburing.h>" in text else ""


def ensure_cross(s):
    """Install the architecture's cross compiler and QEMU into the toolchain
    root on first use (Debian packages; the native ones are part of the root)."""
    a = s.a
    pkgs = list(a.cross_packages)
    if a.qemu_package and a.qemu_package != "qemu-system-x86":
        pkgs.append(a.qemu_package)
    if not pkgs or s.toolchain != "chroot":
        return
    stamp = s.root / f".stamp-{s.arch}"
    if stamp.exists() and stamp.read_text().split() == pkgs:
        return
    with stage(f"toolchain: install {' '.join(pkgs)} for {s.arch}"):
        # Packages of another Debian architecture (liburing-dev:arm64) need it
        # added to dpkg first.
        foreign = sorted({p.split(":", 1)[1] for p in pkgs if ":" in p})
        add = "".join(f"dpkg --add-architecture {f} && " for f in foreign)
        # A list that fails to refresh (a mirror mid-sync) need not stop the
        # install: the packages are usually in the lists already there.
        in_root(s, f"{add}true; apt-get update -qq || echo 'apt-get update failed; "
                   f"installing from the package lists already present' >&2; "
                   f"apt-get install -y -qq {' '.join(pkgs)} >/dev/null")
        stamp.write_text(" ".join(pkgs) + "\n")


def userland(s):
    """Directory with bin/busybox and bin/bash-static for the guest architecture:
    the toolchain root's own for x86_64, Debian's static packages otherwise."""
    a = s.a
    if a.native:
        root = s.root if s.toolchain == "chroot" else Path("/")
        return root / "bin" / "busybox", root / "bin" / "bash-static"
    d = s.cache / "userland" / a.deb_arch
    # Debian trixie's packages are merged-/usr: the binaries are in usr/bin.
    busybox, bash = d / "usr" / "bin" / "busybox", d / "usr" / "bin" / "bash-static"
    if busybox.exists() and bash.exists():
        return busybox, bash
    with stage(f"guest: busybox-static and bash-static for {a.deb_arch} (Debian)"):
        dl = s.cache / "userland" / f"deb-{a.deb_arch}"
        dl.mkdir(parents=True, exist_ok=True)
        in_root(s, f"""
            dpkg --add-architecture {a.deb_arch}
            apt-get update -qq
            cd {dl} && apt-get download -qq busybox-static:{a.deb_arch} bash-static:{a.deb_arch}
            rm -rf {d} && mkdir -p {d}
            for p in {dl}/*.deb; do dpkg-deb -x $p {d}; done
        """)
    if not (busybox.exists() and bash.exists()):
        die(f"could not unpack busybox-static and bash-static for {a.deb_arch} into {d}")
    return busybox, bash


INIT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
# What udev would make; kselftest's runner writes to /dev/stdout.
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
# The job writes test output to /dev/rfl-tap and auxiliary output (fuzz
# traces, stress results) to /dev/rfl-aux; the architecture says which
# devices those are.
ln -sf @TAP@ /dev/rfl-tap
ln -sf @AUX@ /dev/rfl-aux
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup 2>/dev/null
mkdir -p /dev/hugepages && mount -t hugetlbfs none /dev/hugepages 2>/dev/null
hostname rfl-guest
echo "RFL: guest up, $(nproc) CPUs, $(awk '/MemTotal/ {print $2}' /proc/meminfo) kB"
cd /
/bin/bash /rfl/job.sh
rc=$?
sync
echo "RFL-SENTINEL: exit=$rc" > /dev/console
poweroff -f
"""


def make_initramfs(s, tree, out, job_script, dest, extra_dirs=()):
    """Write an initramfs (uncompressed cpio) with busybox, bash, the job and
    the given directories (host path -> guest path)."""
    gen = Path(out) / "usr" / "gen_init_cpio"
    if not gen.exists():
        die(f"{gen} is missing; the kernel build should have made it "
            "(CONFIG_BLK_DEV_INITRD=y)")
    busybox, bash = userland(s)
    for f in (busybox, bash):
        if not f.exists():
            die(f"{f} is missing; the toolchain needs busybox-static and bash-static")
    work = Path(dest).parent
    work.mkdir(parents=True, exist_ok=True)
    (work / "init").write_text(INIT.replace("@TAP@", s.a.channels[0])
                               .replace("@AUX@", s.a.channels[1]))
    (work / "job.sh").write_text(job_script)
    lines = [
        "dir /dev 0755 0 0", "nod /dev/console 0600 0 0 c 5 1",
        "nod /dev/null 0666 0 0 c 1 3",
        "dir /proc 0755 0 0", "dir /sys 0755 0 0", "dir /tmp 1777 0 0",
        "dir /bin 0755 0 0", "dir /sbin 0755 0 0", "dir /usr 0755 0 0",
        "dir /usr/bin 0755 0 0", "dir /etc 0755 0 0", "dir /root 0700 0 0",
        "dir /rfl 0755 0 0",
        f"file /bin/busybox {busybox} 0755 0 0",
        "slink /bin/sh busybox 0777 0 0",
        f"file /bin/bash {bash} 0755 0 0",
        f"file /init {work / 'init'} 0755 0 0",
        f"file /rfl/job.sh {work / 'job.sh'} 0755 0 0",
        "file /etc/passwd /dev/null 0644 0 0",
    ]
    lines[-1] = f"file /etc/passwd {_passwd(work)} 0644 0 0"
    for host, guest in extra_dirs:
        host = Path(host)
        if not host.exists():
            die(f"{host} is missing")
        lines.append(f"dir {guest} 0755 0 0")
        for p in sorted(host.rglob("*")):
            g = f"{guest}/{p.relative_to(host)}"
            if p.is_symlink():
                lines.append(f"slink {g} {os.readlink(p)} 0777 0 0")
            elif p.is_dir():
                lines.append(f"dir {g} 0755 0 0")
            else:
                mode = "0755" if os.access(p, os.X_OK) else "0644"
                lines.append(f"file {g} {p} {mode} 0 0")
    lst = work / "initramfs.list"
    lst.write_text("\n".join(lines) + "\n")
    # gen_init_cpio was built by the toolchain, so it runs there too.
    in_root(s, f"{shlex.quote(str(gen))} {shlex.quote(str(lst))} > {shlex.quote(str(dest))}")
    return dest


def _passwd(work):
    p = work / "passwd"
    p.write_text("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n")
    return p


def kvm_note():
    if os.path.exists("/dev/kvm"):
        return ("/dev/kvm exists, but KVM guests hang after the BIOS on these "
                "machines: using TCG")
    return "no /dev/kvm: using TCG"


def boot(s, kernel, initrd, console, tapfile, timeout, mem="3G", append="",
         icount=False, progress=None, label="boot", extra_args=()):
    """Boot QEMU (TCG) and wait for poweroff or the timeout.

    The kernel console goes to `console`; the job's test output
    (/dev/rfl-tap in the guest) to tapfile; its auxiliary output
    (/dev/rfl-aux) to tapfile with the suffix .aux (used for
    fuzzer traces). Returns (seconds, timed_out).
    """
    console, tapfile = Path(console), Path(tapfile)
    aux = tapfile.with_suffix(".aux")
    console.parent.mkdir(parents=True, exist_ok=True)
    for f in (console, tapfile, aux):
        f.write_text("")
    a = s.a
    if not a.qemu:
        die(f"ARCH={s.arch} cannot be booted here: {a.boot_note}")
    extra = []
    if icount:
        extra = ["-icount", "shift=0,sleep=off,align=off"]
    cmdline = (f"console={a.console} panic=-1 oops=panic printk.devkmsg=on "
               "hung_task_panic=0 " + " ".join(a.kernel_params) + " " + append).strip()
    qemu = a.qemu_argv(kernel, initrd, console, tapfile, aux, cmdline)
    qemu[1:1] = ["-accel", "tcg", "-m", mem, "-smp", "2"]
    qemu += [*extra, *extra_args]
    argv = (["timeout", "--signal=KILL", str(timeout)] + qemu)
    script = " ".join(shlex.quote(a) for a in argv)
    if s.toolchain == "chroot":
        full = util.root_argv(s, script)
    else:
        full = ["bash", "-c", script]
    t0 = time.monotonic()
    p = subprocess.Popen(full, stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    stop = threading.Event()

    def follow():
        pos = {console: 0, tapfile: 0}
        last = time.monotonic()
        while not stop.is_set():
            time.sleep(2)
            for f in (console, tapfile):
                try:
                    with open(f, errors="replace") as fh:
                        fh.seek(pos[f])
                        data = fh.read()
                        pos[f] = fh.tell()
                except OSError:
                    continue
                for line in data.splitlines():
                    if progress and progress(line):
                        log(f"    | {line.strip()[:110]}")
                        last = time.monotonic()
            if time.monotonic() - last > 60:
                log(f"    {label}: running, {fmt_secs(time.monotonic() - t0)} elapsed")
                last = time.monotonic()

    th = threading.Thread(target=follow, daemon=True)
    th.start()
    outp = p.communicate()[0]
    stop.set()
    th.join(5)
    dt = time.monotonic() - t0
    timed_out = p.returncode in (137, -9) or dt >= timeout - 1
    if p.returncode not in (0, 137, -9) and not timed_out:
        if outp.strip():
            log(f"    qemu: {outp.strip()[:300]}")
    return dt, timed_out
