// SPDX-License-Identifier: GPL-2.0
/*
 * populate_fuzz: a differential fuzzer for MADV_POPULATE_(READ|WRITE).
 *
 * Usage: populate_fuzz SEED NOPS
 *
 * From SEED it generates NOPS operations on an arena of ARENA_PAGES pages at
 * a fixed address (so that runs are comparable across kernels): mmap of
 * anon/shmem/memfd/tmpfs-file/hugetlb memory with random protections,
 * munmap, mprotect, mremap, ftruncate (so files end before their mappings),
 * MADV_DONTNEED, fork (the child populates and exits), MADV_POPULATE_READ
 * and _WRITE on random ranges (aligned, unaligned, empty, wrapping, across
 * holes and VMAs) and process_madvise() on itself with several iovecs.
 *
 * Every operation prints one line: "<i> <op> <args> = <ret> <errno>"; a
 * populate also prints the /proc/self/pagemap presence bitmap of the arena
 * pages it covered. Two kernels that implement populate the same way give
 * identical output.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "populate_compat.h"

#define ARENA ((uintptr_t)0x600000000000UL)
#define ARENA_PAGES 1024UL		/* 4 MiB, two huge pages */
#define HPAGE_PAGES 512UL

static size_t pg;
static uint64_t rng;
static int pagemap_fd, memfd, tmpfd, hugefd;

static uint64_t next(void)
{
	/* xorshift64*: small, fast, same on every build. */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ULL;
}

static uint64_t below(uint64_t n)
{
	return n ? next() % n : 0;
}

static char *page(uint64_t i)
{
	return (char *)(ARENA + i * pg);
}

/* Presence bitmap of arena pages [first, first + n) as hex, LSB first. */
static void print_bitmap(uint64_t first, uint64_t n, FILE *out)
{
	uint64_t i;
	unsigned int nib = 0;

	fputs(" [", out);
	for (i = 0; i < n; i++) {
		uint64_t e = 0;

		if (pread(pagemap_fd, &e, sizeof(e), ((ARENA / pg) + first + i) * sizeof(e)) != sizeof(e))
			e = 0;
		nib |= (unsigned int)((e >> 63) & 1) << (i % 4);
		if (i % 4 == 3 || i == n - 1) {
			fputc("0123456789abcdef"[nib], out);
			nib = 0;
		}
	}
	fputs("]", out);
}

static int random_prot(void)
{
	static const int prots[] = { PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE,
				     PROT_READ | PROT_WRITE, PROT_WRITE };

	return prots[below(5)];
}

static void op_mmap(uint64_t i, FILE *out)
{
	uint64_t first = below(ARENA_PAGES), n = 1 + below(64);
	int kind = below(7), prot = random_prot(), flags, fd = -1;
	off_t off = 0;
	void *p;

	if (first + n > ARENA_PAGES)
		n = ARENA_PAGES - first;
	flags = MAP_FIXED | (below(2) ? MAP_SHARED : MAP_PRIVATE);
	switch (kind) {
	case 0:
	case 1:
		flags |= MAP_ANONYMOUS;
		break;
	case 2:
		flags = (flags & ~MAP_PRIVATE) | MAP_SHARED | MAP_ANONYMOUS;
		break;
	case 3:
		fd = memfd;
		off = below(32) * pg;
		break;
	case 4:
	case 5:
		fd = tmpfd;
		off = below(32) * pg;
		break;
	case 6:
		/* hugetlb: whole huge pages, from the small pool. */
		first = below(ARENA_PAGES / HPAGE_PAGES) * HPAGE_PAGES;
		n = HPAGE_PAGES;
		fd = hugefd;
		break;
	}
	if (fd < 0 && !(flags & MAP_ANONYMOUS)) {
		fprintf(out, "%lu mmap-skip\n", i);
		return;
	}
	p = mmap(page(first), n * pg, prot, flags, fd, off);
	fprintf(out, "%lu mmap %lu+%lu kind=%d prot=%d flags=%#x off=%ld = %ld %d\n", i, first, n,
		kind, prot, flags, (long)off, p == MAP_FAILED ? -1L : (long)((char *)p - page(0)),
		p == MAP_FAILED ? errno : 0);
}

static void range(uint64_t *first, uint64_t *n)
{
	*first = below(ARENA_PAGES);
	*n = 1 + below(96);
	if (*first + *n > ARENA_PAGES)
		*n = ARENA_PAGES - *first;
}

static void populate(uint64_t i, FILE *out, const char *who)
{
	uint64_t first, n, len, shape = below(10);
	int advice = below(2) ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
	char *start;
	int r;

	range(&first, &n);
	start = page(first);
	len = n * pg;
	switch (shape) {
	case 0:		/* unaligned start */
		start += 1 + below(pg - 1);
		break;
	case 1:		/* zero length */
		len = 0;
		break;
	case 2:		/* unaligned length: rounded up */
		len -= below(pg - 1);
		break;
	case 3:		/* start + len wraps */
		len = (size_t)-1 - (uintptr_t)start + 1 + pg * (1 + below(4));
		break;
	case 4:		/* runs past the arena end */
		len = (ARENA_PAGES - first + below(8)) * pg;
		break;
	}
	r = madvise(start, len, advice);
	fprintf(out, "%lu %s %s %lu+%lu shape=%lu = %d %d", i, who,
		advice == MADV_POPULATE_READ ? "POPULATE_READ" : "POPULATE_WRITE",
		first, n, shape, r, r ? errno : 0);
	print_bitmap(first, n, out);
	fputc('\n', out);
}

