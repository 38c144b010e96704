/* pool.c - the counting semaphore: acquire (wait, try, deadline), release
 * with first-come-first-served hand-off, co-holders, live resize. Release
 * must stay async-signal-safe: no allocation, stdio or process-local locks;
 * nothing read from the segment is used before it is bounds-checked. */
#include "poolint.h"

#include "clock.h"
#include "deadlock.h"
#include "futex.h"
#include "hot.h"
#include "lock.h"
#include "segment.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifdef THR_TEST_HOOKS
void (*thr_pool_test_step)(const char *step);
#endif

/* The pool lock this thread holds, so that a signal handler that closes a
 * descriptor inside our own critical section defers instead of deadlocking. */
static __thread struct thr_shm_pool *lock_held;

#define TICK_NS (100 * 1000 * 1000ull) /* waiters look for dead holders */
#define SLICE_NS (20 * 1000 * 1000ull) /* and for signals, with handlers */
#define ROOM_NAP_NS (20 * 1000 * 1000ull) /* a wait without a place */
#define NO_TICKET UINT64_MAX    /* an interrupt that gave up no place */
/* A hold handle names the holder record and its slot, so that a fork child
 * can find its own record on the slot after its parent's is gone. */
#define HOLD_SHIFT 12
_Static_assert(THR_HOLDERS == 1u << HOLD_SHIFT, "holder index bits");
_Static_assert(THR_SLOTS <= 1u << (THR_POOL_HOLD_BITS - HOLD_SHIFT),
               "slot index bits");

static uint32_t hold_of(uint32_t holder, uint32_t slot)
{
	return slot << HOLD_SHIFT | holder;
}

static uint32_t holder_of(uint32_t hold)
{
	return hold & (THR_HOLDERS - 1);
}

static uint32_t slot_of(uint32_t hold)
{
	return hold >> HOLD_SHIFT;
}
/* A lock owned by pid (bit set) instead of a process entry: only while a
 * process registers, before it has an entry. */
#define LOCK_BY_PID UINT32_C(0x40000000)

