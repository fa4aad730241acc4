# The front door. Everything runs through harness/ (python3 -m rflh).
#   make              build the series kernel, boot it, run the demo
#   make check        the full test run (see README.md)
# Settings: VARIANT=reference|base|series  TOOLCHAIN=host  KSRC=/path
#           CACHE=/var/cache/rfl-populate  JOBS=N
PY     ?= python3
RFLH    = cd harness && $(PY) -m rflh
export CMD KUNIT_KVM VARIANT TOOLCHAIN KSRC CACHE JOBS ARCH KUNIT_ARCH MATRIX_ARCHES BUILD ROUNDS SIZES ITERATIONS CONTENTION_MIB CONTENTION_ROUNDS SEED0 SEEDS NOPS NEGATIVE

.PHONY: all demo check bench negative cross-mips fuzz fuzz-record stress each-patch kunit matrix shell harness-test tree tree-reset export tree-status build help
all: demo

demo:
	$(RFLH) demo

check: harness-test
	$(RFLH) check

# ROUNDS=3 SIZES="2 8" ITERATIONS=10 by default; see docs/benchmark.md.
bench:
	$(RFLH) bench

# Prove the verdict catches a WARNING, a missing sentinel and a required SKIP.
negative:
	$(RFLH) negative

# An arch without Rust still builds mm/madvise.o (Debian's mips cross gcc).
cross-mips:
	$(RFLH) cross-mips

# Differential fuzzing, C v7.3 vs Rust (SEEDS=50 NOPS=2000 from SEED0=1).
fuzz:
	$(RFLH) fuzz

# Record the reference traces that make check compares the series with.
fuzz-record:
	$(RFLH) fuzz-record

# Stress and fault tests on both debug kernels; outcomes must match.
stress:
	$(RFLH) stress

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

help:
	@sed -n '2,6p' Makefile
