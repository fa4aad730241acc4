"""Command line: python3 -m rflh <command>. The Makefile is the front door."""

import os
import sys

from . import abbench, bench, build, check, contention, cross, earlyboot, fuzz, kunittool, matrix, negative, perpatch, stress, source, toolchain, tree, upstream
from .util import HarnessError, die, in_root, log, settings_from_env, stage


def prepare(s, variant=None):
    """Toolchain, base source and the variant's tree."""
    variant = variant or s.variant
    toolchain.ensure(s)
    pristine = source.pristine(s)
    with stage(f"tree: sync {variant} with patches/"):
        t = tree.sync(s, variant, pristine, source.describe(s))
        log(f"    {t}")
    return t


def cmd_tree(s, args):
    t = prepare(s, "series")
    link = s.repo / "linux"
    if not link.exists() and not link.is_symlink():
        link.symlink_to(t)
    print(f"series tree: {t} (also ./linux)\n"
          "Commit your changes there, then run 'make export'.")


def cmd_tree_reset(s, args):
    toolchain.ensure(s)
    t = tree.reset(s, source.pristine(s), source.describe(s))
    print(f"series tree reset to patches/: {t}")


def cmd_export(s, args):
    tree.export(s)


def cmd_upstream(s, args):
    """make upstream: the upstream form as b4-ready patches in build/upstream."""
    prepare(s, "series")
    out = s.repo / "build" / "upstream"
    with stage("upstream: git am onto v7.3, format-patch --cover-letter --base"):
        files, same = upstream.export(s, tree.repo_path(s), out)
    for f in files:
        print(f"  {f.relative_to(s.repo)}")
    print(f"{len(files) - 1} patches and a cover letter in {out.relative_to(s.repo)}; "
          f"they apply with git am to v7.3 and end in "
          f"{'the same tree as' if same else 'A DIFFERENT TREE FROM'} base + series")
    return 0 if same else 1


def cmd_upstream_refresh(s, args):
    prepare(s, "series")
    upstream.refresh(s, tree.repo_path(s))


def cmd_tree_status(s, args):
    lines = tree.status(s)
    for l in lines:
        print(l)
    return 1 if lines else 0


def cmd_build(s, args):
    kind = args[0] if args else "test"
    t = prepare(s)
    build.build_kernel(s, s.variant, t, kind)


def cmd_check(s, args):
    return check.check(s)


def cmd_demo(s, args):
    return check.demo(s)


def cmd_bench(s, args):
    rounds = int(os.environ.get("ROUNDS") or "3")
    sizes = tuple(int(x) for x in (os.environ.get("SIZES") or "2 8").split())
    iters = int(os.environ.get("ITERATIONS") or "10")
    cmib = int(os.environ.get("CONTENTION_MIB") or "256")
    crounds = int(os.environ.get("CONTENTION_ROUNDS") or "3")
    return bench.run(s, rounds=rounds, sizes=sizes, iterations=iters,
                     contention_mib=cmib, contention_rounds=crounds)


def cmd_contention(s, args):
    e = os.environ.get
    return contention.run(
        s, timers=tuple((e("TIMERS") or " ".join(contention.TIMERS)).split()),
        clocks=tuple((e("CLOCKS") or " ".join(bench.CLOCKS)).split()),
        mib=int(e("CONTENTION_MIB") or "256"), rounds=int(e("CONTENTION_ROUNDS") or "3"),
        boots=int(e("BOOTS") or "1"), rows=tuple((e("ROWS") or "").split()),
        trace=(e("CONTENTION_TRACE") or "0") == "1")


def cmd_ab_bench(s, args):
    e = os.environ.get
    return abbench.run(
        s, clocks=tuple((e("CLOCKS") or " ".join(bench.CLOCKS)).split()),
        sizes=tuple(int(x) for x in (e("SIZES") or "2 8").split()),
        iterations=int(e("ITERATIONS") or "10"),
        mib=int(e("CONTENTION_MIB") or "256"), rounds=int(e("CONTENTION_ROUNDS") or "3"),
        contention=(e("AB_CONTENTION") or "1") == "1")


def cmd_negative(s, args):
    only = tuple((os.environ.get("NEGATIVE") or " ".join(negative.ALL)).split())
    return negative.run(s, only)


def cmd_cross(s, args):
    return cross.run(s)


def cmd_fuzz(s, args):
    import os
    first = int(os.environ.get("SEED0") or "1")
    n = int(os.environ.get("SEEDS") or "50")
    nops = int(os.environ.get("NOPS") or "2000")
    return fuzz.run(s, list(range(first, first + n)), nops)


def cmd_fuzz_record(s, args):
    return fuzz.record(s)


def cmd_stress(s, args):
    return stress.run(s)


def cmd_early_boot(s, args):
    return earlyboot.run(s)


def cmd_matrix(s, args):
    arches = tuple((os.environ.get("MATRIX_ARCHES") or " ".join(matrix.MATRIX)).split())
    return matrix.run(s, arches)


def cmd_kunit(s, args):
    calls = os.environ.get("AB_CALLS") or "0"
    if not calls.isdigit():
        die(f"AB_CALLS={calls}: give a number of populate calls per implementation, "
            "e.g. AB_CALLS=100000")
    return kunittool.main(s, os.environ.get("KUNIT_ARCH") or "um", int(calls))


def cmd_shell(s, args):
    """A shell in the toolchain root, in the series tree: where the kernel's
    own commands (kunit.py, checkpatch.pl, make LLVM=1) run as documented.
    CMD="..." runs one command instead of an interactive shell."""
    t = prepare(s, "series")
    cmd = os.environ.get("CMD") or ""
    if s.toolchain != "chroot":
        die("make shell is for the toolchain root; with TOOLCHAIN=host use your own shell")
    print(f"toolchain root {s.root}, tree {t}" + ("" if cmd else "; exit to leave"),
          file=sys.stderr)
    # As in make kunit: kunit.py's QEMU must not take a /dev/kvm that hangs.
    r = in_root(s, f"cd {t} && " + (cmd if cmd else "exec bash -i"), check=False,
                hide_kvm=kunittool.hide_kvm())
    return r.returncode


def cmd_each_patch(s, args):
    return perpatch.run(s)


COMMANDS = {
    "matrix": cmd_matrix,
    "kunit": cmd_kunit,
    "each-patch": cmd_each_patch,
    "shell": cmd_shell,
    "stress": cmd_stress,
    "early-boot": cmd_early_boot,
    "fuzz": cmd_fuzz,
    "fuzz-record": cmd_fuzz_record,
    "cross-mips": cmd_cross,
    "negative": cmd_negative,
    "bench": cmd_bench,
    "contention": cmd_contention,
    "ab-bench": cmd_ab_bench,
    "check": cmd_check,
    "demo": cmd_demo,
    "tree": cmd_tree,
    "tree-reset": cmd_tree_reset,
    "export": cmd_export,
    "tree-status": cmd_tree_status,
    "upstream": cmd_upstream,
    "upstream-refresh": cmd_upstream_refresh,
    "build": cmd_build,
}


def main(argv):
    if len(argv) < 1 or argv[0] not in COMMANDS:
        print(f"usage: python3 -m rflh {{{','.join(COMMANDS)}}} [args]", file=sys.stderr)
        return 2
    try:
        s = settings_from_env()
        return COMMANDS[argv[0]](s, argv[1:]) or 0
    except HarnessError as e:
        print(f"\nerror: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
