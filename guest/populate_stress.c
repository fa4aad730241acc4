// SPDX-License-Identifier: GPL-2.0
/*
 * populate_stress: stress and fault tests for MADV_POPULATE_(READ|WRITE).
 *
 * Usage: populate_stress [-s SCALE] [TEST...]   (no argument: all tests)
 *
 * -s SCALE multiplies every test's load (durations, iteration counts,
 * repetitions, and uffd_slow_handler's number of faults; never thread
 * counts) by SCALE (1 to 16; default 1), to show that no check depends on
 * how much work the machine got through.
 *
 * The tests run in a child process inside a memory cgroup of their own
 * (rfl-stress/run). When every task of it has exited, leak_check reclaims
 * the cgroup and requires what is still charged to it to be at most
 * LEAK_TOLERANCE_KB: a page the kernel never frees stays charged to the
 * memcg that allocated it, while caches (page cache, dentries, slab
 * objects in KASAN's quarantine, per-CPU lists) are uncharged or
 * reclaimable. It also requires the hugetlb counters to be back where they
 * were.
 *
 * Each test is bounded in count (or holds whatever the count) and prints
 * one line:
 *   STRESS <name> <ok|FAIL> secs=<s> <outcome>
 * where <outcome> lists the errnos seen ("errnos=0,ENOMEM") or what was
 * measured, so that two kernels can be compared line by line. A test that
 * needs something the kernel lacks prints "SKIP" with the reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <liburing.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "populate_compat.h"

/* The cgroup the tests run in, and what may stay charged to it after. */
#define CG "/sys/fs/cgroup/rfl-stress"
#define LEAK_TOLERANCE_KB 1024

static size_t pg;
static int scale = 1;
static bool in_cg;	/* the tests run in CG "/run"; memcg_max uses CG "/memcg" */
static atomic_int stop;
static unsigned int seen_mask;	/* bit per errno < 32, bit 31 for others */
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void seen(int err)
{
	pthread_mutex_lock(&seen_lock);
	seen_mask |= 1u << (err >= 0 && err < 31 ? err : 31);
	pthread_mutex_unlock(&seen_lock);
}

static int madv(void *p, size_t len, int advice)
{
	int r = madvise(p, len, advice) ? errno : 0;

	seen(r);
	return r;
}

static const char *errs(unsigned int mask)
{
	static char buf[256];
	int e;

	buf[0] = 0;
	for (e = 0; e < 32; e++) {
		if (!(mask & (1u << e)))
			continue;
		if (buf[0])
			strcat(buf, ",");
		strcat(buf, e == 0 ? "0" : e == 31 ? "other" : strerrorname_np(e));
	}
	return buf;
}

static long meminfo(const char *key)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, key, strlen(key)) && line[strlen(key)] == ':')
			v = atol(line + strlen(key) + 1);
	if (f)
		fclose(f);
	return v;
}

static bool write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY);
	bool ok = false;

	if (fd >= 0) {
		ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
		if (!ok)
			perror(path);
		close(fd);
	}
	return ok;
}

/* Pages allocated to a file, from st_blocks; -1 if fstat() fails. */
static long file_pages(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? -1 : (long)(st.st_blocks * 512 / pg);
}

/* 1. Populate threads against munmap/mmap, mprotect and mremap threads. */
#define RACE_PAGES 4096
static char *race;