bool thr_pool_name_is_valid(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++) {
		char c = name[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		          c == '-';
		if (!ok || n >= THR_POOL_NAME_MAX)
			return false;
	}
	return n > 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

/* ---- the lock ---------------------------------------------------------- */

/* Owners only suspected dead are judged after this long, which a critical
 * section (microseconds) never takes unless its thread died inside: see
 * left_by_exec() and owners named by pid. */
#define SUSPECT_PATIENCE_NS (1000 * 1000 * 1000ull)
#define PID_MAX_LIMIT (1u << 22) /* the kernel's, in any namespace */

/* Was e's lock left by an exec: is the image that registered e gone from
 * its process, which another image now runs? Then the exec killed the
 * thread inside the lock. Judged for our own entry (pid, start time) and,
 * through /proc, for others' in our pid namespace that we may read; only
 * suspected, since a clone() child acting as its parent could be inside. */
static bool left_by_exec(const struct thr_pool *pool,
                         const struct thr_shm_proc *e, uint64_t held_ns)
{
	if (held_ns < SUSPECT_PATIENCE_NS || pool->id.pid <= 0 || !e->image ||
	    !e->pidns || e->pidns != pool->id.pidns)
		return false;
	uint32_t now;
	if (e->pid == (uint32_t)pool->id.pid) {
		now = thr_proc_image();
		return e->start == pool->id.start && now && now != e->image;
	}
	return thr_proc_image_of((pid_t)e->pid, &now) == 0 && now != e->image;
}

/* A live owner, process pid, held_ns into its hold: merely slow, if it
 * has held long enough to ask and it runs (see thr_proc_is_running()). */
static enum thr_lock_verdict alive(pid_t pid, uint64_t held_ns)
{
	return held_ns >= SUSPECT_PATIENCE_NS && thr_proc_is_running(pid)
	       ? THR_LOCK_OWNER_RUNNING : THR_LOCK_OWNER_ALIVE;
}

/* The lock's owner check. A process registering names itself in the lock
 * by pid, which a checker in another pid namespace would look up as some
 * other pid, or none: so it is only suspected. */
static enum thr_lock_verdict owner_judged(void *ctx, uint32_t owner,
                                          uint64_t held_ns)
{
	struct thr_pool *pool = ctx;
	if (owner & LOCK_BY_PID) {
		uint32_t pid = owner & ~LOCK_BY_PID;
		struct thr_proc_id id;
		if (pid == 0 || pid > PID_MAX_LIMIT ||
		    (held_ns >= SUSPECT_PATIENCE_NS &&
		     thr_proc_identify((pid_t)pid, &id) == -ESRCH))
			return THR_LOCK_OWNER_DEAD;
		return alive((pid_t)pid, held_ns);
	}
	if (owner == 0 || owner > THR_PROCS)
		return THR_LOCK_OWNER_DEAD; /* not an owner we could have written */
	if (owner - 1 == pool->me && pool->fork_gen == thr_proc_fork_gen())
		return THR_LOCK_OWNER_RUNNING; /* another thread of ours */
	struct thr_shm_proc *e = &pool->shm->procs[owner - 1];
	if (thr_load(&e->state) != THR_PROC_LIVE)
		return THR_LOCK_OWNER_DEAD;
	if (left_by_exec(pool, e, held_ns))
		return THR_LOCK_OWNER_DEAD;
	struct thr_proc_id id = { (pid_t)e->pid, e->start, e->pidns };
	if (thr_proc_is_dead(&id))
		return THR_LOCK_OWNER_DEAD;
	return alive(id.pid, held_ns);
}

void thr_pool_wake(struct thr_shm_pool *shm, uint32_t wi)
{
	thr_futex_wake(&shm->waiters[wi].state, 1);
	__atomic_add_fetch(&shm->stats.wakes, 1, __ATOMIC_RELAXED);
}

static void wake_all(struct thr_shm_pool *shm, struct thr_wakes *wakes)
{
	for (unsigned i = 0; i < wakes->n; i++)
		thr_pool_wake(shm, wakes->idx[i]);
	wakes->n = 0;
}

_Static_assert(offsetof(struct thr_shm_pool, lock) % 8 == 0 &&
               offsetof(struct thr_shm_pool, seq) ==
               offsetof(struct thr_shm_pool, lock) + 4,
               "the lock and its progress word share 8 aligned bytes");

/* Contended, or the owner died: the spinning and sleeping lock, then a repair
 * if we took the lock over from a dead owner. Keeps errno. */
/* The lock word and its progress word, read as one. */
static uint64_t lock_pair(const struct thr_shm_pool *shm)
{
	return __atomic_load_n((const uint64_t *)(const void *)&shm->lock,
	                       __ATOMIC_ACQUIRE);
}

static __attribute__((noinline, cold)) int lock_slow(struct thr_pool *pool,
                                                     uint32_t owner)
{
	struct thr_shm_pool *shm = pool->shm;
	int saved = errno;
	uint64_t stuck = __atomic_load_n(&pool->stuck_pair, __ATOMIC_RELAXED);
	int r = stuck && lock_pair(shm) == stuck
	        ? -ENOLCK /* as it stood when found stuck: stuck still */
	        : thr_lock_acquire(&shm->lock, owner, owner_judged, pool);
	__atomic_store_n(&pool->stuck_pair, r == -ENOLCK ? lock_pair(shm) : 0,
	                 __ATOMIC_RELAXED);
	if (r < 0) {
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		lock_held = NULL;
		errno = saved;
		return r;
	}
	/* Odd while inside; a dead owner may have left it odd already. */
	thr_store(&shm->seq, shm->seq | 1);
	if (r == 1) {
		struct thr_wakes wakes = { 0 };
		thr_recover_repair(pool, &wakes);
		/* Wake after unlock would need the caller's list; these are
		 * rare, so wake now. */
		wake_all(shm, &wakes);
	}
	errno = saved;
	return 0;
}

/* lock_held is set before the lock word is taken and cleared after it is
 * let go, so a signal handler that releases on this thread at any moment in
 * between defers (the unlock runs what it deferred) rather than waiting for
 * a lock its own thread holds. The fast path is one CAS and touches nothing
 * that could change errno. */
static inline __attribute__((always_inline)) int lock_as(
	struct thr_pool *pool, uint32_t owner)
{
	struct thr_shm_pool *shm = pool->shm;
	lock_held = shm;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (__builtin_expect(!thr_lock_try(&shm->lock, owner), 0))
		return lock_slow(pool, owner);
	thr_store(&shm->seq, shm->seq | 1);
	return 0;
}

static inline __attribute__((always_inline)) int lock(struct thr_pool *pool)
{
	return lock_as(pool, pool->me + 1);
}

int thr_pool_lock(struct thr_pool *pool)
{
	return lock(pool);
}

void thr_pool_forget_locks(void)
{
	lock_held = NULL;
}

pid_t thr_pool_lock_owner(const struct thr_pool *pool)
{
	uint32_t owner = thr_load(&pool->shm->lock) & THR_LOCK_OWNER;
	if (owner & LOCK_BY_PID)
		return (pid_t)(owner & ~LOCK_BY_PID);
	if (owner == 0 || owner > THR_PROCS)
		return 0;
	return (pid_t)pool->shm->procs[owner - 1].pid;
}

static void run_deferred(struct thr_pool *pool, struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	/* Loaded first: the exchange is a locked instruction, and almost
	 * always there is nothing to do. */
	if (!thr_load(&shm->deferred) ||
	    !__atomic_exchange_n(&shm->deferred, 0, __ATOMIC_ACQ_REL))
		return;
	for (uint32_t i = 0; i < THR_WAITERS; i++)
		if (thr_pool_free_left(shm, &shm->waiters[i]) && shm->waiting)
			shm->waiting--;
	for (uint32_t i = 0; i < THR_HOLDERS; i++)
		if (thr_load(&shm->holders[i].state) == THR_HOLDER_RELEASING)
			thr_pool_drop_locked(pool, i, wakes);
	/* A place that left may have kept others from free slots. */
	thr_pool_grant_locked(pool, wakes);
}

bool thr_pool_free_left(struct thr_shm_pool *shm, struct thr_shm_waiter *w)
{
	uint32_t st = thr_load(&w->state);
	if (st == THR_WAITER_TIMED_OUT)
		shm->stats.timeouts++;
	else if (st == THR_WAITER_INTERRUPTED)
		shm->stats.interrupted++;
	else
		return false;
	thr_store(&w->state, THR_WAITER_FREE);
	return true;
}

/* Ends the critical section: even seq, the lock word let go (one wake if
 * somebody sleeps on it; the futex wrapper keeps errno), then lock_held
 * cleared (see lock_as). */
static inline __attribute__((always_inline)) void let_go(
	struct thr_shm_pool *shm)
{
	thr_store(&shm->seq, shm->seq + 1);
	thr_lock_release(&shm->lock);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	lock_held = NULL;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/* The unlock with work to do: deferred releases, wakes, or a release that a
 * signal handler deferred while we were letting go. relocks counts the times
 * the lock was taken back for that already; after 4 the rest waits for the
 * next unlock. Keeps errno. */
static __attribute__((noinline)) void unlock_slow(struct thr_pool *pool,
                                                  struct thr_wakes *wakes,
                                                  int relocks)
{
	struct thr_shm_pool *shm = pool->shm;
	int saved = errno;
	for (;;) {
		run_deferred(pool, wakes);
		let_go(shm);
		wake_all(shm, wakes);
		/* A signal handler may have deferred a release after we looked. */
		if (relocks++ >= 4 || !thr_load(&shm->deferred) ||
		    pool->me == THR_NONE || lock_as(pool, pool->me + 1) < 0)
			break;
	}
	errno = saved;
}

/* A release was deferred while we let go: take the lock back for it. */
static __attribute__((noinline, cold)) void unlock_again(
	struct thr_pool *pool, struct thr_wakes *wakes)
{
	if (pool->me != THR_NONE && lock_as(pool, pool->me + 1) == 0)
		unlock_slow(pool, wakes, 1);
}

/* The common case inline: nothing deferred, nobody to wake. */
static inline __attribute__((always_inline)) void unlock(
	struct thr_pool *pool, struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	if (__builtin_expect(thr_load(&shm->deferred) != 0 || wakes->n != 0, 0)) {
		unlock_slow(pool, wakes, 0);
		return;
	}
	let_go(shm);
	if (__builtin_expect(thr_load(&shm->deferred) != 0, 0))
		unlock_again(pool, wakes);
}

void thr_pool_unlock(struct thr_pool *pool, struct thr_wakes *wakes)
{
	unlock(pool, wakes);
}

/* ---- process entries ---------------------------------------------------- */

/* Is entry idx process id? The namespace too, where both are known (0: it
 * could not be read, as for a process in the middle of an exec): two
 * namespaces' pid 1s may start in one clock tick. */
static bool is_proc(const struct thr_shm_pool *shm, uint32_t idx,
                    const struct thr_proc_id *id)
{
	if (idx >= THR_PROCS)
		return false;
	const struct thr_shm_proc *e = &shm->procs[idx];
	return e->pid == (uint32_t)id->pid && e->start == id->start &&
	       (e->pidns == id->pidns || !e->pidns || !id->pidns);
}

static uint32_t find_proc(struct thr_shm_pool *shm, const struct thr_proc_id *id)
{
	for (uint32_t i = 0; i < THR_PROCS; i++)
		if (thr_load(&shm->procs[i].state) == THR_PROC_LIVE &&
		    is_proc(shm, i, id))
			return i;
	return THR_NONE;
}

static uint32_t alloc_proc(struct thr_shm_pool *shm, const struct thr_proc_id *id)
{
	for (uint32_t i = 0; i < THR_PROCS; i++) {
		struct thr_shm_proc *e = &shm->procs[i];
		if (thr_load(&e->state) != THR_PROC_FREE)
			continue;
		e->pid = (uint32_t)id->pid;
		e->start = id->start;
		e->pidns = id->pidns;
		e->image = 0; /* not known until the process registers */
		/* Bumped here too: a reclaim that read the dead owner's gen
		 * before this entry was taken again must see it change. */
		e->gen++;
		thr_store(&e->state, THR_PROC_LIVE);
		return i;
	}
	return THR_NONE;
}

/* Under the lock: frees the entries of live processes that hold and wait
 * for nothing here (a prefork server's idle workers, say), so that the
 * table's size caps who uses the pool at once, not who ever did. Such a
 * process registers again when it next acquires: registered() and
 * take_free() see the entry's gen move. The lock's owner keeps its own. */
static void free_idle(struct thr_shm_pool *shm)
{
	uint8_t busy[THR_PROCS / 8] = { 0 };
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		uint32_t p = shm->holders[i].proc;
		if (thr_load(&shm->holders[i].state) != THR_HOLDER_FREE &&
		    p < THR_PROCS)
			busy[p / 8] |= (uint8_t)(1u << (p % 8));
	}
	for (uint32_t i = 0; i < THR_WAITERS; i++) {
		uint32_t p = shm->waiters[i].proc;
		if (thr_load(&shm->waiters[i].state) != THR_WAITER_FREE &&
		    p < THR_PROCS)
			busy[p / 8] |= (uint8_t)(1u << (p % 8));
	}
	uint32_t owner = (thr_load(&shm->lock) & THR_LOCK_OWNER) - 1;
	for (uint32_t p = 0; p < THR_PROCS; p++) {
		struct thr_shm_proc *e = &shm->procs[p];
		if (busy[p / 8] & (1u << (p % 8)) || p == owner ||
		    thr_load(&e->state) != THR_PROC_LIVE)
			continue;
		e->gen++;
		thr_store(&e->state, THR_PROC_FREE);
	}
}

/* Under the lock: the entry of process id, made if absent. When the table is
 * full, entries of dead processes are freed first, then those of live ones
 * that use nothing here. */
static uint32_t entry_of(struct thr_pool *pool, const struct thr_proc_id *id,
                         struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	uint32_t i = find_proc(shm, id);
	if (i == THR_NONE)
		i = alloc_proc(shm, id);
	if (i != THR_NONE)
		return i;
	for (uint32_t j = 0; j < THR_PROCS; j++) {
		struct thr_shm_proc *e = &shm->procs[j];
		struct thr_proc_id other = { (pid_t)e->pid, e->start, e->pidns };
		if (thr_load(&e->state) == THR_PROC_LIVE &&
		    thr_proc_is_dead(&other))
			thr_recover_free_proc(pool, j, wakes);
	}
	i = alloc_proc(shm, id);
	if (i == THR_NONE) {
		free_idle(shm);
		i = alloc_proc(shm, id);
	}
	return i;
}

/* Is the handle's process entry still this process's? After a fork the child
 * has a copy of its parent's handle, and entries of dead processes get
 * freed. */
static inline bool registered(const struct thr_pool *pool)
{
	if (pool->me >= THR_PROCS || pool->fork_gen != thr_proc_fork_gen())
		return false;
	const struct thr_shm_proc *e = &pool->shm->procs[pool->me];
	return thr_load(&e->state) == THR_PROC_LIVE &&
	       e->gen == pool->me_gen && e->pid == (uint32_t)pool->id.pid;
}

/* Makes sure this process has its own entry. */
static __attribute__((noinline)) int register_slow(struct thr_pool *pool)
{
	unsigned gen = thr_proc_fork_gen();
	int r = thr_proc_self(&pool->id);
	if (r < 0)
		return r;
	r = lock_as(pool, LOCK_BY_PID | (uint32_t)pool->id.pid);
	if (r < 0)
		return r;
	struct thr_wakes wakes = { 0 };
	uint32_t i = entry_of(pool, &pool->id, &wakes);
	pool->me = i;
	if (i != THR_NONE) {
		pool->me_gen = pool->shm->procs[i].gen;
		pool->shm->procs[i].image = thr_proc_image();
		if (!pool->shm->procs[i].pidns) /* made by a parent that could
		                                   not read its own */
			pool->shm->procs[i].pidns = pool->id.pidns;
		pool->fork_gen = gen;
	}
	thr_pool_unlock(pool, &wakes);
	return i == THR_NONE ? -ENOSPC : 0;
}

static inline int register_self(struct thr_pool *pool)
{
	return registered(pool) ? 0 : register_slow(pool);
}

/* ---- tables --------------------------------------------------------------- */

_Static_assert((THR_SLOTS & (THR_SLOTS - 1)) == 0, "slot hint mask");
_Static_assert((THR_HOLDERS & (THR_HOLDERS - 1)) == 0, "holder hint mask");

/* A free slot, looked for from the handle's hint on, wrapping around. */
static inline uint32_t free_slot(struct thr_pool *pool)
{
	struct thr_shm_pool *shm = pool->shm;
	uint32_t start = pool->slot_hint;
	for (uint32_t n = 0; n < THR_SLOTS; n++) {
		uint32_t i = (start + n) & (THR_SLOTS - 1);
		if (shm->slots[i].state == THR_SLOT_FREE) {
			pool->slot_hint = i + 1;
			return i;
		}
	}
	return THR_NONE;
}

/* Claims a holder record as PENDING, so a repair drops it if we die before
 * the operation completes. */
static inline uint32_t new_holder(struct thr_pool *pool, uint32_t slot,
                                  uint32_t proc, int fd, uint32_t tid)
{
	struct thr_shm_pool *shm = pool->shm;
	uint32_t start = pool->holder_hint;
	for (uint32_t n = 0; n < THR_HOLDERS; n++) {
		uint32_t i = (start + n) & (THR_HOLDERS - 1);
		struct thr_shm_holder *h = &shm->holders[i];
		if (thr_load(&h->state) != THR_HOLDER_FREE)
			continue;
		h->slot = slot;
		h->proc = proc;
		h->fd = fd;
		h->tid = tid;
		thr_store(&h->state, THR_HOLDER_PENDING);
		pool->holder_hint = i + 1;
		return i;
	}
	return THR_NONE;
}

/* Copies target (NULL for none) of length len (0: not known) into a
 * THR_TARGET_LEN record, cut to fit. */
static inline void copy_target(char *dst, const char *target, size_t len)
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

static unsigned log2_bucket(uint64_t us)
{
	unsigned b = 0;
	while (us && b < THR_HIST_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

/* 0 or above THR_SLOTS: a scribbled limit, which no caller could have set. */
static uint32_t limit_of(const struct thr_shm_pool *shm)
{
	uint32_t l = shm->limit;
	return l > THR_SLOTS ? 0 : l;
}

static void count_in_use(struct thr_shm_pool *shm, uint32_t delta_up)
{
	shm->in_use += delta_up;
	if (shm->in_use > shm->peak)
		shm->peak = shm->in_use;
}

/* The oldest waiter still waiting, or THR_NONE. */
static uint32_t head_waiter(struct thr_shm_pool *shm)
{
	uint32_t best = THR_NONE;
	uint64_t best_ticket = UINT64_MAX;
	for (uint32_t i = 0; i < THR_WAITERS; i++) {
		struct thr_shm_waiter *w = &shm->waiters[i];
		if (thr_load(&w->state) == THR_WAITER_WAITING &&
		    w->proc < THR_PROCS && w->ticket < best_ticket) {
			best = i;
			best_ticket = w->ticket;
		}
	}
	return best;
}

/* Under the lock: gives held slot s to waiter wi. Returns 0, -ENOSPC (no
 * holder record) or -ESRCH (the waiter left). */
static int hand_over(struct thr_pool *pool, uint32_t s, uint32_t wi,
                     struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	struct thr_shm_waiter *w = &shm->waiters[wi];
	uint32_t h = new_holder(pool, s, w->proc, w->fd, w->tid);
	if (h == THR_NONE)
		return -ENOSPC;
	struct thr_shm_slot *slot = &shm->slots[s];
	copy_target(slot->target, w->target, 0); /* bounded: w may be scribbled */
	slot->taken_ns = thr_clock_ns(CLOCK_MONOTONIC_COARSE);
	slot->refs = 1;
	/* The waiter names its record before the record goes live, so a repair
	 * can roll a half-done hand-off forward or back. */
	w->hold = h;
	STEP("handoff.holder");
	thr_store(&shm->holders[h].state, THR_HOLDER_LIVE);
	STEP("handoff.live");
	/* Exchanged, not stored: its owner may leave the queue without the
	 * lock (see leave()); then the record goes and the slot stays ours. */
	uint32_t waiting = THR_WAITER_WAITING;
	if (!__atomic_compare_exchange_n(&w->state, &waiting, THR_WAITER_GRANTED,
	                                 false, __ATOMIC_ACQ_REL,
	                                 __ATOMIC_ACQUIRE)) {
		thr_store(&shm->holders[h].state, THR_HOLDER_FREE);
		w->hold = THR_NONE;
		slot->refs = 0;
		return -ESRCH;
	}
	if (shm->waiting)
		shm->waiting--;
	thr_pool_count_handoff(shm, w);
	thr_pool_defer_wake(shm, wakes, wi);
	return 0;
}

void thr_pool_count_handoff(struct thr_shm_pool *shm,
                            const struct thr_shm_waiter *w)
{
	shm->stats.granted++;
	shm->stats.handoffs++;
	uint64_t waited = thr_clock_ns(CLOCK_MONOTONIC) - w->since_ns;
	shm->stats.wait_hist[log2_bucket(waited / 1000)]++;
}

void thr_pool_grant_locked(struct thr_pool *pool, struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	while (shm->waiting && shm->in_use < limit_of(shm)) {
		uint32_t wi = head_waiter(shm);
		uint32_t s = free_slot(pool);
		if (wi == THR_NONE || s == THR_NONE)
			return;
		shm->slots[s].state = THR_SLOT_HELD;
		count_in_use(shm, 1);
		int r = hand_over(pool, s, wi, wakes);
		if (r < 0) {
			shm->slots[s].state = THR_SLOT_FREE;
			shm->in_use--;
		}
		if (r == -ENOSPC)
			return;
	}
}

/* vacate() with somebody queued: true if slot s went to the oldest waiter. */
static __attribute__((noinline)) bool vacate_to_waiter(struct thr_pool *pool,
                                                       uint32_t s,
                                                       struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	if (shm->in_use > limit_of(shm))
		return false;
	STEP("release.handoff");
	for (;;) {
		uint32_t wi = head_waiter(shm);
		if (wi == THR_NONE)
			return false;
		int r = hand_over(pool, s, wi, wakes);
		if (r != -ESRCH)
			return r == 0;
	}
}

/* Under the lock: slot s lost its last holder. It goes straight to the
 * oldest waiter unless the pool is over its limit (after a shrink). */
static inline void vacate(struct thr_pool *pool, uint32_t s,
                          struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	if (shm->waiting && vacate_to_waiter(pool, s, wakes))
		return;
	shm->slots[s].state = THR_SLOT_FREE;
	pool->slot_hint = s;
	if (shm->in_use)
		shm->in_use--;
}

static inline int drop_locked(struct thr_pool *pool, uint32_t hold,
                              struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	struct thr_shm_holder *h = &shm->holders[hold];
	uint32_t s = h->slot;
	thr_store(&h->state, THR_HOLDER_FREE);
	pool->holder_hint = hold;
	STEP("release.holder");
	if (s >= THR_SLOTS)
		return -EBADMSG;
	struct thr_shm_slot *slot = &shm->slots[s];
	if (slot->refs > 1) {
		slot->refs--;
		return 0;
	}
	slot->refs = 0;
	if (slot->state == THR_SLOT_HELD)
		vacate(pool, s, wakes);
	return 0;
}

int thr_pool_drop_locked(struct thr_pool *pool, uint32_t hold,
                         struct thr_wakes *wakes)
{
	return drop_locked(pool, hold, wakes);
}

/* ---- acquire ---------------------------------------------------------------- */

/* Under the lock: the fast path. Nobody takes a free slot while anyone is
 * queued, so a waiter is never overtaken. Returns 0 or -EAGAIN (full). */
static inline __attribute__((always_inline)) int take_free(
	struct thr_pool *pool, const struct thr_pool_req *req, uint32_t *ret_hold)
{
	struct thr_shm_pool *shm = pool->shm;
	uint32_t limit = limit_of(shm);
	if (limit == 0)
		return -EBADMSG;
	/* Our entry freed while we used nothing (see free_idle()), between
	 * registered() and the lock: register again. */
	if (__builtin_expect(shm->procs[pool->me].gen != pool->me_gen, 0))
		return -ESTALE;
	if (shm->waiting || shm->in_use >= limit)
		return -EAGAIN;
	uint32_t s = free_slot(pool);
	if (s == THR_NONE)
		return -EAGAIN;
	uint32_t h = new_holder(pool, s, pool->me, req->fd,
	                        (uint32_t)thr_proc_tid());
	if (h == THR_NONE)
		return -ENOSPC;
	STEP("acquire.holder");
	struct thr_shm_slot *slot = &shm->slots[s];
	copy_target(slot->target, req->target, req->target_len);
	slot->taken_ns = thr_clock_ns(CLOCK_MONOTONIC_COARSE);
	slot->refs = 1;
	slot->state = THR_SLOT_HELD;
	count_in_use(shm, 1);
	STEP("acquire.slot");
	thr_store(&shm->holders[h].state, THR_HOLDER_LIVE);
	shm->stats.granted++;
	shm->stats.wait_hist[0]++;
	*ret_hold = hold_of(h, s);
	return 0;
}

/* Queues a waiter for req: at the place resume gave up, if it asks to
 * resume, else at the back. */
static int enqueue(struct thr_pool *pool, const struct thr_pool_req *req,
                   const struct thr_pool_interrupt *resume,
                   uint32_t *ret_waiter)
{
	struct thr_shm_pool *shm = pool->shm;
	for (uint32_t i = 0; i < THR_WAITERS; i++) {
		struct thr_shm_waiter *w = &shm->waiters[i];
		if (thr_load(&w->state) != THR_WAITER_FREE)
			continue;
		w->proc = pool->me;
		w->tid = (uint32_t)thr_proc_tid();
		w->flags = req->sole_thread ? THR_WAITER_SOLE : 0;
		if (resume && resume->ticket < shm->next_ticket) {
			w->ticket = resume->ticket;
			w->since_ns = resume->since_ns;
		} else {
			w->ticket = shm->next_ticket++;
			w->since_ns = thr_clock_ns(CLOCK_MONOTONIC);
		}
		w->hold = THR_NONE;
		w->fd = req->fd;
		copy_target(w->target, req->target, req->target_len);
		thr_store(&w->state, THR_WAITER_WAITING);
		shm->waiting++;
		*ret_waiter = i;
		return 0;
	}
	return -ENOSPC;
}

/* Our waiter was granted: take the holder record and free the entry. */
static int collect(struct thr_shm_pool *shm, struct thr_shm_waiter *w,
                   uint32_t *ret_hold)
{
	uint32_t h = w->hold;
	thr_store(&w->state, THR_WAITER_FREE);
	if (h >= THR_HOLDERS || shm->holders[h].slot >= THR_SLOTS)
		return -EBADMSG;
	*ret_hold = hold_of(h, shm->holders[h].slot);
	return 0;
}

/* cancel() without the lock, whose owner is stuck (stopped, say): our place
 * is marked left for the next lock holder to free (see run_deferred), unless
 * a grant got there first. */
static int leave(struct thr_pool *pool, struct thr_shm_waiter *w, int why,
                 uint32_t *ret_hold)
{
	uint32_t st = THR_WAITER_WAITING;
	uint32_t left = why == -ETIMEDOUT ? THR_WAITER_TIMED_OUT
	                                  : THR_WAITER_INTERRUPTED;
	if (w->proc != pool->me)
		return -EBADMSG;
	if (__atomic_compare_exchange_n(&w->state, &st, left, false,
	                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		thr_store(&pool->shm->deferred, 1);
		return why;
	}
	return st == THR_WAITER_GRANTED ? collect(pool->shm, w, ret_hold)
	                                : -EBADMSG;
}

/* Leaves the queue after a timeout or a signal, unless a grant got there
 * first, in which case the slot is ours after all. counted: the leaving is
 * counted as a timeout or an interruption (a wait that will resume is
 * not). */
static int cancel(struct thr_pool *pool, uint32_t wi, int why, bool counted,
                  uint32_t *ret_hold)
{
	struct thr_shm_pool *shm = pool->shm;
	struct thr_shm_waiter *w = &shm->waiters[wi];
	struct thr_wakes wakes = { 0 };
	if (thr_pool_lock(pool) < 0)
		return leave(pool, w, why, ret_hold);
	int r;
	uint32_t st = thr_load(&w->state);
	if (st == THR_WAITER_GRANTED) {
		r = collect(shm, w, ret_hold);
	} else if (st == THR_WAITER_WAITING && w->proc == pool->me) {
		thr_store(&w->state, THR_WAITER_FREE);
		if (shm->waiting)
			shm->waiting--;
		if (counted && why == -ETIMEDOUT)
			shm->stats.timeouts++;
		else if (counted)
			shm->stats.interrupted++;
		r = why;
	} else {
		r = -EBADMSG; /* somebody else freed our place */
	}
	thr_pool_unlock(pool, &wakes);
	return r;
}

/* Is it this waiter's turn to look for dead holders: has nobody looked for
 * a tick? One waiter a tick wins. A time in the future (a scribbled word,
 * a clock reset) counts as long ago. */
static bool tick_due(struct thr_shm_pool *shm)
{
	uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
	uint64_t last = __atomic_load_n(&shm->ticked_ns, __ATOMIC_ACQUIRE);
	if (last <= now && now - last < TICK_NS)
		return false;
	return __atomic_compare_exchange_n(&shm->ticked_ns, &last, now, false,
	                                   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* Every TICK_NS of waiting, by one of the waiters: take back slots of dead
 * holders, and recount the gauges, so that a scribbled count cannot keep a
 * waiter queued. */
static void tick(struct thr_pool *pool)
{
	struct thr_wakes wakes = { 0 };
	if (!tick_due(pool->shm))
		return;
	thr_recover_reclaim(pool, THR_RECLAIM_SUSPECTS);
	if (thr_pool_lock(pool) < 0)
		return;
	thr_recover_recount(pool->shm);
	thr_pool_grant_locked(pool, &wakes);
	thr_pool_unlock(pool, &wakes);
}

/* The waits in progress in this process, by futex word, so that its exit
 * can wake them (one past the list waits for its next tick); and whether
 * it is exiting: then they end, since an exit may wait for the threads
 * that wait (node's joins its libuv threads), and a slot they wait for
 * may be one this very process holds until it is gone. */
#define NOTED_WAITS 64
static uint32_t *noted_waits[NOTED_WAITS];
static int ending;

static uint32_t **waits_note(uint32_t *word)
{
	for (int i = 0; i < NOTED_WAITS; i++) {
		uint32_t *none = NULL;
		if (__atomic_compare_exchange_n(&noted_waits[i], &none, word,
		                                false, __ATOMIC_ACQ_REL,
		                                __ATOMIC_RELAXED))
			return &noted_waits[i];
	}
	return NULL;
}

/* Wakes the waits in progress here, to look at why they might end. */
static void wake_noted(void)
{
	for (int i = 0; i < NOTED_WAITS; i++) {
		uint32_t *word = __atomic_load_n(&noted_waits[i],
		                                 __ATOMIC_ACQUIRE);
		if (word)
			thr_futex_wake(word, INT_MAX);
	}
}

void thr_pool_end_waits(void)
{
	__atomic_store_n(&ending, 1, __ATOMIC_RELEASE);
	wake_noted();
}

/* Does a handler of the program's own run for sig? Its flags into
 * *flags. */
static bool handler_of(int sig, int *flags)
{
	struct sigaction sa;
	if (sigaction(sig, NULL, &sa) < 0 || sa.sa_handler == SIG_DFL ||
	    sa.sa_handler == SIG_IGN)
		return false;
	*flags = sa.sa_flags;
	return true;
}

/* Has any signal of set a handler of the program's; into *all_restart,
 * whether every such handler has SA_RESTART. Changes errno (its caller
 * restores it). */
static bool handled(const sigset_t *set, bool *all_restart)
{
	bool any = false;
	int flags;
	*all_restart = true;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(set, sig) != 1 || !handler_of(sig, &flags))
			continue;
		any = true;
		if (!(flags & SA_RESTART))
			*all_restart = false;
	}
	return any;
}

/* Into *set, the signals the wait blocks: all but those a fault raises.
 * The kernel kills a process whose fault signal is blocked, past its
 * handler, and the wait reads the segment, which another process may have
 * truncated. So such a signal sent by kill() has its handler run at once,
 * and the wait goes on. */
static void wait_blocks(sigset_t *set)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP,
	                              SIGSYS };
	sigfillset(set);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(set, faults[i]);
}

/* Into *open, the signals that the caller's mask lets in. */
static void signals_let_in(const sigset_t *caller, sigset_t *open)
{
	sigfillset(open);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(caller, sig) == 1)
			sigdelset(open, sig);
}

/* Into *sigs, the signals of open pending for this thread or its process:
 * false if none. */
static bool signals_pending(const sigset_t *open, sigset_t *sigs)
{
	sigset_t pending;
	bool any = false;
	sigemptyset(sigs);
	if (sigpending(&pending) < 0)
		return false;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(&pending, sig) == 1 &&
		    sigismember(open, sig) == 1) {
			sigaddset(sigs, sig);
			any = true;
		}
	}
	return any;
}

