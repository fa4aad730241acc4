"""The standard KUnit path: tools/testing/kunit/kunit.py with the series'
kunitconfig (mm/.kunitconfig), on UML (kunit.py's default) or under QEMU
(--arch=x86_64, --arch=arm64), exactly as a kernel developer runs it:

    ./tools/testing/kunit/kunit.py run --kunitconfig=mm --make_options LLVM=1 [--arch=...]

The build goes to the cache (--build_dir), the results to JSON (--json),
which the verdict reads like the console's KTAP.
"""

import json
import os
import threading
import time
from pathlib import Path

from . import guest, source, toolchain, tree, verdict
from .util import fmt_secs, in_root, log, stage

KUNITCONFIG = "mm"          # mm/.kunitconfig
SUITES = ["madvise_populate"]
DOCTESTS = ["rust_doctest_kernel_mm_faultin_rs", "rust_doctest_kernel_mm_rs"]


# kunit.py's own limit for the whole run (its default, 300 s, is short for
# the A/B cases under TCG on a slow machine).
RUN_TIMEOUT = 1800


def has_ab(tree_dir):
    """Whether the tree has the A/B cases (the queue's "test the Rust
    MADV_POPULATE against the C one" patch)."""
    f = Path(tree_dir) / "mm" / "populate.rs"
    return f.exists() and "fn ab_rust_matches_c" in f.read_text(errors="replace")


def ab_kernel_args(calls):
    """Kernel arguments for an A/B run of @calls populate calls per
    implementation (AB_CALLS=): the count, and a KUnit case timeout that
    grows with it (300 s per 10,000 calls, at least KUnit's 300 s)."""
    if not calls:
        return []
    if calls < 1:
        raise ValueError("AB_CALLS must be a positive number of populate calls")
    return [f"madvise.populate_ab_calls={calls}",
            f"kunit.timeout={max(300, -(-calls // 10000) * 300)}"]


def command(arch, build_dir, json_file, jobs, ab_calls=0):
    a = ["./tools/testing/kunit/kunit.py", "run", f"--kunitconfig={KUNITCONFIG}",
         "--make_options", "LLVM=1", f"--build_dir={build_dir}", f"--json={json_file}",
         f"--jobs={jobs}", f"--timeout={RUN_TIMEOUT * max(1, -(-ab_calls // 50000))}"]
    a += [f"--kernel_args={k}" for k in ab_kernel_args(ab_calls)]
    if arch != "um":
        a.append(f"--arch={arch}")
    return a


