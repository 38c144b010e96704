/* deadlock.h - the engine's look, before a wait, at whether the wait could
 * ever end. Engine-internal: called under the pool lock, reads the tables
 * only, and never writes. */
#ifndef THR_DEADLOCK_H
#define THR_DEADLOCK_H

#include <stdbool.h>
#include <stdint.h>

#include "layout.h"
#include "pool.h"

/* Would a wait by thread tid of process entry me, asking as req says
 * (per_thread, sole_thread), never end, because the pool is full and every
 * slot is held where nobody can let it go: by the waiter itself (it holds
 * limit of them: it cannot close one while it waits), or each by a waiter
 * in this queue (the asking one among them)? See struct thr_pool_deadlock
 * for who counts as the waiter. A record with tid 0 stands for any thread
 * of its process. With more than a few dozen queued only the first case
 * is judged. Fills *ret (may be NULL) when it says so. Under the lock;
 * reads only; async-signal-safe. */
bool thr_pool__deadlock_find(const struct thr_shm_pool *shm, uint32_t me,
                             uint32_t tid, const struct thr_pool_req *req,
                             struct thr_pool_deadlock *ret);

#endif
