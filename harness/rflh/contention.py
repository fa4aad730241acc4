"""`make contention`: the mmap_lock contention rows alone, C v7.3
(reference) against the series, under both clocks (icount, wall) and two
timer setups: tinyconfig's periodic tick without high-resolution timers
(`tick`, the bench config) and a distribution-like one (`hrt`: bench config
+ configs/hrt.config). With CONTENTION_TRACE=1 it instead boots the series'
hrt kernel once per clock (CLOCKS) with the mmap_lock and sched tracepoints
on, and breaks every yield of mmap_lock, and every long wait of the writer,
down into its parts (trace-<clock>.md)."""

import json
import re
import statistics
import time

from . import bench, build, guest, source, toolchain, tree
from .util import die, fmt_secs, in_root, log, stage

TIMERS = ("tick", "hrt")
KIND = {"tick": "bench", "hrt": "bench-hrt"}
PACED_ROW = "anon4k-paced/POPULATE_WRITE"
# Issue 19's targets (series against reference).
TARGET_ADDED_PER_CALL = 2.0    # populate time added per writer call <= 2x the
                               # writer's uncontended call (its p50 alone)
TARGET_PACED_SLOWDOWN_PCT = 10.0
TARGET_P99_US = 2000.0
TARGET_ALONE_RATIO = 1.01


def job(mib, rounds, rows, trace=False):
    """The guest job: populate_bench contention for every row (or each of
    @rows), optionally under the tracepoints."""
    runs = ([f"/rfl/bin/populate_bench contention {mib} {rounds} >> $out"] if not rows else
            [f"/rfl/bin/populate_bench contention {mib} {rounds} {r} >> $out" for r in rows])
    pre = post = ""
    if trace:
        pre = """mount -t tracefs nodev /sys/kernel/tracing || { echo "RFL: no tracefs"; exit 1; }
t=/sys/kernel/tracing
echo 65536 > $t/buffer_size_kb
echo mono > $t/trace_clock
for e in mmap_lock/enable sched/sched_switch/enable sched/sched_waking/enable sched/sched_wakeup/enable; do
    echo 1 > $t/events/$e || { echo "RFL: cannot enable $e"; exit 1; }
done
# Timer interrupts, where the arch has the event (x86): to see what ends a
# writer's spin.
[ -e $t/events/irq_vectors/local_timer_entry ] && echo 1 > $t/events/irq_vectors/local_timer_entry/enable
echo 1 > $t/tracing_on"""
        post = """echo 0 > $t/tracing_on
echo "RFL: trace $(wc -l < $t/trace) lines"
echo "TRACE-BEGIN" >> $out
grep -v '^#' $t/trace >> $out
echo "TRACE-END" >> $out"""
    body = "\n".join(f'echo "RFL: {r.split(">>")[0].strip()}"\n{r}' for r in runs)
    return f"""set -u
out=/dev/rfl-tap
echo 1 > /proc/sys/vm/overcommit_memory
{pre}
{body}
{post}
echo "RFL: contention done"
exit 0
"""


def calls_per_populate(e):
    """Writer calls during one populate: the samples of every round of every
    boot, over the number of populates with the writer."""
    return e["samples"] / (e["rounds_per_boot"] * len(e["per_boot"]))


def added_per_call_us(e):
    """Populate time the writer added per writer call: (with writer - alone)
    / writer calls during one populate, in us. None if not measured."""
    if "alone_ms" not in e or not e.get("samples"):
        return None
    calls = calls_per_populate(e)
    return (e["writer_ms"] - e["alone_ms"]) * 1e3 / calls if calls else None


