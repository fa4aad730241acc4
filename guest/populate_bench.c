// SPDX-License-Identifier: GPL-2.0
/*
 * populate_bench: the MADV_POPULATE table of the original series' cover
 * letter (touching vs POPULATE_READ/WRITE vs FALLOCATE, per backing, on
 * private and shared mappings), a memset floor, and a lock-hold probe.
 *
 * Usage: populate_bench SIZE_MIB ITERATIONS [DISK_DIR]
 *        populate_bench lockprobe SIZE_MIB ROUNDS
 *
 * Output, one result per line, for the host to parse:
 *   BENCH size_mib=S map=M backing=B op=O min_ms=X median_ms=Y n=N
 *   BENCH size_mib=S map=M backing=B op=O unavailable=REASON
 *   FLOOR size_mib=S op=memset min_ms=X median_ms=Y n=N
 *   LOCKPROBE size_mib=S backing=B p50_us=X p99_us=Y max_us=Z samples=N
 * Every cell uses a fresh mapping (and a fresh, empty file) per iteration.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "populate_compat.h"

#define HPAGE (2UL << 20)

enum backing { ANON, MEMFD, MEMFD_HUGE, TMPFS, FILEB, HUGETLBFS, NR_BACKINGS };
static const char *backing_name[] = { "anon4k", "memfd4k", "memfd2m", "tmpfs", "file", "hugetlbfs" };

enum op { READ, WRITE, READWRITE, POP_READ, POP_WRITE, FALLOC, FALLOC_POP_READ,
	  FALLOC_POP_WRITE, NR_OPS };
static const char *op_name[] = { "Read", "Write", "Read/Write", "POPULATE_READ",
	"POPULATE_WRITE", "FALLOCATE", "FALLOCATE+POPULATE_READ", "FALLOCATE+POPULATE_WRITE" };

static size_t pgsz;
static const char *disk_dir;

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Open a fresh, empty file of @size for @b; -1 with errno on failure. */
static int open_backing(enum backing b, size_t size)
{
	char path[256];
	int fd = -1;

	switch (b) {
	case MEMFD:
		fd = memfd_create("bench", 0);
		break;
	case MEMFD_HUGE:
		fd = memfd_create("bench", MFD_HUGETLB);
		break;
	case TMPFS:
		snprintf(path, sizeof(path), "/tmp/bench.XXXXXX");
		fd = mkstemp(path);
		break;
	case FILEB:
		if (!disk_dir) {
			errno = ENODEV;
			return -1;
		}
		snprintf(path, sizeof(path), "%s/bench.XXXXXX", disk_dir);
		fd = mkstemp(path);
		break;
	case HUGETLBFS:
		snprintf(path, sizeof(path), "/dev/hugepages/bench.XXXXXX");
		fd = mkstemp(path);
		break;
	default:
		return -1;
	}
	if (fd < 0)
		return -1;
	if (b == TMPFS || b == FILEB || b == HUGETLBFS)
		unlink(path);
	if (ftruncate(fd, size)) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* Run one iteration; return elapsed ms, or -errno. */
static double run_once(enum backing b, int shared, enum op op, size_t size)
{
	int flags = shared ? MAP_SHARED : MAP_PRIVATE;
	volatile char *p;
	double t0, t1;
	char *addr;
	int fd = -1;
	size_t i;
	int ret = 0;

	if (b == ANON) {
		if (op >= FALLOC)
			return -EOPNOTSUPP;
		addr = mmap(NULL, size, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
	} else {
		fd = open_backing(b, size);
		if (fd < 0)
			return -errno;
		addr = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, fd, 0);
	}
	if (addr == MAP_FAILED) {
		ret = -errno;
		if (fd >= 0)
			close(fd);
		return ret;
	}
	p = addr;
	t0 = now_ms();
	switch (op) {
	case READ:
		for (i = 0; i < size; i += pgsz)
			(void)p[i];
		break;
	case WRITE:
		for (i = 0; i < size; i += pgsz)
			p[i] = 1;
		break;
	case READWRITE:
		for (i = 0; i < size; i += pgsz)
			p[i] = p[i] + 1;
		break;
	case POP_READ:
	case POP_WRITE:
		if (madvise(addr, size, op == POP_READ ? MADV_POPULATE_READ : MADV_POPULATE_WRITE))
			ret = -errno;
		break;
	case FALLOC:
	case FALLOC_POP_READ:
	case FALLOC_POP_WRITE:
		if (fallocate(fd, 0, 0, size)) {
			ret = -errno;
			break;
		}
		if (op != FALLOC && madvise(addr, size, op == FALLOC_POP_READ ?
					    MADV_POPULATE_READ : MADV_POPULATE_WRITE))
			ret = -errno;
		break;
	default:
		ret = -EINVAL;
	}
	t1 = now_ms();
	munmap(addr, size);
	if (fd >= 0)
		close(fd);
	return ret ? ret : t1 - t0;
}

static void cell(size_t mib, int shared, enum backing b, enum op op, int iters)
{
	double *t = calloc(iters, sizeof(*t));
	size_t size = mib << 20;
	int i;

	printf("BENCH size_mib=%zu map=%s backing=%s op=%s ", mib,
	       shared ? "shared" : "private", backing_name[b], op_name[op]);
	for (i = 0; i < iters; i++) {
		t[i] = run_once(b, shared, op, size);
		if (t[i] < 0) {
			printf("unavailable=%s\n", strerrorname_np((int)-t[i]));
			fflush(stdout);
			free(t);
			return;
		}
	}
	qsort(t, iters, sizeof(*t), cmp_double);
	printf("min_ms=%.3f median_ms=%.3f n=%d\n", t[0],
	       iters % 2 ? t[iters / 2] : (t[iters / 2 - 1] + t[iters / 2]) / 2, iters);
	fflush(stdout);
	free(t);
}

static void floor_memset(size_t mib, int iters)
{
	size_t size = mib << 20;
	char *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	double *t = calloc(iters, sizeof(*t));
	int i;

	memset(p, 1, size);	/* populated: only the copy is timed */
	for (i = 0; i < iters; i++) {
		double t0 = now_ms();

		memset(p, i, size);
		t[i] = now_ms() - t0;
	}
	qsort(t, iters, sizeof(*t), cmp_double);
	printf("FLOOR size_mib=%zu op=memset min_ms=%.3f median_ms=%.3f n=%d\n", mib, t[0],
	       iters % 2 ? t[iters / 2] : (t[iters / 2 - 1] + t[iters / 2]) / 2, iters);
	fflush(stdout);
	munmap(p, size);
	free(t);
}

/* Lock-hold probe: mmap()+munmap() latency while another thread populates. */
struct probe {
	char *addr;
	size_t size;
	int rounds;
	volatile int done;
};

static void *populater(void *arg)
{
	struct probe *pr = arg;
	int i;

	for (i = 0; i < pr->rounds; i++) {
		madvise(pr->addr, pr->size, MADV_POPULATE_WRITE);
		madvise(pr->addr, pr->size, MADV_DONTNEED);
	}
	pr->done = 1;
	return NULL;
}

static void lock_probe(size_t mib, int shared, int rounds)
{
	size_t size = mib << 20, n = 0, cap = 1 << 20;
	double *lat = malloc(cap * sizeof(*lat));
	struct probe pr = { .size = size, .rounds = rounds };
	pthread_t th;

	pr.addr = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	pthread_create(&th, NULL, populater, &pr);
	while (!pr.done && n < cap) {
		double t0 = now_ms();
		void *q = mmap(NULL, pgsz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		munmap(q, pgsz);
		lat[n++] = (now_ms() - t0) * 1e3;
	}
	pthread_join(th, NULL);
	qsort(lat, n, sizeof(*lat), cmp_double);
	printf("LOCKPROBE size_mib=%zu backing=%s p50_us=%.1f p99_us=%.1f max_us=%.1f samples=%zu\n",
	       mib, shared ? "shmem" : "anon", n ? lat[n / 2] : 0, n ? lat[n * 99 / 100] : 0,
	       n ? lat[n - 1] : 0, n);
	fflush(stdout);
	munmap(pr.addr, size);
	free(lat);
}

static int reserve_hugepages(unsigned long nr)
{
	FILE *f = fopen("/proc/sys/vm/nr_hugepages", "w");
	unsigned long got = 0;

	if (!f)
		return -1;
	fprintf(f, "%lu\n", nr);
	fclose(f);
	f = fopen("/proc/sys/vm/nr_hugepages", "r");
	if (!f || fscanf(f, "%lu", &got) != 1)
		got = 0;
	if (f)
		fclose(f);
	return got >= nr ? 0 : -1;
}

int main(int argc, char **argv)
{
	size_t mib;
	int iters, shared, b, op;

	if (argc == 4 && !strcmp(argv[1], "lockprobe")) {
		pgsz = getpagesize();
		mib = strtoul(argv[2], NULL, 0);
		iters = atoi(argv[3]);
		if (!mib || iters < 1)
			return 2;
		lock_probe(mib, 0, iters);
		lock_probe(mib, 1, iters);
		return 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: %s SIZE_MIB ITERATIONS [DISK_DIR]\n"
			"       %s lockprobe SIZE_MIB ROUNDS\n", argv[0], argv[0]);
		return 2;
	}
	mib = strtoul(argv[1], NULL, 0);
	iters = atoi(argv[2]);
	disk_dir = argc > 3 ? argv[3] : NULL;
	pgsz = getpagesize();
	if (!mib || iters < 1) {
		fprintf(stderr, "SIZE_MIB and ITERATIONS must be positive\n");
		return 2;
	}
	/* Enough huge pages for one mapping at a time, plus slack. */
	if (reserve_hugepages((mib << 20) / HPAGE + 4))
		printf("# could not reserve %zu huge pages\n", (mib << 20) / HPAGE + 4);
	floor_memset(mib, iters);
	for (shared = 0; shared <= 1; shared++)
		for (b = 0; b < NR_BACKINGS; b++)
			for (op = 0; op < NR_OPS; op++) {
				if (!shared && op >= FALLOC)
					continue;
				if (b == ANON && op >= FALLOC)
					continue;
				cell(mib, shared, b, op, iters);
			}
	return 0;
}
