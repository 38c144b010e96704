/* bench-util.h - what the shim benchmarks share: a clock, a loopback
 * acceptor, a comparison for qsort, pinning to one CPU and reading a
 * measuring child's output. Header-only
 * (static functions), as each benchmark is one program. */
#ifndef THR_BENCH_UTIL_H
#define THR_BENCH_UTIL_H

#include <sched.h>
#include <sys/wait.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* A thread's body: accepts and closes connections on *(int *)arg, the
 * listening socket, for ever. */
static inline void *acceptor(void *arg)
{
	int ls = *(int *)arg;
	for (;;) {
		int c = accept(ls, NULL, NULL);
		if (c >= 0)
			close(c);
	}
	return NULL;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Every variant on the same CPU (children inherit it): on a shared machine
 * two CPUs differ, and the ratios compare variants, not CPUs. The last CPU
 * we may use, as the first is where the system's own work tends to land. */
static inline void pin_to_one_cpu(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return;
	for (int cpu = CPU_SETSIZE - 1; cpu >= 0; cpu--)
		if (CPU_ISSET(cpu, &set)) {
			CPU_ZERO(&set);
			CPU_SET(cpu, &set);
			sched_setaffinity(0, sizeof(set), &set);
			return;
		}
}

/* After forking child pid with its stdout on fds[1]: reads what it prints
 * (up to len - 1 bytes) into buf, NUL-terminated, and reaps it, leaving
 * its wait status in *ret_status. Returns the bytes read, or -1. */
static inline ssize_t read_child(int fds[2], pid_t pid, char *buf,
                                 size_t len, int *ret_status)
{
	close(fds[1]);
	memset(buf, 0, len);
	ssize_t r = read(fds[0], buf, len - 1);
	close(fds[0]);
	if (waitpid(pid, ret_status, 0) < 0)
		*ret_status = -1;
	return r;
}

#endif
