"""Turn a boot's logs into checks, a one-screen summary and JSON.

Every result is a Check: a KUnit case, a selftest case, a console rule
(sentinel, timeout, splats) or a quality gate. The run fails if any check
fails; a SKIP of a required test is a failure.
"""

import json
import re
from dataclasses import asdict, dataclass

from . import ktap

SENTINEL = re.compile(r"RFL-SENTINEL: exit=(\d+)")
# Reports that mean the kernel is unhappy, whatever the tests said.
SPLATS = [
    (re.compile(r"\bBUG: "), "BUG"),
    (re.compile(r"\bWARNING: "), "WARNING"),
    (re.compile(r"\bOops\b|general protection fault"), "Oops"),
    (re.compile(r"Kernel panic"), "panic"),
    (re.compile(r"INFO: possible (recursive|circular|irq lock)|"
                r"possible circular locking dependency|"
                r"INFO: inconsistent lock state|INFO: lockdep is turned off|"
                r"WARNING: suspicious RCU usage|BUG: sleeping function called|"
                r"DEBUG_LOCKS_WARN_ON"), "lockdep"),
    (re.compile(r"KASAN|kasan:.*report"), "KASAN"),
    (re.compile(r"UBSAN:"), "UBSAN"),
    (re.compile(r"rcu: INFO: .*stall|rcu_.*detected stall"), "RCU stall"),
    (re.compile(r"blocked for more than \d+ seconds"), "hung task"),
    (re.compile(r"soft lockup|hard LOCKUP"), "lockup"),
    (re.compile(r"VM_BUG_ON|page dumped because"), "DEBUG_VM"),
    (re.compile(r"kmemleak: \d+ new suspected memory leaks"), "kmemleak"),
]
# Lines that match a splat pattern but are not reports.
BENIGN = [
    re.compile(r"KASAN: (?:use-after-free|)?\s*$"),
    re.compile(r"kasan: KernelAddressSanitizer initialized"),
    re.compile(r"Lock dependency validator|lockdep: fixing up alternatives|"
               r"\.\.\. MAX_LOCKDEP|\.\.\. MAX_LOCK_DEPTH|per task-struct memory footprint|"
               r"\.\.\. CHAINHASH|\.\.\. CLASSHASH|\.\.\. MAX_STACK_TRACE"),
    re.compile(r"RFL: "),
]


@dataclass
class Check:
    group: str
    name: str
    status: str  # "ok", "fail", "skip"
    detail: str = ""


def scan_console(text, timed_out, expect_sentinel=True):
    """Checks for the sentinel, the timeout and kernel splats."""
    checks = []
    m = None
    for m in SENTINEL.finditer(text):
        pass
    if timed_out:
        checks.append(Check("console", "guest finished before the timeout", "fail",
                            "QEMU was killed by the host-side timeout"))
    if expect_sentinel:
        if m:
            rc = int(m.group(1))
            checks.append(Check("console", "sentinel", "ok" if rc == 0 else "fail",
                                f"guest job exit code {rc}"))
        else:
            checks.append(Check("console", "sentinel", "fail",
                                "the guest never printed RFL-SENTINEL (crash, hang "
                                "or panic before the job finished)"))
    found = {}
    for line in text.splitlines():
        if any(b.search(line) for b in BENIGN):
            continue
        for rx, kind in SPLATS:
            if rx.search(line):
                found.setdefault(kind, line.strip()[:160])
                break
    for kind, line in found.items():
        checks.append(Check("console", f"no {kind} report", "fail", line))
    if not found:
        checks.append(Check("console", "no BUG/WARNING/Oops/lockdep/KASAN/stall report", "ok"))
    return checks


@dataclass
class Required:
    """A selftest binary that must run, with rules for its cases."""
    name: str            # run_vmtests.sh name, e.g. "madv_populate"
    cases: int = None     # exact number of cases expected, if known
    skips_allowed: bool = False  # per-case SKIPs that upstream itself gives
    must_pass: str = ""  # cases whose name contains this must be ok


