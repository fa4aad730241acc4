// SPDX-License-Identifier: GPL-2.0
/*
 * populate_bench: the MADV_POPULATE table of the original series' cover
 * letter (touching vs POPULATE_READ/WRITE vs FALLOCATE, per backing, on
 * private and shared mappings), a memset floor, a lock-hold probe and the
 * mmap_lock contention benchmark.
 *
 * Usage: populate_bench SIZE_MIB ITERATIONS [DISK_DIR]
 *        populate_bench ab SIZE_MIB ITERATIONS [DISK_DIR]
 *        populate_bench impl c|rust
 *        populate_bench lockprobe SIZE_MIB ROUNDS
 *        populate_bench contention SIZE_MIB ROUNDS [ROW]
 *
 * Output, one result per line, for the host to parse:
 *   BENCH size_mib=S map=M backing=B op=O min_ms=X median_ms=Y n=N
 *   BENCH size_mib=S map=M backing=B op=O unavailable=REASON
 *   FLOOR size_mib=S op=memset min_ms=X median_ms=Y n=N
 *   LOCKPROBE size_mib=S backing=B p50_us=X p99_us=Y max_us=Z samples=N
 *   CONTENTION row=R size_mib=S threads=N rounds=R alone_ms=X writer_ms=Y
 *              p50_us=A p99_us=B max_us=C samples=N       (one line)
 *   CDF row=R q=Q0,Q1,...,Q100
 *   CONTENTION row=R size_mib=S unavailable=REASON
 *   WRITER alone p50_us=X p99_us=Y samples=N  (the writer's call, no populate)
 *   AB size_mib=S map=M backing=B op=O c_median_ms=X rust_median_ms=Y
 *      ratio_median=R ratio_min=A ratio_max=B n=N               (one line)
 *   AB size_mib=S map=M backing=B op=O unavailable=REASON
 * "ab" runs every POPULATE cell of the table in one kernel with both
 * implementations, switched through AB_KNOB before each call (C first in
 * even rounds, Rust first in odd ones); ratio_* are over the rounds'
 * Rust/C. "impl" sets the switch for the runs that follow.
 * Lines starting with '#' are comments. Every cell uses a fresh mapping (and
 * a fresh, empty file) per iteration.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
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

/*
 * ANON_MANYVMA: private anonymous memory split into one VMA per page before
 * the timer starts (MADV_DONTFORK on every other page: VM_DONTCOPY differs
 * between neighbours, so nothing merges), to time populate across VMAs.
 */
enum backing { ANON, MEMFD, MEMFD_HUGE, TMPFS, FILEB, HUGETLBFS, ANON_MANYVMA, NR_BACKINGS };
static const char *backing_name[] = { "anon4k", "memfd4k", "memfd2m", "tmpfs", "file", "hugetlbfs",
	"anon4k-manyvma" };

enum op { READ, WRITE, READWRITE, POP_READ, POP_WRITE, FALLOC, FALLOC_POP_READ,
	  FALLOC_POP_WRITE, NR_OPS };
static const char *op_name[] = { "Read", "Write", "Read/Write", "POPULATE_READ",
	"POPULATE_WRITE", "FALLOCATE", "FALLOCATE+POPULATE_READ", "FALLOCATE+POPULATE_WRITE" };

static size_t pgsz;
static const char *disk_dir;

/* CONFIG_MADVISE_POPULATE_AB_BENCH: Y while madvise() runs the C populate. */
#define AB_KNOB "/sys/module/madvise/parameters/populate_c"
static int manyvma_note;

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

