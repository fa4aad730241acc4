"""`make check`: build, boot and judge one variant; `make` (demo)."""

import json
import os
import re
import subprocess
import time
from pathlib import Path

from . import build, fuzz, gates, guest, kconfig, kunittool, source, stress, toolchain, tree, upstream, verdict
from .util import REPO
from .util import die, fmt_secs, in_root, log, stage

# The upstream collections run on every variant (run_kselftest.sh -t).
COLLECTIONS = ["mm:ksft_madv_populate.sh", "mm:ksft_madv_guard.sh", "mm:ksft_pfnmap.sh"]


def madv_populate_cases(config_text):
    """madv_populate runs 21 cases, or 16 where the kernel has no soft-dirty
    tracking (its five soft-dirty cases are then not planned, not skipped):
    CONFIG_MEM_SOFT_DIRTY needs HAVE_ARCH_SOFT_DIRTY, which arm64 lacks."""
    return 21 if kconfig.parse(config_text).get("CONFIG_MEM_SOFT_DIRTY") == "y" else 16


def required_selftests(variant, config_text=""):
    req = [verdict.Required("madv_populate", cases=madv_populate_cases(config_text)),
           verdict.Required("guard-regions", skips_allowed=True, must_pass="populate"),
           verdict.Required("pfnmap", skips_allowed=True, must_pass="populate")]
    if variant in ("series", "series-norust") and kconfig.has_series(REPO):
        req.append(verdict.Required("madv_populate_extra", cases=12))
    return req


def kunit_requirements(variant):
    if variant == "series" and kconfig.has_series(REPO):
        return (["madvise_populate"], ["rust_doctest_kernel_mm_faultin_rs",
                                       "rust_doctest_kernel_mm_rs"])
    return ([], [])


def selftest_job(collections):
    ts = " ".join(f"-t {c}" for c in collections)
    return f"""set -u
out=/dev/rfl-tap
echo "RFL: running kselftests: {' '.join(collections)}"
cd /kselftest
./run_kselftest.sh {ts} > $out 2>&1
echo "RFL: run_kselftest.sh exit $?"
cd /
# A short fixed-seed fuzz run, compared with the recorded C v7.3 traces.
echo 4 > /proc/sys/vm/nr_hugepages
echo "RFL: populate_fuzz fixed seeds"
{fuzz.fuzz_job_for_check()}
echo "RFL: populate_fuzz done"
echo 0 > /proc/sys/vm/nr_hugepages
# Stress and fault tests (bounded in count), after the fuzz trace on
# /dev/rfl-aux; then the leak check of the cgroup they ran in.
echo "RFL: populate_stress"
/rfl/bin/populate_stress > /dev/rfl-aux 2>/dev/console
echo "RFL: populate_stress exit $?"
# The benchmark program, once at a tiny size, so that it cannot rot.
echo "RFL: populate_bench smoke run"
/rfl/bin/populate_bench 2 1 /tmp > /dev/console 2>&1
echo "RFL: populate_bench exit $?"
/rfl/bin/populate_bench contention 4 1 > /dev/console 2>&1
echo "RFL: populate_bench contention exit $?"
exit 0
"""


def bench_smoke_check(console_text):
    """The shape of the smoke runs' output, never their timings: the table
    (BENCH/FLOOR lines, each measured or unavailable) and the contention
    run (all rows, each measured with its CDF or unavailable with a reason)."""
    from . import bench
    parsed = bench.parse_lines(console_text)
    res = [d for d in parsed if d["kind"] in ("BENCH", "FLOOR")]
    bad = [d for d in res if d.get("malformed") or ("min_ms" not in d and "unavailable" not in d)]
    ok = len(res) >= 40 and not bad and any("min_ms" in d for d in res)
    cont = [d for d in parsed if d["kind"] == "CONTENTION"]
    probs = bench.contention_shape_problems(parsed)
    return verdict.Check("bench", "populate_bench smoke runs (2 MiB, 1 iteration; "
                         "contention 4 MiB, 1 round)",
                         "ok" if ok and not probs else "fail",
                         f"{len(res)} result lines, "
                         f"{sum('unavailable' in d for d in res)} unavailable; contention: "
                         f"{sum('unavailable' not in d for d in cont)} rows measured, "
                         f"{sum('unavailable' in d for d in cont)} unavailable"
                         + (f"; {'; '.join(probs[:3])}" if probs else ""))


def progress_filter(line):
    """Which console / TAP lines to echo while the guest runs."""
    l = line.strip()
    if l.startswith("RFL"):
        return True
    if re.match(r"^(\[\s*[\d.]+\] )?(not )?ok \d+ ", l):
        return True   # KUnit suites and top-level kselftest results
    if re.match(r"^# (not )?ok \d+ ", l):
        return True   # run_vmtests.sh results (one per test binary)
    return any(x in l for x in ("BUG:", "WARNING:", "Kernel panic", "Oops"))


