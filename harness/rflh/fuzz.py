"""`make fuzz`: differential fuzzing of MADV_POPULATE, reference (C v7.3)
against series (Rust), on the debug kernels; and the recorded reference
traces that `make check` compares the series against."""

import gzip
import re
import time
from pathlib import Path

from . import build, check, guest, source, toolchain, tree, verdict
from .util import die, fmt_secs, log, stage

def expected(s):
    """The recorded C v7.3 traces of s.arch (fuzz/expected.trace.gz for x86_64)."""
    return "fuzz/expected.trace.gz" if s.arch == "x86_64" else f"fuzz/expected-{s.arch}.trace.gz"
CHECK_SEEDS = (1, 2, 3, 4)
CHECK_NOPS = 1500
HEADER = re.compile(r"^seed (\d+) nops (\d+)")


def job(seeds, nops):
    return f"""set -u
echo 4 > /proc/sys/vm/nr_hugepages
echo "RFL: fuzzing seeds {seeds[0]}..{seeds[-1]} ({len(seeds)} seeds), {nops} ops each"
for s in {' '.join(map(str, seeds))}; do
    /rfl/bin/populate_fuzz $s {nops} > /dev/rfl-aux || echo "RFL: populate_fuzz $s failed: $?"
done
echo "RFL: fuzz done"
exit 0
"""


def split(text):
    """{seed: [lines]} from a concatenated trace."""
    out, cur = {}, None
    for line in text.splitlines():
        m = HEADER.match(line)
        if m:
            cur = int(m.group(1))
            out[cur] = []
        if cur is not None:
            out[cur].append(line)
            if line.startswith("done "):
                cur = None   # whatever follows on the channel is not this seed's
    return out


def compare(ref, ser):
    """Compare {seed: lines}; return (ops compared, [divergences])."""
    divs, ops = [], 0
    for seed in sorted(ref):
        a, b = ref[seed], ser.get(seed)
        if b is None:
            divs.append({"seed": seed, "op": None, "reference": "(trace)",
                         "series": "(missing)"})
            continue
        for n, (x, y) in enumerate(zip(a, b)):
            if x != y:
                op = x.split(" ", 1)[0]
                divs.append({"seed": seed, "line": n, "op": op, "reference": x, "series": y,
                             "repro": f"populate_fuzz {seed} {int(op) + 1 if op.isdigit() else '?'}"})
                break
        else:
            if len(a) != len(b):
                divs.append({"seed": seed, "line": min(len(a), len(b)), "op": None,
                             "reference": f"{len(a)} lines", "series": f"{len(b)} lines"})
        ops += sum(1 for l in a if l[:1].isdigit() and " child " not in l)
    return ops, divs


def run_kernel(s, variant, seeds, nops, timeout):
    pristine = source.pristine(s)
    t = tree.sync(s, variant, pristine, source.describe(s))
    out, _ = build.build_kernel(s, variant, t, "test")
    tools = guest.build_guest_tools(s, out)
    res = s.build / ("fuzz" if s.arch == "x86_64" else f"fuzz-{s.arch}") / variant
    res.mkdir(parents=True, exist_ok=True)
    initrd = res / "initramfs.cpio"
    guest.make_initramfs(s, t, out, job(seeds, nops), initrd, [(tools, "/rfl/bin")])
    with stage(f"fuzz: {variant}, {len(seeds)} seeds x {nops} ops"):
        secs, to = guest.boot(s, out / s.a.image, initrd, res / "console.log",
                              res / "out.tap", timeout, append="transparent_hugepage=never",
                              progress=lambda l: l.startswith("RFL"), label=f"fuzz {variant}")
    checks = verdict.scan_console((res / "console.log").read_text(errors="replace"), to)
    trace = (res / "out.aux").read_text(errors="replace")
    return split(trace), checks, secs