/* Takes one of sigs off its queue (this thread's, else the process's) and
 * puts it back, with its siginfo, on this thread's alone: of several
 * waiting threads only one acts on a signal sent to the process, as only
 * one would run its handler. Returns it, or 0 if another thread took it
 * first. Changes errno (its caller restores it). */
static int signal_claim(const sigset_t *sigs)
{
	siginfo_t info;
	struct timespec now = { 0, 0 };
	int sig = sigtimedwait(sigs, &info, &now);
	if (sig <= 0)
		return 0;
	thr_sys6(SYS_rt_tgsigqueueinfo, getpid(), thr_proc_tid(), sig,
	         (long)&info, 0, 0);
	return sig;
}

/* Lets the pending signals in (their handlers run, or their default
 * actions), then blocks all again. */
static void signals_deliver(const sigset_t *caller, const sigset_t *all)
{
	pthread_sigmask(SIG_SETMASK, caller, NULL);
	pthread_sigmask(SIG_BLOCK, all, NULL);
}

/* What a wait does with its blocked signals, while it waits. */
struct wait_signals {
	sigset_t caller;        /* the caller's mask */
	sigset_t all;           /* what the wait blocks */
	sigset_t open;          /* what the caller lets in */
	bool handlers;          /* some signal of open has a handler: naps are
	                           then cut into slices, to see it pending */
};

