"""`make each-patch`: build every prefix of the queue, in order, incrementally.

Each patch must build on its own: the series tree is checked out one commit
at a time in a worktree of its own (v/each-patch/linux), and after each
checkout the debug kernel is built with LLVM=1 CLIPPY=1 and `make rustdoc`
runs. A step fails on a build or rustdoc error, on a compiler, clippy or
rustdoc warning located in a file the series has touched so far, or on a
compile_fail example that rustdoc reports as failed. The config is the
series test config; options that a prefix does not have yet are dropped by
olddefconfig. C objects come from ccache (same layout as the series tree),
so only what a patch changes is compiled again.
"""

import shutil
import time
from pathlib import Path

from . import build, gates, source, toolchain, tree
from .util import die, fmt_secs, in_root, log, stage
from .verdict import Check, counts, summary

NAME = "each-patch"


def run(s):
    t_all = time.monotonic()
    toolchain.ensure(s)
    pristine = source.pristine(s)
    with stage("tree: sync series with patches/"):
        repo = tree.sync(s, "series", pristine, source.describe(s))
    base = tree.git(repo, "rev-parse", tree.BASE_DONE)
    commits = tree.git(repo, "rev-list", "--reverse", f"{base}..HEAD").split()
    if not commits:
        die("the '# series' section is empty: nothing to build patch by patch")
    # The series test config, from a normal build of the series tree.
    series_out, _ = build.build_kernel(s, "series", repo, "test")
    wt = s.cache / "v" / NAME / "linux"
    out = s.cache / "v" / NAME / "out-test"
    res = s.results(NAME)
    res.mkdir(parents=True, exist_ok=True)
    if not (wt / ".git").exists():
        shutil.rmtree(wt, ignore_errors=True)
        tree.git(repo, "worktree", "prune")
        tree.git(repo, "worktree", "add", "-q", "--detach", str(wt), commits[0])
    out.mkdir(parents=True, exist_ok=True)
    checks = []
    for i, c in enumerate(commits, 1):
        subject = tree.git(repo, "log", "-1", "--format=%s", c)
        tree.git(wt, "checkout", "-q", "-f", "--detach", c)
        files = [f for f in tree.git(wt, "diff", "--name-only", f"{base}..HEAD").splitlines() if f]
        t0 = time.monotonic()
        with stage(f"patch {i}/{len(commits)}: {subject}"):
            shutil.copyfile(series_out / ".config", out / ".config")
            in_root(s, f"make -s -C {wt} O={out} LLVM=1 olddefconfig >/dev/null")
            blog = res / f"{i:02d}-build.log"
            ok = True
            try:
                build.run_make(s, NAME, wt, out, "test", ["bzImage"], blog, "build")
            except Exception as e:  # HarnessError: keep going, report the step
                ok = False
                checks.append(Check("patch", f"{i:02d} {subject}: builds", "fail", str(e)[:200]))
            if ok:
                warns = gates.new_code_warnings(blog, files)
                checks.append(Check("patch", f"{i:02d} {subject}: builds, no warning in "
                                    f"{len(files)} series files", "fail" if warns else "ok",
                                    "; ".join(warns[:2])))
                text = blog.read_text(errors="replace")
                cf = gates.compile_fail_results(text)
                bad = [r for r in cf if r[3] != "ok"]
                if cf:
                    checks.append(Check("patch", f"{i:02d} {subject}: {len(cf)} compile_fail "
                                        "examples", "fail" if bad else "ok",
                                        "; ".join(f"{r[0]}:{r[2]}" for r in bad[:2])))
                rlog = res / f"{i:02d}-rustdoc.log"
                rc, _ = gates.run_cmd(s, f"make -C {wt} O={out} LLVM=1 rustdoc", rlog)
                rwarns = gates.new_code_warnings(rlog, files)
                checks.append(Check("patch", f"{i:02d} {subject}: make rustdoc",
                                    "fail" if rc or rwarns else "ok",
                                    f"exit {rc}" if rc else "; ".join(rwarns[:2])))
        log(f"    {fmt_secs(time.monotonic() - t0)}")
    print(summary(checks, f"make each-patch: {len(commits)} patches "
                  f"(logs: {res}; total {fmt_secs(time.monotonic() - t_all)})"))
    _, failed, _ = counts(checks)
    return 1 if failed else 0
