/* lock.h - a mutual-exclusion lock on a 32-bit futex word in shared memory
 * that survives the death of its owner. The word holds the owner's id, so a
 * waiter that sleeps too long asks whether that owner still lives; fixed
 * width, so 32- and 64-bit processes share it (unlike pthread_mutex_t). */
#ifndef THR_LOCK_H
#define THR_LOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"

/* What a waiter makes of the lock's owner id (from the lock word), which
 * it has seen hold the word for held_ns. */
enum thr_lock_verdict {
	THR_LOCK_OWNER_ALIVE,   /* alive: stuck once held 2 s */
	THR_LOCK_OWNER_RUNNING, /* alive and runnable: slow, perhaps, on a
	                           machine loaded past its cores; stuck only
	                           once held a minute */
	THR_LOCK_OWNER_DEAD,    /* dead, or not an id we could have written:
	                           the lock is taken over */
};
typedef enum thr_lock_verdict (*thr_lock_judge_fn)(void *ctx, uint32_t owner,
                                                   uint64_t held_ns);

/* Locks word[0] for owner me (1..THR_LOCK_OWNER). word[1] is its progress
 * word, which every release changes (the pool's seq), and the two share one
 * 8-byte-aligned unit: how long an owner has held the lock then counts one
 * hold, not the sum of the holds this waiter slept through, and a takeover
 * swaps both words at once, so that it fails if the owner judged dead let
 * go meanwhile, even where a new owner has the same id (a new process in
 * the dead one's freed entry). Returns 0 when locked; 1 when locked by
 * taking it over from a dead owner, so the data it guards may be
 * half-updated and the caller must repair it; -ENOLCK when a live owner
 * has held it for 2 s (a stopped process, or a scribbled word), or a
 * running one for a minute. Blocks. Async-signal-safe, but must not be
 * called by a thread that holds it. */
int thr_lock_acquire(uint32_t *word, uint32_t me, thr_lock_judge_fn judge,
                     void *ctx);

/* One attempt to lock a free word for me, no spinning: true if locked. The
 * uncontended case of thr_lock_acquire(), inline for the hot paths.
 * Async-signal-safe. */
static inline bool thr_lock_try(uint32_t *word, uint32_t me)
{
	uint32_t free_word = 0;
	return __atomic_compare_exchange_n(word, &free_word, me, false,
	                                   __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
}

/* Wakes one sleeper on word; the cold half of thr_lock_release(). */
void thr_lock_wake(uint32_t *word);

/* Unlocks word and wakes one sleeper if any. Async-signal-safe. */
static inline void thr_lock_release(uint32_t *word)
{
	if (__builtin_expect(__atomic_exchange_n(word, 0, __ATOMIC_RELEASE) &
	                     THR_LOCK_SLEEPERS, 0))
		thr_lock_wake(word);
}

#endif
