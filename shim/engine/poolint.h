/* poolint.h - what the engine's pool files share (pool.c, poollock.c,
 * wait.c, hold.c, recover.c, snapshot.c, deadlock.c): the process's handle on
 * a pool, the lock's inline fast paths and the operations done under the
 * lock. Engine-only: the shim and the tools use pool.h. Every name here is
 * internal, thr_pool__ with two underscores; none is part of the API. */
#ifndef THR_POOLINT_H
#define THR_POOLINT_H

#include <string.h>

#include "layout.h"
#include "lock.h"
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
static inline bool thr_pool__waiter_counts(uint32_t st)
{
	return st == THR_WAITER_WAITING || st == THR_WAITER_TIMED_OUT ||
	       st == THR_WAITER_INTERRUPTED;
}

/* ---- hold handles and table reads (no lock needed to call) ------------ */

/* A hold handle names the holder record and its slot, so that a fork child
 * can find its own record on the slot after its parent's is gone. */
#define THR_HOLD_SHIFT 12
_Static_assert(THR_HOLDERS == 1u << THR_HOLD_SHIFT, "holder index bits");
_Static_assert(THR_SLOTS <= 1u << (THR_POOL_HOLD_BITS - THR_HOLD_SHIFT),
               "slot index bits");

static inline uint32_t thr_pool__hold_of(uint32_t holder, uint32_t slot)
{
	return slot << THR_HOLD_SHIFT | holder;
}

static inline uint32_t thr_pool__holder_of(uint32_t hold)
{
	return hold & (THR_HOLDERS - 1);
}

static inline uint32_t thr_pool__slot_of(uint32_t hold)
{
	return hold >> THR_HOLD_SHIFT;
}

/* Is entry idx process id? The namespace too, where both are known (0: it
 * could not be read, as for a process in the middle of an exec): two
 * namespaces' pid 1s may start in one clock tick. */
static inline bool thr_pool__is_proc(const struct thr_shm_pool *shm,
                                     uint32_t idx,
                                     const struct thr_proc_id *id)
{
	if (idx >= THR_PROCS)
		return false;
	const struct thr_shm_proc *e = &shm->procs[idx];
	return e->pid == (uint32_t)id->pid && e->start == id->start &&
	       (e->pidns == id->pidns || !e->pidns || !id->pidns);
}

/* Copies target (NULL for none) of length len (0: not known) into a
 * THR_TARGET_LEN record, cut to fit. */
static inline void thr_pool__copy_target(char *dst, const char *target,
                                         size_t len)
{
	size_t n = len && len < THR_TARGET_LEN ? len : THR_TARGET_LEN - 1;
	if (!target)
		n = 0;
	else if (!len)
		n = strnlen(target, n);
	if (n)
		memcpy(dst, target, n);
	dst[n] = '\0';
}

/* 0 or above THR_SLOTS: a scribbled limit, which no caller could have set. */
static inline uint32_t thr_pool__limit_of(const struct thr_shm_pool *shm)
{
	uint32_t l = shm->limit;
	return l > THR_SLOTS ? 0 : l;
}

/* Record hold if it is live and still on the slot its handle names, else
 * NULL. thr_pool__slot_of(hold) must be in range. */
static inline const struct thr_shm_holder *thr_pool__live_holder(
	const struct thr_shm_pool *shm, uint32_t hold)
{
	const struct thr_shm_holder *h =
		&shm->holders[thr_pool__holder_of(hold)];
	return thr_load(&h->state) == THR_HOLDER_LIVE &&
	       h->slot == thr_pool__slot_of(hold) ? h : NULL;
}

/* Is record hold live and this process's? thr_pool__slot_of(hold) must be
 * in range. */
static inline bool thr_pool__holder_is_ours(const struct thr_pool *pool,
                                            uint32_t hold)
{
	const struct thr_shm_holder *h = thr_pool__live_holder(pool->shm, hold);
	return h && h->proc == pool->me;
}

/* Could hold be this handle's at all? The checks on the handle alone. */
static inline bool thr_pool__handle_fits(const struct thr_pool *pool,
                                         uint32_t hold)
{
	return thr_pool__slot_of(hold) < THR_SLOTS && pool->me != THR_NONE &&
	       pool->fork_gen == thr_proc_fork_gen();
}

static inline bool thr_pool__holds(const struct thr_pool *pool, uint32_t hold)
{
	return thr_pool__handle_fits(pool, hold) &&
	       thr_pool__holder_is_ours(pool, hold);
}

/* ---- the pool lock (poollock.c) ------------------------------------------ */