/* Lines of /proc/self/maps: the number of VMAs; -1 if unreadable. */
static long count_vmas(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	long n = 0;
	int c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * Can @size be split into one VMA per page without going over
 * vm.max_map_count? Keeps 64 VMAs of headroom for the C library, the
 * stack and the like.
 */
static int manyvma_fits(size_t size)
{
	long max = read_long("/proc/sys/vm/max_map_count");
	long now = count_vmas();

	if (max < 0)
		max = 65530;
	if (now < 0)
		now = 64;
	return (long)(size / pgsz) + now + 64 <= max;
}

/* One VMA per page: MADV_DONTFORK on every other page. 0 or -errno. */
static int split_per_page(char *addr, size_t size)
{
	size_t i;

	if (madvise(addr, size, MADV_NOHUGEPAGE))
		return -errno;
	for (i = 0; i < size; i += 2 * pgsz)
		if (madvise(addr + i, pgsz, MADV_DONTFORK))
			return -errno;
	return 0;
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

	if (b == ANON || b == ANON_MANYVMA) {
		if (op >= FALLOC || (b == ANON_MANYVMA && shared))
			return -EOPNOTSUPP;
		if (b == ANON_MANYVMA && !manyvma_fits(size))
			return -E2BIG;
		addr = mmap(NULL, size, PROT_READ | PROT_WRITE, flags | MAP_ANONYMOUS, -1, 0);
		if (addr != MAP_FAILED && b == ANON_MANYVMA) {
			long before = count_vmas();

			ret = split_per_page(addr, size);
			if (ret) {
				munmap(addr, size);
				return ret;
			}
			/* Once per cell: show that the split happened. */
			if (manyvma_note) {
				printf("# anon4k-manyvma: %ld VMAs after the split of %zu pages "
				       "(%ld before)\n", count_vmas(), size / pgsz, before);
				manyvma_note = 0;
			}
		}
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

	manyvma_note = b == ANON_MANYVMA && op == READ;	/* once a size */
	for (i = 0; i < iters; i++) {
		t[i] = run_once(b, shared, op, size);
		if (t[i] < 0) {
			printf("BENCH size_mib=%zu map=%s backing=%s op=%s unavailable=%s\n", mib,
			       shared ? "shared" : "private", backing_name[b], op_name[op],
			       strerrorname_np((int)-t[i]));
			fflush(stdout);
			free(t);
			return;
		}
	}
	qsort(t, iters, sizeof(*t), cmp_double);
	printf("BENCH size_mib=%zu map=%s backing=%s op=%s ", mib,
	       shared ? "shared" : "private", backing_name[b], op_name[op]);
	printf("min_ms=%.3f median_ms=%.3f n=%d\n", t[0],
	       iters % 2 ? t[iters / 2] : (t[iters / 2 - 1] + t[iters / 2]) / 2, iters);
	fflush(stdout);
	free(t);
}

/* Let the C (1) or the Rust (0) populate serve madvise(); 0 or -errno. */
static int set_impl(int c)
{
	int fd = open(AB_KNOB, O_WRONLY);
	int ret = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, c ? "Y" : "N", 1) != 1)
		ret = -errno;
	close(fd);
	return ret;
}

