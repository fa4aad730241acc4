import tempfile
import unittest
from pathlib import Path

from rflh import bench, contention

TRACE = """TRACE-BEGIN
  populate_bench-10      [000] .....   100.000000: mmap_lock_acquire_returned: mm=00000000aa memcg_id=0 write=false success=true
  populate_bench-11      [001] .....   100.000100: mmap_lock_start_locking: mm=00000000aa memcg_id=0 write=true
  populate_bench-10      [000] .....   100.001000: mmap_lock_released: mm=00000000aa memcg_id=0 write=false
  populate_bench-10      [000] d..2.   100.001010: sched_waking: comm=populate_bench pid=11 prio=120 target_cpu=001
  <idle>-0               [001] d..2.   100.001050: sched_switch: prev_comm=swapper/1 prev_pid=0 prev_prio=120 prev_state=R ==> next_comm=populate_bench next_pid=11 next_prio=120
  populate_bench-10      [000] d..2.   100.001060: sched_switch: prev_comm=populate_bench prev_pid=10 prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120
  populate_bench-11      [001] .....   100.001070: mmap_lock_acquire_returned: mm=00000000aa memcg_id=0 write=true success=true
  populate_bench-11      [001] .....   100.001080: mmap_lock_released: mm=00000000aa memcg_id=0 write=true
  populate_bench-10      [000] .....   100.001200: mmap_lock_start_locking: mm=00000000aa memcg_id=0 write=false
  populate_bench-10      [000] .....   100.001210: mmap_lock_acquire_returned: mm=00000000aa memcg_id=0 write=false success=true
TRACE-END
  populate_bench-10      [000] .....   200.000000: mmap_lock_released: mm=00000000aa memcg_id=0 write=false
"""


def ev_line(pid, cpu, ts, ev, rest):
    """One ftrace line, as the guest's trace file prints it."""
    return f"  populate_bench-{pid} [{cpu:03d}] d..2. {ts:.6f}: {ev}: {rest}"


def lock(pid, cpu, ts, what, write=True):
    """An mmap_lock event: start_locking, acquire_returned or released."""
    extra = " success=true" if what == "acquire_returned" else ""
    return ev_line(pid, cpu, ts, f"mmap_lock_{what}",
                   f"mm=00000000aa memcg_id=0 write={'true' if write else 'false'}{extra}")


def switch(cpu, ts, prev, state, nxt):
    """sched_switch from task @prev (left in @state) to task @nxt."""
    return ev_line(prev, cpu, ts, "sched_switch",
                   f"prev_comm=t prev_pid={prev} prev_prio=120 prev_state={state} ==> "
                   f"next_comm=t next_pid={nxt} next_prio=120")


def trace(*lines):
    return "\n".join(["TRACE-BEGIN", *lines, "TRACE-END"])


def entry(kernel, clock, row, alone, writer, samples, p50=10.0, p99=100.0, rounds=3):
    return {"clock": clock, "row": row, "size_mib": 256, "kernel": kernel, "threads": 1,
            "rounds_per_boot": rounds, "alone_ms": alone, "writer_ms": writer,
            "slowdown_pct": 100.0 * (writer - alone) / alone, "p50_us": p50, "p99_us": p99,
            "max_us": p99 * 2, "samples": samples, "per_boot": [{}]}