/* The pool lock this thread holds, so that a signal handler that closes a
 * descriptor inside our own critical section defers instead of deadlocking. */
extern __thread struct thr_shm_pool *thr_pool__lock_held;

/* Contended, or the owner died: the spinning and sleeping lock, then a
 * repair if it was taken over from a dead owner. Returns 0 or -ENOLCK (the
 * owner is alive and stuck). Keeps errno. */
int thr_pool__lock_slow(struct thr_pool *pool, uint32_t owner)
	__attribute__((cold));
/* The unlock with work to do (see poollock.c). Keeps errno. */
void thr_pool__unlock_slow(struct thr_pool *pool, struct thr_wakes *wakes,
                           int relocks);
/* A release was deferred while we let go: takes the lock back for it. */
void thr_pool__unlock_again(struct thr_pool *pool, struct thr_wakes *wakes)
	__attribute__((cold));
/* Under the lock: frees the places left and drops the releases deferred
 * since the last unlock, then grants what they freed. */
void thr_pool__run_deferred(struct thr_pool *pool, struct thr_wakes *wakes);
/* Wakes waiter wi and counts it. Async-signal-safe. */
void thr_pool__wake(struct thr_shm_pool *shm, uint32_t wi);
/* Under the lock: frees waiter entry w if its owner left it (TIMED_OUT or
 * INTERRUPTED), counting why. Returns true if it did; the caller counts the
 * entry out of waiting. */
bool thr_pool__free_left(struct thr_shm_pool *shm, struct thr_shm_waiter *w);
/* Gives this process an entry of its own (see thr_pool__register()).
 * Returns 0, -ENOSPC (the table is full of busy processes), -ENOLCK or
 * -errno from reading /proc. */
int thr_pool__register_slow(struct thr_pool *pool);
/* Under the lock: the entry of process id, made if absent, freeing those of
 * dead then idle processes when the table is full; THR_NONE if none. */
uint32_t thr_pool__entry_of(struct thr_pool *pool, const struct thr_proc_id *id,
                            struct thr_wakes *wakes);

/* thr_pool__lock_held is set before the lock word is taken and cleared
 * after it is let go, so a signal handler that releases on this thread at
 * any moment in between defers (the unlock runs what it deferred) rather
 * than waiting for a lock its own thread holds. The fast path is one CAS
 * and touches nothing that could change errno. */
static inline __attribute__((always_inline)) int thr_pool__lock_as(
	struct thr_pool *pool, uint32_t owner)
{
	struct thr_shm_pool *shm = pool->shm;
	thr_pool__lock_held = shm;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (__builtin_expect(!thr_lock_try(&shm->lock, owner), 0))
		return thr_pool__lock_slow(pool, owner);
	thr_store(&shm->seq, shm->seq | 1);
	return 0;
}

/* Locks the pool as process entry pool->me; repairs it first if the
 * previous owner died inside. Returns 0 or -ENOLCK (the owner is alive and
 * stuck). Keeps errno; not to be called from a signal handler that
 * interrupted this thread inside the lock (thr_pool__lock_held says). */
static inline __attribute__((always_inline)) int thr_pool__lock(
	struct thr_pool *pool)
{
	return thr_pool__lock_as(pool, pool->me + 1);
}

/* Ends the critical section: even seq, the lock word let go (one wake if
 * somebody sleeps on it; the futex wrapper keeps errno), then
 * thr_pool__lock_held cleared (see thr_pool__lock_as). */
