"""`make cross-mips`: an architecture without Rust still builds
mm/madvise.o (MADV_POPULATE then answers EINVAL). Uses Debian's mips cross
gcc, installed into the toolchain root on first use."""

import re
import time

from . import source, toolchain, tree
from .util import die, fmt_secs, in_root, log, stage

ARCH, CROSS, PKG = "mips", "mips-linux-gnu-", "gcc-mips-linux-gnu"


def run(s):
    toolchain.ensure(s)
    pristine = source.pristine(s)
    t = tree.sync(s, "series", pristine, source.describe(s))
    out = s.cache / "v" / "series" / f"out-cross-{ARCH}"
    logf = s.results("series") / f"cross-{ARCH}.log"
    logf.parent.mkdir(parents=True, exist_ok=True)
    if s.toolchain == "chroot":
        with stage(f"cross: install {PKG} into the toolchain root"):
            in_root(s, f"command -v {CROSS}gcc >/dev/null || "
                    f"(apt-get update -qq && apt-get install -y -qq {PKG} >/dev/null)")
    t0 = time.monotonic()
    with stage(f"cross: ARCH={ARCH} defconfig + ADVISE_SYSCALLS, build mm/madvise.o mm/gup.o"):
        with open(logf, "w") as f:
            r = in_root(s, f"""
                make -s -C {t} O={out} ARCH={ARCH} CROSS_COMPILE={CROSS} defconfig
                {t}/scripts/config --file {out}/.config -e ADVISE_SYSCALLS -e MMU
                make -s -C {t} O={out} ARCH={ARCH} CROSS_COMPILE={CROSS} olddefconfig
                {CROSS}gcc --version | head -1
                for o in HAVE_RUST RUST MADVISE_POPULATE ADVISE_SYSCALLS MMU; do
                    grep -E "^(# )?CONFIG_$o[= ]" {out}/.config || echo "CONFIG_$o: absent from .config"
                done
                make -C {t} O={out} ARCH={ARCH} CROSS_COMPILE={CROSS} -j{s.jobs} mm/madvise.o mm/gup.o
                {CROSS}nm {out}/mm/madvise.o | grep -w madvise_populate || echo "no madvise_populate reference (stub inlined)"
            """, check=False, stdout=f, stderr=f)
    text = logf.read_text(errors="replace")
    warns = [l for l in text.splitlines() if re.search(r"(madvise|gup)\.[ch]:\d+:\d+: (warning|error)", l)]
    ok = r.returncode == 0 and not warns
    for l in text.splitlines():
        if (l.startswith(("CONFIG_", "# CONFIG_", "no madvise_populate", CROSS + "gcc"))
                or "madvise_populate" in l):
            log(f"    {l}")
    log(f"cross-{ARCH}: {'mm/madvise.o and mm/gup.o built' if ok else 'FAILED'} "
        f"in {fmt_secs(time.monotonic() - t0)}; log {logf}")
    print(f"{int(ok)} passed, {int(not ok)} failed, 0 skipped")
    return 0 if ok else 1