static void *race_populate(void *arg)
{
	unsigned int r = (uintptr_t)arg;

	while (!stop) {
		size_t first = rand_r(&r) % RACE_PAGES, n = 1 + rand_r(&r) % 256;

		if (first + n > RACE_PAGES)
			n = RACE_PAGES - first;
		madv(race + first * pg, n * pg, rand_r(&r) & 1 ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
	}
	return NULL;
}

static void *race_mutate(void *arg)
{
	unsigned int r = (uintptr_t)arg;

	while (!stop) {
		size_t first = rand_r(&r) % RACE_PAGES, n = 1 + rand_r(&r) % 64;
		char *a;

		if (first + n > RACE_PAGES)
			n = RACE_PAGES - first;
		a = race + first * pg;
		switch (rand_r(&r) % 4) {
		case 0:
			munmap(a, n * pg);
			break;
		case 1:
			mmap(a, n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
			break;
		case 2:
			mprotect(a, n * pg, rand_r(&r) % 2 ? PROT_READ : PROT_READ | PROT_WRITE);
			break;
		case 3: {
			size_t to = rand_r(&r) % (RACE_PAGES - n);

			mremap(a, n * pg, n * pg, MREMAP_MAYMOVE | MREMAP_FIXED, race + to * pg);
			break;
		}
		}
	}
	return NULL;
}

static int test_race(char *out)
{
	pthread_t th[4];
	int i;

	race = mmap(NULL, RACE_PAGES * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	stop = 0;
	for (i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, i < 2 ? race_populate : race_mutate, (void *)(uintptr_t)(i + 1));
	sleep(8 * scale);
	stop = 1;
	for (i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	munmap(race, RACE_PAGES * pg);
	/* Allowed: success, a hole (ENOMEM), a read-only part for WRITE (EINVAL). */
	sprintf(out, "errnos=%s", errs(seen_mask));
	return !(seen_mask & ~((1u << 0) | (1u << ENOMEM) | (1u << EINVAL)));
}

/* 2. userfaultfd with a slow handler: every fault drops mmap_lock. */
struct uffd_arg {
	int uffd;
	int served;
};

static void *uffd_handler(void *arg)
{
	struct uffd_arg *ua = arg;
	struct uffd_msg msg;
	struct pollfd pfd = { .fd = ua->uffd, .events = POLLIN };

	while (!stop) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (read(ua->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		usleep(2000);	/* slow: populate must wait with the lock dropped */
		{
			struct uffdio_zeropage zp = {
				.range = { .start = msg.arg.pagefault.address & ~(pg - 1), .len = pg },
			};

			if (!ioctl(ua->uffd, UFFDIO_ZEROPAGE, &zp))
				ua->served++;
		}
	}
	return NULL;
}

static int test_uffd_slow(char *out)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffd_arg ua = { 0 };
	struct uffdio_register reg;
	size_t n = 64 * scale;
	pthread_t th;
	char *p;
	int r;

	ua.uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (ua.uffd < 0 || ioctl(ua.uffd, UFFDIO_API, &api)) {
		sprintf(out, "SKIP userfaultfd: %s", strerror(errno));
		return -1;
	}
	p = mmap(NULL, n * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	reg = (struct uffdio_register){ .range = { (uintptr_t)p, n * pg },
					.mode = UFFDIO_REGISTER_MODE_MISSING };
	if (ioctl(ua.uffd, UFFDIO_REGISTER, &reg)) {
		sprintf(out, "SKIP UFFDIO_REGISTER: %s", strerror(errno));
		return -1;
	}
	stop = 0;
	pthread_create(&th, NULL, uffd_handler, &ua);
	r = madv(p, n * pg, MADV_POPULATE_READ);
	stop = 1;
	pthread_join(th, NULL);
	sprintf(out, "ret=%s faults_served=%d/%zu", r ? strerrorname_np(r) : "0", ua.served, n);
	munmap(p, n * pg);
	close(ua.uffd);
	return r == 0 && ua.served == (int)n;
}

/*
 * 3. SIGKILL during a long populate, and while blocked on userfaultfd.
 *
 * The first child populates a shared memfd of up to 256 MiB with one
 * POPULATE_WRITE and is killed as soon as st_blocks shows a page. st_blocks
 * is read again right after kill(): SIGKILL is pending from then on and GUP
 * checks for it before every page, so the populate must stop short of the
 * whole file (at most the page in flight is added). Had the kernel ignored
 * it, the child would die only on return to user space, with every page
 * allocated. If the populate ended before the kill (the child exited), or
 * the file was full (within 64 pages) when killed, the race was lost: up
 * to three tries.
 *
 * The second child registers a userfaultfd that nobody serves, and a
 * thread of its own reports the fault to us over a pipe: only then is it
 * known to be inside MADV_POPULATE_READ, and only then is it killed.
 * A hang bound (20 s) is the only time limit: the latencies vary with the
 * machine and go to stderr.
 */
/* Seconds until @pid died of SIGKILL; -1 after 20 s, -2 if it ended otherwise. */
static double wait_killed(pid_t pid, int *status)
{
	double t0 = now();

	while (waitpid(pid, status, WNOHANG) == 0) {
		if (now() - t0 > 20)
			return -1;
		usleep(1000);
	}
	return WIFSIGNALED(*status) && WTERMSIG(*status) == SIGKILL ? now() - t0 : -2;
}

static const char *long_populate(double *lat)
{
	size_t len = 256UL << 20, avail = meminfo("MemAvailable") * 1024UL / 4;
	long pages, at_kill = 0, done;
	int attempt, status = 0;

	if (len > avail)
		len = avail / pg * pg;
	pages = len / pg;
	for (attempt = 1; attempt <= 3; attempt++) {
		int fd = memfd_create("rfl-sigkill", 0);
		double t0 = now();
		bool exited = false;
		pid_t pid;

		if (fd < 0)
			return "SETUP_FAILED";
		if (ftruncate(fd, len)) {
			close(fd);
			return "SETUP_FAILED";
		}
		pid = fork();
		if (pid < 0) {
			close(fd);
			return "FORK_FAILED";
		}
		if (!pid) {
			char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

			if (p == MAP_FAILED)
				_exit(2);
			madvise(p, len, MADV_NOHUGEPAGE);
			madvise(p, len, MADV_POPULATE_WRITE);
			_exit(0);
		}
		while (file_pages(fd) == 0 && now() - t0 < 20) {
			if (waitpid(pid, &status, WNOHANG) == pid) {
				exited = true;
				break;
			}
			usleep(1000);
		}
		if (!exited) {
			kill(pid, SIGKILL);
			at_kill = file_pages(fd);
			*lat = wait_killed(pid, &status);
		}
		done = file_pages(fd);
		close(fd);
		if (!exited && *lat == -1)
			return "HUNG";	/* not reaped: a stuck child must not stall us */
		if (exited || !(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)) {
			/* It got to _exit(): the populate ended before the kill. */
			if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
				fprintf(stderr, "sigkill: long populate try %d: ended before "
					"the kill (%ld of %ld pages)\n", attempt, done, pages);
				continue;
			}
			return "CHILD_FAILED";
		}
		fprintf(stderr, "sigkill: long populate try %d: %ld of %ld pages when killed, "
			"%ld when it died\n", attempt, at_kill, pages, done);
		if (at_kill >= pages - 64)
			continue;	/* lost the race: try again */
		if (done == 0)
			return "NO_PAGE_ALLOCATED";
		return done < pages ? "stopped_part_way" : "IGNORED_SIGKILL";
	}
	return "RACE_LOST_3_TIMES";
}

struct blocked_arg {
	int uffd, report;
};

static void *report_fault(void *arg)
{
	struct blocked_arg *ba = arg;
	struct uffd_msg msg;
	char c = 'F';

	/* Blocking read: the first message is populate's fault. Never served. */
	while (read(ba->uffd, &msg, sizeof(msg)) == sizeof(msg))
		if (msg.event == UFFD_EVENT_PAGEFAULT) {
			if (write(ba->report, &c, 1) != 1)
				_exit(5);
			break;
		}
	pause();
	return NULL;
}

static int test_sigkill(char *out)
{
	int fault[2], seen_fault = 0;
	struct pollfd pfd;
	double a = -3, b = -3;
	const char *lp = long_populate(&a);
	int status;
	pid_t pid;
	char c;

	if (pipe(fault))
		return 0;
	pid = fork();
	if (pid < 0) {
		sprintf(out, "long_populate=%s uffd_blocked=FORK_FAILED", lp);
		return 0;
	}
	if (!pid) {
		struct uffdio_api api = { .api = UFFD_API };
		int uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
		char *p = mmap(NULL, 16 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct uffdio_register reg = { .range = { (uintptr_t)p, 16 * pg },
					       .mode = UFFDIO_REGISTER_MODE_MISSING };
		struct blocked_arg ba = { .uffd = uffd, .report = fault[1] };
		pthread_t th;

		if (uffd < 0 || ioctl(uffd, UFFDIO_API, &api) || ioctl(uffd, UFFDIO_REGISTER, &reg))
			_exit(3);
		if (pthread_create(&th, NULL, report_fault, &ba))
			_exit(4);
		madvise(p, 16 * pg, MADV_POPULATE_READ);	/* blocks: nobody serves it */
		_exit(1);
	}
	close(fault[1]);
	pfd = (struct pollfd){ .fd = fault[0], .events = POLLIN };
	if (poll(&pfd, 1, 20000) == 1 && read(fault[0], &c, 1) == 1)
		seen_fault = 1;
	close(fault[0]);
	kill(pid, SIGKILL);
	b = wait_killed(pid, &status);	/* not reaped if stuck: the hang bound holds */
	fprintf(stderr, "sigkill latency: long populate %.3f s, uffd-blocked %.3f s\n", a, b);
	sprintf(out, "long_populate=%s uffd_blocked=%s", lp,
		!seen_fault ? "NO_FAULT_SEEN" : b >= 0 ? "killed_in_fault" : "HUNG");
	return !strcmp(lp, "stopped_part_way") && seen_fault && b >= 0;
}

/* 4. memcg memory.max below the range: ENOMEM, and nothing is killed. */
static int test_memcg(char *out)
{
	const char *cg = in_cg ? CG "/memcg" : "/sys/fs/cgroup/rfl-populate";
	char path[128], pidbuf[32];
	int status, pipefd[2], res = 0;
	pid_t pid;

	if (access("/sys/fs/cgroup/cgroup.controllers", R_OK)) {
		sprintf(out, "SKIP no cgroup2");
		return -1;
	}
	if (!in_cg)
		write_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	mkdir(cg, 0755);
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	write_str(path, "16M");
	snprintf(path, sizeof(path), "%s/memory.swap.max", cg);
	write_str(path, "0");
	if (pipe(pipefd))
		return 0;
	pid = fork();
	if (!pid) {
		size_t len = 64UL << 20;
		char *p;
		int r;

		snprintf(pidbuf, sizeof(pidbuf), "%d", getpid());
		snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
		write_str(path, pidbuf);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		r = madvise(p, len, MADV_POPULATE_WRITE) ? errno : 0;
		if (write(pipefd[1], &r, sizeof(r)) < 0)
			_exit(4);
		_exit(0);
	}
	close(pipefd[1]);
	if (read(pipefd[0], &res, sizeof(res)) != sizeof(res))
		res = -1;
	waitpid(pid, &status, 0);
	close(pipefd[0]);
	snprintf(path, sizeof(path), "%s/memory.events", cg);
	{
		char buf[512] = "";
		int fd = open(path, O_RDONLY);
		char *k;
		long kills = -1;

		if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0) {
			k = strstr(buf, "oom_kill ");
			if (k)
				kills = atol(k + 9);
		}
		if (fd >= 0)
			close(fd);
		sprintf(out, "ret=%s child=%s oom_kills=%ld",
			res < 0 ? "none(killed)" : res ? strerrorname_np(res) : "0",
			WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "exited", kills);
		rmdir(cg);
		/*
		 * v7.3 charges the pages in the fault and, at memory.max, the
		 * memcg OOM killer kills the populating task itself: only the
		 * task in the cgroup dies, and we, outside it, do not. ENOMEM
		 * without a kill would also be acceptable.
		 */
		return (res == ENOMEM && WIFEXITED(status) && kills == 0) ||
		       (res < 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && kills == 1);
	}
}

/* 5. An exhausted hugetlb pool: EFAULT. */
/* The start of a file, NUL-terminated; false (and "") if nothing was read. */
static bool read_text(const char *path, char *buf, size_t n)
{
	int fd = open(path, O_RDONLY);
	ssize_t r = fd >= 0 ? read(fd, buf, n - 1) : -1;

	buf[r > 0 ? r : 0] = 0;
	if (fd >= 0)
		close(fd);
	return r > 0;
}

static int test_hugetlb(char *out)
{
	const char *nr = "/proc/sys/vm/nr_hugepages";
	const char *over = "/proc/sys/vm/nr_overcommit_hugepages";
	long hkb = meminfo("Hugepagesize");
	size_t h = hkb > 0 ? hkb * 1024UL : 0;
	char saved_nr[32], saved_over[32];
	bool restored;
	char *p;
	int r;

	/*
	 * One huge page in the pool and no surplus ones, so that a populate of
	 * four must fail; both sysctls go back to their values at start on
	 * every path, and a failed restore fails the test.
	 */
	if (h == 0 || !read_text(nr, saved_nr, sizeof(saved_nr)) ||
	    !read_text(over, saved_over, sizeof(saved_over))) {
		sprintf(out, "SKIP no hugetlb pool to resize");
		return -1;
	}
	if (!write_str(over, "0") || !write_str(nr, "1")) {
		restored = write_str(nr, saved_nr) & write_str(over, saved_over);
		sprintf(out, "SKIP cannot resize the hugetlb pool%s",
			restored ? "" : " (and could not restore it)");
		return restored ? -1 : 0;
	}
	p = mmap(NULL, 4 * h, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_NORESERVE, -1, 0);
	r = p == MAP_FAILED ? -1 : madv(p, 4 * h, MADV_POPULATE_WRITE);
	if (p != MAP_FAILED)
		munmap(p, 4 * h);
	restored = write_str(nr, saved_nr) & write_str(over, saved_over);
	if (r < 0)
		sprintf(out, "SKIP MAP_HUGETLB: %s", strerror(errno));
	else
		sprintf(out, "ret=%s%s", r ? strerrorname_np(r) : "0",
			restored ? "" : " POOL_NOT_RESTORED");
	if (!restored)
		return 0;
	return r < 0 ? -1 : r == EFAULT;
}

/* 6. A file truncated under a populate: EFAULT or success, never a loop. */
static int trunc_fd;
static atomic_long truncs, trunc_pops;
static void *truncater(void *arg)
{
	while (!stop) {
		/*
		 * Paced by count, not time: at full size until two more
		 * populates have returned (the second began after the size
		 * was restored, so it can succeed), then truncate under the
		 * next one and hold size 0 for 1 ms.
		 */
		long want = atomic_load(&trunc_pops) + 2;

		while (!stop && atomic_load(&trunc_pops) < want)
			usleep(100);
		if (stop || ftruncate(trunc_fd, 0))
			break;
		atomic_fetch_add(&truncs, 1);
		usleep(1000);
		if (ftruncate(trunc_fd, 4UL << 20))
			break;
	}
	return NULL;
}

static int test_truncate(char *out)
{
	char path[] = "/tmp/rfl-trunc.XXXXXX";
	size_t len = 4UL << 20;
	bool hung = false;
	pthread_t th;
	double t0 = now();
	int i;
	char *p;

	trunc_fd = mkstemp(path);
	unlink(path);
	if (ftruncate(trunc_fd, len))
		return 0;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, trunc_fd, 0);
	seen_mask = 0;
	stop = 0;
	truncs = trunc_pops = 0;
	pthread_create(&th, NULL, truncater, NULL);
	/*
	 * Bounded by count: at least 200 * SCALE populates across at least
	 * 20 * SCALE truncations, and on until both a success and EFAULT have
	 * been seen. 90 s plus 30 s per SCALE step bounds slow progress, not a
	 * measure: reaching it fails the test. It is checked between populates;
	 * one that never returns is caught by the harness's boot timeout.
	 */
	for (i = 0; (i < 200 * scale || truncs < 20 * scale ||
		     !(seen_mask & 1u) || !(seen_mask & (1u << EFAULT))) &&
		    !(hung = now() - t0 > 90 + 30 * scale); i++) {
		madv(p, len, i & 1 ? MADV_POPULATE_WRITE : MADV_POPULATE_READ);
		atomic_fetch_add(&trunc_pops, 1);
	}
	stop = 1;
	pthread_join(th, NULL);
	munmap(p, len);
	close(trunc_fd);
	fprintf(stderr, "truncate_under_populate: %d populates, %ld truncations\n", i,
		(long)truncs);
	sprintf(out, "errnos=%s%s", errs(seen_mask), hung ? " HANG_BOUND_REACHED" : "");
	/* Both outcomes seen, and nothing but EFAULT or success. */
	return !hung && (seen_mask & 1u) && (seen_mask & (1u << EFAULT)) &&
	       !(seen_mask & ~((1u << 0) | (1u << EFAULT)));
}

/* 7. MADV_HWPOISON on a page in the range: EHWPOISON. */
static void on_sigbus(int sig)
{
	(void)sig;
}

static int test_hwpoison(char *out)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	char *p = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int r;

	sigaction(SIGBUS, &sa, NULL);
	memset(p, 1, 8 * pg);
	if (madvise(p + 3 * pg, pg, MADV_HWPOISON)) {
		sprintf(out, "SKIP MADV_HWPOISON: %s", strerror(errno));
		return -1;
	}
	r = madv(p, 8 * pg, MADV_POPULATE_READ);
	sprintf(out, "ret=%s", r ? strerrorname_np(r) : "0");
	return r == EHWPOISON;
}

/* 8. Page allocation failure injection: only success or ENOMEM. */
static int test_fail_page_alloc(char *out)
{
	const char *d = "/sys/kernel/debug/fail_page_alloc";
	char path[128];
	size_t len = 8UL << 20;
	int i;

	snprintf(path, sizeof(path), "%s/probability", d);
	if (access(path, W_OK)) {
		sprintf(out, "SKIP no %s", d);
		return -1;
	}
	{
		/* Fail 5% of the page allocations of tasks marked make-it-fail. */
		static const char *const attrs[][2] = {
			{ "interval", "1" }, { "times", "-1" }, { "task-filter", "Y" },
			{ "ignore-gfp-wait", "N" }, { "ignore-gfp-highmem", "N" },
			{ "verbose", "0" },
			/* The default min-order is 1: order-0 pages would never fail. */
			{ "min-order", "0" }, { "probability", "5" },
		};

		for (i = 0; i < (int)(sizeof(attrs) / sizeof(attrs[0])); i++) {
			snprintf(path, sizeof(path), "%s/%s", d, attrs[i][0]);
			write_str(path, attrs[i][1]);
		}
	}
	seen_mask = 0;
	write_str("/proc/self/make-it-fail", "1");
	for (i = 0; i < 20 * scale; i++) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       (i & 1 ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);

		madv(p, len, i & 2 ? MADV_POPULATE_READ : MADV_POPULATE_WRITE);
		munmap(p, len);
	}
	write_str("/proc/self/make-it-fail", "0");
	snprintf(path, sizeof(path), "%s/probability", d);
	write_str(path, "0");
	sprintf(out, "errnos=%s", errs(seen_mask));
	/* Injection must have bitten (ENOMEM seen), and nothing but ENOMEM. */
	return seen_mask & (1u << ENOMEM) && !(seen_mask & ~((1u << 0) | (1u << ENOMEM)));
}

/*
 * 9. Populate threads, each on a mapping of its own, against writers that
 * mmap(), munmap() and mprotect() other mappings of the process: every
 * writer needs mmap_lock for writing, and every populate must still return
 * 0 with every page present (mincore()), however often it lets a writer in.
 */
#define YW_POPULATERS 4
#define YW_WRITERS 2
#define YW_PAGES 512
static atomic_long yw_bad, yw_calls, yw_writes;

static void *yw_populate(void *arg)
{
	unsigned int r = (uintptr_t)arg;
	size_t len = YW_PAGES * pg;
	unsigned char *vec = malloc(YW_PAGES);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || !vec) {
		atomic_fetch_add(&yw_bad, 1);
		return NULL;
	}
	madvise(p, len, MADV_NOHUGEPAGE);
	while (!stop) {
		int write = rand_r(&r) & 1, i;

		if (madv(p, len, write ? MADV_POPULATE_WRITE : MADV_POPULATE_READ))
			atomic_fetch_add(&yw_bad, 1);
		else if (mincore(p, len, vec))
			atomic_fetch_add(&yw_bad, 1);
		else
			for (i = 0; i < YW_PAGES; i++)
				if (!(vec[i] & 1)) {
					atomic_fetch_add(&yw_bad, 1);
					break;
				}
		atomic_fetch_add(&yw_calls, 1);
		madvise(p, len, MADV_DONTNEED);
	}
	munmap(p, len);
	free(vec);
	return NULL;
}