/* Signals sigs are pending. Without a handler among them, their default
 * actions are let in (nothing of the program's runs) and the wait goes on:
 * -EAGAIN. Else the wait gives its place wi up (THR_NONE: it has none, it
 * waits for room), and a slot granted meanwhile too, and returns -EINTR
 * with intr filled in: the handlers run once the caller lets them in. */
static int on_signals(struct thr_pool *pool, uint32_t wi,
                      const struct thr_pool_req *req,
                      const struct wait_signals *ws, const sigset_t *sigs,
                      struct thr_pool_interrupt *intr)
{
	bool restart;
	if (!handled(sigs, &restart)) {
		signals_deliver(&ws->caller, &ws->all);
		return -EAGAIN;
	}
	if (!signal_claim(sigs))
		return -EAGAIN; /* another waiting thread of ours took it */
	restart = restart && req->restart;
	intr->ticket = NO_TICKET;
	intr->since_ns = thr_clock_ns(CLOCK_MONOTONIC);
	if (wi != THR_NONE) {
		struct thr_shm_waiter *w = &pool->shm->waiters[wi];
		uint32_t hold;
		intr->ticket = w->ticket;
		intr->since_ns = w->since_ns;
		int r = cancel(pool, wi, -EINTR, !restart, &hold);
		if (r == 0) /* granted meanwhile: held, no handler may run */
			thr_pool_release(pool, hold);
		else if (r != -EINTR)
			return r;
	}
	intr->pending = true;
	intr->restart = restart;
	return -EINTR;
}

