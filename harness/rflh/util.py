"""Shared helpers: settings, stage timing, running commands (on the host or
inside the toolchain root), and clear fatal errors."""

import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class HarnessError(Exception):
    """A problem the user has to fix; the message names the fix."""


def die(msg):
    raise HarnessError(msg)


@dataclass
class Settings:
    repo: Path
    cache: Path
    build: Path
    variant: str
    toolchain: str
    ksrc: str
    jobs: int
    arch: str = "x86_64"

    @property
    def a(self):
        """The architecture entry (harness/rflh/arches/<arch>.py)."""
        from . import arch
        return arch.get(self.arch)

    @property
    def root(self):
        """The toolchain root (a Debian trixie tree made by mmdebstrap)."""
        return self.cache / "toolchain" / "root"

    def tree(self, variant=None):
        return self.cache / "trees" / (variant or self.variant)

    def out(self, config, variant=None):
        return self.cache / "out" / f"{variant or self.variant}-{config}"

    def results(self, variant=None):
        """build/<variant>, or build/<variant>-<arch> for another architecture."""
        v = variant or self.variant
        return self.build / (v if self.arch == "x86_64" else f"{v}-{self.arch}")


VARIANTS = ("reference", "base", "series", "series-norust")


def settings_from_env():
    variant = os.environ.get("VARIANT", "series") or "series"
    if variant not in VARIANTS:
        die(f"VARIANT={variant!r} is not one of {', '.join(VARIANTS)}; "
            "use e.g. 'make check VARIANT=reference'")
    toolchain = os.environ.get("TOOLCHAIN", "chroot") or "chroot"
    if toolchain not in ("chroot", "host"):
        die(f"TOOLCHAIN={toolchain!r}: use TOOLCHAIN=host or leave it unset")
    from . import arch as archmod
    arch = os.environ.get("ARCH") or archmod.DEFAULT
    # Every kbuild command the harness runs inherits the kernel's name for it.
    os.environ["ARCH"] = archmod.get(arch).linux_arch
    jobs = os.environ.get("JOBS") or str(os.cpu_count() or 2)
    if not jobs.isdigit() or int(jobs) < 1:
        die(f"JOBS={jobs!r} must be a positive integer")
    return Settings(
        repo=REPO,
        cache=Path(os.environ.get("CACHE") or "/var/cache/rfl-populate"),
        build=Path(os.environ.get("BUILD") or REPO / "build"),
        variant=variant,
        toolchain=toolchain,
        ksrc=os.environ.get("KSRC", ""),
        jobs=int(jobs),
        arch=arch,
    )


_t0 = time.monotonic()


def log(msg):
    print(f"[{time.monotonic() - _t0:7.1f}s] {msg}", flush=True)


class stage:
    """Context manager that prints a stage's start and elapsed time."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t = time.monotonic()
        log(f"==> {self.name}")
        return self

    def __exit__(self, et, ev, tb):
        dt = time.monotonic() - self.t
        status = "done" if et is None else "FAILED"
        log(f"<== {self.name}: {status} in {fmt_secs(dt)}")
        return False


def fmt_secs(s):
    if s < 60:
        return f"{s:.1f}s"
    return f"{int(s // 60)}m{int(s % 60):02d}s"


def run(cmd, check=True, **kw):
    """Run a host command; cmd is a list. Raises HarnessError on failure."""
    r = subprocess.run(cmd, **kw)
    if check and r.returncode != 0:
        die(f"command failed with exit code {r.returncode}: "
            f"{' '.join(shlex.quote(str(c)) for c in cmd)}")
    return r


def root_argv(s, script, hide_kvm=False):
    """argv that runs a bash script inside the toolchain root (see in_root).
    hide_kvm: /dev/kvm becomes /dev/null in the root (the host's mount does
    it, before the chroot: a fresh root has no mount(8))."""
    root = s.root
    binds = [str(s.repo), str(s.cache), str(s.build)]
    if s.ksrc:
        binds.append(s.ksrc)
    seen = []
    for b in sorted(binds, key=len):
        if not any(b == p or b.startswith(p + "/") for p in seen):
            seen.append(b)
    r = shlex.quote(str(root))
    mounts = [f"mount --bind /dev {r}/dev", f"mount -t proc proc {r}/proc"]
    if hide_kvm:
        mounts.append(f"{{ [ ! -e {r}/dev/kvm ] || mount --bind /dev/null {r}/dev/kvm; }}")
    for b in seen:
        q = shlex.quote(b)
        mounts.append(f"mkdir -p {r}{q} && mount --bind {q} {r}{q}")
    inner = (f"cd {shlex.quote(str(s.repo))} && export HOME=/root "
             f"LANG=C.UTF-8 PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
             f" && exec bash -ec {shlex.quote(script)}")
    outer = " && ".join(mounts)
    outer += f" && exec chroot {r} bash -c {shlex.quote(inner)}"
    return ["unshare", "--mount", "--propagation", "private", "bash", "-ec", outer]


def in_root(s, script, check=True, env=None, hide_kvm=False, **kw):
    """Run a shell script with the kernel toolchain.

    With the chroot toolchain the script runs inside the toolchain root, in
    a private mount namespace that binds /dev, /proc, the repo and the cache
    at the same paths, so every path means the same inside and out. The
    mounts disappear when the command ends.
    """
    envs = " ".join(f"{k}={shlex.quote(str(v))}" for k, v in (env or {}).items())
    if envs:
        script = f"export {envs}\n{script}"
    if s.toolchain == "host":
        return run(["bash", "-ec", script], check=check, **kw)
    return run(root_argv(s, script, hide_kvm), check=check, **kw)