static void *yw_write(void *arg)
{
	unsigned int r = (uintptr_t)arg;

	while (!stop) {
		size_t n = 1 + rand_r(&r) % 16;
		char *q = mmap(NULL, n * pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (q == MAP_FAILED)
			continue;
		mprotect(q, pg, PROT_READ | PROT_WRITE);
		munmap(q, n * pg);
		atomic_fetch_add(&yw_writes, 1);
	}
	return NULL;
}

static int test_yield_writers(char *out)
{
	pthread_t th[YW_POPULATERS + YW_WRITERS];
	int i;

	stop = 0;
	yw_bad = yw_calls = yw_writes = 0;
	for (i = 0; i < YW_POPULATERS + YW_WRITERS; i++)
		pthread_create(&th[i], NULL, i < YW_POPULATERS ? yw_populate : yw_write,
			       (void *)(uintptr_t)(i + 1));
	sleep(8 * scale);
	stop = 1;
	for (i = 0; i < YW_POPULATERS + YW_WRITERS; i++)
		pthread_join(th[i], NULL);
	/* The counts vary with timing; they go to stderr, not into the outcome. */
	fprintf(stderr, "yield_writers: %ld populates, %ld writer rounds, %ld bad\n",
		(long)yw_calls, (long)yw_writes, (long)yw_bad);
	sprintf(out, "errnos=%s every_populate_complete=%s", errs(seen_mask),
		yw_bad ? "no" : "yes");
	return !yw_bad && yw_calls > 0 && yw_writes > 0;
}

/*
 * 10. IORING_OP_MADVISE: io_uring runs it in an io-wq worker (the request
 * is forced async), where populate may sleep and let writers in. Each case
 * builds two identical mappings, populates one with madvise() and the other
 * through io_uring, with a writer thread waiting on mmap_lock, and requires
 * the same result and the same resident pages (mincore()).
 */
static atomic_long iou_writes;

/*
 * Takes mmap_lock for writing in a loop, without creating or removing a
 * mapping (a new one could land in the hole of hole_write): it flips the
 * protection of the middle page of three, whose PROT_NONE neighbours keep
 * it from merging with any mapping of the test.
 */
static void *iou_writer(void *arg)
{
	char *q = arg;
	int i = 0;

	while (!stop) {
		mprotect(q + pg, pg, i++ & 1 ? PROT_READ : PROT_READ | PROT_WRITE);
		atomic_fetch_add(&iou_writes, 1);
	}
	return NULL;
}

static int uring_madvise(struct io_uring *ring, void *p, size_t len, int advice)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct io_uring_cqe *cqe;
	int r;

	if (!sqe)
		return EBUSY;
	io_uring_prep_madvise(sqe, p, len, advice);
	r = io_uring_submit(ring);
	if (r != 1)
		return r < 0 ? -r : EIO;
	r = io_uring_wait_cqe(ring, &cqe);
	if (r)
		return -r;
	r = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return r < 0 ? -r : 0;
}

