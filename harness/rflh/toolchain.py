"""The kernel toolchain: a Debian trixie root made with mmdebstrap.

The package list below is the whole definition of the toolchain; its hash is
stored next to the root, and the root is rebuilt when the list changes. The
mirror is read from the host's apt configuration at run time, never stored.
"""

import glob
import hashlib
import os
import re
import shutil
import tempfile
from pathlib import Path

from .util import die, in_root, log, run, stage

SUITE = "trixie"
PACKAGES = sorted("""
    rustc rust-src rustfmt rust-clippy bindgen
    clang lld llvm libclang-dev
    gcc libc6-dev make bc bison flex libelf-dev libssl-dev cpio perl
    python3 python3-matplotlib python3-sphinx xz-utils kmod rsync git ca-certificates
    libcap-dev libnuma-dev liburing-dev python3-ply python3-git
    busybox-static bash-static qemu-system-x86 ccache
""".split())
# Versions the series was developed with; checked, not pinned, so a point
# update of trixie does not break a run but is reported.
EXPECT = {"rustc": "1.85", "bindgen": "0.71", "clang": "19"}
MIN_FREE_GB = 20


def package_hash():
    return hashlib.sha256((SUITE + "\n" + "\n".join(PACKAGES)).encode()).hexdigest()[:16]


def parse_apt_sources(texts):
    """Return the first Debian archive URI found in apt sources texts.

    texts is a list of (filename, content). Both one-line (.list) and
    deb822 (.sources) formats are understood; security and updates archives
    are skipped because they carry no full suite.
    """
    cands = []
    for name, text in texts:
        if name.endswith(".sources"):
            for para in re.split(r"\n\s*\n", text):
                fields = {}
                for line in para.splitlines():
                    if line.startswith("#") or ":" not in line:
                        continue
                    k, v = line.split(":", 1)
                    fields[k.strip().lower()] = v.strip()
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                if "deb" not in fields.get("types", "").split():
                    continue
                for uri in fields.get("uris", "").split():
                    cands.append((uri, fields.get("suites", "")))
        else:
            for line in text.splitlines():
                f = line.split("#", 1)[0].split()
                if len(f) >= 3 and f[0] == "deb":
                    rest = [x for x in f[1:] if not x.startswith("[")]
                    if len(rest) >= 2:
                        cands.append((rest[0], rest[1]))
    for uri, suites in cands:
        if "security" in uri or "security" in suites:
            continue
        if re.search(r"/debian/?$", uri):
            return uri.rstrip("/")
    return None


def host_mirror():
    files = ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*"))
    texts = []
    for f in files:
        try:
            texts.append((f, Path(f).read_text()))
        except OSError:
            pass
    m = parse_apt_sources(texts)
    if not m:
        die("no Debian mirror found in /etc/apt/sources.list{,.d/*}; "
            "add a 'deb <mirror>/debian <suite> main' line to the host's apt "
            "configuration")
    return m


def check_requirements(s):
    if os.geteuid() != 0:
        die("the chroot toolchain needs root (mmdebstrap and chroot); run as "
            "root, or use TOOLCHAIN=host with your own kernel Rust toolchain")
    if not shutil.which("mmdebstrap"):
        die("mmdebstrap is not installed; run: apt-get install mmdebstrap")
    for tool in ("unshare", "chroot"):
        if not shutil.which(tool):
            die(f"{tool} is missing; run: apt-get install util-linux coreutils")
    s.cache.mkdir(parents=True, exist_ok=True)
    st = os.statvfs(s.cache)
    free = st.f_bavail * st.f_frsize / 2**30
    if free < MIN_FREE_GB and not (s.root / ".stamp").exists():
        die(f"only {free:.1f} GB free under {s.cache}; the toolchain, kernel "
            f"trees and builds need {MIN_FREE_GB} GB. Free space or set "
            "CACHE=/path/with/space")


def ensure(s):
    """Make sure a usable toolchain exists; build the root if needed."""
    if s.toolchain == "host":
        for tool in ("rustc", "bindgen", "clang", "ld.lld", "make", "qemu-system-x86_64"):
            if not shutil.which(tool):
                die(f"TOOLCHAIN=host but {tool} is not on PATH; install it or "
                    "drop TOOLCHAIN=host to use the managed trixie root")
        return
    check_requirements(s)
    stamp = s.root / ".stamp"
    want = package_hash()
    if stamp.exists() and stamp.read_text().strip() == want:
        return
    with stage(f"toolchain: mmdebstrap {SUITE} ({len(PACKAGES)} packages)"):
        mirror = host_mirror()
        parent = s.root.parent
        parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix="root.", dir=parent))
        try:
            run(["mmdebstrap", "--variant=apt", "--quiet",
                 "--include=" + ",".join(PACKAGES),
                 "--components=main", SUITE, str(tmp), mirror])
            # A place for backports' sources; used to fetch linux-source.
            Path(tmp, "etc/apt/sources.list.d/backports.list").write_text(
                f"deb {mirror} {SUITE}-backports main\n")
            if s.root.exists():
                shutil.rmtree(s.root)
            tmp.rename(s.root)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        stamp.write_text(want + "\n")
    report_versions(s)


def report_versions(s):
    out = in_root(s, "rustc --version; bindgen --version; clang --version | head -1",
                  capture_output=True, text=True)
    text = out.stdout
    for line in text.splitlines():
        log(f"    {line}")
    for tool, ver in EXPECT.items():
        if not re.search(rf"{tool}\S* (version )?{re.escape(ver)}", text):
            log(f"warning: expected {tool} {ver}.x in the toolchain")