class Trace(unittest.TestCase):
    def test_parse_and_break_down_one_yield(self):
        ev = contention.parse_trace(TRACE)
        self.assertEqual(len(ev), 10)       # nothing after TRACE-END
        ys = contention.yields(ev)
        self.assertEqual(len(ys), 1)
        y = ys[0]
        self.assertEqual(y["writer"], 11)
        for k, v in (("wake", 10), ("run", 50), ("in", 70), ("out", 80), ("ask", 200),
                     ("back", 210)):
            self.assertAlmostEqual(y[k], v, places=3)
        self.assertEqual(y["sleeps"], 1)

    def test_no_writer_waiting_is_no_yield(self):
        text = "\n".join(l for l in TRACE.splitlines() if "start_locking: mm=00000000aa memcg_id=0 write=true" not in l)
        self.assertEqual(contention.yields(contention.parse_trace(text)), [])

    def test_trace_report_writes_table(self):
        ys = contention.yields(contention.parse_trace(TRACE))
        with tempfile.TemporaryDirectory() as d:
            md = contention.trace_report(ys, Path(d), "meta")
            self.assertIn("| release to the populating task holding it again | 1 |", md)
            self.assertTrue((Path(d) / "trace-wall.md").exists())
            self.assertIn("wall clock", md)

    def test_writer_wait_split_at_its_sleep(self):
        # The writer (11) spins 2000 us, sleeps, the reader releases 300 us
        # later and the writer runs 50 us after that.
        text = trace(lock(10, 0, 100.0, "acquire_returned", write=False),
                     lock(11, 1, 100.000100, "start_locking"),
                     switch(1, 100.002100, 11, "D", 0),
                     lock(10, 0, 100.002400, "released", write=False),
                     switch(1, 100.002450, 0, "R", 11),
                     lock(11, 1, 100.002460, "acquire_returned"),
                     # A short wait is left out.
                     lock(11, 1, 100.003000, "start_locking"),
                     lock(11, 1, 100.003010, "acquire_returned"))
        ws = contention.writer_waits(contention.parse_trace(text))
        self.assertEqual(len(ws), 1)
        for k, v in (("wait", 2360), ("spin", 2000), ("to_release", 300),
                     ("release_to_run", 50)):
            self.assertAlmostEqual(ws[0][k], v, places=3)
        md = "\n".join(contention.writer_report(ws))
        self.assertIn("| spinning, before it queued (a reader cannot see it yet) | 1 |", md)
        self.assertIn("before they queued: 85%", md)

    def test_writer_preemptions(self):
        text = trace(lock(11, 1, 100.000100, "start_locking"),
                     switch(1, 100.000500, 11, "R+", 12),   # preempted, as v7.3 prints it
                     switch(1, 100.002500, 12, "R", 11),
                     # A sleep (state D) is not a preemption; 12 takes no write lock.
                     switch(1, 100.003000, 11, "D", 12),
                     switch(1, 100.004000, 12, "R", 11))
        pre = contention.writer_preemptions(contention.parse_trace(text))
        self.assertEqual(len(pre), 1)
        self.assertAlmostEqual(pre[0], 2000, places=3)
        md = "\n".join(contention.writer_report([], pre))
        self.assertIn("preempted (runnable, not running): 1 times, p50 2000.0 us", md)

    def test_spins_ended_by_timer(self):
        text = trace(lock(11, 1, 100.0, "start_locking"),
                     ev_line(0, 0, 100.003000, "local_timer_entry", "vector=236"),
                     switch(1, 100.003005, 11, "D", 0),      # 3 ms spin, 5 us after a tick
                     lock(11, 1, 100.004000, "acquire_returned"),
                     lock(11, 1, 100.010000, "start_locking"),
                     switch(1, 100.012000, 11, "D", 0),      # 2 ms spin, 9 ms after it
                     lock(11, 1, 100.013000, "acquire_returned"))
        ev = contention.parse_trace(text)
        self.assertEqual(contention.spins_ended_by_timer(ev), (1, 2))
        no_timer = [e for e in ev if e["ev"] != "local_timer_entry"]
        self.assertIsNone(contention.spins_ended_by_timer(no_timer))
        self.assertIn("after a timer interrupt: 1 of 2.",
                      "\n".join(contention.writer_report([], (), (1, 2))))

    def test_writer_preempted_is_not_queued(self):
        # A switch out in state R (preempted while spinning) is not its sleep.
        text = trace(lock(11, 1, 100.000100, "start_locking"),
                     switch(1, 100.000500, 11, "R", 12),
                     lock(11, 1, 100.000900, "acquire_returned"))
        ws = contention.writer_waits(contention.parse_trace(text))
        self.assertEqual(len(ws), 1)
        self.assertNotIn("spin", ws[0])
        self.assertAlmostEqual(ws[0]["wait"], 800, places=3)