static double median_sorted(const double *v, int n)
{
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* One POPULATE cell, both implementations, alternating call by call. */
static void ab_cell(size_t mib, int shared, enum backing b, enum op op, int iters)
{
	double *t[2], *q = calloc(iters, sizeof(*q));
	const char *why = NULL;
	size_t size = mib << 20;
	int i, k, ret;

	t[0] = calloc(iters, sizeof(double));	/* C */
	t[1] = calloc(iters, sizeof(double));	/* Rust */
	manyvma_note = b == ANON_MANYVMA;
	for (i = 0; i < iters && !why; i++) {
		for (k = 0; k < 2 && !why; k++) {
			int c = (i + k) % 2 == 0;
			double x;

			ret = set_impl(c);
			if (ret) {
				why = "knob";
				break;
			}
			x = run_once(b, shared, op, size);
			if (x < 0)
				why = strerrorname_np((int)-x);
			t[!c][i] = x;
		}
		if (!why)
			q[i] = t[1][i] / t[0][i];
	}
	printf("AB size_mib=%zu map=%s backing=%s op=%s ", mib, shared ? "shared" : "private",
	       backing_name[b], op_name[op]);
	if (why) {
		printf("unavailable=%s\n", why);
	} else {
		qsort(t[0], iters, sizeof(double), cmp_double);
		qsort(t[1], iters, sizeof(double), cmp_double);
		qsort(q, iters, sizeof(double), cmp_double);
		printf("c_median_ms=%.3f rust_median_ms=%.3f ratio_median=%.4f ratio_min=%.4f "
		       "ratio_max=%.4f n=%d\n", median_sorted(t[0], iters),
		       median_sorted(t[1], iters), median_sorted(q, iters), q[0], q[iters - 1],
		       iters);
	}
	fflush(stdout);
	free(t[0]);
	free(t[1]);
	free(q);
}

static int is_populate(enum op op)
{
	return op == POP_READ || op == POP_WRITE || op == FALLOC_POP_READ ||
	       op == FALLOC_POP_WRITE;
}

/* The cells of the table: FALLOCATE needs a shared file mapping. */
static int cell_wanted(int shared, enum backing b, enum op op)
{
	if (!shared && op >= FALLOC)
		return 0;
	if ((b == ANON || b == ANON_MANYVMA) && op >= FALLOC)
		return 0;
	return !(b == ANON_MANYVMA && shared);	/* private mappings only */
}

static int reserve_hugepages(unsigned long nr);

/* SIZE_MIB ITERATIONS [DISK_DIR], as both table modes take them; 0 or 2. */
static int table_args(int argc, char **argv, size_t *mib, int *iters)
{
	*mib = strtoul(argv[0], NULL, 0);
	*iters = atoi(argv[1]);
	disk_dir = argc > 2 ? argv[2] : NULL;
	if (!*mib || *iters < 1) {
		fprintf(stderr, "SIZE_MIB and ITERATIONS must be positive\n");
		return 2;
	}
	/* Enough huge pages for one mapping at a time, plus slack. */
	if (reserve_hugepages((*mib << 20) / HPAGE + 4))
		printf("# could not reserve %zu huge pages\n", (*mib << 20) / HPAGE + 4);
	return 0;
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

/*
 * Contention: mmap()+munmap() latency in a writer thread while populate
 * runs, and the populate's own time with and without that writer.
 */
#define HP_NR "/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages"
#define HP_FREE "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
#define THP_ENABLED "/sys/kernel/mm/transparent_hugepage/enabled"
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << 26)
#endif
#define MAX_THREADS 4
#define NQ 101

enum ckind { C_ANON, C_MEMFD, C_HUGETLB, C_THP };

struct crow {
	const char *name;
	enum ckind kind;
	int advice;
	int threads;
	int pace_us;		/* the writer sleeps this long after each call; 0: loops */
};

static const struct crow crows[] = {
	{ "anon4k/POPULATE_WRITE", C_ANON, MADV_POPULATE_WRITE, 1, 0 },
	/* A paced writer: one mmap()+munmap() a millisecond, as a real one. */
	{ "anon4k-paced/POPULATE_WRITE", C_ANON, MADV_POPULATE_WRITE, 1, 1000 },
	{ "anon4k/POPULATE_READ", C_ANON, MADV_POPULATE_READ, 1, 0 },
	{ "memfd4k/POPULATE_WRITE", C_MEMFD, MADV_POPULATE_WRITE, 1, 0 },
	{ "hugetlb/POPULATE_WRITE", C_HUGETLB, MADV_POPULATE_WRITE, 1, 0 },
	{ "thp/POPULATE_WRITE", C_THP, MADV_POPULATE_WRITE, 1, 0 },
	/* QEMU's touch_all_pages(): one POPULATE_WRITE per thread over its part. */
	{ "qemu-like/POPULATE_WRITE", C_ANON, MADV_POPULATE_WRITE, MAX_THREADS, 0 },
};

/* CPUs for the populating thread and the writer; -1: not pinned. */
static int cpu_pop = -1, cpu_wr = -1;

/*
 * What to put back in sysfs if we are interrupted: written by the signal
 * handler with write(2) only, so the strings are prepared in advance.
 */
static char restore_thp[32], restore_hp[32];

/* Write @val to @path; 0 or -errno. Async-signal-safe. */
static int write_str(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY), e = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		e = -errno;
	close(fd);
	return e;
}

static void restore_sysfs(void)
{
	if (restore_thp[0])
		write_str(THP_ENABLED, restore_thp);
	if (restore_hp[0])
		write_str(HP_NR, restore_hp);
	restore_thp[0] = restore_hp[0] = 0;
}

static void on_signal(int sig)
{
	restore_sysfs();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void pin_to(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "sched_setaffinity(CPU %d): %s\n", cpu, strerror(errno));
}

