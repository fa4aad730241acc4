"""`make matrix`: the series on every architecture that builds Rust.

For each architecture of MATRIX (or MATRIX_ARCHES="a b"): configure the
series' test config for it (configs/arch/<arch>.config; KASAN off, see
matrix.config), build the kernel with Rust, check that CONFIG_RUST and
CONFIG_MADVISE_POPULATE_RUST survived, count warnings in the series' files,
run headers_install and check the uapi values, and, where QEMU can boot it
with a Debian user space, boot it and run the upstream madv_populate
selftest, the series' madv_populate_extra and the populate KUnit suite. UML, and loongarch (no Debian
user space for it), run the KUnit suite through kunit.py. A failed
selftest case is compared with unmodified v7.3 on the same arch.
One table at the end, in build/matrix/matrix.md (docs/matrix.md holds a
measured copy with its context).
"""

import json
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from . import build, gates, guest, kconfig, kunittool, ktap, source, toolchain, tree, verdict
from .util import Settings, die, fmt_secs, in_root, log, stage

MATRIX = ("riscv64", "arm", "loongarch64", "s390x", "um")
# Not in the default run (MATRIX_ARCHES="arm64-64k"): arm64 with 64 KiB
# pages, where page-size assumptions in arch-neutral code would show.
EXTRA = ("arm64-64k",)


@dataclass
class Row:
    arch: str
    build: str = "-"
    warnings: str = "-"
    uapi: str = "-"
    boot: str = "-"
    madv_populate: str = "-"
    madv_populate_extra: str = "-"
    kunit: str = "-"
    minutes: float = 0.0
    note: str = ""
    blocked: bool = False  # cannot be built here for a stated reason (toolchain)
    # Only when a selftest case fails: unmodified v7.3 on the same arch.
    reference: str = "-"
    same_as_reference: bool = False
    # Failed checks outside the cells: console splats, other KUnit tests.
    other_failures: int = 0


JOB = """set -u
echo "RFL: madv_populate"
/kselftest/mm/madv_populate > /dev/rfl-tap 2>&1
echo "RFL: madv_populate exit $?"
echo "RFL: madv_populate_extra"
/kselftest/mm/madv_populate_extra > /dev/rfl-aux 2>&1
echo "RFL: madv_populate_extra exit $?"
exit 0
"""


def rustc_minimum(s, tree_dir, a):
    r = in_root(s, f"cd {tree_dir} && SRCARCH={a.linux_arch} ARCH={a.linux_arch} "
                "scripts/min-tool-version.sh rustc; rustc --version",
                check=False, capture_output=True, text=True)
    lines = r.stdout.split()
    return (lines[0] if lines else "?"), (lines[2] if len(lines) > 2 else "?")


def version_tuple(v):
    return tuple(int(x) for x in re.findall(r"\d+", v)[:3])


