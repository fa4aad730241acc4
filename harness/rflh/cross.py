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
    with stage(f"cross: ARCH={ARCH} defconfig + ADVISE_SYSCALLS, build mm/madvise.o mm/gup.o mm/mmap_lock.o"):
        with open(logf, "w") as f:
            r = in_root(s, f"""
                make -s -C {t} O={out} ARCH={ARCH} CROSS_COMPILE={CROSS} defconfig
                {t}/scripts/config --file {out}/.config -e ADVISE_SYSCALLS -e MMU
                make -s -C {t} O={out} ARCH={ARCH} CROSS_COMPILE={CROSS} olddefconfig
                {CROSS}gcc --version | head -1
                for o in HAVE_RUST RUST MADVISE_POPULATE_RUST ADVISE_SYSCALLS MMU; do
                    grep -E "^(# )?CONFIG_$o[= ]" {out}/.config || echo "CONFIG_$o: absent from .config"
                done
                make -C {t} O={out} ARCH={ARCH} CROSS_COMPILE={CROSS} -j{s.jobs} mm/madvise.o mm/gup.o mm/mmap_lock.o
                {CROSS}nm {out}/mm/madvise.o | grep -wE 'madvise_populate|rust_madvise_populate|gup_faultin_range|mmap_read_yield' | sed 's/^/nm madvise.o: /'
                {CROSS}nm {out}/mm/mmap_lock.o | grep -w mmap_read_yield | sed 's/^/nm mmap_lock.o: /' 
            """, check=False, stdout=f, stderr=f)
    text = logf.read_text(errors="replace")
    warns = [l for l in text.splitlines()
             if re.search(r"(madvise|gup|mmap_lock|populate)\.[ch]:\d+:\d+: (warning|error)", l)]
    # The C populate path: madvise.o calls gup_faultin_range() and
    # mmap_read_yield() (defined in mmap_lock.o), and nothing Rust.
    c_path = (re.search(r"nm madvise.o: +U gup_faultin_range$", text, re.M)
              and re.search(r"nm madvise.o: +U mmap_read_yield$", text, re.M)
              and re.search(r"nm mmap_lock.o: \S+ T mmap_read_yield$", text, re.M)
              and "rust_madvise_populate" not in text)
    ok = r.returncode == 0 and not warns and bool(c_path)
    for l in text.splitlines():
        if l.startswith(("CONFIG_", "# CONFIG_", "nm ", CROSS + "gcc")):
            log(f"    {l}")
    log(f"cross-{ARCH}: {'the C populate path (madvise.o, gup.o, mmap_lock.o) built' if ok else 'FAILED'} "
        f"in {fmt_secs(time.monotonic() - t0)}; log {logf}")
    print(f"{int(ok)} passed, {int(not ok)} failed, 0 skipped")
    return 0 if ok else 1
