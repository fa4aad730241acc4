"""`make early-boot`: how often a debug kernel reports a splat in early
boot. Boots the reference and series debug images BOOTS times each (30 by
default) under `-cpu max` and `-cpu max,la57=off`, stops each boot once
every CPU is up ("smp: Brought up", after identify_cpu() has run on each)
and scans what the console printed so far, as `make check` does.

It answers one question of issue 18: an early-boot KASAN report
("wild-memory-access in do_raw_spin_lock", in an interrupt during
identify_cpu()) was seen once in `make fuzz`. The rates say whether v7.3
shows it too, and whether TCG's LA57 matters."""

import os
import re
import shlex
import signal
import subprocess
import time

from . import build, guest, source, toolchain, tree, util, verdict
from .util import die, fmt_secs, log, stage

MARKER = re.compile(r"smp: Brought up \d+ nodes?, \d+ CPUs")
CPUS = ("max", "max,la57=off")
KERNELS = ("reference", "series")


def boots_from_env():
    v = os.environ.get("BOOTS", "") or "30"
    if not v.isdigit() or not 1 <= int(v) <= 1000:
        die(f"BOOTS={v!r}: give the number of boots per kernel and CPU model (1-1000)")
    return int(v)


def splats(text):
    """The splat lines (KASAN, BUG, WARNING, ...) in a console text: the
    same patterns and exceptions as make check's console verdict."""
    return [c.detail for c in verdict.scan_console(text, False, expect_sentinel=False)
            if c.status == "fail"]


def boot_once(s, kernel, initrd, console, cpu, limit):
    """Boot until MARKER or `limit` seconds; return (reached, seconds)."""
    a = s.a
    cmdline = (f"console={a.console} panic=-1 oops=panic " + " ".join(a.kernel_params)).strip()
    argv = a.qemu_argv(kernel, initrd, console, "/dev/null", "/dev/null", cmdline)
    i = argv.index("-cpu") if "-cpu" in argv else None
    if i is None:
        argv[1:1] = ["-cpu", cpu]
    else:
        argv[i + 1] = cpu
    argv[1:1] = ["-accel", "tcg", "-m", "3G", "-smp", "2"]
    script = "exec " + " ".join(shlex.quote(x) for x in argv)
    full = util.root_argv(s, script) if s.toolchain == "chroot" else ["bash", "-c", script]
    console.write_text("")
    t0 = time.monotonic()
    p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    reached = False
    try:
        while time.monotonic() - t0 < limit and p.poll() is None:
            time.sleep(0.5)
            if MARKER.search(console.read_text(errors="replace")):
                reached = True
                break
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
    return reached, time.monotonic() - t0


def run(s):
    toolchain.ensure(s)
    if s.arch != "x86_64":
        die("make early-boot is for x86_64 (LA57 is an x86 feature)")
    n = boots_from_env()
    pristine = source.pristine(s)
    res = s.build / "early-boot"
    res.mkdir(parents=True, exist_ok=True)
    images = {}
    for k in KERNELS:
        t = tree.sync(s, k, pristine, source.describe(s))
        out, _ = build.build_kernel(s, k, t, "test")
        initrd = res / f"{k}.cpio"
        guest.make_initramfs(s, t, out, "exit 0\n", initrd, [])
        images[k] = (out / s.a.image, initrd)
    rows, t0 = [], time.monotonic()
    for cpu in CPUS:
        for k in KERNELS:
            kernel, initrd = images[k]
            hits, unreached, secs = [], 0, []
            with stage(f"early boot: {k}, -cpu {cpu}, {n} boots"):
                for i in range(1, n + 1):
                    console = res / f"{k}-{cpu.replace(',', '_')}-{i:03d}.log"
                    reached, dt = boot_once(s, kernel, initrd, console, cpu, 300)
                    secs.append(dt)
                    found = splats(console.read_text(errors="replace"))
                    if found:
                        hits.append((i, found[0], console))
                        log(f"    boot {i}: SPLAT {found[0][:100]} ({console})")
                    if not reached:
                        unreached += 1
                        log(f"    boot {i}: never reached 'smp: Brought up' ({console})")
                    else:
                        # Keep the logs worth reading only.
                        if not found:
                            console.unlink()
                    if i % 10 == 0:
                        log(f"    {i}/{n} boots, {len(hits)} with a splat, "
                            f"{fmt_secs(time.monotonic() - t0)} elapsed")
            rows.append((k, cpu, n, len(hits), unreached, sorted(secs)[len(secs) // 2], hits))
    return report(rows, res, time.monotonic() - t0)


def report(rows, res, secs):
    lines = ["| kernel | -cpu | boots | with a splat | did not reach 'smp: Brought up' "
             "| median s to stop |", "|---|---|---|---|---|---|"]
    for k, cpu, n, nh, un, med, _ in rows:
        lines.append(f"| {k} | {cpu} | {n} | {nh} | {un} | {med:.1f} |")
    for k, cpu, _, _, _, _, hits in rows:
        for i, line, console in hits:
            lines.append(f"\n{k} -cpu {cpu} boot {i}: `{line}` ({console})")
    text = "\n".join(lines) + "\n"
    (res / "report.md").write_text(text)
    print("\n==== early boot (" + fmt_secs(secs) + f"; logs of splats in {res})\n" + text)
    bad = sum(nh + un for _, _, _, nh, un, _, _ in rows)
    total = sum(n for _, _, n, _, _, _, _ in rows)
    print(f"{total - bad} passed, {bad} failed, 0 skipped")
    return 1 if bad else 0
