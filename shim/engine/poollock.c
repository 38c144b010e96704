/* poollock.c - the pool's crash-safe lock: taking it (slow path), verdicts
 * on an owner that holds it long (dead, stopped, left by an exec), repair
 * after a dead owner, the unlock that runs deferred work, and the process
 * entries that own the lock. The fast paths are inline in poolint.h. Must
 * never wait for ever on a dead owner, nor touch errno. */
#include "poolint.h"

#include "futex.h"

#include <errno.h>
#include <stddef.h>

__thread struct thr_shm_pool *thr_pool__lock_held;

/* A lock owned by pid (bit set) instead of a process entry: only while a
 * process registers, before it has an entry. */
#define LOCK_BY_PID UINT32_C(0x40000000)

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

void thr_pool__wake(struct thr_shm_pool *shm, uint32_t wi)
{
	thr_futex_wake(&shm->waiters[wi].state, 1);
	__atomic_add_fetch(&shm->stats.wakes, 1, __ATOMIC_RELAXED);
}

static void wake_all(struct thr_shm_pool *shm, struct thr_wakes *wakes)
{
	for (unsigned i = 0; i < wakes->n; i++)
		thr_pool__wake(shm, wakes->idx[i]);
	wakes->n = 0;
}

_Static_assert(offsetof(struct thr_shm_pool, lock) % 8 == 0 &&
               offsetof(struct thr_shm_pool, seq) ==
               offsetof(struct thr_shm_pool, lock) + 4,
               "the lock and its progress word share 8 aligned bytes");

/* The lock word and its progress word, read as one. */
static uint64_t lock_pair(const struct thr_shm_pool *shm)
{
	return __atomic_load_n((const uint64_t *)(const void *)&shm->lock,
	                       __ATOMIC_ACQUIRE);
}

/* Contended, or the owner died: see poolint.h. */
__attribute__((noinline, cold)) int thr_pool__lock_slow(struct thr_pool *pool,
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
		thr_pool__lock_held = NULL;
		errno = saved;
		return r;
	}
	/* Odd while inside; a dead owner may have left it odd already. */
	thr_store(&shm->seq, shm->seq | 1);
	if (r == 1) {
		struct thr_wakes wakes = { 0 };
		thr_pool__recover_repair(pool, &wakes);
		/* Wake after unlock would need the caller's list; these are
		 * rare, so wake now. */
		wake_all(shm, &wakes);
	}
	errno = saved;
	return 0;
}

void thr_pool_forget_locks(void)
{
	thr_pool__lock_held = NULL;
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

void thr_pool__run_deferred(struct thr_pool *pool, struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	/* Loaded first: the exchange is a locked instruction, and almost
	 * always there is nothing to do. */
	if (!thr_load(&shm->deferred) ||
	    !__atomic_exchange_n(&shm->deferred, 0, __ATOMIC_ACQ_REL))
		return;
	for (uint32_t i = 0; i < THR_WAITERS; i++)
		if (thr_pool__free_left(shm, &shm->waiters[i]) && shm->waiting)
			shm->waiting--;
	for (uint32_t i = 0; i < THR_HOLDERS; i++)
		if (thr_load(&shm->holders[i].state) == THR_HOLDER_RELEASING)
			thr_pool__drop_locked(pool, i, wakes);
	/* A place that left may have kept others from free slots. */
	thr_pool__grant_locked(pool, wakes);
}

bool thr_pool__free_left(struct thr_shm_pool *shm, struct thr_shm_waiter *w)
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

/* The unlock with work to do: deferred releases, wakes, or a release that a
 * signal handler deferred while we were letting go. relocks counts the times
 * the lock was taken back for that already; after 4 the rest waits for the
 * next unlock. Keeps errno. */
__attribute__((noinline)) void thr_pool__unlock_slow(struct thr_pool *pool,
                                                     struct thr_wakes *wakes,
                                                     int relocks)
{
	struct thr_shm_pool *shm = pool->shm;
	int saved = errno;
	for (;;) {
		thr_pool__run_deferred(pool, wakes);
		thr_pool__let_go(shm);
		wake_all(shm, wakes);
		/* A signal handler may have deferred a release after we looked. */
		if (relocks++ >= 4 || !thr_load(&shm->deferred) ||
		    pool->me == THR_NONE ||
		    thr_pool__lock_as(pool, pool->me + 1) < 0)
			break;
	}
	errno = saved;
}

/* A release was deferred while we let go: take the lock back for it. */
__attribute__((noinline, cold)) void thr_pool__unlock_again(
	struct thr_pool *pool, struct thr_wakes *wakes)
{
	if (pool->me != THR_NONE && thr_pool__lock_as(pool, pool->me + 1) == 0)
		thr_pool__unlock_slow(pool, wakes, 1);
}

/* ---- process entries ---------------------------------------------------- */

static uint32_t find_proc(struct thr_shm_pool *shm, const struct thr_proc_id *id)
{
	for (uint32_t i = 0; i < THR_PROCS; i++)
		if (thr_load(&shm->procs[i].state) == THR_PROC_LIVE &&
		    thr_pool__is_proc(shm, i, id))
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
 * process registers again when it next acquires: thr_pool__registered()
 * and take_free() (pool.c) see the entry's gen move. The lock's owner keeps
 * its own. */
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
uint32_t thr_pool__entry_of(struct thr_pool *pool, const struct thr_proc_id *id,
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
			thr_pool__recover_free_proc(pool, j, wakes);
	}
	i = alloc_proc(shm, id);
	if (i == THR_NONE) {
		free_idle(shm);
		i = alloc_proc(shm, id);
	}
	return i;
}

/* Makes sure this process has its own entry. */
__attribute__((noinline)) int thr_pool__register_slow(struct thr_pool *pool)
{
	unsigned gen = thr_proc_fork_gen();
	int r = thr_proc_self(&pool->id);
	if (r < 0)
		return r;
	r = thr_pool__lock_as(pool, LOCK_BY_PID | (uint32_t)pool->id.pid);
	if (r < 0)
		return r;
	struct thr_wakes wakes = { 0 };
	uint32_t i = thr_pool__entry_of(pool, &pool->id, &wakes);
	pool->me = i;
	if (i != THR_NONE) {
		pool->me_gen = pool->shm->procs[i].gen;
		pool->shm->procs[i].image = thr_proc_image();
		if (!pool->shm->procs[i].pidns) /* made by a parent that could
		                                   not read its own */
			pool->shm->procs[i].pidns = pool->id.pidns;
		pool->fork_gen = gen;
	}
	thr_pool__unlock(pool, &wakes);
	return i == THR_NONE ? -ENOSPC : 0;
}

