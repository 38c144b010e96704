/* poolint.h - what pool.c, recover.c and snapshot.c share: the process's
 * handle on a pool and the operations done under the pool lock. Not for the
 * shim or the tools, which use pool.h. */
#ifndef THR_POOLINT_H
#define THR_POOLINT_H

#include "layout.h"
#include "pool.h"
#include "proc.h"

struct thr_pool {
	struct thr_shm_pool *shm;
	char name[THR_POOL_NAME_MAX + 1];
	uint32_t me;            /* our index in shm->procs, THR_NONE if none */
	uint32_t me_gen;        /* that entry's gen when we took it */
	unsigned fork_gen;      /* thr_proc_fork_gen() when we took it */
	struct thr_proc_id id;  /* who we are */
	struct thr_pool_seen *seen; /* per process entry: when last seen alive */
	/* Where the next free slot and holder record are likely to be: the
	 * last ones this handle freed, else just past the last it took. Only
	 * read and written under the pool lock; masked into range on use. */
	uint32_t slot_hint;
	uint32_t holder_hint;
	/* The lock and its progress word as they stood when the lock was last
	 * found stuck (-ENOLCK), 0 if it was not: while they stand so, the
	 * lock is stuck still, and nobody here waits 2 s again to learn it. */
	uint64_t stuck_pair;
};

/* A process seen alive this recently is not read from /proc again. */
#define THR_SEEN_NS (50 * 1000 * 1000ull)
struct thr_pool_seen {
	uint32_t gen;           /* the entry's gen when it was seen */
	uint64_t at_ns;         /* CLOCK_MONOTONIC_COARSE, 0 never */
};

enum thr_reclaim_scope {
	THR_RECLAIM_HOLDERS,    /* processes holding slots, seen-alive cache on */
	THR_RECLAIM_SUSPECTS,   /* holding or waiting, cache on */
	THR_RECLAIM_ALL,        /* every attached process, read afresh */
};

/* Waiters granted under the lock, woken after it is released. */
struct thr_wakes {
	unsigned n;
	uint32_t idx[16];
};

#ifdef THR_TEST_HOOKS
#define STEP(name) do { if (thr_pool_test_step) thr_pool_test_step(name); } while (0)
#else
#define STEP(name) do { } while (0)
#endif

/* Locks the pool as process entry p->me; repairs it first if the previous
 * owner died inside. Returns 0 or -ENOLCK. */
int thr_pool_lock(struct thr_pool *pool);
/* Wakes waiter wi and counts it. Async-signal-safe. */
void thr_pool_wake(struct thr_shm_pool *shm, uint32_t wi);

/* Queues waiter wi for a wake after unlock, or wakes it now if the list is
 * full. */
static inline void thr_pool_defer_wake(struct thr_shm_pool *shm,
                                       struct thr_wakes *wakes, uint32_t wi)
{
	if (wakes->n < sizeof(wakes->idx) / sizeof(wakes->idx[0]))
		wakes->idx[wakes->n++] = wi;
	else
		thr_pool_wake(shm, wi);
}

/* Finishes deferred releases, unlocks, then wakes what was granted. */
void thr_pool_unlock(struct thr_pool *pool, struct thr_wakes *wakes);

/* Under the lock: frees holder record hold, and its slot when it was the
 * last holder (handing it to the oldest waiter). Returns 0 or -EBADMSG. */
int thr_pool_drop_locked(struct thr_pool *pool, uint32_t hold,
                         struct thr_wakes *wakes);
/* Under the lock: hands free capacity to waiters, oldest first. */
void thr_pool_grant_locked(struct thr_pool *pool, struct thr_wakes *wakes);

/* Under the lock: counts the grant of a slot to waiter w. */
void thr_pool_count_handoff(struct thr_shm_pool *shm,
                            const struct thr_shm_waiter *w);

/* Under the lock: frees waiter entry w if its owner left it (TIMED_OUT or
 * INTERRUPTED), counting why. Returns true if it did; the caller counts the
 * entry out of waiting. */
bool thr_pool_free_left(struct thr_shm_pool *shm, struct thr_shm_waiter *w);

/* recover.c: under the lock, recount everything from the tables after an
 * owner died mid-update. */
void thr_recover_repair(struct thr_pool *pool, struct thr_wakes *wakes);
/* recover.c: under the lock, recounts in_use and waiting from the tables. */
void thr_recover_recount(struct thr_shm_pool *shm);
/* recover.c: checks the processes in scope and takes back what dead ones
 * had. Returns the slots freed or -errno. */
int thr_recover_reclaim(struct thr_pool *pool, enum thr_reclaim_scope scope);
/* recover.c: under the lock, frees everything of process entry idx. Returns
 * the number of slots that came back. */
unsigned thr_recover_free_proc(struct thr_pool *pool, uint32_t idx,
                               struct thr_wakes *wakes);

static inline uint32_t thr_load(const uint32_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void thr_store(uint32_t *p, uint32_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Does a waiter in state st count in waiting: queued, or left and not yet
 * freed? */
static inline bool thr_pool_waiter_counts(uint32_t st)
{
	return st == THR_WAITER_WAITING || st == THR_WAITER_TIMED_OUT ||
	       st == THR_WAITER_INTERRUPTED;
}

#endif
