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

/* CLOCK_MONOTONIC now plus ns, as a thr_pool_req deadline. Saturates:
 * seconds past INT32_MAX are cut to it, a deadline no wait reaches, so
 * the engine waits without end (a time_t cannot overflow). */
static inline struct timespec thr_clock_deadline_ns(uint64_t ns)
{
	uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
	uint64_t at = ns > UINT64_MAX - now ? UINT64_MAX : now + ns;
	uint64_t secs = at / 1000000000ull;
	return (struct timespec){
		.tv_sec = secs > INT32_MAX ? INT32_MAX : (time_t)secs,
		.tv_nsec = (long)(at % 1000000000ull),
	};
}

/* The same for ms milliseconds from now. */
static inline struct timespec thr_clock_deadline_ms(uint64_t ms)
{
	return thr_clock_deadline_ns(ms > UINT64_MAX / 1000000ull
	                             ? UINT64_MAX : ms * 1000000ull);
}

#endif
