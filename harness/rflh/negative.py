"""`make negative`: prove that the verdict catches broken runs, on real
boots of the debug kernel: a kernel WARNING (provoked with LKDTM), a guest
that never prints the sentinel (hangs until the host-side timeout), a
required selftest that SKIPs (the base variant, without the series), and
the "broken" kernel, the series plus the test-only harness/negative/*.patch:
it leaks a page in every populate, which populate_stress's leak check must
fail, and its populate ignores a pending SIGKILL, which populate_stress
sigkill and madv_populate_extra's fatal_signal_during_long_populate must
fail."""

import json

from . import build, check, guest, source, stress, toolchain, tree
from .util import die, log, stage

ALL = ("warning", "hang", "skip", "leak", "sigkill")

# The leak control runs the stress tests that populate most often.
LEAK_TESTS = "yield_writers race_munmap_mprotect_mremap"

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
    if "leak" in only:
        results.append(leak_case(s, pristine))
    if "sigkill" in only:
        results.append(sigkill_case(s, pristine))
    return summarize(results)


def broken_kernel(s, pristine):
    """The series plus harness/negative/*.patch, built once for both cases."""
    t = tree.sync(s, "broken", pristine, source.describe(s))
    out, _ = build.build_kernel(s, "broken", t, "test")
    return t, out


# The SIGKILL control: populate_stress's sigkill test, then the selftest case
# in a cgroup whose memory.max sizes its memfd to about 300 MiB, so that the
# whole populate fits in the harness's 30 s per-test timeout on the debug
# kernel (KASAN): the case must fail on its own check, not on the timeout.
SIGKILL_JOB = """set -u
echo 'RFL: populate_stress sigkill on the broken kernel'
/rfl/bin/populate_stress sigkill > /dev/rfl-aux 2>/dev/console
echo "RFL: populate_stress exit $?"
echo +memory > /sys/fs/cgroup/cgroup.subtree_control
mkdir -p /sys/fs/cgroup/neg && echo 640M > /sys/fs/cgroup/neg/memory.max
echo $$ > /sys/fs/cgroup/neg/cgroup.procs
echo 'RFL: madv_populate_extra -t fatal_signal_during_long_populate'
cd /kselftest/mm && ./madv_populate_extra -t fatal_signal_during_long_populate \
    > /dev/console 2>&1
echo "RFL: madv_populate_extra exit $?"
exit 0
"""


def sigkill_case(s, pristine):
    """Boot the broken kernel: both SIGKILL checks must fail, and say why."""
    name = "populate ignores a pending SIGKILL (harness/negative/*.patch)"
    t, out = broken_kernel(s, pristine)
    inst = guest.build_selftests(s, t, out)
    tools = guest.build_guest_tools(s, out)
    with stage(f"negative control: {name}"):
        checks, _, console, tap = check.boot_and_judge(
            s, "broken", t, out, SIGKILL_JOB, [(inst, "/kselftest"), (tools, "/rfl/bin")],
            timeout=900, title=name)
        aux = tap.with_suffix(".aux").read_text(errors="replace")
        text = console.read_text(errors="replace")
        sc = [c for c in stress.checks_from(aux, expect=("sigkill",))
              if c.name.startswith("sigkill")]
        for c in sc:
            log(f"    {c.status:4} [{c.group}] {c.name}: {c.detail}")
        # populate_stress: the long populate must be seen running to the end
        # (its uffd half may also hang: the same checks guard that retry).
        stress_caught = any(c.status == "fail" and "IGNORED_SIGKILL" in c.detail for c in sc)
        # The selftest must say "not ok", for one of its two reasons: the
        # file full when the child died (EXPECT_LT(done, pages), "SIGKILL
        # ignored"), or the child still alive 10 s after SIGKILL.
        why = ("SIGKILL ignored" if "SIGKILL ignored" in text else
               "child alive 10 s after SIGKILL" if "Expected status (-1) != -1" in text else "")
        self_caught = bool(why) and \
            "not ok 1 global.fatal_signal_during_long_populate" in text
        log(f"    populate_stress sigkill: {'caught (IGNORED_SIGKILL)' if stress_caught else 'MISSED'}")
        log(f"    madv_populate_extra fatal_signal_during_long_populate: "
            f"{'caught (' + why + ', not ok)' if self_caught else 'MISSED'}")
    return name, stress_caught and self_caught, console


def leak_case(s, pristine):
    """Boot the leaky kernel with a short populate_stress run: the leak
    check, and only it, must fail."""
    name = "a page leaked in every populate (harness/negative/*.patch)"
    t, out = broken_kernel(s, pristine)
    tools = guest.build_guest_tools(s, out)
    job = ("echo 'RFL: populate_stress on the leaking kernel'\n"
           f"/rfl/bin/populate_stress {LEAK_TESTS} > /dev/rfl-aux 2>/dev/console\n"
           "echo \"RFL: populate_stress exit $?\"\nexit 0\n")
    with stage(f"negative control: {name}"):
        checks, _, console, tap = check.boot_and_judge(
            s, "broken", t, out, job, [(tools, "/rfl/bin")], timeout=900, title=name)
        aux = tap.with_suffix(".aux").read_text(errors="replace")
        sc = stress.checks_from(aux, expect=tuple(LEAK_TESTS.split()) + ("leak_check",))
        for c in sc:
            log(f"    {c.status:4} [{c.group}] {c.name}: {c.detail}")
        leak = [c for c in sc if c.name.startswith("leak_check") and c.status == "fail"]
        others = [c for c in sc + checks if c.status == "fail" and c not in leak]
        for c in others:
            log(f"    unexpected: FAIL [{c.group}] {c.name}: {c.detail}")
    return name, bool(leak) and not others, console


def summarize(results):
    print("\n==== negative controls (each must be caught)")
    for name, ok, where in results:
        print(f"  {'caught' if ok else 'MISSED'}: {name} ({where})")
    n_ok = sum(ok for _, ok, _ in results)
    print(f"{n_ok} passed, {len(results) - n_ok} failed, 0 skipped")
    return 0 if n_ok == len(results) else 1
