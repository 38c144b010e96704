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

/* The kernel's own clock_gettime in the vDSO, found by thr_clock_find(),
 * or NULL: not looked for yet, no vDSO (valgrind), or an ABI where it is
 * not used. It returns 0 or -errno and never touches errno. */
typedef int (*thr_clock_fn)(clockid_t clk, struct timespec *ts);
extern thr_clock_fn thr_clock_vdso;

/* Looks thr_clock_vdso up, once per process. thr_pool_open() calls it, so
 * that a program which never attaches a pool (the shim with no config)
 * never pays for it. Keeps errno and dlerror(); not async-signal-safe (the
 * loader's lock). */
void thr_clock_find(void);

/* clock.c: libc's clock_gettime with errno kept: the way when the vDSO's is
 * missing or refuses clk. Leaves *ts at zero if the clock fails. */
void thr_clock_libc(clockid_t clk, struct timespec *ts);

/* Straight to the vDSO where there is one: after a system call, libc's
 * wrapper and its errno save, each code the caches have lost, measured
 * about 10 ns on a gated open+close. Returns 0 if clk cannot be read. */
static inline uint64_t thr_clock_ns(clockid_t clk)
{
	struct timespec ts;
	thr_clock_fn vdso = __atomic_load_n(&thr_clock_vdso, __ATOMIC_RELAXED);
	if (!vdso || vdso(clk, &ts) != 0)
		thr_clock_libc(clk, &ts);
	return thr_clock_ts_ns(&ts);
}

#endif