/* Blocks the signals a wait blocks, noting the caller's mask in ws. */
static void signals_block(struct wait_signals *ws)
{
	bool restart;
	wait_blocks(&ws->all);
	pthread_sigmask(SIG_BLOCK, &ws->all, &ws->caller);
	signals_let_in(&ws->caller, &ws->open);
	ws->handlers = handled(&ws->open, &restart);
}

/* Lets the caller's mask back, unless an interrupt r leaves that to the
 * caller (thr_pool_interrupt_deliver()). */
static void signals_unblock(struct wait_signals *ws, int r,
                            struct thr_pool_interrupt *intr)
{
	if (r == -EINTR && intr->pending)
		intr->mask = ws->caller;
	else
		pthread_sigmask(SIG_SETMASK, &ws->caller, NULL);
}

/* No room in the pool's tables for this caller: more processes use the
 * pool than it has entries (and none of them is idle), or more wait than
 * it has places. It naps ROOM_NAP_NS and asks again; it never goes
 * through unthrottled. Signals and the deadline as in a wait. Returns 0
 * (ask again), -ETIMEDOUT, or -EINTR with intr filled in. */
static int wait_for_room(struct thr_pool *pool, const struct thr_pool_req *req,
                         struct thr_pool_interrupt *intr)
{
	bool has_deadline = req->mode == THR_POOL_DEADLINE;
	uint64_t deadline = has_deadline ? thr_clock_ts_ns(&req->deadline) : UINT64_MAX;
	uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
	uint64_t until = now + ROOM_NAP_NS < deadline ? now + ROOM_NAP_NS : deadline;
	struct wait_signals ws;
	sigset_t sigs;
	int r = 0, saved = errno;
	intr->no_room = true;
	if (__atomic_load_n(&ending, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	signals_block(&ws);
	while (r == 0 && now < until) {
		if (signals_pending(&ws.open, &sigs) &&
		    (r = on_signals(pool, THR_NONE, req, &ws, &sigs, intr)) ==
		    -EAGAIN)
			r = 0;
		struct timespec rel = { 0, (long)(until - now) };
		if (r == 0)
			nanosleep(&rel, NULL);
		now = thr_clock_ns(CLOCK_MONOTONIC);
	}
	if (r == 0 && now >= deadline)
		r = -ETIMEDOUT;
	signals_unblock(&ws, r, intr);
	errno = saved;
	return r;
}

/* Threads that another thread of ours is joining (pthread_join), by id,
 * and the joiner's tid. */
#define JOINED 16
static struct {
	uintptr_t thread;
	uint32_t joiner;
} joined[JOINED];

/* The tid of the thread joining this one, or 0. */
static uint32_t joiner_of_self(void)
{
	uintptr_t self = (uintptr_t)pthread_self();
	for (int i = 0; i < JOINED; i++)
		if (__atomic_load_n(&joined[i].thread, __ATOMIC_ACQUIRE) == self)
			return __atomic_load_n(&joined[i].joiner,
			                       __ATOMIC_ACQUIRE);
	return 0;
}

/* Is this thread being joined by a thread that itself holds every slot of
 * the pool? The joiner, stopped in the join, is the one that would close
 * them (node's exit joins its libuv threads, with the files its program
 * opened on its main thread still open): the wait could never end. */
static bool joined_in_vain(const struct thr_pool *pool)
{
	uint32_t joiner = joiner_of_self();
	if (!joiner)
		return false;
	const struct thr_shm_pool *shm = pool->shm;
	uint32_t theirs = 0, limit = limit_of(shm);
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		const struct thr_shm_holder *h = &shm->holders[i];
		theirs += thr_load(&h->state) == THR_HOLDER_LIVE &&
		          h->proc == pool->me && h->tid == joiner;
	}
	return limit && theirs >= limit;
}

void thr_pool_joining(pthread_t thread, bool begins)
{
	uintptr_t t = (uintptr_t)thread;
	for (int i = 0; i < JOINED; i++) {
		uintptr_t want = begins ? 0 : t;
		if (!__atomic_compare_exchange_n(&joined[i].thread, &want,
		                                 begins ? t : 0, false,
		                                 __ATOMIC_ACQ_REL,
		                                 __ATOMIC_RELAXED))
			continue;
		if (begins) {
			__atomic_store_n(&joined[i].joiner,
			                 (uint32_t)thr_proc_tid(),
			                 __ATOMIC_RELEASE);
			wake_noted();
		}
		return;
	}
}

/* The process is exiting, or this thread is joined in vain: a wait gives
 * its place up, as an interrupted one does, and a slot granted meanwhile
 * goes back. Returns -ECANCELED. */
static int ended(struct thr_pool *pool, uint32_t wi, uint32_t *ret_hold)
{
	uint32_t hold;
	if (cancel(pool, wi, -EINTR, true, &hold) == 0)
		thr_pool_release(pool, hold);
	return -ECANCELED;
}

/* The wait itself, with signals blocked all along: a handler never runs
 * while we have a place in the queue (see struct thr_pool_interrupt).
 * Pending signals are looked for between naps, which a handler makes
 * slices of SLICE_NS, so that it runs that late at most. */
static int wait_blocked(struct thr_pool *pool, uint32_t wi,
                        const struct thr_pool_req *req,
                        struct wait_signals *ws,
                        struct thr_pool_interrupt *intr, uint32_t *ret_hold)
{
	struct thr_shm_waiter *w = &pool->shm->waiters[wi];
	bool has_deadline = req->mode == THR_POOL_DEADLINE;
	uint64_t deadline = has_deadline ? thr_clock_ts_ns(&req->deadline) : UINT64_MAX;
	sigset_t sigs;
	bool restart;
	STEP("wait.queued");
	for (;;) {
		uint32_t st = thr_load(&w->state);
		if (st == THR_WAITER_GRANTED)
			return collect(pool->shm, w, ret_hold);
		if (st != THR_WAITER_WAITING)
			return -EBADMSG;
		uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
		if (now >= deadline)
			return cancel(pool, wi, -ETIMEDOUT, true, ret_hold);
		if (__atomic_load_n(&ending, __ATOMIC_ACQUIRE) ||
		    joined_in_vain(pool))
			return ended(pool, wi, ret_hold);
		if (signals_pending(&ws->open, &sigs)) {
			int r = on_signals(pool, wi, req, ws, &sigs, intr);
			if (r != -EAGAIN)
				return r;
			continue;
		}
		if (now >= intr->next_tick_ns) {
			tick(pool);
			intr->next_tick_ns = thr_clock_ns(CLOCK_MONOTONIC) + TICK_NS;
			ws->handlers = handled(&ws->open, &restart);
			continue;
		}
		uint64_t until = deadline < intr->next_tick_ns ? deadline
		                                               : intr->next_tick_ns;
		if (ws->handlers && until - now > SLICE_NS)
			until = now + SLICE_NS;
		struct timespec rel = { (time_t)((until - now) / 1000000000ull),
		                        (long)((until - now) % 1000000000ull) };
		thr_futex_wait(&w->state, THR_WAITER_WAITING, &rel);
	}
}

/* Sleeps on our own futex word until granted, waking every TICK_NS to look
 * for dead holders (afresh: the seen-alive cache lasts less than a tick), so
 * a killed holder's slot comes back at the first tick after its death. The
 * ticks keep to the clock, across resumes too: signals that end naps must
 * not put them off for ever. On -EINTR with intr->pending, the signals are
 * still blocked. */
static int wait_grant(struct thr_pool *pool, uint32_t wi,
                      const struct thr_pool_req *req,
                      struct thr_pool_interrupt *intr, uint32_t *ret_hold)
{
	struct wait_signals ws;
	int saved = errno;
	signals_block(&ws);
	uint32_t **place = waits_note(&pool->shm->waiters[wi].state);
	int r = wait_blocked(pool, wi, req, &ws, intr, ret_hold);
	if (place)
		__atomic_store_n(place, NULL, __ATOMIC_RELEASE);
	signals_unblock(&ws, r, intr);
	errno = saved;
	return r;
}

bool thr_pool_interrupt_deliver(struct thr_pool_interrupt *intr)
{
	int saved = errno;
	intr->pending = false;
	pthread_sigmask(SIG_SETMASK, &intr->mask, NULL);
	errno = saved;
	return intr->restart;
}

/* Does req wait, when the pool is full? */
static bool waits(const struct thr_pool_req *req)
{
	return req->mode == THR_POOL_WAIT || req->mode == THR_POOL_DEADLINE;
}

static bool deadline_valid(const struct thr_pool_req *req)
{
	return req->mode != THR_POOL_DEADLINE ||
	       (req->deadline.tv_nsec >= 0 && req->deadline.tv_nsec < 1000000000L);
}

/* Does process entry me hold any slot here? */
static bool holds_here(const struct thr_shm_pool *shm, uint32_t me)
{
	for (uint32_t i = 0; i < THR_HOLDERS; i++)
		if (thr_load(&shm->holders[i].state) == THR_HOLDER_LIVE &&
		    shm->holders[i].proc == me)
			return true;
	return false;
}

/* Under the lock, a full pool: queues the caller, unless it asked to hear
 * first that it holds slots here (-EEXIST), or that its wait would never
 * end (-EDEADLK, counted as refused). */
static int wait_or_not(struct thr_pool *pool, const struct thr_pool_req *req,
                       const struct thr_pool_interrupt *resume,
                       uint32_t *ret_waiter)
{
	struct thr_shm_pool *shm = pool->shm;
	if (__atomic_load_n(&ending, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	if (req->check_own && holds_here(shm, pool->me))
		return -EEXIST;
	if (req->detect_deadlock &&
	    thr_deadlock_find(shm, pool->me, (uint32_t)thr_proc_tid(), req,
	                      req->deadlock)) {
		shm->stats.refused++;
		return -EDEADLK;
	}
	return enqueue(pool, req, resume, ret_waiter);
}

/* One acquire, as far as the first signal that ends its wait; tried: the
 * first pass was made and found the pool full. */
static int acquire_once(struct thr_pool *pool, const struct thr_pool_req *req,
                        const struct thr_pool_interrupt *resume,
                        struct thr_pool_interrupt *intr, uint32_t *ret_hold,
                        bool tried)
{
	struct thr_shm_pool *shm = pool->shm;
	int r = tried ? 0 : register_self(pool);
	if (r == -ENOSPC && !waits(req))
		return -EAGAIN; /* no entry for us: as full as can be */
	if (r < 0)
		return r;
	struct thr_wakes wakes = { 0 };
	for (int pass = tried ? 1 : 0;; pass++) {
		/* Full: take back what dead holders had before giving up. */
		if (pass == 1)
			thr_recover_reclaim(pool, THR_RECLAIM_HOLDERS);
		if ((r = thr_pool_lock(pool)) < 0)
			return r;
		STEP("acquire.locked");
		/* A place left in the queue, or a release, may await us: it
		 * would make the pool look fuller than it is. */
		run_deferred(pool, &wakes);
		r = take_free(pool, req, ret_hold);
		if (r != -EAGAIN || pass > 0)
			break;
		thr_pool_unlock(pool, &wakes);
	}
	uint32_t wi = THR_NONE;
	if (r == -ENOSPC && !waits(req))
		r = -EAGAIN; /* no room counts as full, refused or over */
	if (r == -EAGAIN && req->mode == THR_POOL_TRY)
		shm->stats.refused++;
	else if (r == -EAGAIN && req->mode == THR_POOL_OBSERVE)
		shm->stats.over++;
	else if (r == -EAGAIN && !deadline_valid(req))
		r = -EINVAL;
	else if (r == -EAGAIN)
		r = wait_or_not(pool, req, resume, &wi);
	thr_pool_unlock(pool, &wakes);
	if (r != 0 || wi == THR_NONE)
		return r;
	/* The first tick half a period in, so that an alarm of whole
	 * seconds set just before the call falls between two. */
	intr->next_tick_ns = resume ? resume->next_tick_ns
	                            : thr_clock_ns(CLOCK_MONOTONIC) + TICK_NS / 2;
	return wait_grant(pool, wi, req, intr, ret_hold);
}

/* The whole acquire past the inline first pass. Without req->interrupt, a
 * signal that ends the wait has its handlers run here, after the wait has
 * left the queue, and with restart the wait queues again at its place. */
static __attribute__((noinline)) int acquire(struct thr_pool *pool,
                                             const struct thr_pool_req *req,
                                             uint32_t *ret_hold, bool tried)
{
	struct thr_pool_interrupt own;
	struct thr_pool_interrupt *intr = req->interrupt ? req->interrupt : &own;
	const struct thr_pool_interrupt *resume = req->resume;
	intr->no_room = false;
	for (;;) {
		intr->pending = false;
		int r = acquire_once(pool, req, resume, intr, ret_hold, tried);
		tried = false;
		if (r == -ESTALE)
			continue; /* our entry was freed: register again */
		if (r == -ENOSPC && waits(req)) {
			r = wait_for_room(pool, req, intr);
			if (r == 0)
				continue;
		}
		if (r != -EINTR || !intr->pending || req->interrupt)
			return r;
		if (!thr_pool_interrupt_deliver(intr))
			return -EINTR;
		resume = intr;
		tried = false;
	}
}

THR_HOT
int thr_pool_acquire(struct thr_pool *pool, const struct thr_pool_req *req,
                     uint32_t *ret_hold)
{
	/* Inside a lock on this thread: a signal handler's call. The outer
	 * holder's lock_held mark must survive it, too. */
	if (__builtin_expect(lock_held != NULL, 0))
		return -EALREADY;
	bool tried = false;
	if (__builtin_expect(registered(pool), 1)) {
		/* The first pass inline. Nothing on it can change errno: the
		 * lock's and unlock's slow paths and the clock keep it. */
		int r = lock(pool);
		if (r < 0)
			return r;
		STEP("acquire.locked");
		struct thr_wakes wakes;
		wakes.n = 0;
		r = take_free(pool, req, ret_hold);
		unlock(pool, &wakes);
		if (r != -EAGAIN && r != -ESTALE)
			return r;
		tried = r == -EAGAIN;
	}
	int saved = errno;
	int r = acquire(pool, req, ret_hold, tried);
	errno = saved;
	return r;
}
/* ---- release, co-holders, resize ------------------------------------------ */

/* Record hold if it is live and still on the slot its handle names, else
 * NULL. slot_of(hold) must be in range. */
static inline const struct thr_shm_holder *live_holder(
	const struct thr_shm_pool *shm, uint32_t hold)
{
	const struct thr_shm_holder *h = &shm->holders[holder_of(hold)];
	return thr_load(&h->state) == THR_HOLDER_LIVE &&
	       h->slot == slot_of(hold) ? h : NULL;
}

/* Is record hold live and this process's? slot_of(hold) must be in range. */
static inline bool holder_is_ours(const struct thr_pool *pool, uint32_t hold)
{
	const struct thr_shm_holder *h = live_holder(pool->shm, hold);
	return h && h->proc == pool->me;
}

/* Could hold be this handle's at all? The checks on the handle alone. */
static inline bool handle_fits(const struct thr_pool *pool, uint32_t hold)
{
	return slot_of(hold) < THR_SLOTS && pool->me != THR_NONE &&
	       pool->fork_gen == thr_proc_fork_gen();
}

static inline bool holds(const struct thr_pool *pool, uint32_t hold)
{
	return handle_fits(pool, hold) && holder_is_ours(pool, hold);
}

/* Marks our record hold RELEASING for the next lock holder to drop (see
 * run_deferred): for a release made inside our own critical section (a
 * signal handler), or one that could not get the lock. */
static int defer_release(struct thr_pool *pool, uint32_t hold)
{
	struct thr_shm_pool *shm = pool->shm;
	if (!holder_is_ours(pool, hold))
		return -ESTALE;
	uint32_t live = THR_HOLDER_LIVE;
	__atomic_compare_exchange_n(&shm->holders[holder_of(hold)].state, &live,
	                            THR_HOLDER_RELEASING, false,
	                            __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	thr_store(&shm->deferred, 1);
	return 0;
}

THR_HOT int thr_pool_release(struct thr_pool *pool, uint32_t hold)
{
	struct thr_shm_pool *shm = pool->shm;
	if (!handle_fits(pool, hold))
		return -ESTALE;
	if (lock_held == shm)
		return defer_release(pool, hold);
	/* Nothing here can change errno: the lock's and unlock's slow paths,
	 * the clock of a hand-off and the futex wrappers keep it. */
	struct thr_wakes wakes;
	wakes.n = 0;
	/* A signal handler may release here while its thread is inside
	 * another pool's lock: that thread's mark must survive us. */
	struct thr_shm_pool *outer = lock_held;
	int r = lock(pool);
	if (r == 0) {
		STEP("release.locked");
		/* Again under the lock: a reclaim or another thread may have
		 * freed it since. The checks on the handle alone still hold. */
		r = holder_is_ours(pool, hold)
		        ? drop_locked(pool, holder_of(hold), &wakes)
		        : -ESTALE;
		unlock(pool, &wakes);
	} else {
		/* The lock's owner is alive but stuck (stopped, say): the
		 * release waits for whoever takes the lock next. */
		r = defer_release(pool, hold);
	}
	lock_held = outer;
	return r;
}

_Static_assert(THR_POOL_TARGET_MAX == THR_TARGET_LEN - 1, "target length");
_Static_assert(THR_POOL_PROCS == THR_PROCS && THR_POOL_WAITERS == THR_WAITERS,
               "table sizes");

int thr_pool_target(struct thr_pool *pool, uint32_t hold, char *buf,
                    size_t len)
{
	if (!len || !holds(pool, hold))
		return -ESTALE;
	const char *t = pool->shm->slots[slot_of(hold)].target;
	size_t n = 0;
	while (n + 1 < len && n < THR_TARGET_LEN - 1 && t[n])
		n++;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return (int)n;
}

/* Under the lock: the record of process id on the slot of hold, created
 * naming fd if absent, provided hold's own record still holds that slot.
 * tid: the thread it is for, or 0 for any of id's (a co-holder's, made by
 * its parent); a record found with 0 takes a tid given. */
static int join_slot(struct thr_pool *pool, uint32_t hold,
                     const struct thr_proc_id *id, int fd, uint32_t tid,
                     uint32_t *ret_hold, struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	uint32_t s = slot_of(hold);
	if (s >= THR_SLOTS)
		return -ESTALE;
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		struct thr_shm_holder *h = &shm->holders[i];
		if (thr_load(&h->state) == THR_HOLDER_LIVE && h->slot == s &&
		    is_proc(shm, h->proc, id)) {
			if (!h->tid)
				h->tid = tid;
			*ret_hold = hold_of(i, s);
			return 0;
		}
	}
	if (!live_holder(shm, hold))
		return -ESTALE;
	uint32_t proc = entry_of(pool, id, wakes);
	if (proc == THR_NONE)
		return -ENOSPC;
	uint32_t h = new_holder(pool, s, proc, fd, tid);
	if (h == THR_NONE)
		return -ENOSPC;
	shm->slots[s].refs++;
	thr_store(&shm->holders[h].state, THR_HOLDER_LIVE);
	*ret_hold = hold_of(h, s);
	return 0;
}

static int join(struct thr_pool *pool, uint32_t hold,
                const struct thr_proc_id *id, int fd, uint32_t tid,
                uint32_t *ret_hold)
{
	struct thr_wakes wakes = { 0 };
	int r = thr_pool_lock(pool);
	if (r < 0)
		return r;
	r = join_slot(pool, hold, id, fd, tid, ret_hold, &wakes);
	thr_pool_unlock(pool, &wakes);
	return r;
}

int thr_pool_cohold(struct thr_pool *pool, uint32_t hold, pid_t pid, int fd,
                    uint32_t *ret_hold)
{
	int saved = errno;
	struct thr_proc_id id;
	int r = register_self(pool);
	if (r == 0)
		r = holds(pool, hold) ? thr_proc_identify(pid, &id) : -ESTALE;
	if (r == 0)
		r = join(pool, hold, &id, fd, 0, ret_hold);
	errno = saved;
	return r;
}

int thr_pool_adopt(struct thr_pool *pool, uint32_t hold, int fd,
                   uint32_t *ret_hold)
{
	int saved = errno;
	int r = register_self(pool);
	if (r == 0)
		r = join(pool, hold, &pool->id, fd, (uint32_t)thr_proc_tid(),
		         ret_hold);
	errno = saved;
	return r;
}

/* Under the lock: is record hold live, on its slot, and process pid's? */
static bool holder_is_pids(const struct thr_shm_pool *shm, uint32_t hold,
                           pid_t pid)
{
	const struct thr_shm_holder *h =
		slot_of(hold) < THR_SLOTS ? live_holder(shm, hold) : NULL;
	return h && h->proc < THR_PROCS &&
	       shm->procs[h->proc].pid == (uint32_t)pid;
}

int thr_pool_uncohold(struct thr_pool *pool, uint32_t hold, pid_t pid)
{
	int saved = errno;
	struct thr_wakes wakes = { 0 };
	int r = register_self(pool);
	if (r == 0 && (r = thr_pool_lock(pool)) == 0) {
		r = holder_is_pids(pool->shm, hold, pid)
		        ? drop_locked(pool, holder_of(hold), &wakes)
		        : -ESTALE;
		thr_pool_unlock(pool, &wakes);
	}
	errno = saved;
	return r;
}

int thr_pool_set_limit(struct thr_pool *pool, uint32_t limit)
{
	if (limit < 1 || limit > THR_SLOTS)
		return -EINVAL;
	int saved = errno;
	struct thr_wakes wakes = { 0 };
	int r = register_self(pool);
	if (r == 0 && (r = thr_pool_lock(pool)) == 0) {
		pool->shm->limit = limit;
		thr_pool_grant_locked(pool, &wakes);
		thr_pool_unlock(pool, &wakes);
	}
	errno = saved;
	return r;
}

int thr_pool_reclaim(struct thr_pool *pool)
{
	int saved = errno;
	int r = register_self(pool);
	if (r == 0)
		r = thr_recover_reclaim(pool, THR_RECLAIM_ALL);
	errno = saved;
	return r;
}

/* ---- open and close ----------------------------------------------------------- */

int thr_pool_open(const char *name, const struct thr_pool_opts *opts,
                  struct thr_pool **ret_pool, char *err)
{
	int saved = errno, r = -EINVAL;
	struct thr_pool *pool = NULL;
	thr_clock_find(); /* here, not at load: inert programs never pay */
	if (err)
		err[0] = '\0';
	if (!thr_pool_name_is_valid(name)) {
		if (err)
			strcpy(err, "invalid pool name: use 1-64 of A-Z a-z 0-9 _ . -");
		goto out;
	}
	if (!opts->readonly && (opts->limit < 1 || opts->limit > THR_SLOTS)) {
		if (err)
			snprintf(err, THR_POOL_ERR_LEN, "pool '%s': limit %u is "
			         "not within 1..%u", name, opts->limit, THR_SLOTS);
		goto out;
	}
	r = -ENOMEM;
	if (!(pool = calloc(1, sizeof(*pool))) ||
	    !(pool->seen = calloc(THR_PROCS, sizeof(*pool->seen))))
		goto out_free;
	strcpy(pool->name, name);
	pool->me = THR_NONE;
	r = thr_segment_map(name, opts, &pool->shm, err);
	if (r < 0)
		goto out_free;
	if (opts->set_limit && !opts->readonly &&
	    pool->shm->limit != opts->limit &&
	    (r = thr_pool_set_limit(pool, opts->limit)) < 0)
		goto out_unmap;
	*ret_pool = pool;
	errno = saved;
	return 0;
out_unmap:
	thr_segment_unmap(pool->shm);
out_free:
	if (pool)
		free(pool->seen);
	free(pool);
out:
	errno = saved;
	return r;
}

void thr_pool_close(struct thr_pool *pool)
{
	if (!pool)
		return;
	int saved = errno;
	thr_segment_unmap(pool->shm);
	free(pool->seen);
	free(pool);
	errno = saved;
}

const char *thr_pool_name(const struct thr_pool *pool)
{
	return pool->name;
}

int thr_pool_unlink(const char *name, const char *dir)
{
	char path[512];
	int saved = errno;
	int r = thr_pool_name_is_valid(name) ? 0 : -EINVAL;
	if (r == 0)
		r = thr_segment_path(name, dir, path, sizeof(path));
	if (r == 0 && unlink(path) < 0)
		r = -errno;
	errno = saved;
	return r;
}

/* ---- the shim's bookkeeping ------------------------------------------------ */

/* Called right after the acquire that made hold, in the same process: the
 * record's own fields are the whole check. */
THR_HOT int thr_pool_set_fd(struct thr_pool *pool, uint32_t hold, int fd)
{
	if (slot_of(hold) >= THR_SLOTS || !holder_is_ours(pool, hold))
		return -ESTALE;
	pool->shm->holders[holder_of(hold)].fd = fd;
	return 0;
}

/* The live records of process id: up to max handles and descriptors. */
static size_t records_of(const struct thr_shm_pool *shm,
                         const struct thr_proc_id *id, uint32_t *ret_holds,
                         int *ret_fds, size_t max)
{
	size_t n = 0;
	for (uint32_t i = 0; i < THR_HOLDERS && n < max; i++) {
		const struct thr_shm_holder *h = &shm->holders[i];
		if (thr_load(&h->state) != THR_HOLDER_LIVE ||
		    h->slot >= THR_SLOTS || !is_proc(shm, h->proc, id))
			continue;
		ret_holds[n] = hold_of(i, h->slot);
		ret_fds[n++] = h->fd;
	}
	return n;
}

int thr_pool_held(struct thr_pool *pool, uint32_t *ret_holds, int *ret_fds,
                  size_t max)
{
	int saved = errno;
	struct thr_proc_id id;
	size_t n = 0;
	/* Most processes hold nothing yet: look before registering. */
	int r = thr_proc_self(&id);
	if (r == 0)
		n = records_of(pool->shm, &id, ret_holds, ret_fds, max);
	if (n > 0)
		r = register_self(pool);
	errno = saved;
	return r < 0 ? r : (int)n;
}

/* Does any live record belong to a process entry with this pid? A look at
 * the tables, before paying for a /proc read to tell who pid is. */
static bool pid_holds(const struct thr_shm_pool *shm, pid_t pid)
{
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		const struct thr_shm_holder *h = &shm->holders[i];
		if (thr_load(&h->state) == THR_HOLDER_LIVE && h->proc < THR_PROCS &&
		    shm->procs[h->proc].pid == (uint32_t)pid)
			return true;
	}
	return false;
}

int thr_pool_held_by(struct thr_pool *pool, pid_t pid, uint32_t *ret_holds,
                     int *ret_fds, size_t max)
{
	if (!pid_holds(pool->shm, pid))
		return 0; /* most parents hold nothing */
	int saved = errno;
	struct thr_proc_id id;
	int r = thr_proc_identify(pid, &id);
	if (r == 0)
		r = (int)records_of(pool->shm, &id, ret_holds, ret_fds, max);
	errno = saved;
	return r;
}