def selftest_checks(tap_text, required):
    """Checks from run_kselftest.sh output (see ktap.parse)."""
    checks = []
    top = ktap.parse(tap_text)
    if not top:
        return [Check("selftest", "kselftest output", "fail",
                      "no TAP results on the test channel")]
    seen = set()
    for suite in top:
        for binary in suite.children or [suite]:
            rule = next((r for r in required if binary.name == r.name), None)
            base = binary.name
            if rule:
                seen.add(rule.name)
            if not binary.children:
                st = binary.status
                detail = binary.reason
                if rule and st == "skip":
                    st, detail = "fail", f"required test skipped: {binary.reason}"
                checks.append(Check("selftest", base, st, detail))
                continue
            n = 0
            for path, case in binary.leaves():
                n += 1
                st, detail = case.status, case.reason
                if st == "skip" and rule and not rule.skips_allowed:
                    st, detail = "fail", f"required case skipped: {case.reason}"
                if st == "skip" and rule and rule.must_pass and rule.must_pass in case.name:
                    st, detail = "fail", f"populate case skipped: {case.reason}"
                checks.append(Check("selftest", path, st, detail))
            if binary.status == "fail" and not any(
                    c.status == "fail" for _, c in binary.leaves()):
                checks.append(Check("selftest", f"{base} (exit status)", "fail",
                                    binary.reason))
            if rule and rule.cases is not None and n != rule.cases:
                checks.append(Check("selftest", f"{base}: case count", "fail",
                                    f"expected {rule.cases} cases, saw {n}"))
    for r in required:
        if r.name not in seen:
            checks.append(Check("selftest", r.name, "fail",
                                "required test did not run"))
    return checks


def kunit_checks(kunit_json, required_suites=(), required_cases=()):
    """Checks from `kunit.py parse --json` output."""
    checks = []
    if not kunit_json:
        return [Check("kunit", "KUnit output", "fail", "no KTAP found in the console")]
    data = json.loads(kunit_json) if isinstance(kunit_json, str) else kunit_json
    suites = {}

    def walk(group, path):
        for case in group.get("test_cases", []):
            st = {"PASS": "ok", "SKIP": "skip"}.get(case["status"], "fail")
            suites.setdefault(path[-1] if path else "", []).append(case["name"])
            checks.append(Check("kunit", f"{'/'.join(path)}: {case['name']}", st,
                                "" if st != "fail" else case["status"]))
        for g in group.get("sub_groups", []):
            walk(g, path + [g.get("name", "?")])

    walk(data, [])
    for s in required_suites:
        if s not in suites:
            checks.append(Check("kunit", s, "fail", "required KUnit suite did not run"))
    for c in required_cases:
        hit = [x for x in checks if x.group == "kunit" and c in x.name]
        if not hit:
            checks.append(Check("kunit", c, "fail", "required KUnit case did not run"))
        for x in hit:
            if x.status == "skip":
                x.status, x.detail = "fail", "required KUnit case skipped"
    return checks


AB_LINE = re.compile(r"A/B: (\d+) seeds, (\d+) populate calls per implementation, "
                     r"(\d+) differences")
AB_NEG = re.compile(r"A/B negative control \(([^)]*)\): \d+ seeds, (\d+) populate calls per "
                    r"implementation, (\d+) differences \((\d+) in the pages only\)")
# The three controls, by the name each prints, and whether it must be seen
# in the page states alone (with equal return values).
AB_CONTROL_NAMES = {"skips the last page": False, "EFAULT as EINVAL": False,
                    "WRITE mapped read-only": True}
AB_CONTROLS = len(AB_CONTROL_NAMES)
AB_CASES = 2                   # the comparison runs as two KUnit cases
AB_DEFAULT_CALLS = 10000