class Targets(unittest.TestCase):
    def test_added_per_call(self):
        e = entry("series", "wall/hrt", contention.PACED_ROW, 100.0, 110.0, samples=300)
        # 100 calls per populate, 10 ms added: 100 us per call.
        self.assertAlmostEqual(contention.added_per_call_us(e), 100.0)

    def test_targets_met_and_missed(self):
        es = [entry("reference", "wall/hrt", contention.PACED_ROW, 100.0, 100.0, 3),
              entry("series", "wall/hrt", contention.PACED_ROW, 100.5, 105.0, 300, p99=2500.0),
              entry("reference", "wall/hrt", "anon4k/POPULATE_WRITE", 100.0, 100.0, 3),
              entry("series", "wall/hrt", "anon4k/POPULATE_WRITE", 100.0, 101.0, 3000, p50=9.6)]
        runs = [{"kernel": "series", "clock": "wall/hrt", "results": bench.parse_lines(
                    "WRITER alone p50_us=9.60 p99_us=20.00 samples=1001\n")},
                {"kernel": "series", "clock": "wall/hrt", "results": bench.parse_lines(
                    "WRITER alone p50_us=9.80 p99_us=20.00 samples=1001\n")},
                {"kernel": "reference", "clock": "wall/hrt", "results": bench.parse_lines(
                    "WRITER alone p50_us=1.00 p99_us=2.00 samples=1001\n")}]
        unc = contention.uncontended(runs)
        self.assertAlmostEqual(unc["wall/hrt"], 9.7)
        unc = {"wall/hrt": 9.6}
        tg = {(t["row"], t["target"][:12]): t for t in contention.targets(es, unc)}
        paced = contention.PACED_ROW
        self.assertEqual(tg[(paced, "writer p99 <")]["status"], "missed")
        self.assertEqual(tg[(paced, "slowdown wit")]["status"], "met")          # +4.5%
        self.assertEqual(tg[(paced, "added popula")]["status"], "missed")       # 45 us > 19.2
        self.assertEqual(tg[(paced, "no-writer se")]["status"], "met")          # 1.005
        self.assertEqual(tg[("anon4k/POPULATE_WRITE", "added popula")]["status"], "met")  # 1 us
        self.assertNotIn(("anon4k/POPULATE_WRITE", "slowdown wit"), tg)        # paced row only

    def test_icount_has_no_paced_slowdown_target(self):
        es = [entry("reference", "icount/tick", contention.PACED_ROW, 100.0, 100.0, 3),
              entry("series", "icount/tick", contention.PACED_ROW, 100.0, 150.0, 300)]
        names = [t["target"] for t in contention.targets(es, {})]
        self.assertFalse(any(n.startswith("slowdown") for n in names))

    def test_report_table(self):
        es = [entry("reference", "wall/tick", contention.PACED_ROW, 100.0, 100.0, 3),
              entry("series", "wall/tick", contention.PACED_ROW, 100.0, 104.0, 300)]
        with tempfile.TemporaryDirectory() as d:
            md = contention.report(es, {"mib": 256, "rounds": 3, "boots": 1}, Path(d), {})
            self.assertIn("| wall/tick | series | anon4k-paced/POPULATE_WRITE | 100.0 | 104.0 | 4.0 | 100 | 40.0 |", md)


class Job(unittest.TestCase):
    def test_rows_and_trace(self):
        j = contention.job(256, 3, (contention.PACED_ROW,), trace=True)
        self.assertIn(f"populate_bench contention 256 3 {contention.PACED_ROW} >> $out", j)
        self.assertIn("events/$e", j)
        self.assertIn("TRACE-BEGIN", j)
        self.assertNotIn("tracefs", contention.job(256, 3, ()))

    def test_paced_row_is_a_contention_row(self):
        self.assertIn(contention.PACED_ROW, bench.CONTENTION_ROWS)

    def test_bad_setting_is_named(self):
        from rflh.util import HarnessError
        with self.assertRaises(HarnessError) as cm:
            contention.run(None, timers=("fast",))
        self.assertIn("tick hrt", str(cm.exception))


if __name__ == "__main__":
    unittest.main()