static inline __attribute__((always_inline)) void thr_pool__let_go(
	struct thr_shm_pool *shm)
{
	thr_store(&shm->seq, shm->seq + 1);
	thr_lock_release(&shm->lock);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	thr_pool__lock_held = NULL;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* Finishes deferred releases, unlocks, then wakes what was granted (wakes,
 * emptied). The common case inline: nothing deferred, nobody to wake.
 * Keeps errno. */
static inline __attribute__((always_inline)) void thr_pool__unlock(
	struct thr_pool *pool, struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	if (__builtin_expect(thr_load(&shm->deferred) != 0 || wakes->n != 0, 0)) {
		thr_pool__unlock_slow(pool, wakes, 0);
		return;
	}
	thr_pool__let_go(shm);
	if (__builtin_expect(thr_load(&shm->deferred) != 0, 0))
		thr_pool__unlock_again(pool, wakes);
}

/* Is the handle's process entry still this process's? After a fork the child
 * has a copy of its parent's handle, and entries of dead processes get
 * freed. */
static inline bool thr_pool__registered(const struct thr_pool *pool)
{
	if (pool->me >= THR_PROCS || pool->fork_gen != thr_proc_fork_gen())
		return false;
	const struct thr_shm_proc *e = &pool->shm->procs[pool->me];
	return thr_load(&e->state) == THR_PROC_LIVE &&
	       e->gen == pool->me_gen && e->pid == (uint32_t)pool->id.pid;
}

static inline int thr_pool__register(struct thr_pool *pool)
{
	return thr_pool__registered(pool) ? 0 : thr_pool__register_slow(pool);
}

/* Queues waiter wi for a wake after unlock, or wakes it now if the list is
 * full. */
static inline void thr_pool__defer_wake(struct thr_shm_pool *shm,
                                        struct thr_wakes *wakes, uint32_t wi)
{
	if (wakes->n < sizeof(wakes->idx) / sizeof(wakes->idx[0]))
		wakes->idx[wakes->n++] = wi;
	else
		thr_pool__wake(shm, wi);
}

/* ---- slots, holders and hand-off (pool.c) -------------------------------- */

/* Under the lock: frees holder record hold, and its slot when it was the
 * last holder (handing it to the oldest waiter). Returns 0 or -EBADMSG. */
int thr_pool__drop_locked(struct thr_pool *pool, uint32_t hold,
                          struct thr_wakes *wakes);
/* Under the lock: hands free capacity to waiters, oldest first. */
void thr_pool__grant_locked(struct thr_pool *pool, struct thr_wakes *wakes);
/* Under the lock: counts the grant of a slot to waiter w. */
void thr_pool__count_handoff(struct thr_shm_pool *shm,
                             const struct thr_shm_waiter *w);
/* Under the lock: claims a free holder record as PENDING for process entry
 * proc on slot, naming fd and thread tid. Returns it, or THR_NONE. */
uint32_t thr_pool__new_holder(struct thr_pool *pool, uint32_t slot,
                              uint32_t proc, int fd, uint32_t tid);

/* ---- the queue and the wait (wait.c) ------------------------------------- */

/* Under the lock: queues the caller for req, at the place resume gave up
 * if it asks to resume, else at the back. Returns 0 and *ret_waiter, or
 * -ENOSPC (no place free). */
int thr_pool__enqueue(struct thr_pool *pool, const struct thr_pool_req *req,
                      const struct thr_pool_interrupt *resume,
                      uint32_t *ret_waiter);
/* Is the process exiting (thr_pool_end_waits())? Then no wait begins.
 * Async-signal-safe. */
bool thr_pool__exiting(void);
/* Without the lock: waits in the queue at place wi until granted (0 and
 * *ret_hold), the deadline (-ETIMEDOUT), a signal with a handler (-EINTR,
 * intr filled in: see struct thr_pool_interrupt), the process's exit or a
 * join in vain (-ECANCELED), or -EBADMSG / -ENOLCK. Keeps errno. */
int thr_pool__wait_grant(struct thr_pool *pool, uint32_t wi,
                         const struct thr_pool_req *req,
                         const struct thr_pool_interrupt *resume,
                         struct thr_pool_interrupt *intr, uint32_t *ret_hold);
/* No room in the pool's tables for the caller: naps a while. Returns 0 (ask
 * again), -ETIMEDOUT, -ECANCELED or -EINTR with intr filled in. Keeps
 * errno. */
int thr_pool__wait_for_room(struct thr_pool *pool,
                            const struct thr_pool_req *req,
                            struct thr_pool_interrupt *intr);

/* ---- repair and reclaim (recover.c) -------------------------------------- */

/* How often waiters look for dead holders (one of them a tick). */
#define THR_TICK_NS (100 * 1000 * 1000ull)
/* While waiting: if no waiter has looked for THR_TICK_NS, takes back the
 * slots of dead holders, recounts the gauges and grants what came back.
 * Without the lock; takes it. */
void thr_pool__recover_tick(struct thr_pool *pool);

/* Under the lock, recount everything from the tables after an owner died
 * mid-update. */
void thr_pool__recover_repair(struct thr_pool *pool, struct thr_wakes *wakes);
/* Under the lock, recounts in_use and waiting from the tables. */
void thr_pool__recover_recount(struct thr_shm_pool *shm);
/* Checks the processes in scope and takes back what dead ones had. Returns
 * the slots freed or -errno. */
int thr_pool__recover_reclaim(struct thr_pool *pool,
                              enum thr_reclaim_scope scope);
/* Under the lock, frees everything of process entry idx. Returns the number
 * of slots that came back. */
unsigned thr_pool__recover_free_proc(struct thr_pool *pool, uint32_t idx,
                                     struct thr_wakes *wakes);

#endif
