/* clock.h - a clock's time as one 64-bit count of nanoseconds, for the
 * engine and its tests. Leaves errno alone (the engine's contract) and is
 * async-signal-safe. */
#ifndef THR_CLOCK_H
#define THR_CLOCK_H

#include <errno.h>
#include <stdint.h>
#include <time.h>

/* Saturates: a time before the epoch is 0, one past 2^64 ns is UINT64_MAX.
 * tv_nsec must be in 0..999999999. */
static inline uint64_t thr_clock_ts_ns(const struct timespec *ts)
{
	if (ts->tv_sec < 0)
		return 0;
	if ((uint64_t)ts->tv_sec >= UINT64_MAX / 1000000000ull)
		return UINT64_MAX;
	return (uint64_t)ts->tv_sec * 1000000000ull + (uint64_t)ts->tv_nsec;
}

/* clock_gettime() cannot fail for a valid clock id and pointer, but errno
 * is the host program's whatever happens. */
static inline uint64_t thr_clock_ns(clockid_t clk)
{
	struct timespec ts;
	int saved = errno;
	clock_gettime(clk, &ts);
	errno = saved;
	return thr_clock_ts_ns(&ts);
}

#endif
