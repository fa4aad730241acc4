"""The base kernel: Debian's linux-source-7.3, or a user's tree (KSRC=).

The .deb, its tarball and a pristine extracted copy are cached; the version
is checked against 7.3.y.
"""

import re
import shutil
import subprocess
from pathlib import Path

from .util import die, in_root, log, run, stage

PKG = "linux-source-7.3"
WANT = (7, 3)
# Suites tried in order. backports is set up with the toolchain root; the
# others are added on demand when the package has moved on.
SUITES = ("trixie-backports", "experimental", "sid")


def kernel_version(tree):
    """Return (version, patchlevel, sublevel) from a kernel tree's Makefile."""
    mk = Path(tree, "Makefile")
    if not mk.exists():
        die(f"{tree} has no top-level Makefile; KSRC must point at a Linux "
            "source tree")
    vals = {}
    for line in mk.read_text(errors="replace").splitlines()[:10]:
        m = re.match(r"(VERSION|PATCHLEVEL|SUBLEVEL)\s*=\s*(\d*)", line)
        if m:
            vals[m.group(1)] = int(m.group(2) or 0)
    try:
        return vals["VERSION"], vals["PATCHLEVEL"], vals.get("SUBLEVEL", 0)
    except KeyError:
        die(f"cannot read VERSION/PATCHLEVEL from {mk}")


def check_version(tree, what):
    v = kernel_version(tree)
    if v[:2] != WANT:
        die(f"{what} is Linux {'.'.join(map(str, v))}, but the series is "
            f"against {WANT[0]}.{WANT[1]}.y; use a v7.3 tree (KSRC=) or let "
            f"the harness fetch Debian's {PKG}")
    return v


def _download(s, dl):
    """Download the .deb into dl with the toolchain root's apt."""
    for suite in SUITES:
        extra = ""
        if suite != "trixie-backports":
            # Reuse the mirror the root was made with.
            extra = (f"m=$(awk '/^deb /{{print $2; exit}}' /etc/apt/sources.list.d/backports.list); "
                     f"echo \"deb $m {suite} main\" > /etc/apt/sources.list.d/{suite}.list; ")
        r = in_root(s, extra + "apt-get update -qq && "
                    f"cd {dl} && apt-get download -qq -t {suite} {PKG}",
                    check=False)
        if r.returncode == 0 and list(Path(dl).glob(f"{PKG}_*.deb")):
            log(f"    {PKG} found in {suite}")
            return
        log(f"    {PKG} not in {suite}")
    die(f"no {PKG} package found in {', '.join(SUITES)}. Point KSRC= at a "
        "v7.3 kernel tree (e.g. a git checkout of v7.3) instead")


def pristine(s):
    """Return the path of a pristine v7.3 source tree."""
    if s.ksrc:
        p = Path(s.ksrc).resolve()
        check_version(p, f"KSRC={s.ksrc}")
        return p
    base = s.cache / "source"
    done = base / "pristine.stamp"
    tree = base / "pristine"
    if done.exists() and tree.exists():
        return tree
    base.mkdir(parents=True, exist_ok=True)
    dl = base / "deb"
    if not list(dl.glob(f"{PKG}_*.deb")):
        with stage(f"source: download {PKG}"):
            dl.mkdir(exist_ok=True)
            _download(s, dl)
    deb = sorted(dl.glob(f"{PKG}_*.deb"))[-1]
    tarball = base / f"{PKG}.tar.xz"
    if not tarball.exists():
        with stage(f"source: unpack {deb.name}"):
            tmp = base / "deb-x"
            shutil.rmtree(tmp, ignore_errors=True)
            run(["dpkg-deb", "-x", str(deb), str(tmp)])
            tb = list(tmp.glob(f"usr/src/{PKG}.tar.*"))
            if not tb:
                die(f"{deb} holds no usr/src/{PKG}.tar.*; the package layout "
                    "changed, use KSRC=")
            tb[0].rename(tarball)
            shutil.rmtree(tmp)
    with stage(f"source: extract {tarball.name}"):
        shutil.rmtree(tree, ignore_errors=True)
        tmp = base / "x"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        run(["tar", "-C", str(tmp), "-xf", str(tarball)])
        top = [p for p in tmp.iterdir() if p.is_dir()]
        if len(top) != 1:
            die(f"unexpected layout in {tarball}")
        top[0].rename(tree)
        tmp.rmdir()
    v = check_version(tree, deb.name)
    (base / "debian-version").write_text(deb.name.split("_")[1] + "\n")
    log(f"    Linux {'.'.join(map(str, v))} from {deb.name}")
    done.write_text(deb.name + "\n")
    return tree


def describe(s):
    """One line naming the base, for tags and cover letters."""
    if s.ksrc:
        return f"Linux {'.'.join(map(str, kernel_version(s.ksrc)))} from {s.ksrc}"
    v = (s.cache / "source" / "debian-version")
    dv = v.read_text().strip() if v.exists() else "?"
    k = kernel_version(s.cache / "source" / "pristine")
    return f"Linux {'.'.join(map(str, k))} (Debian {PKG} {dv})"