static void pick_cpus(void)
{
	cpu_set_t set;
	int i, n = 0;

	CPU_ZERO(&set);
	if (sched_getaffinity(0, sizeof(set), &set) || CPU_COUNT(&set) < 2) {
		printf("# contention: %d CPU available: no thread is pinned\n",
		       CPU_COUNT(&set) < 1 ? 1 : CPU_COUNT(&set));
		return;
	}
	for (i = 0; i < CPU_SETSIZE && n < 2; i++)
		if (CPU_ISSET(i, &set)) {
			if (n++ == 0)
				cpu_pop = i;
			else
				cpu_wr = i;
		}
	printf("# contention: populating thread on CPU %d, writer on CPU %d "
	       "(%d-thread rows: populating threads not pinned)\n", cpu_pop, cpu_wr, MAX_THREADS);
}

/*
 * Make sure @nr free 2 MiB pages exist; remember the old nr_hugepages for
 * restore_sysfs(). 0 or -errno.
 */
static int want_free_hugepages(long nr)
{
	long total = read_long(HP_NR), avail = read_long(HP_FREE);
	char val[32];
	int e;

	if (total < 0 || avail < 0)
		return -ENOENT;
	if (avail >= nr)
		return 0;
	snprintf(restore_hp, sizeof(restore_hp), "%ld\n", total);
	snprintf(val, sizeof(val), "%ld\n", total + nr - avail);
	e = write_str(HP_NR, val);
	if (e)
		return e;
	if (read_long(HP_FREE) < nr)
		return -ENOMEM;
	return 0;
}

/* Switch THP to "always", remembering the current mode. 0 or -errno. */
static int thp_always(void)
{
	char buf[128], *l, *r;
	FILE *f = fopen(THP_ENABLED, "r");

	if (!f)
		return -errno;
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return -EIO;
	}
	fclose(f);
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!l || !r || r - l - 1 >= (long)sizeof(restore_thp) - 1)
		return -EINVAL;
	*r = 0;
	if (strcmp(l + 1, "always")) {
		int e = write_str(THP_ENABLED, "always\n");

		if (e)
			return e;
		snprintf(restore_thp, sizeof(restore_thp), "%s\n", l + 1);
	}
	return 0;
}