def one(s0, name, tree_dir):
    s = Settings(**{**s0.__dict__, "arch": name})
    a = s.a
    row = Row(name)
    t0 = time.monotonic()
    try:
        need, have = rustc_minimum(s, tree_dir, a)
        if a.rust_note or version_tuple(have) < version_tuple(need):
            row.build = "no"
            row.blocked = True
            row.note = a.rust_note or f"rustc {need} required, {have} installed"
            return row
        if name == "um":
            checks, secs = kunittool.run(s, a.kunit_arch, tree_dir)
            row.build = "yes" if verdict.counts(checks)[0] else "no"
            kunit_cells(row, checks)
            row.boot = "kunit.py"
            row.note = "UML: built and run by kunit.py --arch=um"
        else:
            guest.ensure_cross(s)
            out, _ = build.build_kernel(s, "series", tree_dir, "matrix")
            cfg = kconfig.parse((out / ".config").read_text())
            if cfg.get("CONFIG_RUST") != "y" or cfg.get("CONFIG_MADVISE_POPULATE_RUST") != "y":
                row.build = "no"
                row.note = "CONFIG_RUST or CONFIG_MADVISE_POPULATE_RUST did not survive olddefconfig"
                return row
            row.build = "yes"
            files = gates.series_files(tree_dir)
            warns = gates.new_code_warnings(s.results("series") / "build-matrix.log", files)
            row.warnings = str(len(warns))
            if warns:
                row.note = warns[0][:120]
        hdr = s.cache / "v" / "series" / f"hdr-{name}"
        r = in_root(s, f"make -s -C {tree_dir} O={hdr} ARCH={a.linux_arch} headers_install "
                    f"INSTALL_HDR_PATH={hdr}/usr >/dev/null 2>&1 && "
                    f"grep -h 'MADV_POPULATE_' {hdr}/usr/include/asm-generic/mman-common.h "
                    f"{hdr}/usr/include/asm/mman.h 2>/dev/null", check=False,
                    capture_output=True, text=True)
        ok = r.returncode == 0 and re.search(r"MADV_POPULATE_READ\s+22", r.stdout) and \
            re.search(r"MADV_POPULATE_WRITE\s+23", r.stdout)
        row.uapi = "22/23" if ok else "FAIL"
        if name == "um" or row.build != "yes":
            return row
        if not a.qemu:
            row.note = (row.note + "; " if row.note else "") + a.boot_note
            if not a.kunit_arch:
                row.boot = "n/a"
                return row
            # No user space of ours, but kunit.py's QEMU config boots it.
            checks, _ = kunittool.run(s, a.kunit_arch, tree_dir)
            row.boot = "kunit.py" if checks and not any(
                c.name == "kunit.py run exit status" for c in checks) else "no"
            row.madv_populate = row.madv_populate_extra = "n/a"
            kunit_cells(row, checks)
            return row
        res = s.results("series") / "matrix"
        console, leaves, to = boot_madv_populate(s, tree_dir, out, res)
        cons = verdict.scan_console(console, to)
        row.boot = "yes" if not to and "RFL-SENTINEL" in console else "no"
        bad = [c for c in cons if c.status == "fail"]
        row.other_failures += len(bad)
        if bad:
            row.note = (row.note + "; " if row.note else "") + f"{bad[0].name}: {bad[0].detail}"[:120]
        row.madv_populate = ratio(leaves["madv_populate"])
        row.madv_populate_extra = ratio(leaves["madv_populate_extra"])
        if row.boot == "yes" and not (complete(row.madv_populate)
                                      and complete(row.madv_populate_extra)):
            # The oracle: does unmodified v7.3 fail the same cases here?
            compare_with_reference(s, row, leaves, out / "kselftest-install")
        js = res / "kunit.json"
        in_root(s, f"python3 {tree_dir}/tools/testing/kunit/kunit.py parse --json={js} "
                f"{res / 'console.log'} > /dev/null 2>&1", check=False)
        kc = verdict.kunit_checks(js.read_text() if js.exists() else None,
                                  kunittool.SUITES, kunittool.DOCTESTS)
        if kunittool.has_ab(tree_dir):
            kc += verdict.ab_checks((res / "console.log").read_text(errors="replace"))
        kunit_cells(row, kc)
        return row
    except Exception as e:  # one architecture's failure must not hide the others
        # The first lines of the error name what failed (the dropped options).
        msg = "; ".join(l.strip() for l in str(e).splitlines()[:4] if l.strip())
        row.note = (row.note + "; " if row.note else "") + msg[:400]
        if row.build == "-":
            row.build = "no"
        return row
    finally:
        row.minutes = round((time.monotonic() - t0) / 60, 1)


def ours(c):
    """A KUnit check of the series: the populate suite or the doctests of
    kernel::mm::faultin and kernel::mm."""
    return ("madvise_populate" in c.name or "mm_faultin" in c.name or "mm_rs" in c.name
            or c.name.startswith("A/B"))


def kunit_cells(row, checks):
    """The KUnit cell counts the series' cases only, on every row, however
    they ran; any other failed check (another test, a splat in the kernel
    log, kunit.py's exit status) fails the row and is named in the note."""
    mine = [c for c in checks if ours(c)]
    row.kunit = f"{sum(c.status == 'ok' for c in mine)}/{len(mine)}"
    other = [c for c in checks if not ours(c) and c.status == "fail"]
    row.other_failures += len(other)
    if other:
        row.note = (row.note + "; " if row.note else "") + (
            f"{len(other)} other failed: {other[0].name}: {other[0].detail}")[:200]


def boot_madv_populate(s, tree_dir, out, res, inst=None):
    """Boot `out`'s kernel with the tree's mm selftests and run madv_populate
    and madv_populate_extra (the tree's own, or the installed selftests
    `inst`); return (console text, {test: KTAP leaves [(name, Case)]},
    timed out)."""
    a = s.a
    inst = inst or guest.build_selftests(s, tree_dir, out)
    res.mkdir(parents=True, exist_ok=True)
    initrd = res / "initramfs.cpio"
    guest.make_initramfs(s, tree_dir, out, JOB, initrd, [(inst, "/kselftest")])
    with stage(f"matrix: boot {a.name} (QEMU TCG)"):
        secs, to = guest.boot(s, out / a.image, initrd, res / "console.log",
                              res / "madv_populate.tap", 1800, mem=a.memory,
                              progress=lambda l: l.startswith("RFL") or " ok " in l,
                              label=f"matrix {a.name}")
    console = (res / "console.log").read_text(errors="replace")
    leaves = {}
    for test, f in (("madv_populate", "madv_populate.tap"), ("madv_populate_extra", "madv_populate.aux")):
        top = ktap.parse((res / f).read_text(errors="replace"))
        leaves[test] = [lc for t in top for lc in t.leaves()]
    return console, leaves, to


