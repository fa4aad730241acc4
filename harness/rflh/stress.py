"""Stress and fault tests (guest/populate_stress.c): one line per test;
`make stress` runs them on reference and series and compares outcomes,
`make check` runs them on the variant under test."""

import os
import re
import time

from . import build, guest, source, toolchain, tree, verdict
from .util import die, fmt_secs, stage

LINE = re.compile(r"^STRESS (\S+) (ok|FAIL|SKIP) (?:secs=([\d.]+) )?(.*)$")

TESTS = ("race_munmap_mprotect_mremap", "uffd_slow_handler", "sigkill", "memcg_max",
         "hugetlb_exhausted", "truncate_under_populate", "hwpoison", "fail_page_alloc",
         "yield_writers", "io_uring_madvise", "leak_check")
# Outcomes that carry figures (what stayed charged): judged on each kernel,
# never compared between kernels.
NOT_COMPARED = ("leak_check",)
# Where the arch's config cannot have the feature, the test may SKIP;
# everywhere else a SKIP fails the run.
MAY_SKIP_OFF_X86 = ("hwpoison",)


def job(scale=1):
    """The guest job: populate_stress at a load scale (STRESS_SCALE)."""
    return f"""set -u
echo "RFL: populate_stress (load scale {scale})"
/rfl/bin/populate_stress -s {scale} > /dev/rfl-aux 2>/dev/console
echo "RFL: populate_stress exit $?"
exit 0
"""


def scale_from_env():
    v = os.environ.get("STRESS_SCALE", "") or "1"
    if not v.isdigit() or not 1 <= int(v) <= 16:
        die(f"STRESS_SCALE={v!r}: give a load scale from 1 to 16 (4 runs every "
            "stress test with four times the load)")
    return int(v)


def parse(text):
    out = {}
    for line in text.splitlines():
        m = LINE.match(line.strip())
        if m:
            out[m.group(1)] = {"status": m.group(2), "secs": float(m.group(3) or 0),
                               "outcome": m.group(4).strip()}
    return out


def checks_from(text, expect=TESTS, skips_ok=()):
    """One check per expected test. A SKIP fails unless the test is in
    skips_ok; a line the runner printed for itself (runner FAIL) fails."""
    res = parse(text)
    cs = []
    for name in expect:
        r = res.get(name)
        if not r:
            cs.append(verdict.Check("stress", name, "fail", "did not report (crash or hang?)"))
            continue
        st = {"ok": "ok", "FAIL": "fail", "SKIP": "skip"}[r["status"]]
        detail = r["outcome"]
        if st == "skip" and name not in skips_ok:
            st, detail = "fail", f"required stress test skipped: {detail}"
        cs.append(verdict.Check("stress", f"{name} ({r['secs']:.1f}s)", st, detail))
    for name, r in res.items():
        if name not in expect:
            cs.append(verdict.Check("stress", name, "ok" if r["status"] == "ok" else "fail",
                                    r["outcome"]))
    return cs


def run(s):
    """Run on both debug kernels; outcomes must match line for line."""
    toolchain.ensure(s)
    pristine = source.pristine(s)
    results, checks = {}, []
    scale = scale_from_env()
    skips_ok = () if s.arch == "x86_64" else MAY_SKIP_OFF_X86
    t0 = time.monotonic()
    for k in ("reference", "series"):
        t = tree.sync(s, k, pristine, source.describe(s))
        out, _ = build.build_kernel(s, k, t, "test")
        tools = guest.build_guest_tools(s, out)
        res = s.build / ("stress" if s.arch == "x86_64" else f"stress-{s.arch}") / k
        res.mkdir(parents=True, exist_ok=True)
        guest.make_initramfs(s, t, out, job(scale), res / "initramfs.cpio",
                             [(tools, "/rfl/bin")])
        with stage(f"stress: {k} (load scale {scale})"):
            secs, to = guest.boot(s, out / s.a.image, res / "initramfs.cpio",
                                  res / "console.log", res / "out.tap", 900 * scale,
                                  progress=lambda l: l.startswith("RFL"), label=f"stress {k}")
        text = (res / "out.aux").read_text(errors="replace")
        results[k] = parse(text)
        checks += [verdict.Check(c.group, f"{k}: {c.name}", c.status, c.detail)
                   for c in checks_from(text, skips_ok=skips_ok)]
        checks += [verdict.Check(c.group, f"{k}: {c.name}", c.status, c.detail)
                   for c in verdict.scan_console((res / "console.log").read_text(errors="replace"), to)]
    for name, r in results["reference"].items():
        if name in NOT_COMPARED:
            continue
        o = results["series"].get(name, {}).get("outcome")
        checks.append(verdict.Check("stress", f"{name}: series outcome equals reference",
                                    "ok" if o == r["outcome"] else "fail",
                                    "" if o == r["outcome"] else f"C: {r['outcome']} / Rust: {o}"))
    print(verdict.summary(checks, f"make stress, load scale {scale} "
                                  f"({fmt_secs(time.monotonic() - t0)})"))
    return 1 if verdict.counts(checks)[1] else 0
