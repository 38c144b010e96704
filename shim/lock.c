/* lock.c - the pool's internal lock: a futex word holding its owner's id.
 * Critical sections are a few hundred nanoseconds, so a waiter that sleeps
 * 10 ms without progress checks the owner, and takes the lock over from a
 * dead one. Must never allocate or block without a bound. */
#include "lock.h"

#include "clock.h"
#include "futex.h"

#include <errno.h>
#include <time.h>

#define SPINS 64
#define NAP_NS (10 * 1000 * 1000)      /* between checks of the owner */
#define PATIENCE_NS (2000000000ull)    /* a live owner this long is stuck */

static bool cas(uint32_t *word, uint32_t *expected, uint32_t desired)
{
	return __atomic_compare_exchange_n(word, expected, desired, false,
	                                   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

static bool try_fast(uint32_t *word, uint32_t me)
{
	for (int i = 0; i < SPINS; i++) {
		if (thr_lock_try(word, me))
			return true;
		__builtin_ia32_pause();
	}
	return false;
}

int thr_lock_acquire(uint32_t *word, const uint32_t *progress, uint32_t me,
                     thr_lock_dead_fn dead, void *ctx)
{
	if (try_fast(word, me))
		return 0;
	const struct timespec nap = { 0, NAP_NS };
	uint32_t seen_owner = 0, seen_progress = 0;
	uint64_t seen_since = 0;
	for (;;) {
		uint32_t v = __atomic_load_n(word, __ATOMIC_RELAXED);
		/* Once we have slept, take it marked, in case others sleep too. */
		if (v == 0) {
			if (cas(word, &v, me | THR_LOCK_SLEEPERS))
				return 0;
			continue;
		}
		if (!(v & THR_LOCK_SLEEPERS) &&
		    !cas(word, &v, v | THR_LOCK_SLEEPERS))
			continue;
		v |= THR_LOCK_SLEEPERS;
		if (thr_futex_wait(word, v, &nap) != -ETIMEDOUT)
			continue;
		uint32_t owner = v & THR_LOCK_OWNER;
		uint32_t moved = progress ? __atomic_load_n(progress,
		                                            __ATOMIC_RELAXED) : 0;
		uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
		if (owner != seen_owner || moved != seen_progress) {
			seen_owner = owner;
			seen_progress = moved;
			seen_since = now;
		}
		if (dead(ctx, owner, now - seen_since)) {
			if (cas(word, &v, me | THR_LOCK_SLEEPERS))
				return 1;
			continue;
		}
		if (now - seen_since > PATIENCE_NS)
			return -EDEADLK;
	}
}

void thr_lock_wake(uint32_t *word)
{
	thr_futex_wake(word, 1);
}