def run(s, seeds, nops, record=False):
    toolchain.ensure(s)
    t0 = time.monotonic()
    ref, rchecks, rsecs = run_kernel(s, "reference", seeds, nops, 3600)
    ser, schecks, ssecs = run_kernel(s, "series", seeds, nops, 3600)
    ops, divs = compare(ref, ser)
    checks = [verdict.Check(c.group, f"reference: {c.name}", c.status, c.detail) for c in rchecks]
    checks += [verdict.Check(c.group, f"series: {c.name}", c.status, c.detail) for c in schecks]
    missing = [sd for sd in seeds if sd not in ref or not ref[sd][-1].startswith("done")]
    checks.append(verdict.Check("fuzz", f"every seed ran to the end on reference ({len(seeds)})",
                                "fail" if missing else "ok", f"missing/incomplete: {missing[:5]}"))
    checks.append(verdict.Check("fuzz", f"{ops} operations, {len(seeds)} seeds: no divergence",
                                "fail" if divs else "ok",
                                "; ".join(f"seed {d['seed']} line {d.get('line')}: C `{d['reference']}` "
                                          f"vs Rust `{d['series']}` (repro: {d.get('repro')})"
                                          for d in divs[:3])))
    if record:
        p = s.repo / expected(s)
        p.parent.mkdir(parents=True, exist_ok=True)
        body = "\n".join("\n".join(ref[sd]) for sd in sorted(ref)) + "\n"
        with gzip.open(p, "wt") as f:
            f.write(body)
        log(f"recorded the reference traces of seeds {seeds} in {p}")
    print(verdict.summary(checks, f"make fuzz: {ops} ops per kernel; reference {fmt_secs(rsecs)}, "
                          f"series {fmt_secs(ssecs)}, total {fmt_secs(time.monotonic() - t0)}"))
    return 1 if verdict.counts(checks)[1] else 0


def fuzz_job_for_check():
    return "\n".join(f"/rfl/bin/populate_fuzz {sd} {CHECK_NOPS} > /dev/rfl-aux"
                     for sd in CHECK_SEEDS)


def check_against_expected(s, aux_text):
    """The short fixed-seed run of `make check`, against reference traces."""
    p = s.repo / expected(s)
    if not p.exists():
        return verdict.Check("fuzz", "fixed-seed run vs recorded reference traces", "fail",
                             f"{expected(s)} is missing: run 'make fuzz-record ARCH={s.arch}'")
    with gzip.open(p, "rt") as f:
        ref = split(f.read())
    ser = split(aux_text)
    ops, divs = compare({k: v for k, v in ref.items() if k in CHECK_SEEDS}, ser)
    return verdict.Check("fuzz", f"{ops} fuzz operations (seeds {CHECK_SEEDS[0]}-{CHECK_SEEDS[-1]}) "
                         "match the recorded C v7.3 traces",
                         "fail" if divs or not ops else "ok",
                         "; ".join(f"seed {d['seed']}: C `{d['reference']}` vs `{d['series']}`"
                                   for d in divs[:2]))


def record(s):
    """Record the reference (C v7.3) traces that `make check` compares with."""
    toolchain.ensure(s)
    ref, checks, secs = run_kernel(s, "reference", CHECK_SEEDS, CHECK_NOPS, 1800)
    bad = [c for c in checks if c.status == "fail"]
    if bad or any(not ref.get(sd) or not ref[sd][-1].startswith("done") for sd in CHECK_SEEDS):
        die(f"the reference fuzz run was not clean: {bad[:2]}; see {s.build / 'fuzz'}")
    p = s.repo / expected(s)
    p.parent.mkdir(parents=True, exist_ok=True)
    body = "\n".join("\n".join(ref[sd]) for sd in sorted(ref)) + "\n"
    with gzip.open(p, "wt", compresslevel=9) as f:
        f.write(body)
    n = sum(len(v) for v in ref.values())
    log(f"recorded {n} trace lines of seeds {CHECK_SEEDS} x {CHECK_NOPS} ops "
        f"from the reference kernel in {p} ({fmt_secs(secs)})")
    return 0
