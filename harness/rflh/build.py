"""Configure and build a kernel variant, incrementally, with progress."""

import filecmp
import os
import re
import shutil
import subprocess
import threading
import time
from pathlib import Path

from . import kconfig
from .util import die, fmt_secs, in_root, log, stage

QUIET = re.compile(r"^\s+(RUSTC L|RUSTDOC T|RUSTDOC|CLIPPY L|CC|RUSTC|CLIPPY|BINDGEN|LD|AR|AS|HOSTCC|HOSTLD|EXPORTS|KUNIT)\s+(\S+)")


def make_env(s, variant):
    env = {
        "KBUILD_BUILD_TIMESTAMP": "2026-01-01",
        "KBUILD_BUILD_USER": "rfl",
        "KBUILD_BUILD_HOST": "rfl",
    }
    if s.toolchain == "chroot":
        # Every variant has the same layout (v/<variant>/{linux,out-*}), so
        # with the base dir set per variant ccache sees identical relative
        # paths and shares objects between reference, base and series.
        env.update({
            "CCACHE_DIR": str(s.cache / "ccache"),
            "CCACHE_BASEDIR": str(s.cache / "v" / variant),
            "CCACHE_NOHASHDIR": "1",
            "CCACHE_MAXSIZE": "20G",
        })
    return env


def make_args(s, kind):
    args = ["LLVM=1", f"ARCH={s.a.linux_arch}"]
    if s.toolchain == "chroot":
        # Not HOSTCC: it is also rustc's host linker, which takes one word.
        args += ["CC='ccache clang'"]
    if kind in ("test", "matrix"):
        # Clippy, and rustdoc's doctest report (compile_fail results) in the log.
        args += ["CLIPPY=1", "rustdoc_test_kernel_quiet="]
    return " ".join(args)


def out_dir(s, variant, kind):
    """v/<variant>/out-<kind>, with -<arch> for an architecture other than x86_64."""
    suffix = "" if s.arch == "x86_64" else f"-{s.arch}"
    return s.cache / "v" / variant / f"out-{kind}{suffix}"


def configure(s, variant, tree, kind):
    """Produce out/.config from tinyconfig + fragments; touch it only if it
    changed, so an unchanged config costs no rebuild."""
    out = out_dir(s, variant, kind)
    scratch = out.parent / f".cfg-{out.name[4:]}"
    frags = kconfig.fragments(s.repo, kind, variant, s.arch)
    import hashlib
    from .tree import git
    key = hashlib.sha256("\n".join(
        [git(tree, "rev-parse", "HEAD"), make_args(s, kind)]
        + [f.read_text() for f in frags]).encode()).hexdigest()
    stamp = scratch / "rfl-config.stamp"
    if (stamp.exists() and stamp.read_text() == key and (out / ".config").exists()
            and filecmp.cmp(scratch / ".config", out / ".config", shallow=False)):
        log(f"    config: unchanged since the last run ({len(frags)} fragments, same tree)")
        return out
    with stage(f"config: tinyconfig + {' + '.join(f.name for f in frags)} ({variant}, {s.arch})"):
        scratch.mkdir(parents=True, exist_ok=True)
        out.mkdir(parents=True, exist_ok=True)
        fr = " ".join(str(f) for f in frags)
        arch = f"ARCH={s.a.linux_arch}"
        in_root(s, f"""
            make -s -C {tree} O={scratch} LLVM=1 {arch} tinyconfig >/dev/null
            ARCH={s.a.linux_arch} {tree}/scripts/kconfig/merge_config.sh -m -O {scratch} {scratch}/.config {fr} >/dev/null
            make -s -C {tree} O={scratch} LLVM=1 {arch} olddefconfig >/dev/null
        """)
        final = (scratch / ".config").read_text()
        bad = kconfig.verify(kconfig.requested(frags), final)
        if bad:
            die(kconfig.explain(bad, kind))
        n = len(kconfig.requested(frags))
        if (out / ".config").exists() and filecmp.cmp(scratch / ".config", out / ".config", shallow=False):
            log(f"    {n} requested options verified; config unchanged")
        else:
            shutil.copyfile(scratch / ".config", out / ".config")
            log(f"    {n} requested options verified; config updated")
        stamp.write_text(key)
    return out


def rustavailable(s, tree, out):
    r = in_root(s, f"make -s -C {tree} O={out} LLVM=1 ARCH={s.a.linux_arch} rustavailable",
                check=False, capture_output=True, text=True)
    if r.returncode != 0 or "Rust is available" not in r.stdout:
        die("'make rustavailable' failed; the toolchain cannot build Rust:\n"
            + (r.stdout + r.stderr).strip()
            + "\nWith TOOLCHAIN=host, install rustc/bindgen/rust-src as "
            "Documentation/rust/quick-start.rst describes, or drop TOOLCHAIN=host.")


def run_make(s, variant, tree, out, kind, targets, logfile, what):
    """Run make in the toolchain, log to a file, print progress every 30 s."""
    logfile = Path(logfile)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    cmd = (f"make -C {tree} O={out} {make_args(s, kind)} -j{s.jobs} "
           f"{' '.join(targets)}")
    state = {"n": 0, "last": "", "done": False}
    t0 = time.monotonic()
    with open(logfile, "w") as lf:
        lf.write(f"$ {cmd}\n")
        lf.flush()

        def ticker():
            while not state["done"]:
                for _ in range(30):
                    if state["done"]:
                        return
                    time.sleep(1)
                log(f"    {what}: {state['n']} steps, {fmt_secs(time.monotonic() - t0)}"
                    f" elapsed, last {state['last']}")

        th = threading.Thread(target=ticker, daemon=True)
        th.start()
        proc = None
        try:
            proc = _popen_in_root(s, cmd, make_env(s, variant))
            for line in proc.stdout:
                lf.write(line)
                m = QUIET.match(line)
                if m:
                    state["n"] += 1
                    state["last"] = m.group(2)
            rc = proc.wait()
        finally:
            state["done"] = True
            if proc and proc.poll() is None:
                proc.kill()
    if rc != 0:
        tail = logfile.read_text(errors="replace").splitlines()
        errs = [l for l in tail if re.search(r"error[:\[]|Error \d", l)]
        log(f"    last lines of {logfile}:")
        for l in (errs[:20] or tail[-25:]):
            log(f"      {l}")
        die(f"{what} failed (exit {rc}); full log: {logfile}")
    return state["n"]


def _popen_in_root(s, cmd, env):
    """Like util.in_root, but streaming stdout+stderr."""
    import shlex  # noqa: F811
    envs = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    script = f"{envs} {cmd}"
    if s.toolchain == "host":
        argv = ["bash", "-ec", script]
    else:
        from . import util
        argv = util.root_argv(s, script)
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, errors="replace", bufsize=1)


def build_kernel(s, variant, tree, kind, force_touch=()):
    out = configure(s, variant, tree, kind)
    rustavailable(s, tree, out)
    res = s.results(variant)
    touched = []
    for rel in force_touch:
        f = Path(tree) / rel
        if f.exists():
            os.utime(f)
            touched.append(rel)
    label = f"build: {s.a.target} ({variant}, {s.arch}, {kind} config)"
    if touched:
        label += f" after touching {len(touched)} file(s)"
    with stage(label) as st:
        n = run_make(s, variant, tree, out, kind, [s.a.target],
                     res / f"build-{kind}.log", "build")
        log(f"    {n} build steps")
    st_time = time.monotonic() - st.t
    return out, st_time
