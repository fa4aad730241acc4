# The front door. Everything runs through harness/ (python3 -m rflh).
#   make              build the series kernel, boot it, run the demo
#   make check        the full test run (see README.md)
# Settings: VARIANT=reference|base|series|series-norust  TOOLCHAIN=host  KSRC=/path
#           CACHE=/var/cache/rfl-populate  JOBS=N
PY     ?= python3
RFLH    = cd harness && $(PY) -m rflh
export CMD KUNIT_KVM STRESS_SCALE BOOTS VARIANT TOOLCHAIN KSRC CACHE JOBS ARCH KUNIT_ARCH MATRIX_ARCHES BUILD ROUNDS SIZES ITERATIONS CONTENTION_MIB CONTENTION_ROUNDS TIMERS CLOCKS ROWS CONTENTION_TRACE SEED0 SEEDS NOPS NEGATIVE

.PHONY: all demo check bench contention ab-bench negative cross-mips upstream upstream-refresh fuzz fuzz-record stress early-boot each-patch kunit matrix shell harness-test tree tree-reset export tree-status build help
all: demo

demo:
	$(RFLH) demo

check: harness-test
	$(RFLH) check

# ROUNDS=3 SIZES="2 8" ITERATIONS=10 by default; see docs/benchmark.md.
bench:
	$(RFLH) bench

# The mmap_lock contention rows alone: C v7.3 against the series, under
# both clocks and two timer setups (TIMERS="tick hrt", CLOCKS="icount wall",
# ROWS=..., BOOTS=1). CONTENTION_TRACE=1: one traced series boot per clock
# instead, each yield and long writer wait broken down
# (build/contention-trace/trace-<clock>.md).
contention:
	$(RFLH) contention

# The C and the Rust populate in one series kernel, on the same mappings:
# the seed table's POPULATE cells alternating call by call, and the
# contention rows in passes C, Rust, Rust, C (CLOCKS="icount wall",
# SIZES="2 8", ITERATIONS=10, AB_CONTENTION=1).
ab-bench:
	$(RFLH) ab-bench

# Prove the verdict catches a WARNING, a missing sentinel and a required SKIP.
negative:
	$(RFLH) negative

# An arch without Rust still builds mm/madvise.o (Debian's mips cross gcc).
cross-mips:
	$(RFLH) cross-mips

# The upstream form (patches/upstream/): git am onto v7.3, then
# format-patch --cover-letter --base into build/upstream, b4-ready.
upstream:
	$(RFLH) upstream

# Rewrite the upstream form's own patch from the series tree (its diff
# only; the message is kept) after the series' first patches changed.
upstream-refresh:
	$(RFLH) upstream-refresh

# Differential fuzzing, C v7.3 vs Rust (SEEDS=50 NOPS=2000 from SEED0=1).
fuzz:
	$(RFLH) fuzz

# Record the reference traces that make check compares the series with.
fuzz-record:
	$(RFLH) fuzz-record

# Stress and fault tests on both debug kernels; outcomes must match.
# STRESS_SCALE=4 runs each with four times the load.
stress:
	$(RFLH) stress

# Early-boot splat rates: both debug kernels, BOOTS=30 boots each, with and
# without LA57, each stopped once every CPU is up.
early-boot:
	$(RFLH) early-boot

# Build (and boot where QEMU can) the series on the other Rust
# architectures: riscv64 arm loongarch64 s390x um (MATRIX_ARCHES=...;
# arm64-64k, arm64 with 64 KiB pages, is not in the default list).
matrix:
	$(RFLH) matrix

# The standard KUnit path: kunit.py run --kunitconfig=mm on UML
# (KUNIT_ARCH=x86_64 or arm64: under QEMU).
kunit:
	$(RFLH) kunit

# Build every prefix of the queue: each patch must build, warning-free,
# with CLIPPY=1 and make rustdoc.
each-patch:
	$(RFLH) each-patch

# A shell in the toolchain root, in the series tree (CMD="..." runs one
# command): kunit.py, checkpatch.pl and make run there as documented.
shell:
	@$(RFLH) shell

harness-test:
	@echo "==> harness unit tests"
	cd harness && $(PY) -m unittest discover -s tests -t . -q

build:
	$(RFLH) build test

tree:
	$(RFLH) tree

tree-reset:
	$(RFLH) tree-reset

export:
	$(RFLH) export

tree-status:
	@$(RFLH) tree-status

# One line a target, with its cost on 2 cores under TCG (README's table
# has the measurements behind each figure).
help:
	@echo 'make [target] [VARIANT=reference|base|series|series-norust] [TOOLCHAIN=host] [KSRC=/path]'
	@echo '     [CACHE=/var/cache/rfl-populate] [JOBS=N]   (README.md: settings and costs)'
	@echo '  all, demo     build the series kernel, boot it, show MADV_POPULATE working  (a debug build: 8-23 min cold)'
	@echo '  check         the full test run: N passed, N failed, N skipped  (cold 19-50 min; warm 15-25 min)'
	@echo '  harness-test  the harness unit tests  (seconds)'
	@echo '  stress        stress tests and the leak check on both debug kernels, outcomes compared; STRESS_SCALE=4  (two boots, 5-8 min warm)'
	@echo '  negative      the verdict must catch a WARNING, a hang, a required SKIP, a leak, an ignored SIGKILL; NEGATIVE="leak sigkill"  (about 5 min warm, plus the broken kernel)'
	@echo '  fuzz          differential fuzzer, v7.3 C against the series; SEEDS=50 NOPS=2000  (about 6 min a kernel)'
	@echo '  fuzz-record   re-record the C v7.3 traces make check compares with  (one boot)'
	@echo '  early-boot    early-boot splat rates of both debug kernels, with and without LA57; BOOTS=30  (4 x BOOTS boots)'
	@echo '  contention    mmap_lock contention rows: C v7.3 vs Rust, icount+wall, tick+hrt timers; CONTENTION_TRACE=1 traces'
	@echo '  ab-bench      C vs Rust in one series kernel (same mappings): seed-table cells + contention rows  (~40 min)'
	@echo '  bench         C v7.3 against Rust: populate table and contention rows; ROUNDS=3  (about an hour)'
	@echo '  matrix        build and boot the series on riscv64 arm loongarch64 s390x um; MATRIX_ARCHES=...  (warm 5-8 min; cold 60 min)'
	@echo '  kunit         kunit.py run --kunitconfig=mm; KUNIT_ARCH=um|x86_64|arm64|loongarch  (UML warm 31 s; cold 10-21 min)'
	@echo '  each-patch    build every prefix of the queue, warning-free  (84 min)'
	@echo '  cross-mips    build mm/madvise.o and mm/gup.o for mips, no Rust  (36 s cold)'
	@echo '  upstream      the upstream form as b4-ready patches in build/upstream (git am on v7.3)  (seconds)'
	@echo '  upstream-refresh  rewrite the diff of patches/upstream/0001 from the series tree  (seconds)'
	@echo '  tree          the series as an editable git tree (./linux)  (seconds)'
	@echo '  export        regenerate patches/ from the tree  (seconds)'
	@echo '  tree-status   tree work that patches/ lacks  (seconds)'
	@echo '  tree-reset    drop the tree work, re-apply patches/  (seconds)'
	@echo '  shell         a shell in the toolchain root, in the series tree; CMD="..."  (seconds)'
	@echo '  build         build the series debug kernel only  (8-23 min cold)'