def ratio(leaves):
    return f"{sum(c.status == 'ok' for _, c in leaves)}/{len(leaves)}"


def outcomes(leaves):
    return {n: c.status for n, c in leaves}


def same_outcomes(series, reference):
    """Whether both kernels ran every test and gave every case the same
    outcome."""
    return all(reference.get(test) and outcomes(reference[test]) == outcomes(leaves)
               for test, leaves in series.items())


def compare_with_reference(s, row, leaves, inst):
    """Build and boot unmodified v7.3 (the `reference` variant, same matrix
    config) on this architecture and run the same selftest binaries there:
    the series' (v7.3 has no madv_populate_extra, but has the feature it
    tests). The row passes only if every case has the same outcome on both
    kernels."""
    pristine = source.pristine(s)
    with stage("tree: sync reference with patches/"):
        ref_tree = tree.sync(s, "reference", pristine, source.describe(s))
    out, _ = build.build_kernel(s, "reference", ref_tree, "matrix")
    console, ref, to = boot_madv_populate(s, ref_tree, out, s.results("reference") / "matrix",
                                          inst)
    row.reference = (ratio(ref["madv_populate"]) if not to and "RFL-SENTINEL" in console
                     else "no boot")
    row.same_as_reference = row.reference != "no boot" and same_outcomes(leaves, ref)
    diff = sorted(n for test in leaves.values() for n, st in outcomes(test).items() if st != "ok")
    row.note = (row.note + "; " if row.note else "") + (
        f"C v7.3 here: {row.reference}, "
        + ("same outcome in every case" if row.same_as_reference else "outcomes differ")
        + f" (not ok: {', '.join(diff)})")[:400]


def table(rows):
    lines = ["| arch | build (Rust, MADVISE_POPULATE_RUST=y) | warnings in series files | "
             "uapi 22/23 | boot | madv_populate ok/total | madv_populate_extra ok/total | "
             "KUnit ok/total | minutes | note |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        mp = r.madv_populate + (f" (C v7.3: {r.reference})" if r.reference != "-" else "")
        lines.append(f"| {r.arch} | {r.build} | {r.warnings} | {r.uapi} | {r.boot} | "
                     f"{mp} | {r.madv_populate_extra} | {r.kunit} | {r.minutes} | {r.note} |")
    return "\n".join(lines)


def run(s, arches=MATRIX):
    toolchain.ensure(s)
    pristine = source.pristine(s)
    with stage("tree: sync series with patches/"):
        tree_dir = tree.sync(s, "series", pristine, source.describe(s))
    rows = []
    for name in arches:
        with stage(f"matrix: {name}"):
            rows.append(one(s, name, tree_dir))
            log(f"    {asdict(rows[-1])}")
    md = table(rows)
    out = s.build / "matrix"
    out.mkdir(parents=True, exist_ok=True)
    (out / "matrix.md").write_text(md + "\n")
    (out / "matrix.json").write_text(json.dumps([asdict(r) for r in rows], indent=1))
    print(md)
    log(f"matrix: {out / 'matrix.md'}")
    return 1 if failures(rows) else 0


def failures(rows):
    """The rows that fail the matrix. A build that fails without a stated
    reason is a failure, not a row to read past; so is a boot that fails
    ("n/a" where QEMU cannot boot the arch), a warning in a series file, a
    wrong uapi value, a splat or another failed check (other_failures), a
    KUnit cell with a case not ok, and a madv_populate or
    madv_populate_extra cell with a case not ok, unless unmodified v7.3
    booted on the same arch has the same outcome in every case (an upstream
    test or arch matter, not the series')."""
    fails = []
    for r in rows:
        if ((r.build == "no" and not r.blocked) or r.boot == "no"
                or (r.build == "yes" and (r.warnings not in ("0", "-") or r.uapi == "FAIL"))
                or (r.boot == "yes"
                    and not (complete(r.madv_populate) and complete(r.madv_populate_extra))
                    and not r.same_as_reference)
                or ("/" in r.kunit and not complete(r.kunit)) or r.other_failures):
            fails.append(r)
    return fails


def complete(ratio):
    """Whether an "ok/total" cell has every case ok (and at least one)."""
    ok, _, total = ratio.partition("/")
    return ok == total and total not in ("", "0")