enum iou_kind { IOU_ANON, IOU_RDONLY, IOU_NONE, IOU_HOLE, IOU_SHMEM };

static char *iou_map(enum iou_kind k, size_t len, int fd)
{
	int prot = k == IOU_RDONLY ? PROT_READ : k == IOU_NONE ? PROT_NONE : PROT_READ | PROT_WRITE;
	char *p;

	if (k == IOU_SHMEM)
		p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);
	else
		p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (k == IOU_HOLE)
		munmap(p + len / 2, pg);
	return p;
}

struct iou_case {
	const char *name;
	enum iou_kind kind;
	size_t mib;
	int advice;
};

#define IOU_MAX_MIB 64	/* the largest case: the mincore() vectors' size */

/*
 * One case: madvise() on one mapping, IORING_OP_MADVISE on an identical
 * one. Appends "name=errno" (and what differed) at *o; returns 1 if both
 * paths agree, 0 if not, -1 if the mappings could not be set up.
 */
static int iou_case(struct io_uring *ring, const struct iou_case *c,
		    unsigned char *va, unsigned char *vb, char **o, bool first)
{
	size_t len = c->mib << 20, j, k;
	int fd = -1, ea, eb, ma = 0, mb = 0, res = -1;
	char *a = NULL, *b = NULL;

	if (c->mib > IOU_MAX_MIB)
		goto out;
	if (c->kind == IOU_SHMEM) {
		fd = memfd_create("rfl-iou", 0);
		if (fd < 0 || ftruncate(fd, 2 * len))
			goto out;
	}
	/* The io_uring mapping is the second half of the memfd. */
	a = iou_map(c->kind, len, fd);
	if (c->kind == IOU_SHMEM) {
		b = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, len);
		if (b == MAP_FAILED)
			b = NULL;
	} else {
		b = iou_map(c->kind, len, fd);
	}
	if (!a || !b)
		goto out;
	ea = madv(a, len, c->advice);
	eb = uring_madvise(ring, b, len, c->advice);
	seen(eb);
	/* Resident pages, the hole excepted (mincore() fails on it). */
	for (j = 0; j < len; j += len / 2) {
		size_t skip = c->kind == IOU_HOLE && j ? pg : 0, l = len / 2 - skip;

		if (mincore(a + j + skip, l, va) || mincore(b + j + skip, l, vb)) {
			*o += sprintf(*o, "%s%s:mincore_failed", first ? "" : " ", c->name);
			res = 0;
			goto out;
		}
		for (k = 0; k < l / pg; k++) {
			ma += va[k] & 1;
			mb += vb[k] & 1;
		}
	}
	*o += sprintf(*o, "%s%s=%s", first ? "" : " ", c->name, ea ? strerrorname_np(ea) : "0");
	if (ea != eb || ma != mb)
		*o += sprintf(*o, "(io_uring:%s,resident %d/%d)",
			      eb ? strerrorname_np(eb) : "0", mb, ma);
	res = ea == eb && ma == mb;
