"""`make negative`: prove that the verdict catches broken runs, on real
boots of the debug kernel: a kernel WARNING (provoked with LKDTM), a guest
that never prints the sentinel (hangs until the host-side timeout), and a
required selftest that SKIPs (the base variant, without the series)."""

import json

from . import build, check, source, toolchain, tree
from .util import die, log, stage

ALL = ("warning", "hang", "skip")

# (key, name, guest job, timeout, which failed checks prove the case caught)
BOOT_CASES = (
    ("warning", "kernel WARNING (LKDTM WARNING)",
     "echo WARNING > /sys/kernel/debug/provoke-crash/DIRECT\nexit 0\n", 300,
     # The splat itself must be what failed the run, not any other report.
     lambda c: c.group == "console" and "WARNING:" in c.detail),
    ("hang", "guest never prints the sentinel (hangs; 90 s timeout)",
     "echo 'RFL: hanging on purpose'\nsleep 100000\n", 90,
     lambda c: c.group == "console" and c.name in
     ("sentinel", "guest finished before the timeout")),
)


def run(s, only=ALL):
    """only: the cases to run (NEGATIVE="warning hang skip" by default)."""
    bad = [c for c in only if c not in ALL]
    if bad:
        die(f"NEGATIVE: unknown case(s) {' '.join(bad)}; choose from {' '.join(ALL)}")
    toolchain.ensure(s)
    pristine = source.pristine(s)
    results = []
    t = tree.sync(s, "series", pristine, source.describe(s))
    out, _ = build.build_kernel(s, "series", t, "test")

    for key, name, job, timeout, proves in BOOT_CASES:
        if key not in only:
            continue
        with stage(f"negative control: {name}"):
            checks, _, console, _ = check.boot_and_judge(
                s, "series", t, out, job, [], timeout=timeout, title=name)
            hit = [c for c in checks if c.status == "fail" and proves(c)]
            for c in hit:
                log(f"    caught: FAIL [{c.group}] {c.name}: {c.detail}")
            results.append((name, bool(hit), console))

    if "skip" in only:
        # A required test that SKIPs: the base variant has no MADV_POPULATE.
        with stage("negative control: required selftest SKIP (VARIANT=base)"):
            s.variant = "base"
            try:
                rc = check.check(s, gates_on=False)
            finally:
                s.variant = "series"
            res = s.results("base") / "results.json"
            data = json.loads(res.read_text())
            hit = [c for c in data["checks"] if c["status"] == "fail"
                   and c["name"].startswith("madv_populate") and "skip" in c["detail"]]
            for c in hit[:3]:
                log(f"    caught: FAIL [{c['group']}] {c['name']}: {c['detail']}")
            results.append(("required selftest SKIP (base variant)", rc != 0 and bool(hit), res))
    return summarize(results)


def summarize(results):
    print("\n==== negative controls (each must be caught)")
    for name, ok, where in results:
        print(f"  {'caught' if ok else 'MISSED'}: {name} ({where})")
    n_ok = sum(ok for _, ok, _ in results)
    print(f"{n_ok} passed, {len(results) - n_ok} failed, 0 skipped")
    return 0 if n_ok == len(results) else 1