def run(s, arch="um", tree_dir=None, timeout=1800, ab_calls=0):
    """Run kunit.py for `arch` on the series tree; return (checks, seconds)."""
    toolchain.ensure(s)
    if tree_dir is None:
        pristine = source.pristine(s)
        tree_dir = tree.sync(s, "series", pristine, source.describe(s))
    if arch != "um":
        # kunit.py boots QEMU itself; make sure the root has the binary.
        from . import arch as archmod
        from .util import Settings
        s2 = Settings(**{**s.__dict__, "arch": archmod.for_kunit(arch).name})
        guest.ensure_cross(s2)
    res = s.results("series") / f"kunit-{arch}"
    res.mkdir(parents=True, exist_ok=True)
    build_dir = s.cache / "v" / "series" / f"kunit-{arch}"
    js, logf = res / "kunit.json", res / "kunit.log"
    js.unlink(missing_ok=True)
    cmd = " ".join(command(arch, build_dir, js, s.jobs, ab_calls))
    timeout = max(timeout, RUN_TIMEOUT * max(1, -(-ab_calls // 50000)) + 1800)
    t0 = time.monotonic()
    with stage(f"kunit.py run --kunitconfig={KUNITCONFIG} ({arch})"):
        log(f"    $ {cmd}")
        done = threading.Event()
        th = threading.Thread(target=ticker, args=(done, logf, build_dir, t0), daemon=True)
        th.start()
        try:
            with open(logf, "w") as f:
                r = in_root(s, f"cd {tree_dir} && ARCH= timeout {timeout} {cmd}",
                            check=False, hide_kvm=hide_kvm(), stdout=f, stderr=f)
        finally:
            done.set()
        log(f"    exit {r.returncode}; log {logf}")
    secs = time.monotonic() - t0
    text = js.read_text() if js.exists() else ""
    checks = verdict.kunit_checks(text or None, SUITES, DOCTESTS)
    for c in checks:
        c.group = f"kunit-{arch}"
    if r.returncode != 0 and not any(c.status == "fail" for c in checks):
        checks.append(verdict.Check(f"kunit-{arch}", "kunit.py run exit status", "fail",
                                    f"exit {r.returncode}; see {logf}"))
    # kunit.py keeps the kernel log in the build directory; a splat there
    # fails the run as on the console of a QEMU boot.
    tlog = build_dir / "test.log"
    klog = tlog.read_text(errors="replace") if tlog.exists() else ""
    klog, known = strip_known_uml_splat(klog) if arch == "um" else (klog, False)
    checks += [verdict.Check(f"kunit-{arch}", c.name, c.status, c.detail)
               for c in verdict.scan_console(klog, False, False)]
    if has_ab(tree_dir):
        checks += verdict.ab_checks(klog, f"kunit-{arch}",
                                    ab_calls or verdict.AB_DEFAULT_CALLS)
    if known:
        checks.append(verdict.Check(
            f"kunit-{arch}", "lockdep stays on under UML", "skip",
            "no: UML's setup_arch() credits host randomness (add_bootloader_randomness()), "
            "crng_reseed() walks random_ready_notifier under rcu_read_lock() before lockdep "
            "records it, and the 'bad unlock balance' report turns lockdep off; see "
            "docs/decisions.md"))
    return checks, secs


def hide_kvm():
    """Whether to hide /dev/kvm from a kunit.py run. kunit.py boots QEMU
    with '-accel kvm -accel hvf -accel tcg' (kunit_kernel.py), so QEMU takes
    KVM whenever /dev/kvm opens. Where /dev/kvm exists but cannot run a
    guest (this project's machines: the guest hangs after the BIOS, and
    kunit.py times out), the first accel must fail: in the run's private
    mount namespace /dev/kvm becomes /dev/null, whose KVM ioctls fail, and
    QEMU falls back to TCG as every other boot of the harness does.
    KUNIT_KVM=1 keeps KVM. (TOOLCHAIN=host runs in no namespace: no effect.)"""
    return os.environ.get("KUNIT_KVM") != "1"


def ticker(done, logf, build_dir, t0, every=30):
    """kunit.py is silent while it builds: every `every` s, log the elapsed
    time, the objects in the build directory and kunit.py's last line."""
    while not done.wait(every):
        last = ""
        try:
            lines = [l.strip() for l in Path(logf).read_text(errors="replace").splitlines()]
            last = next((l for l in reversed(lines) if l), "")
        except OSError:
            pass
        objs = sum(1 for _ in Path(build_dir).rglob("*.o")) if Path(build_dir).exists() else 0
        log(f"    kunit.py: {fmt_secs(time.monotonic() - t0)} elapsed, {objs} objects; "
            f"{last[:100]}")


def strip_known_uml_splat(text):
    """Remove UML's early-boot 'bad unlock balance' report (rcu_read_lock released in
    atomic_notifier_call_chain() under _credit_init_bits(), during setup_arch()), which
    upstream UML prints before any test runs. Returns (text, whether it was there)."""
    lines = text.splitlines()
    for i, l in enumerate(lines):
        if "WARNING: bad unlock balance detected!" in l:
            block = lines[i:i + 60]
            end = next((j for j, b in enumerate(block) if b.startswith("random: crng init done")),
                       None)
            body = "\n".join(block[:end])
            if end and "atomic_notifier_call_chain" in body and "_credit_init_bits" in body:
                return "\n".join(lines[:i - 1] + lines[i + end:]), True
    return text, False


def main(s, arch, ab_calls=0):
    checks, secs = run(s, arch, ab_calls=ab_calls)
    print(verdict.summary(checks, f"kunit.py run --kunitconfig={KUNITCONFIG} --arch={arch} "
                          f"({fmt_secs(secs)})"))
    return 1 if verdict.counts(checks)[1] else 0