def targets(entries, uncontended_us, kernel="series", against="reference"):
    """Issue 19's targets, one dict per (target, setting, row): status met,
    missed or n/a. @uncontended_us: {clock: the writer's call alone, us}."""
    by = {(e["clock"], e["size_mib"], e["row"], e["kernel"]): e for e in entries}
    out = []
    for clock, size, row in sorted({(e["clock"], e["size_mib"], e["row"]) for e in entries}):
        mine = by.get((clock, size, row, kernel)) or {}
        ref = by.get((clock, size, row, against)) or {}
        base = uncontended_us.get(clock)
        checks = [("writer p99 <= 2 ms", mine.get("p99_us"), TARGET_P99_US, ref.get("p99_us")),
                  (f"no-writer {kernel}/{against} <= {TARGET_ALONE_RATIO}",
                   mine["alone_ms"] / ref["alone_ms"] if "alone_ms" in mine and ref.get("alone_ms")
                   else None, TARGET_ALONE_RATIO, None),
                  ("added populate time per writer call <= 2x the writer's call alone",
                   added_per_call_us(mine), TARGET_ADDED_PER_CALL * base if base else None,
                   added_per_call_us(ref))]
        if row == PACED_ROW and clock.startswith("wall"):
            checks.append(("slowdown with the paced writer <= 10%", mine.get("slowdown_pct"),
                           TARGET_PACED_SLOWDOWN_PCT, ref.get("slowdown_pct")))
        for name, value, limit, theirs in checks:
            t = {"target": name, "clock": clock, "size_mib": size, "row": row,
                 "value": value, "limit": limit, "against_value": theirs}
            if value is None or limit is None:
                t["status"] = "n/a"
                t["why"] = mine.get("unavailable") or ref.get("unavailable") or "not measured"
            else:
                t["status"] = "met" if value <= limit else "missed"
            out.append(t)
    return out


def uncontended(runs, kernel="series"):
    """The writer's call alone, per setting: the median over @kernel's boots
    of the WRITER line's p50 (mmap()+munmap() with no populate running)."""
    per = {}
    for r in runs:
        for d in r["results"]:
            if (r["kernel"] == kernel and d["kind"] == "WRITER" and "p50_us" in d
                    and not d.get("malformed")):
                per.setdefault(r["clock"], []).append(d["p50_us"])
    return {c: statistics.median(v) for c, v in per.items()}


def _f(x, nd=1, unit=""):
    return "-" if x is None else f"{x:.{nd}f}{unit}"