def ab_checks(log_text, group="kunit", want_calls=AB_DEFAULT_CALLS):
    """Checks from the A/B cases' own lines in a kernel log (mm/populate.rs):
    C and Rust populate on identical mappings must not differ, over at least
    @want_calls calls, and each negative control must see differences."""
    text = log_text or ""
    m = AB_LINE.findall(text)
    if not m:
        return [Check(group, "A/B C vs Rust", "fail", "no A/B line in the kernel log")]
    # The comparison runs as two KUnit cases, one line each; count both.
    seeds, calls, diffs = (sum(int(x[i]) for x in m) for i in range(3))
    why = []
    if calls < want_calls:
        why.append(f"wanted {want_calls} calls")
    if len(m) != AB_CASES:
        why.append(f"{len(m)} A/B lines, one per case wanted ({AB_CASES})")
    ok = diffs == 0 and not why
    checks = [Check(group, "A/B C vs Rust", "ok" if ok else "fail",
                    f"{calls} populate calls per implementation, {seeds} seeds, "
                    f"{diffs} differences" + (f" ({'; '.join(why)})" if why else ""))]
    neg = {}
    for name, n, d, pages in AB_NEG.findall(text):
        neg.setdefault(name, []).append((n, d, pages))
    for name, by_pages in AB_CONTROL_NAMES.items():
        seen = neg.get(name, [])
        if len(seen) != 1:
            checks.append(Check(group, f"A/B negative control: {name}", "fail",
                                f"{len(seen)} lines for it in the kernel log, one wanted"))
            continue
        n, d, pages = seen[0]
        ok = int(d) > 0 and (int(pages) > 0 or not by_pages)
        checks.append(Check(group, f"A/B negative control: {name}", "ok" if ok else "fail",
                            f"{d} differences ({pages} in the pages only) in {n} calls"
                            + ("" if int(d) else ": the comparison saw nothing")
                            + (": none in the page states alone"
                               if int(d) and by_pages and not int(pages) else "")))
    for name in neg.keys() - AB_CONTROL_NAMES.keys():
        checks.append(Check(group, f"A/B negative control: {name}", "fail",
                            "a control the harness does not know: update AB_CONTROL_NAMES"))
    return checks


def counts(checks):
    p = sum(c.status == "ok" for c in checks)
    f = sum(c.status == "fail" for c in checks)
    s = sum(c.status == "skip" for c in checks)
    return p, f, s


def summary(checks, title, max_lines=40):
    """A one-screen summary: per-group counts, the A/B cases' figures,
    every failure, then the closing 'N passed, N failed, N skipped' line."""
    out = [f"==== {title}"]
    groups = {}
    for c in checks:
        groups.setdefault(c.group, []).append(c)
    for g, cs in groups.items():
        p, f, s = counts(cs)
        out.append(f"  {g:9} {p:4} passed {f:4} failed {s:4} skipped")
    # What the A/B cases compared is a figure, not just a pass: show it.
    for c in checks:
        if c.name.startswith("A/B") and c.status == "ok":
            out.append(f"  [{c.group}] {c.name}: {c.detail}")
    fails = [c for c in checks if c.status == "fail"]
    skips = [c for c in checks if c.status == "skip"]
    if fails:
        out.append("  failures:")
        for c in fails[:max_lines]:
            out.append(f"    FAIL [{c.group}] {c.name}" + (f": {c.detail}" if c.detail else ""))
        if len(fails) > max_lines:
            out.append(f"    ... and {len(fails) - max_lines} more (see the JSON)")
    if skips:
        out.append(f"  skipped (allowed): " + ", ".join(c.name for c in skips[:8])
                   + (" ..." if len(skips) > 8 else ""))
    p, f, s = counts(checks)
    out.append(f"{p} passed, {f} failed, {s} skipped")
    return "\n".join(out)


def to_json(checks, meta):
    p, f, s = counts(checks)
    return json.dumps({"meta": meta, "passed": p, "failed": f, "skipped": s,
                       "checks": [asdict(c) for c in checks]}, indent=1)