out:
	if (res < 0)
		*o += sprintf(*o, "%s%s:setup_failed", first ? "" : " ", c->name);
	if (a)
		munmap(a, len);
	if (b)
		munmap(b, len);
	if (fd >= 0)
		close(fd);
	return res;
}

static int test_io_uring(char *out)
{
	static const struct iou_case cases[] = {
		{ "anon_write", IOU_ANON, 64, MADV_POPULATE_WRITE },
		{ "anon_read", IOU_ANON, 16, MADV_POPULATE_READ },
		{ "shmem_write", IOU_SHMEM, 16, MADV_POPULATE_WRITE },
		{ "rdonly_write", IOU_RDONLY, 4, MADV_POPULATE_WRITE },
		{ "protnone_read", IOU_NONE, 4, MADV_POPULATE_READ },
		{ "hole_write", IOU_HOLE, 4, MADV_POPULATE_WRITE },
	};
	int i, r, rep, n = sizeof(cases) / sizeof(cases[0]), same = 0, differ = 0, broken = 0;
	unsigned char *va = NULL, *vb = NULL;
	struct io_uring ring;
	char *o = out, *wp;
	pthread_t th;

	r = io_uring_queue_init(4, &ring, 0);
	if (r) {
		sprintf(out, "SKIP io_uring_queue_init: %s", strerror(-r));
		return -1;
	}
	va = malloc((IOU_MAX_MIB << 20) / pg);
	vb = malloc((IOU_MAX_MIB << 20) / pg);
	wp = mmap(NULL, 3 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (wp == MAP_FAILED || !va || !vb) {
		sprintf(out, "setup_failed");
		goto out;
	}
	stop = 0;
	iou_writes = 0;
	pthread_create(&th, NULL, iou_writer, wp);
	/*
	 * SCALE repeats the cases. The outcome is the last round's, or that of
	 * the first round in which the two paths differed or a setup failed.
	 */
	for (rep = 0; rep < scale && !differ && !broken; rep++) {
		o = out;
		for (i = 0; i < n; i++) {
			r = iou_case(&ring, &cases[i], va, vb, &o, i == 0);
			same += r == 1;
			differ += r == 0;
			broken += r < 0;
		}
	}
	stop = 1;
	pthread_join(th, NULL);
	fprintf(stderr, "io_uring_madvise: %d of %d cases as madvise() over %d round(s), "
		"%ld writer rounds\n", same, same + differ + broken, rep, (long)iou_writes);
	sprintf(o, " same_as_madvise=%s", !differ && !broken ? "all" : "NO");
out:
	if (wp != MAP_FAILED)
		munmap(wp, 3 * pg);
	io_uring_queue_exit(&ring);
	free(va);
	free(vb);
	return same == n * scale && !differ && !broken && iou_writes > 0;
}

static const struct {
	const char *name;
	int (*fn)(char *out);
} tests[] = {
	{ "race_munmap_mprotect_mremap", test_race },
	{ "uffd_slow_handler", test_uffd_slow },
	{ "sigkill", test_sigkill },
	{ "memcg_max", test_memcg },
	{ "hugetlb_exhausted", test_hugetlb },
	{ "truncate_under_populate", test_truncate },
	{ "hwpoison", test_hwpoison },
	{ "fail_page_alloc", test_fail_page_alloc },
	{ "yield_writers", test_yield_writers },
	{ "io_uring_madvise", test_io_uring },
};

/* The value of "key N" in a flat-keyed file, or of its first number. */
static long cg_value(const char *path, const char *key)
{
	char buf[8192], *k = buf;

	read_text(path, buf, sizeof(buf));
	if (key) {
		size_t n = strlen(key);

		for (k = buf; (k = strstr(k, key)); k += n)
			if ((k == buf || k[-1] == '\n') && k[n] == ' ')
				return atol(k + n + 1);
		return -1;
	}
	return buf[0] >= '0' && buf[0] <= '9' ? atol(buf) : -1;
}

static bool cg_setup(void)
{
	if (access("/sys/fs/cgroup/cgroup.controllers", R_OK))
		return false;
	write_str("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	rmdir(CG "/run");
	rmdir(CG "/memcg");
	rmdir(CG);
	if (mkdir(CG, 0755))
		return false;
	write_str(CG "/cgroup.subtree_control", "+memory");
	return !mkdir(CG "/run", 0755) && !access(CG "/memory.high", W_OK);
}

static const char *const huge_keys[] = {
	"HugePages_Total", "HugePages_Free", "HugePages_Rsvd", "HugePages_Surp",
};

/*
 * After every task of the cgroup has exited: memory.high = 0 drains the
 * per-CPU charge caches and reclaims all that reclaim can free (page
 * cache, shrinkable slab, THPs queued for a deferred split). With nobody
 * left in the cgroup nothing is throttled. What stays charged is memory
 * that nothing will free: leaked pages, page tables or accounted objects.
 * Objects freed after an RCU grace period uncharge late, so this polls; the
 * 5 s bound only decides how long a failing check waits.
 */
static int leak_check(const long *huge0)
{
	long cur = -1, peak, huge1[4];
	bool populated, huge_ok = true;
	char stat[8192], huge[128] = "";
	double t0 = now();
	int i, ok;

	if (!in_cg) {
		printf("STRESS leak_check SKIP secs=0.0 no cgroup2 memory controller for %s\n", CG);
		return 0;
	}
	/* io-wq workers and killed children leave asynchronously. */
	while ((populated = cg_value(CG "/cgroup.events", "populated") != 0) && now() - t0 < 60)
		usleep(10000);
	/* The page cache the tests read stays charged until dropped. */
	if (!write_str("/proc/sys/vm/drop_caches", "3"))
		fprintf(stderr, "leak_check: cannot drop caches; reclaim alone must do\n");
	for (i = 0; i < 50; i++) {
		write_str(CG "/memory.high", "0");
		cur = cg_value(CG "/memory.current", NULL);
		if (cur >= 0 && cur <= LEAK_TOLERANCE_KB * 1024L)
			break;
		usleep(100000);
	}
	peak = cg_value(CG "/memory.peak", NULL);
	ok = !populated && cur >= 0 && cur <= LEAK_TOLERANCE_KB * 1024L;
	if (!ok) {
		/* memory.stat is flushed lazily: read it last, for the record. */
		read_text(CG "/memory.stat", stat, sizeof(stat));
		fprintf(stderr, "leak_check: memory.stat of %s after reclaim:\n%s", CG, stat);
	}
	for (i = 0; i < 4; i++) {
		huge1[i] = meminfo(huge_keys[i]);
		if (huge1[i] != huge0[i]) {
			huge_ok = false;
			sprintf(huge + strlen(huge), " %s %ld->%ld", huge_keys[i], huge0[i], huge1[i]);
		}
	}
	rmdir(CG "/run");
	rmdir(CG);
	ok = ok && huge_ok;
	printf("STRESS leak_check %s secs=%.1f %s%ld kB charged after reclaim "
	       "(tolerance %d kB, peak %ld kB; anon %ld kB, shmem %ld kB, kernel %ld kB, "
	       "pagetables %ld kB); hugetlb counters %s%s\n",
	       ok ? "ok" : "FAIL", now() - t0, populated ? "cgroup still populated; " : "",
	       cur / 1024, LEAK_TOLERANCE_KB, peak / 1024,
	       cg_value(CG "/memory.stat", "anon") / 1024, cg_value(CG "/memory.stat", "shmem") / 1024,
	       cg_value(CG "/memory.stat", "kernel") / 1024,
	       cg_value(CG "/memory.stat", "pagetables") / 1024,
	       huge_ok ? "restored" : "changed:", huge);
	return !ok;
}

static int run_tests(int argc, char **argv)
{
	int i, j, fails = 0;

	if (in_cg) {
		char self[256];

		/* Everything the tests allocate must be charged to CG "/run". */
		write_str(CG "/run/cgroup.procs", "0");
		read_text("/proc/self/cgroup", self, sizeof(self));
		if (!strstr(self, "0::/") || !strstr(self, "/rfl-stress/run\n")) {
			self[strcspn(self, "\n")] = 0;
			printf("STRESS runner FAIL secs=0.0 not in %s/run: /proc/self/cgroup says %s\n",
			       CG, self);
			return 1;
		}
	}
	for (i = 0; i < (int)(sizeof(tests) / sizeof(tests[0])); i++) {
		char out[768] = "";
		double t0;
		int r;

		if (argc > 0) {
			for (j = 0; j < argc && strcmp(argv[j], tests[i].name); j++)
				;
			if (j == argc)
				continue;
		}
		seen_mask = 0;
		t0 = now();
		r = tests[i].fn(out);
		printf("STRESS %s %s secs=%.1f %s\n", tests[i].name,
		       r < 0 ? "SKIP" : r ? "ok" : "FAIL", now() - t0, out);
		fails += r == 0;
	}
	return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
	int i, j, status, first = 1, n = sizeof(tests) / sizeof(tests[0]);
	bool setup_failed;
	long huge0[4];
	pid_t pid;

	pg = getpagesize();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "-s")) {
		scale = argc > 2 ? atoi(argv[2]) : 0;
		if (scale < 1 || scale > 16) {
			fprintf(stderr, "populate_stress: -s takes a load scale from 1 to 16\n");
			return 2;
		}
		first = 3;
	}
	for (i = first; i < argc; i++) {
		for (j = 0; j < n && strcmp(argv[i], tests[j].name); j++)
			;
		if (j == n) {
			fprintf(stderr, "populate_stress: unknown test '%s'; the tests are:", argv[i]);
			for (j = 0; j < n; j++)
				fprintf(stderr, " %s", tests[j].name);
			fprintf(stderr, "\n");
			return 2;
		}
	}
	for (i = 0; i < 4; i++)
		huge0[i] = meminfo(huge_keys[i]);
	in_cg = cg_setup();
	setup_failed = !in_cg && !access("/sys/fs/cgroup/cgroup.controllers", R_OK);
	if (setup_failed)
		printf("STRESS runner FAIL secs=0.0 cgroup v2 is mounted, but %s could not "
		       "be set up with the memory controller\n", CG);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		perror("populate_stress: fork");
		return 1;
	}
	if (!pid)
		_exit(run_tests(argc - first, argv + first));
	if (waitpid(pid, &status, 0) != pid)
		status = -1;
	if (!WIFEXITED(status))
		printf("STRESS runner FAIL secs=0.0 the test process died (status %#x)\n", status);
	/* The leak check runs whatever the tests did. */
	if (leak_check(huge0))
		return 1;
	return WIFEXITED(status) && !WEXITSTATUS(status) && !setup_failed ? 0 : 1;
}
