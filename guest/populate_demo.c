// SPDX-License-Identifier: GPL-2.0
/*
 * A short MADV_POPULATE demo for `make`: populate anonymous and shmem
 * memory, show RSS before and after, and show the error codes user space
 * gets instead of SIGBUS.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "populate_compat.h"

static long rss_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static int show(const char *what, void *p, size_t len, int advice, int expect)
{
	double t0 = now_ms();
	int r = madvise(p, len, advice);
	int err = r ? errno : 0;
	double dt = now_ms() - t0;

	printf("  %-44s -> %-9s %8.2f ms  RSS %6ld kB  %s\n", what,
	       err ? strerrorname_np(err) : "0", dt, rss_kb(),
	       err == expect ? "(as expected)" : "(UNEXPECTED)");
	return err == expect ? 0 : 1;
}

int main(void)
{
	size_t mb = 64, len = mb << 20, pg = getpagesize();
	struct utsname u;
	int bad = 0;
	char *p;

	uname(&u);
	printf("MADV_POPULATE demo on Linux %s\n", u.release);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	printf("  mmap %zu MiB private anonymous          RSS %6ld kB\n", mb, rss_kb());
	bad |= show("POPULATE_READ  (maps the shared zero page)", p, len, MADV_POPULATE_READ, 0);
	bad |= show("POPULATE_WRITE (allocates every page)", p, len, MADV_POPULATE_WRITE, 0);
	munmap(p + pg, pg);
	bad |= show("POPULATE_WRITE over a hole", p, len, MADV_POPULATE_WRITE, ENOMEM);
	mprotect(p, pg, PROT_NONE);
	bad |= show("POPULATE_READ on PROT_NONE", p, pg, MADV_POPULATE_READ, EINVAL);
	bad |= show("POPULATE_WRITE, unaligned start", p + 1, pg, MADV_POPULATE_WRITE, EINVAL);
	munmap(p, len);
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	bad |= show("POPULATE_READ on 64 MiB shared (shmem)", p, len, MADV_POPULATE_READ, 0);
	printf("MADV_POPULATE demo: %s\n", bad ? "FAILED" : "all results as expected");
	return bad;
}
