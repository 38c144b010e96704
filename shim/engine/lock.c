/* lock.c - the pool's internal lock: a futex word holding its owner's id.
 * Critical sections are a few hundred nanoseconds, so a waiter that sleeps
 * 10 ms without progress checks the owner, takes the lock over from a dead
 * one, and gives up on a live one after 2 s (a minute, if it runs). Must never allocate or block without a bound. */
#include "lock.h"

#include "clock.h"
#include "futex.h"

#include <errno.h>
#include <time.h>

#define SPINS 64
#define NAP_NS (10 * 1000 * 1000)      /* between checks of the owner */
#define PATIENCE_NS (2000000000ull)    /* a live owner this long is stuck */
#define RUNNING_PATIENCE_NS (60000000000ull) /* a running one, this long */

static bool cas(uint32_t *word, uint32_t *expected, uint32_t desired)
{
	return __atomic_compare_exchange_n(word, expected, desired, false,
	                                   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* The lock word and its progress word, read or swapped as one. */
union pair {
	uint64_t both;
	uint32_t w[2];          /* [0] the lock word, [1] its progress */
};

/* Other processes share the words: a library call (libatomic's, for an
 * old 32-bit target) would lock only within this one. */
#if __GCC_ATOMIC_LLONG_LOCK_FREE != 2
#error "the lock needs lock-free 8-byte atomics"
#endif

/* Acquire: the owner checks that follow must not read older data. */
static union pair load_pair(uint32_t *word)
{
	union pair p;
	p.both = __atomic_load_n((uint64_t *)(void *)word, __ATOMIC_ACQUIRE);
	return p;
}

/* Takes the lock over from the owner seen: only if neither word has moved
 * since, so not after any release. */
static bool take_over(uint32_t *word, union pair seen, uint32_t me)
{
	union pair next = seen;
	next.w[0] = me | THR_LOCK_SLEEPERS;
	return __atomic_compare_exchange_n((uint64_t *)(void *)word, &seen.both,
	                                   next.both, false, __ATOMIC_ACQUIRE,
	                                   __ATOMIC_RELAXED);
}

/* Tells the CPU this is a spin: it yields to a sibling thread and saves
 * power rather than speculating on the lock word. */
static inline void spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield" ::: "memory");
#else
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
#endif
}

static bool try_fast(uint32_t *word, uint32_t me)
{
	for (int i = 0; i < SPINS; i++) {
		if (thr_lock_try(word, me))
			return true;
		spin_pause();
	}
	return false;
}

int thr_lock_acquire(uint32_t *word, uint32_t me, thr_lock_judge_fn judge,
                     void *ctx)
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
		union pair seen = load_pair(word);
		if (seen.w[0] != v)
			continue;
		uint32_t owner = v & THR_LOCK_OWNER;
		uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
		if (owner != seen_owner || seen.w[1] != seen_progress) {
			seen_owner = owner;
			seen_progress = seen.w[1];
			seen_since = now;
		}
		enum thr_lock_verdict verdict = judge(ctx, owner,
		                                      now - seen_since);
		if (verdict == THR_LOCK_OWNER_DEAD) {
			if (take_over(word, seen, me))
				return 1;
			continue;
		}
		if (now - seen_since > (verdict == THR_LOCK_OWNER_RUNNING
		                        ? RUNNING_PATIENCE_NS : PATIENCE_NS))
			return -ENOLCK;
	}
}

void thr_lock_wake(uint32_t *word)
{
	thr_futex_wake(word, 1);
}