def ab_calls_from_env():
    """AB_CALLS=N: the A/B KUnit cases make N populate calls per
    implementation in this run (the kernel's default is 10,000)."""
    calls = os.environ.get("AB_CALLS") or "0"
    if not calls.isdigit():
        die(f"AB_CALLS={calls}: give a number of populate calls per implementation, "
            "e.g. AB_CALLS=100000")
    return int(calls)


def boot_and_judge(s, variant, tree_dir, out, job, extra_dirs, timeout, title,
                   required=(), kunit_req=([], []), expect_sentinel=True, append=""):
    res = s.results(variant)
    initrd = res / "initramfs.cpio"
    with stage("guest: initramfs (usr/gen_init_cpio)"):
        guest.make_initramfs(s, tree_dir, out, job, initrd, extra_dirs)
        log(f"    {initrd} ({initrd.stat().st_size >> 20} MiB)")
    console, tap = res / "console.log", res / "kselftest.tap"
    with stage(f"boot: QEMU TCG -smp 2, timeout {timeout}s"):
        log(f"    {guest.kvm_note()}")
        secs, timed_out = guest.boot(
            s, Path(out) / s.a.image, initrd, console, tap,
            timeout, progress=progress_filter, label=variant, append=append)
        log(f"    console: {console}")
    checks = verdict.scan_console(console.read_text(errors="replace"), timed_out,
                                  expect_sentinel)
    return checks, secs, console, tap


def kunit_parse(s, tree_dir, console, res):
    js = res / "kunit.json"
    r = in_root(s, f"python3 {tree_dir}/tools/testing/kunit/kunit.py parse "
                f"--json={js} {console} > {res / 'kunit.txt'} 2>&1", check=False)
    if not js.exists() or not js.read_text().strip():
        return None
    return js.read_text()