def report(entries, meta, outdir, unc):
    tg = targets(entries, unc)
    lines = ["# mmap_lock contention: C v7.3 (reference) vs the series", "",
             f"{meta['mib']} MiB per row; {meta['rounds']} populates alone and "
             f"{meta['rounds']} with the writer per boot, {meta['boots']} boot(s) per kernel "
             "and setting. Clocks: icount (both vCPUs on one instruction clock) and the "
             "TCG wall clock (MTTCG, one host thread per vCPU). Timers: `tick` = "
             "tinyconfig's periodic tick, HZ=250, no HIGH_RES_TIMERS; `hrt` = "
             "HIGH_RES_TIMERS, NO_HZ_IDLE, HZ=250 (configs/hrt.config). The looping writer "
             "does mmap()+munmap() of one page back to back; the paced one sleeps 1 ms "
             "after each. Added per call = (with writer - alone) / writer calls in one "
             "populate.", "",
             "| setting | kernel | row | alone ms | with writer ms | slowdown % | writer calls "
             "| added us/call | writer p50 us | p99 us | max us |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for e in entries:
        head = f"| {e['clock']} | {e['kernel']} | {e['row']} |"
        if "unavailable" in e:
            lines.append(f"{head} unavailable ({e['unavailable']}) | | | | | | | |")
            continue
        lines.append(f"{head} {e['alone_ms']:.1f} | {e['writer_ms']:.1f} | "
                     f"{_f(e['slowdown_pct'], 1)} | {calls_per_populate(e):.0f} | "
                     f"{_f(added_per_call_us(e), 1)} | {e['p50_us']:.1f} | "
                     f"{e['p99_us']:.1f} | {e['max_us']:.1f} |")
    met = sum(t["status"] == "met" for t in tg)
    missed = sum(t["status"] == "missed" for t in tg)
    lines += ["", f"Writer's call alone (series; mmap()+munmap() with no populate, p50, "
              f"median over boots): "
              f"{', '.join(f'{c} {v:.1f} us' for c, v in sorted(unc.items())) or '-'}",
              "", f"## Targets: {met} met, {missed} missed, {len(tg) - met - missed} n/a", ""]
    for t in tg:
        where = f"{t['row']}, {t['clock']}"
        if t["status"] == "n/a":
            lines.append(f"- n/a: {t['target']} ({where}): {t['why']}")
        else:
            lines.append(f"- **{t['status']}**: {t['target']} ({where}): series "
                         f"{_f(t['value'], 3 if t['value'] < 10 else 1)} (limit "
                         f"{_f(t['limit'], 3 if t['limit'] < 10 else 1)}); reference "
                         f"{_f(t['against_value'], 1)}")
    outdir.mkdir(parents=True, exist_ok=True)
    md = "\n".join(lines) + "\n"
    (outdir / "report.md").write_text(md)
    (outdir / "results.json").write_text(json.dumps(
        {"meta": meta, "contention": entries, "targets": tg, "uncontended_us": unc}, indent=1))
    return md


CHART = r'''
import json, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
d = json.load(open(sys.argv[1]))
es = [e for e in d["contention"] if "alone_ms" in e]
keys = []
for e in es:
    k = (e["clock"], e["row"])
    if k not in keys:
        keys.append(k)
by = {(e["clock"], e["row"], e["kernel"]): e for e in es}
fig, (a, b) = plt.subplots(1, 2, figsize=(16, max(5, 0.32 * len(keys) + 2)))
ys = range(len(keys))
for ax, field, title in ((a, "slowdown_pct", "populate slowdown with the writer, %"),
                         (b, "p99_us", "writer p99 latency, us (log)")):
    for off, kernel, color in ((-0.2, "reference", "tab:blue"), (0.2, "series", "tab:orange")):
        vals = [(by.get((c, r, kernel)) or {}).get(field) or 0 for c, r in keys]
        ax.barh([y + off for y in ys], vals, 0.4, color=color,
                label="C v7.3" if kernel == "reference" else "series")
    ax.set_yticks(list(ys), [f"{r} ({c})" for c, r in keys], fontsize=7)
    ax.set_title(title)
    ax.legend(fontsize=8)
a.axvline(10, color="grey", ls=":", lw=1)
b.set_xscale("log")
b.axvline(2000, color="grey", ls=":", lw=1)
fig.suptitle("mmap_lock contention: C v7.3 vs the series (QEMU TCG, 2 vCPUs)")
fig.tight_layout(rect=(0, 0, 1, 0.96))
fig.savefig(sys.argv[2], dpi=110)
'''


def chart(s, outdir):
    script = outdir / "chart.py"
    script.write_text(CHART)
    in_root(s, f"python3 {script} {outdir / 'results.json'} {outdir / 'chart.png'}")
    return outdir / "chart.png"


# Trace analysis ------------------------------------------------------------

TRACE_LINE = re.compile(r"^\s*(?P<comm>.+?)-(?P<pid>\d+)\s+\[(?P<cpu>\d+)\]\s+\S+\s+"
                        r"(?P<ts>\d+\.\d+): (?P<ev>\w+): (?P<rest>.*)$")


def parse_trace(text):
    """The ftrace text between TRACE-BEGIN and TRACE-END: a list of dicts
    (pid, cpu, ts in us, ev, fields)."""
    out, on = [], False
    for raw in text.splitlines():
        if raw.startswith("TRACE-BEGIN"):
            on = True
            continue
        if raw.startswith("TRACE-END"):
            break
        m = TRACE_LINE.match(raw) if on else None
        if not m:
            continue
        f = dict(re.findall(r"(\w+)=(\S+)", m.group("rest")))
        out.append({"pid": int(m.group("pid")), "cpu": int(m.group("cpu")),
                    "ts": float(m.group("ts")) * 1e6, "ev": m.group("ev"), "f": f})
    return out


def yields(events):
    """Each time the populating task drops mmap_lock while a writer waits,
    and takes it back: the parts of the gap, in us.

    The populating task is the one that takes the lock for reading and
    releases it while another task waits for writing. For each such
    release at t0: the writer is woken (sched_waking, t_wake), runs
    (sched_switch to it, t_run), takes the lock (t_in), releases it
    (t_out); the populating task then asks for the lock again (t_ask) and
    has it (t_back). What the populating task did meanwhile is counted from
    its sched_switch events (sleeps)."""
    waiting = {}     # pid -> ts of a write start_locking not yet returned
    readers = {}
    res = []
    i = 0
    n = len(events)
    while i < n:
        e = events[i]
        ev, f = e["ev"], e["f"]
        if ev == "mmap_lock_start_locking" and f.get("write") == "true":
            waiting[e["pid"]] = e["ts"]
        elif ev == "mmap_lock_acquire_returned" and f.get("write") == "true":
            waiting.pop(e["pid"], None)
        elif ev == "mmap_lock_acquire_returned" and f.get("write") == "false":
            readers[e["pid"]] = True
        elif (ev == "mmap_lock_released" and f.get("write") == "false" and waiting
              and e["pid"] not in waiting):
            p, t0 = e["pid"], e["ts"]
            w = min(waiting, key=waiting.get)
            y = {"t0": t0, "writer": w, "sleeps": 0}
            for g in events[i + 1:]:
                if g["ev"] == "sched_waking" and g["f"].get("pid") == str(w) and "wake" not in y:
                    y["wake"] = g["ts"] - t0
                elif (g["ev"] == "sched_switch" and g["f"].get("next_pid") == str(w)
                      and "run" not in y):
                    y["run"] = g["ts"] - t0
                elif g["pid"] == w and g["ev"] == "mmap_lock_acquire_returned" and "in" not in y:
                    y["in"] = g["ts"] - t0
                elif g["pid"] == w and g["ev"] == "mmap_lock_released" and "out" not in y:
                    y["out"] = g["ts"] - t0
                elif (g["ev"] == "sched_switch" and g["f"].get("prev_pid") == str(p)):
                    y["sleeps"] += 1
                elif g["pid"] == p and g["ev"] == "mmap_lock_start_locking" and "ask" not in y:
                    y["ask"] = g["ts"] - t0
                elif g["pid"] == p and g["ev"] == "mmap_lock_acquire_returned":
                    y["back"] = g["ts"] - t0
                    break
                if g["ts"] - t0 > 1e6:
                    break
            if "back" in y:
                res.append(y)
        i += 1
    return res


def writer_waits(events, at_least_us=100.0):
    """Each time a task waits at least @at_least_us for mmap_lock for writing:
    where the wait went, in us.

    A writer first spins on the lock (rwsem optimistic spinning, which a
    reader-owned lock allows for a few microseconds), then queues and sleeps
    (its first sched_switch out not in state R); only then can a reader see
    it (mmap_lock_is_contended()). Parts: spin (start to sleep), queued to
    the first reader release after it, that release to the writer running,
    and the wait in total. A writer that never slept has only the total."""
    pending = {}     # pid -> dict
    out = []
    for e in events:
        ev, f, pid = e["ev"], e["f"], e["pid"]
        if ev == "mmap_lock_start_locking" and f.get("write") == "true":
            pending[pid] = {"start": e["ts"]}
        elif ev == "sched_switch":
            prev, nxt = f.get("prev_pid"), f.get("next_pid")
            w = pending.get(int(prev)) if prev and prev.isdigit() else None
            if w is not None and "slept" not in w and not f.get("prev_state", "R").startswith("R"):
                w["slept"] = e["ts"]
            w = pending.get(int(nxt)) if nxt and nxt.isdigit() else None
            if w is not None and "release" in w and "run" not in w:
                w["run"] = e["ts"]
        elif ev == "mmap_lock_released" and f.get("write") == "false":
            for w in pending.values():
                if "slept" in w and "release" not in w:
                    w["release"] = e["ts"]
        elif ev == "mmap_lock_acquire_returned" and f.get("write") == "true" and pid in pending:
            w = pending.pop(pid)
            total = e["ts"] - w["start"]
            if total < at_least_us:
                continue
            r = {"wait": total}
            if "slept" in w:
                r["spin"] = w["slept"] - w["start"]
                if "release" in w:
                    r["to_release"] = w["release"] - w["slept"]
                    if "run" in w:
                        r["release_to_run"] = w["run"] - w["release"]
            out.append(r)
    return out


def writer_preemptions(events):
    """How long the tasks that take mmap_lock for writing sat preempted
    (switched out in state R, runnable but not running, until switched in
    again), in us: a writer that competes for the CPUs with populating
    threads waits for a CPU, not for the lock."""
    writers = {e["pid"] for e in events
               if e["ev"] == "mmap_lock_start_locking" and e["f"].get("write") == "true"}
    out, since = [], {}
    for e in events:
        if e["ev"] != "sched_switch":
            continue
        prev, nxt = e["f"].get("prev_pid", ""), e["f"].get("next_pid", "")
        # A preempted task prints "R+", one switched out running "R".
        if prev.isdigit() and int(prev) in writers and e["f"].get("prev_state", "").startswith("R"):
            since[int(prev)] = e["ts"]
        if nxt.isdigit() and int(nxt) in since:
            out.append(e["ts"] - since.pop(int(nxt)))
    return out


def spins_ended_by_timer(events, within_us=10.0, at_least_us=1000.0):
    """Of the writer spins (start_locking to its sleep) of at least
    @at_least_us, how many end within @within_us after a local timer
    interrupt on any CPU: (that many, all such spins), or None when the
    trace has no timer events."""
    timers = [e["ts"] for e in events if e["ev"] == "local_timer_entry"]
    if not timers:
        return None
    ends, st = [], {}
    for e in events:
        f = e["f"]
        if e["ev"] == "mmap_lock_start_locking" and f.get("write") == "true":
            st[e["pid"]] = e["ts"]
        elif e["ev"] == "mmap_lock_acquire_returned" and f.get("write") == "true":
            st.pop(e["pid"], None)
        elif (e["ev"] == "sched_switch" and f.get("prev_pid", "").isdigit()
              and int(f["prev_pid"]) in st and not f.get("prev_state", "R").startswith("R")):
            t0 = st.pop(int(f["prev_pid"]))
            if e["ts"] - t0 >= at_least_us:
                ends.append(e["ts"])
    i, hit = 0, 0
    for t in ends:                      # both lists are in time order
        while i + 1 < len(timers) and timers[i + 1] <= t:
            i += 1
        if timers[i] <= t and t - timers[i] <= within_us:
            hit += 1
    return hit, len(ends)


def _q(vals, p):
    vals = sorted(vals)
    return vals[min(len(vals) - 1, int(p * (len(vals) - 1)))] if vals else None


def writer_report(ws, pre=(), timer=None):
    """Markdown lines for writer_waits(), writer_preemptions() and
    spins_ended_by_timer()."""
    parts = [("wait", "the wait in total"),
             ("spin", "spinning, before it queued (a reader cannot see it yet)"),
             ("to_release", "queued, to the next read release"),
             ("release_to_run", "that release to the writer running")]
    lines = [f"{len(ws)} writer waits of 100 us or more. Times in us.", "",
             "| part of the writer's wait | waits | p10 | p50 | p90 | max |",
             "|---|---|---|---|---|---|"]
    for k, what in parts:
        v = [w[k] for w in ws if k in w]
        lines.append(f"| {what} | {len(v)} | {_f(_q(v, .1))} | {_f(_q(v, .5))} | "
                     f"{_f(_q(v, .9))} | {_f(max(v) if v else None)} |")
    total = sum(w["wait"] for w in ws)
    spun = sum(w.get("spin", 0.0) for w in ws)
    lines += ["", f"Share of the writers' waiting time spent before they queued: "
              f"{_f(100.0 * spun / total if total else None, 0, '%')}."]
    pre = list(pre)
    lines += ["", f"Writer tasks preempted (runnable, not running): {len(pre)} times, "
              f"p50 {_f(_q(pre, .5))} us, p90 {_f(_q(pre, .9))} us, "
              f"max {_f(max(pre) if pre else None)} us, {_f(sum(pre) / 1e3)} ms in all."]
    if timer is not None:
        lines += ["", f"Writer spins of 1 ms or more that ended within 10 us after a timer "
                  f"interrupt: {timer[0]} of {timer[1]}."]
    return lines


def trace_report(ys, outdir, meta, clock="wall", ws=None, pre=None, timer=None):
    q = _q
    parts = [("wake", "release to the writer's wake-up (sched_waking)"),
             ("run", "release to the writer running (sched_switch)"),
             ("in", "release to the writer holding the lock"),
             ("out", "release to the writer releasing it"),
             ("ask", "release to the populating task asking again"),
             ("back", "release to the populating task holding it again")]
    lines = [f"# Where a yield of mmap_lock goes: series, hrt kernel, {clock} clock", "",
             f"{meta}", "", f"{len(ys)} yields (a read release while a writer waits, to "
             "the populating task's next read acquisition). Times in us from the release.", "",
             "| from the release to | yields | p10 | p50 | p90 | max |", "|---|---|---|---|---|---|"]
    for k, what in parts:
        v = [y[k] for y in ys if k in y]
        lines.append(f"| {what} | {len(v)} | {_f(q(v, .1))} | {_f(q(v, .5))} | "
                     f"{_f(q(v, .9))} | {_f(max(v) if v else None)} |")
    hold = [y["out"] - y["in"] for y in ys if "out" in y and "in" in y]
    after = [y["back"] - y["out"] for y in ys if "out" in y]
    sl = [y["sleeps"] for y in ys]
    lines += ["", f"Writer hold: p50 {_f(q(hold, .5))} us, p90 {_f(q(hold, .9))} us. "
              f"Writer release to populate back: p50 {_f(q(after, .5))} us, "
              f"p90 {_f(q(after, .9))} us. The populating task slept {sum(sl)} times in "
              f"{len(ys)} yields (p50 {_f(q(sl, .5), 0)}, max {max(sl) if sl else '-'})."]
    if ws is not None:
        lines += ["", "## Where the writer's wait goes", ""] + writer_report(ws, pre or (), timer)
    md = "\n".join(lines) + "\n"
    (outdir / f"trace-{clock}.md").write_text(md)
    (outdir / f"trace-yields-{clock}.json").write_text(json.dumps(ys))
    return md


def run(s, timers=TIMERS, clocks=bench.CLOCKS, kernels=bench.KERNELS, mib=256, rounds=3,
        boots=1, rows=(), trace=False):
    t_all = time.monotonic()
    for x in timers:
        if x not in TIMERS:
            die(f"TIMERS={x}: the timer setups are {' '.join(TIMERS)}")
    for x in clocks:
        if x not in bench.CLOCKS:
            die(f"CLOCKS={x}: the clocks are {' '.join(bench.CLOCKS)}")
    if trace:
        timers, kernels = ("hrt",), ("series",)
        rows = tuple(rows) or (PACED_ROW,)
    toolchain.ensure(s)
    pristine = source.pristine(s)
    trees, outs = {}, {}
    for k in kernels:
        with stage(f"tree: sync {k} with patches/"):
            trees[k] = tree.sync(s, k, pristine, source.describe(s))
    for x in timers:
        for k in kernels:
            outs[(x, k)], _ = build.build_kernel(s, k, trees[k], KIND[x])
    tools = guest.build_guest_tools(s, outs[(timers[0], kernels[-1])])
    res = s.build / ("contention-trace" if trace else "contention")
    res.mkdir(parents=True, exist_ok=True)
    script = job(mib, rounds, rows, trace)
    runs = []
    n = len(timers) * len(clocks) * len(kernels) * boots
    i = 0
    for b in range(1, boots + 1):
        for x in timers:
            for clock in clocks:
                for k in (kernels if b % 2 else tuple(reversed(kernels))):
                    i += 1
                    d = res / f"b{b}-{x}-{clock}-{k}"
                    d.mkdir(exist_ok=True)
                    initrd = d / "initramfs.cpio"
                    guest.make_initramfs(s, trees[k], outs[(x, k)], script, initrd,
                                         [(tools, "/rfl/bin")])
                    with stage(f"contention boot {i}/{n}: {k}, {x} timers, {clock} clock"):
                        secs, to = guest.boot(
                            s, outs[(x, k)] / s.a.image, initrd, d / "console.log",
                            d / "contention.out", 3600, mem="3G", icount=(clock == "icount"),
                            append="transparent_hugepage=never",
                            progress=lambda l: l.startswith("RFL"), label=f"{k}/{x}/{clock}")
                    text = (d / "contention.out").read_text(errors="replace")
                    results = bench.parse_lines(text)
                    probs = bench.contention_shape_problems(
                        results, rows or bench.CONTENTION_ROWS)
                    if to or not results or probs:
                        die(f"contention boot {d} failed (timed out: {to}; "
                            f"{'; '.join(probs) or 'no results'}); see {d / 'console.log'}")
                    log(f"    {len(results)} results in {fmt_secs(secs)}")
                    runs.append({"kernel": k, "clock": f"{clock}/{x}", "round": b,
                                 "results": results, "seconds": round(secs, 1)})
                    if trace:
                        ev = parse_trace(text)
                        print(trace_report(yields(ev), res, f"Rows: {', '.join(rows)}; {mib} MiB, "
                                           f"{rounds} rounds alone and with the writer.",
                                           clock=clock, ws=writer_waits(ev),
                                           pre=writer_preemptions(ev),
                                           timer=spins_ended_by_timer(ev)))
    entries = bench.contention_aggregate(runs)
    meta = {"mib": mib, "rounds": rounds, "boots": boots, "timers": list(timers),
            "clocks": list(clocks), "rows": list(rows), "base": source.describe(s),
            "boot_seconds": [r["seconds"] for r in runs],
            "total_seconds": round(time.monotonic() - t_all)}
    print(report(entries, meta, res, uncontended(runs)))
    png = chart(s, res)
    log(f"contention: {res / 'report.md'}, {res / 'results.json'}, {png}"
        f"{''.join(f', {res}/trace-{c}.md' for c in clocks) if trace else ''}; total "
        f"{fmt_secs(time.monotonic() - t_all)}")
    return 0
