/* lock.h - a mutual-exclusion lock on a 32-bit futex word in shared memory
 * that survives the death of its owner. The word holds the owner's id, so a
 * waiter that sleeps too long asks whether that owner still lives; fixed
 * width, so 32- and 64-bit processes share it (unlike pthread_mutex_t). */
#ifndef THR_LOCK_H
#define THR_LOCK_H

#include <stdbool.h>
#include <stdint.h>

/* Is the owner id (from the lock word) dead, or not a valid id at all? */
typedef bool (*thr_lock_dead_fn)(void *ctx, uint32_t owner);

/* Locks word for owner me (1..THR_LOCK_OWNER). Returns 0 when locked; 1 when
 * locked by taking it over from a dead owner, so the data it guards may be
 * half-updated and the caller must repair it; -EDEADLK when a live owner has
 * held it for seconds (a stopped process, or a scribbled word). Blocks.
 * Async-signal-safe, but must not be called by a thread that holds it. */
int thr_lock_acquire(uint32_t *word, uint32_t me, thr_lock_dead_fn dead,
                     void *ctx);

/* Unlocks word and wakes one sleeper if any. Async-signal-safe. */
void thr_lock_release(uint32_t *word);

#endif
