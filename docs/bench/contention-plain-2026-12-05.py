"""One-off experiment (not part of the harness): the series with
mmap_read_yield() reduced to a plain release and re-take, as
show_smaps_rollup() does, under `make contention`'s rows. Usage:
  python3 plain.py build            # worktree + bench and bench-hrt kernels
  python3 plain.py run CLOCKS TIMERS # boots, writes /work/runs/plain/*.json
"""
import json, subprocess, sys
from pathlib import Path
sys.path.insert(0, "/work/main/harness")
from rflh import bench, build, contention, guest, kconfig, source, toolchain, tree
from rflh.tree import git
from rflh.util import settings_from_env

V = "series-plain"
orig = kconfig.fragments
def frags(repo, kind, variant, arch="x86_64"):
    return orig(repo, kind, "series" if variant == V else variant, arch)
kconfig.fragments = frags

s = settings_from_env()
toolchain.ensure(s)
repo = tree.ensure_repo(s, source.pristine(s), source.describe(s))
wt = s.cache / "v" / V / "linux"
out = s.cache / "plain-exp"; out.mkdir(exist_ok=True)

def make_tree():
    head = git(repo, "rev-parse", "series")
    if not (wt / ".git").exists():
        wt.parent.mkdir(parents=True, exist_ok=True)
        git(repo, "worktree", "add", "-q", "--detach", str(wt), head)
    else:
        git(wt, "checkout", "-q", "-f", "--detach", head)
    p = wt / "mm/mmap_lock.c"
    t = p.read_text()
    a = t.index("\tif (IS_ENABLED(CONFIG_PREEMPT_RT)) {")
    b = t.index("\tmmap_read_lock(mm);\n\treturn true;\n}\n", a)
    t = t[:a] + "\tmmap_read_unlock(mm);\n" + t[b:]
    p.write_text(t)
    return wt

if sys.argv[1] == "build":
    make_tree()
    print(subprocess.run(["git", "-C", str(wt), "diff", "--stat"], capture_output=True, text=True).stdout)
    for kind in ("bench", "bench-hrt"):
        build.build_kernel(s, V, wt, kind)
else:
    clocks = sys.argv[2].split(); timers = sys.argv[3].split()
    tools = guest.build_guest_tools(s, build.out_dir(s, "series", "bench"))
    script = contention.job(256, 3, ())
    runs = []
    for x in timers:
        for c in clocks:
            o = build.out_dir(s, V, contention.KIND[x])
            d = out / f"{x}-{c}"; d.mkdir(exist_ok=True)
            guest.make_initramfs(s, wt, o, script, d / "initramfs.cpio", [(tools, "/rfl/bin")])
            secs, to = guest.boot(s, o / s.a.image, d / "initramfs.cpio", d / "console.log",
                                  d / "contention.out", 3600, mem="3G", icount=(c == "icount"),
                                  append="transparent_hugepage=never",
                                  progress=lambda l: l.startswith("RFL"), label=f"plain/{x}/{c}")
            res = bench.parse_lines((d / "contention.out").read_text(errors="replace"))
            print(x, c, len(res), "results", round(secs), "s", "timed out" if to else "")
            runs.append({"kernel": V, "clock": f"{c}/{x}", "round": 1, "results": res})
    ent = bench.contention_aggregate(runs)
    (out / f"plain-{'_'.join(timers)}-{'_'.join(clocks)}.json").write_text(json.dumps(
        {"contention": ent, "uncontended_us": contention.uncontended(runs, V)}, indent=1))