def check(s, gates_on=None):
    """The full `make check` for s.variant."""
    variant = s.variant
    if gates_on is None:
        gates_on = variant == "series" and kconfig.has_series(s.repo)
    # The arch-neutral gates (checkpatch, rustfmt, rustdoc, get_maintainer,
    # Sphinx, uapi headers) run on x86_64; every architecture gets the build
    # gates (warnings, compile_fail, no panic path, exports, symbols).
    all_gates = gates_on and s.arch == "x86_64"
    t_all = time.monotonic()
    timings = {}
    res = s.results(variant)
    res.mkdir(parents=True, exist_ok=True)

    t = time.monotonic()
    toolchain.ensure(s)
    pristine = source.pristine(s)
    timings["toolchain+source"] = time.monotonic() - t
    t = time.monotonic()
    with stage(f"tree: sync {variant} with patches/"):
        tree_dir = tree.sync(s, variant, pristine, source.describe(s))
    timings["tree"] = time.monotonic() - t

    files = gates.series_files(tree_dir) if variant == "series" else []
    norust = variant == "series-norust" and kconfig.has_series(s.repo)
    t = time.monotonic()
    out, _ = build.build_kernel(s, variant, tree_dir, "test")
    timings["build"] = time.monotonic() - t
    checks = []
    if gates_on:
        # Touch the series' own sources so that their compiler and clippy
        # diagnostics are in this run's log, however warm the build is.
        rs = [f for f in files if f.endswith((".rs", ".c"))]
        t = time.monotonic()
        _, dt = build.build_kernel(s, variant, tree_dir, "test", force_touch=rs)
        timings["rebuild after touching the series' .rs/.c files"] = dt
        warns = gates.new_code_warnings(res / "build-test.log", files)
        checks.append(verdict.Check(
            "gate", f"LLVM=1 CLIPPY=1 build: no warnings in {len(files)} series files",
            "fail" if warns else "ok", "; ".join(warns[:3])))
        checks += gates.compile_fail_checks(
            tree_dir, files, (res / "build-test.log").read_text(errors="replace"))

    t = time.monotonic()
    inst = guest.build_selftests(s, tree_dir, out)
    tools = guest.build_guest_tools(s, out)
    timings["selftests"] = time.monotonic() - t
    job = selftest_job(COLLECTIONS)
    t = time.monotonic()
    ab_calls = ab_calls_from_env() if variant == "series" else 0
    bchecks, secs, console, tap = boot_and_judge(
        s, variant, tree_dir, out, job, [(inst, "/kselftest"), (tools, "/rfl/bin")],
        timeout=1500 + ab_calls // 100, title=variant,
        append=" ".join(kunittool.ab_kernel_args(ab_calls)))
    bchecks.append(bench_smoke_check(console.read_text(errors="replace")))
    aux = tap.with_suffix(".aux").read_text(errors="replace")
    bchecks.append(fuzz.check_against_expected(s, aux))
    bchecks += stress.checks_from(
        aux, skips_ok=() if s.arch == "x86_64" else stress.MAY_SKIP_OFF_X86)
    timings["boot+tests"] = secs
    checks += bchecks
    checks += verdict.selftest_checks(tap.read_text(errors="replace"),
                                      required_selftests(
                                          variant, (Path(out) / ".config").read_text()))
    kj = kunit_parse(s, tree_dir, console, res)
    suites, cases = kunit_requirements(variant)
    if kj is not None or suites:
        checks += verdict.kunit_checks(kj, suites, cases)
    if suites and kunittool.has_ab(tree_dir):
        checks += verdict.ab_checks(console.read_text(errors="replace"),
                                    want_calls=ab_calls or verdict.AB_DEFAULT_CALLS)
    if all_gates:
        # The standard KUnit path as well: kunit.py on UML with mm/.kunitconfig.
        kc, timings["kunit.py run --arch=um"] = kunittool.run(s, "um", tree_dir)
        checks += kc

    if all_gates:
        t = time.monotonic()
        with stage("gates: rustfmtcheck, rustdoc, checkpatch, symbols, no panic, "
                   "exports, get_maintainer, sphinx, uapi headers, upstream form"):
            checks.append(gates.rustfmt(s, tree_dir, out, files))
            checks.append(gates.rustdoc(s, tree_dir, out, files))
            q = tree.read_series(s.repo)
            checks += gates.checkpatch(s, tree_dir, [s.repo / "patches" / p for p in q.series])
            checks += gates.rust_symbols(s, out)
            checks += gates.no_panic(s, out, tree_dir)
            checks += gates.module_exports(s, out)
            checks += gates.get_maintainer(s, tree_dir, [s.repo / "patches" / p for p in q.series])
            checks += gates.sphinx(s, tree_dir, files)
            checks += gates.uapi_headers(s, tree_dir)
            checks.append(upstream.identical_tree(
                s, tree_dir, tree.git(tree_dir, "rev-parse", "HEAD")))
        timings["gates"] = time.monotonic() - t
    elif gates_on:
        t = time.monotonic()
        with stage(f"gates ({s.arch}): symbols, no panic, exports"):
            checks += gates.rust_symbols(s, out)
            checks += gates.no_panic(s, out, tree_dir)
            checks += gates.module_exports(s, out)
        timings["gates"] = time.monotonic() - t

    if norust:
        checks += gates.c_symbols(s, out, (Path(out) / ".config").read_text())

    timings["total"] = time.monotonic() - t_all
    meta = {"variant": variant, "base": source.describe(s),
            "timings_s": {k: round(v, 1) for k, v in timings.items()},
            "console": str(console), "kselftest_tap": str(tap)}
    (res / "results.json").write_text(verdict.to_json(checks, meta))
    print()
    for k, v in timings.items():
        log(f"    time: {k}: {fmt_secs(v)}")
    print(verdict.summary(checks, f"make check VARIANT={variant} ARCH={s.arch}  "
                          f"(console: {console}, JSON: {res / 'results.json'})"))
    _, failed, _ = verdict.counts(checks)
    return 1 if failed else 0


def demo(s):
    """`make`: build the series kernel, boot it, run the demo program."""
    toolchain.ensure(s)
    pristine = source.pristine(s)
    with stage(f"tree: sync {s.variant} with patches/"):
        tree_dir = tree.sync(s, s.variant, pristine, source.describe(s))
    out, _ = build.build_kernel(s, s.variant, tree_dir, "test")
    tools = guest.build_guest_tools(s, out)
    job = """echo "RFL: demo"
/rfl/bin/populate_demo > /dev/console 2>&1
"""
    res = s.results()
    checks, secs, console, tap = boot_and_judge(
        s, s.variant, tree_dir, out, job, [(tools, "/rfl/bin")], timeout=600,
        title="demo")
    text = console.read_text(errors="replace")
    print("\n---- guest console (demo) ----")
    inside = False
    for line in text.splitlines():
        if "MADV_POPULATE demo on" in line:
            inside = True
        if inside:
            print(line)
        if "MADV_POPULATE demo:" in line:
            inside = False
    print("------------------------------")
    ok = "all results as expected" in text and all(c.status != "fail" for c in checks)
    log(f"demo {'passed' if ok else 'FAILED'}; full console: {console}")
    return 0 if ok else 1