static void op_process_madvise(uint64_t i, FILE *out)
{
	static int pidfd = -1;
	struct iovec iov[4];
	uint64_t first[4], n[4];
	int k, nv = 1 + below(4), advice = below(2) ? MADV_POPULATE_WRITE : MADV_POPULATE_READ;
	long r;

	if (pidfd < 0)
		pidfd = syscall(SYS_pidfd_open, getpid(), 0);
	for (k = 0; k < nv; k++) {
		range(&first[k], &n[k]);
		iov[k].iov_base = page(first[k]);
		iov[k].iov_len = n[k] * pg;
	}
	r = syscall(SYS_process_madvise, pidfd, iov, nv, advice, 0);
	fprintf(out, "%lu process_madvise %s nv=%d = %ld %d", i,
		advice == MADV_POPULATE_READ ? "POPULATE_READ" : "POPULATE_WRITE", nv, r,
		r < 0 ? errno : 0);
	for (k = 0; k < nv; k++)
		print_bitmap(first[k], n[k], out);
	fputc('\n', out);
}

static void op_fork(uint64_t i, FILE *out)
{
	int fds[2], status = 0, k;
	uint64_t child_rng = next();
	char buf[4096];
	ssize_t got;
	pid_t pid;

	if (pipe(fds))
		return;
	fflush(out);
	pid = fork();
	if (!pid) {
		FILE *o = fdopen(fds[1], "w");

		close(fds[0]);
		rng = child_rng;
		for (k = 0; k < 3; k++)
			populate(i, o, "child");
		fclose(o);
		_exit(0);
	}
	close(fds[1]);
	while ((got = read(fds[0], buf, sizeof(buf))) > 0)
		fwrite(buf, 1, got, out);
	close(fds[0]);
	waitpid(pid, &status, 0);
	fprintf(out, "%lu fork = %d\n", i, status);
}

int main(int argc, char **argv)
{
	uint64_t seed, nops, i;
	FILE *out = stdout;

	if (argc != 3) {
		fprintf(stderr, "usage: %s SEED NOPS\n", argv[0]);
		return 2;
	}
	seed = strtoull(argv[1], NULL, 0);
	nops = strtoull(argv[2], NULL, 0);
	rng = seed * 0x9E3779B97F4A7C15ULL + 1;
	pg = getpagesize();
	/* THP and khugepaged would make presence depend on timing. */
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	setvbuf(out, NULL, _IOFBF, 1 << 16);
	pagemap_fd = open("/proc/self/pagemap", O_RDONLY);
	memfd = memfd_create("fuzz", 0);
	if (ftruncate(memfd, 64 * pg))
		return 1;
	{
		char path[] = "/tmp/fuzz.XXXXXX";

		tmpfd = mkstemp(path);
		unlink(path);
		if (ftruncate(tmpfd, 48 * pg))
			return 1;
	}
	hugefd = memfd_create("fuzz-huge", MFD_HUGETLB);
	if (hugefd >= 0 && ftruncate(hugefd, 2 * HPAGE_PAGES * pg)) {
		close(hugefd);
		hugefd = -1;
	}
	/* The arena starts as one private anonymous mapping; holes appear. */
	if (mmap(page(0), ARENA_PAGES * pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != page(0)) {
		perror("arena");
		return 1;
	}
	fprintf(out, "seed %lu nops %lu hugetlb %d\n", seed, nops, hugefd >= 0);
	for (i = 0; i < nops; i++) {
		uint64_t first, n;
		uint64_t what = below(100);
		int r;

		if (what < 30) {
			populate(i, out, "self");
		} else if (what < 50) {
			op_mmap(i, out);
		} else if (what < 58) {
			range(&first, &n);
			r = munmap(page(first), n * pg);
			fprintf(out, "%lu munmap %lu+%lu = %d %d\n", i, first, n, r, r ? errno : 0);
		} else if (what < 68) {
			int prot = random_prot();

			range(&first, &n);
			r = mprotect(page(first), n * pg, prot);
			fprintf(out, "%lu mprotect %lu+%lu %d = %d %d\n", i, first, n, prot, r, r ? errno : 0);
		} else if (what < 74) {
			uint64_t to = below(ARENA_PAGES);
			void *p;

			range(&first, &n);
			if (to + n > ARENA_PAGES)
				to = ARENA_PAGES - n;
			p = mremap(page(first), n * pg, n * pg, MREMAP_MAYMOVE | MREMAP_FIXED, page(to));
			fprintf(out, "%lu mremap %lu+%lu -> %lu = %ld %d\n", i, first, n, to,
				p == MAP_FAILED ? -1L : 0L, p == MAP_FAILED ? errno : 0);
		} else if (what < 82) {
			range(&first, &n);
			r = madvise(page(first), n * pg, MADV_DONTNEED);
			fprintf(out, "%lu dontneed %lu+%lu = %d %d\n", i, first, n, r, r ? errno : 0);
		} else if (what < 87) {
			off_t sz = below(64) * pg;

			r = ftruncate(below(2) ? memfd : tmpfd, sz);
			fprintf(out, "%lu ftruncate %ld = %d %d\n", i, (long)sz, r, r ? errno : 0);
		} else if (what < 94) {
			op_process_madvise(i, out);
		} else {
			op_fork(i, out);
		}
	}
	fprintf(out, "done %lu\n", nops);
	fflush(out);
	return 0;
}