/* AnonHugePages of the whole process, kB; -1 if unknown. */
static long anon_huge_kb(void)
{
	FILE *f = fopen("/proc/self/smaps_rollup", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

struct cmap {
	char *addr;		/* what populate covers */
	char *base;		/* what to munmap */
	size_t len;		/* its length */
	int fd;
};

/* A fresh mapping of @size for row @r; 0 or -errno. */
static int cmap_make(const struct crow *r, size_t size, struct cmap *m)
{
	int e;

	m->fd = -1;
	m->len = size;
	m->base = MAP_FAILED;
	switch (r->kind) {
	case C_ANON:
		m->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case C_MEMFD:
		m->fd = memfd_create("contention", 0);
		if (m->fd < 0)
			return -errno;
		if (ftruncate(m->fd, size)) {
			e = errno;
			close(m->fd);
			return -e;
		}
		m->base = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, m->fd, 0);
		break;
	case C_HUGETLB:
		m->base = mmap(NULL, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
		break;
	case C_THP:
		/* 2 MiB-aligned: map one huge page more and trim. */
		m->len = size + HPAGE;
		m->base = mmap(NULL, m->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	}
	if (m->base == MAP_FAILED) {
		e = errno;
		if (m->fd >= 0)
			close(m->fd);
		return -e;
	}
	m->addr = m->base;
	if (r->kind == C_THP) {
		char *a = (char *)(((uintptr_t)m->base + HPAGE - 1) & ~(HPAGE - 1));

		if (a > m->base)
			munmap(m->base, a - m->base);
		if (a + size < m->base + m->len)
			munmap(a + size, m->base + m->len - (a + size));
		m->base = m->addr = a;
		m->len = size;
	}
	if (r->kind == C_ANON || r->kind == C_THP) {
		if (madvise(m->addr, size, r->kind == C_THP ? MADV_HUGEPAGE : MADV_NOHUGEPAGE)) {
			e = errno;
			munmap(m->base, m->len);
			return -e;
		}
	}
	return 0;
}

static void cmap_free(struct cmap *m)
{
	munmap(m->base, m->len);
	if (m->fd >= 0)
		close(m->fd);
}

struct crun {
	const struct crow *r;
	char *addr;
	size_t size;
	int writer;
	pthread_barrier_t bar;
	atomic_int done;
	double start[MAX_THREADS], end[MAX_THREADS];
	int err[MAX_THREADS];
	double *lat;		/* writer samples, us */
	size_t cap, n, dropped;
	int wr_err;
};

struct parg {
	struct crun *c;
	int idx;
};

static void spawn(pthread_t *th, void *(*fn)(void *), void *arg)
{
	int e = pthread_create(th, NULL, fn, arg);

	if (e) {
		fprintf(stderr, "pthread_create: %s\n", strerror(e));
		restore_sysfs();
		exit(1);
	}
}

static void *pop_thread(void *arg)
{
	struct parg *a = arg;
	struct crun *c = a->c;
	size_t part = c->size / c->r->threads;
	char *p = c->addr + a->idx * part;

	if (c->r->threads == 1)
		pin_to(cpu_pop);
	pthread_barrier_wait(&c->bar);
	c->start[a->idx] = now_ms();
	c->err[a->idx] = madvise(p, part, c->r->advice) ? errno : 0;
	c->end[a->idx] = now_ms();
	atomic_fetch_add(&c->done, 1);
	return NULL;
}

static void *writer_thread(void *arg)
{
	struct crun *c = arg;

	pin_to(cpu_wr);
	memset(c->lat, 0, c->cap * sizeof(*c->lat));	/* prefault the samples */
	pthread_barrier_wait(&c->bar);
	do {
		double t0 = now_ms(), t1;
		void *q = mmap(NULL, pgsz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (q == MAP_FAILED) {
			c->wr_err = errno;
			break;
		}
		munmap(q, pgsz);
		t1 = now_ms();
		if (c->n < c->cap)
			c->lat[c->n++] = (t1 - t0) * 1e3;
		else
			c->dropped++;
		if (c->r->pace_us) {
			struct timespec ts = { 0, c->r->pace_us * 1000L };

			nanosleep(&ts, NULL);
		}
	} while (atomic_load(&c->done) < c->r->threads);
	return NULL;
}

/*
 * One timed populate of a fresh mapping, with or without the writer.
 * Returns ms from the first thread's start to the last thread's end, or
 * -errno.
 */
static double crun_once(struct crun *c, const struct crow *r, size_t size, int writer,
			long *thp_kb)
{
	pthread_t th[MAX_THREADS], wr;
	struct parg args[MAX_THREADS];
	struct cmap m = { 0 };
	double t0, t1;
	int i, e;

	e = cmap_make(r, size, &m);
	if (e)
		return e;
	c->r = r;
	c->addr = m.addr;
	c->size = size;
	c->writer = writer;
	c->n = c->dropped = 0;
	c->wr_err = 0;
	atomic_store(&c->done, 0);
	pthread_barrier_init(&c->bar, NULL, r->threads + !!writer);
	if (writer)
		spawn(&wr, writer_thread, c);
	for (i = 0; i < r->threads; i++) {
		args[i] = (struct parg){ c, i };
		spawn(&th[i], pop_thread, &args[i]);
	}
	for (i = 0; i < r->threads; i++)
		pthread_join(th[i], NULL);
	if (writer)
		pthread_join(wr, NULL);
	pthread_barrier_destroy(&c->bar);
	if (thp_kb)
		*thp_kb = anon_huge_kb();
	cmap_free(&m);
	t0 = c->start[0];
	t1 = c->end[0];
	for (i = 0; i < r->threads; i++) {
		if (c->err[i])
			return -c->err[i];
		t0 = c->start[i] < t0 ? c->start[i] : t0;
		t1 = c->end[i] > t1 ? c->end[i] : t1;
	}
	if (c->wr_err)
		return -c->wr_err;
	return t1 - t0;
}

static double median_of(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void contention_row(const struct crow *r, size_t mib, int rounds)
{
	size_t size = mib << 20, nall = 0, dropped = 0;
	double *alone = calloc(rounds, sizeof(double));
	double *withw = calloc(rounds, sizeof(double));
	double *all = NULL;
	struct crun c = { 0 };
	long thp_kb = -1;
	double warm;
	int e = 0, rnd, q;

	/* Room for the fastest writer we know (about 1 us an operation). */
	c.cap = size >> 8 > (1 << 16) ? size >> 8 : 1 << 16;
	c.lat = malloc(c.cap * sizeof(*c.lat));
	if (!alone || !withw || !c.lat) {
		e = -ENOMEM;
		goto out;
	}
	if ((r->kind == C_HUGETLB || r->kind == C_THP) && size % HPAGE) {
		e = -EINVAL;
		goto out;
	}
	if (r->kind == C_HUGETLB)
		e = want_free_hugepages(size / HPAGE);
	else if (r->kind == C_THP)
		e = thp_always();
	if (e)
		goto out;
	/*
	 * One populate first, not timed: the first touch of guest memory is
	 * slower under QEMU (the host backs it then), and would otherwise fall
	 * on the first populate alone.
	 */
	warm = crun_once(&c, r, size, 0, NULL);
	if (warm < 0) {
		e = (int)warm;
		goto out;
	}
	for (rnd = 0; rnd < rounds; rnd++) {
		double t = crun_once(&c, r, size, 0, r->kind == C_THP && !rnd ? &thp_kb : NULL);

		if (t < 0) {
			e = (int)t;
			goto out;
		}
		alone[rnd] = t;
		t = crun_once(&c, r, size, 1, NULL);
		if (t < 0) {
			e = (int)t;
			goto out;
		}
		withw[rnd] = t;
		all = realloc(all, (nall + c.n) * sizeof(*all));
		if (!all) {
			e = -ENOMEM;
			goto out;
		}
		memcpy(all + nall, c.lat, c.n * sizeof(*all));
		nall += c.n;
		dropped += c.dropped;
	}
	if (r->kind == C_THP)
		printf("# %s: AnonHugePages %ld kB of %zu kB after the first populate\n",
		       r->name, thp_kb, size >> 10);
	if (dropped)
		printf("# %s: %zu writer samples beyond the buffer of %zu were not kept\n",
		       r->name, dropped, c.cap);
	qsort(all, nall, sizeof(*all), cmp_double);
	printf("CONTENTION row=%s size_mib=%zu threads=%d rounds=%d alone_ms=%.3f writer_ms=%.3f "
	       "p50_us=%.2f p99_us=%.2f max_us=%.2f samples=%zu\n", r->name, mib, r->threads,
	       rounds, median_of(alone, rounds), median_of(withw, rounds),
	       all[(50 * (nall - 1)) / 100], all[(99 * (nall - 1)) / 100], all[nall - 1], nall);
	/* q<k> = the sample at index floor(k * (n - 1) / 100) of the sorted samples. */
	printf("CDF row=%s q=", r->name);
	for (q = 0; q < NQ; q++)
		printf("%s%.2f", q ? "," : "", all[(q * (nall - 1)) / 100]);
	printf("\n");
out:
	if (e)
		printf("CONTENTION row=%s size_mib=%zu unavailable=%s\n", r->name, mib,
		       strerrorname_np(-e) ? strerrorname_np(-e) : "unknown");
	fflush(stdout);
	restore_sysfs();
	free(alone);
	free(withw);
	free(all);
	free(c.lat);
}

/*
 * The writer's call alone: mmap()+munmap() of one page with no populate
 * running, on the writer's CPU. Prints a WRITER line with the median.
 */
static int writer_alone(void)
{
	enum { N = 1001 };
	double *v = malloc(N * sizeof(*v));
	cpu_set_t old;
	int i, e = 0;

	if (!v)
		return -ENOMEM;
	if (sched_getaffinity(0, sizeof(old), &old)) {
		free(v);
		return -errno;
	}
	pin_to(cpu_wr);
	for (i = 0; i < N; i++) {
		double t0 = now_ms();
		void *q = mmap(NULL, pgsz, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (q == MAP_FAILED) {
			e = -errno;
			break;
		}
		munmap(q, pgsz);
		v[i] = (now_ms() - t0) * 1e3;
	}
	if (!e) {
		qsort(v, N, sizeof(*v), cmp_double);
		printf("WRITER alone p50_us=%.2f p99_us=%.2f samples=%d\n", v[N / 2],
		       v[(99 * (N - 1)) / 100], N);
	}
	free(v);
	/* Threads inherit the affinity: give the next ones the old one back. */
	sched_setaffinity(0, sizeof(old), &old);
	return e;
}

/* Every row, or only the row named @only. */
static int contention(size_t mib, int rounds, const char *only)
{
	struct sigaction sa = { .sa_handler = on_signal };
	size_t i, n = sizeof(crows) / sizeof(crows[0]);

	if (mib < 1 || rounds < 1) {
		fprintf(stderr, "SIZE_MIB and ROUNDS must be positive\n");
		return 2;
	}
	for (i = 0; only && i < n && strcmp(crows[i].name, only); i++)
		;
	if (only && i == n) {
		fprintf(stderr, "no contention row %s; the rows are:\n", only);
		for (i = 0; i < n; i++)
			fprintf(stderr, "  %s\n", crows[i].name);
		return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	pick_cpus();
	if (writer_alone())
		printf("WRITER alone unavailable=mmap\n");
	fflush(stdout);
	for (i = 0; i < n; i++)
		if (!only || !strcmp(crows[i].name, only))
			contention_row(&crows[i], mib, rounds);
	return 0;
}

int main(int argc, char **argv)
{
	long old_hp = read_long("/proc/sys/vm/nr_hugepages");
	size_t mib;
	int iters, shared, b, op;

	pgsz = getpagesize();
	if (argc == 4 && !strcmp(argv[1], "lockprobe")) {
		mib = strtoul(argv[2], NULL, 0);
		iters = atoi(argv[3]);
		if (!mib || iters < 1)
			return 2;
		lock_probe(mib, 0, iters);
		lock_probe(mib, 1, iters);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "impl")) {
		int ret = set_impl(!strcmp(argv[2], "c"));

		if (ret || (strcmp(argv[2], "c") && strcmp(argv[2], "rust"))) {
			fprintf(stderr, "impl %s: %s (needs CONFIG_MADVISE_POPULATE_AB_BENCH=y, "
				"and c or rust)\n", argv[2], ret ? strerror(-ret) : "unknown");
			return 2;
		}
		return 0;
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "ab")) {
		if (table_args(argc - 2, argv + 2, &mib, &iters))
			return 2;
		for (shared = 0; shared <= 1; shared++)
			for (b = 0; b < NR_BACKINGS; b++)
				for (op = 0; op < NR_OPS; op++)
					if (is_populate(op) && cell_wanted(shared, b, op))
						ab_cell(mib, shared, b, op, iters);
		set_impl(0);
		if (old_hp >= 0)
			reserve_hugepages(old_hp);
		return 0;
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "contention"))
		return contention(strtoul(argv[2], NULL, 0), atoi(argv[3]),
				  argc == 5 ? argv[4] : NULL);
	if (argc < 3) {
		fprintf(stderr, "usage: %s SIZE_MIB ITERATIONS [DISK_DIR]\n"
			"       %s ab SIZE_MIB ITERATIONS [DISK_DIR]\n"
			"       %s impl c|rust\n"
			"       %s lockprobe SIZE_MIB ROUNDS\n"
			"       %s contention SIZE_MIB ROUNDS [ROW]\n", argv[0], argv[0], argv[0],
			argv[0], argv[0]);
		return 2;
	}
	if (table_args(argc - 1, argv + 1, &mib, &iters))
		return 2;
	floor_memset(mib, iters);
	for (shared = 0; shared <= 1; shared++)
		for (b = 0; b < NR_BACKINGS; b++)
			for (op = 0; op < NR_OPS; op++)
				if (cell_wanted(shared, b, op))
					cell(mib, shared, b, op, iters);
	/* Put the huge page pool back as we found it. */
	if (old_hp >= 0)
		reserve_hugepages(old_hp);
	return 0;
}
