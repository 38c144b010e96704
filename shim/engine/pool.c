/* pool.c - the counting semaphore: open and close, acquire (wait, try,
 * deadline), release with first-come-first-served hand-off, live resize.
 * The lock is in poollock.c, the queue and the wait in wait.c, co-holders
 * and the shim's bookkeeping in hold.c. Release must stay
 * async-signal-safe: no allocation, stdio or process-local locks; nothing
 * read from the segment is used before it is bounds-checked. */
#include "poolint.h"

#include "clock.h"
#include "deadlock.h"
#include "hot.h"
#include "segment.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef THR_TEST_HOOKS
void (*thr_pool_test_step)(const char *step);
#endif

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

static unsigned log2_bucket(uint64_t us)
{
	unsigned b = 0;
	while (us && b < THR_HIST_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
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
	/* Bounded: w may be scribbled. */
	thr_pool__copy_target(slot->target, w->target, 0);
	slot->taken_ns = thr_clock_ns(CLOCK_MONOTONIC_COARSE);
	slot->refs = 1;
	/* The waiter names its record before the record goes live, so a repair
	 * can roll a half-done hand-off forward or back. */
	w->hold = h;
	STEP("handoff.holder");
	thr_store(&shm->holders[h].state, THR_HOLDER_LIVE);
	STEP("handoff.live");
	/* Exchanged, not stored: its owner may leave the queue without the
	 * lock (see leave() in wait.c); then the record goes and the slot
	 * stays ours. */
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
	thr_pool__count_handoff(shm, w);
	thr_pool__defer_wake(shm, wakes, wi);
	return 0;
}

void thr_pool__count_handoff(struct thr_shm_pool *shm,
                             const struct thr_shm_waiter *w)
{
	shm->stats.granted++;
	shm->stats.handoffs++;
	/* since_ns is shared memory: one scribbled into the future must not
	 * add a wrapped, huge wait to the sum. */
	uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
	uint64_t waited = now > w->since_ns ? now - w->since_ns : 0;
	shm->stats.wait_hist[log2_bucket(waited / 1000)]++;
	shm->stats.wait_ns += waited;
}

void thr_pool__grant_locked(struct thr_pool *pool, struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	while (shm->waiting && shm->in_use < thr_pool__limit_of(shm)) {
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
	if (shm->in_use > thr_pool__limit_of(shm))
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

uint32_t thr_pool__new_holder(struct thr_pool *pool, uint32_t slot,
                              uint32_t proc, int fd, uint32_t tid)
{
	return new_holder(pool, slot, proc, fd, tid);
}

int thr_pool__drop_locked(struct thr_pool *pool, uint32_t hold,
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
	uint32_t limit = thr_pool__limit_of(shm);
	if (limit == 0)
		return -EBADMSG;
	/* Our entry freed while we used nothing (see free_idle() in
	 * poollock.c), between thr_pool__registered() and the lock: register
	 * again. */
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
	thr_pool__copy_target(slot->target, req->target, req->target_len);
	slot->taken_ns = thr_clock_ns(CLOCK_MONOTONIC_COARSE);
	slot->refs = 1;
	slot->state = THR_SLOT_HELD;
	count_in_use(shm, 1);
	STEP("acquire.slot");
	thr_store(&shm->holders[h].state, THR_HOLDER_LIVE);
	shm->stats.granted++;
	shm->stats.wait_hist[0]++;
	*ret_hold = thr_pool__hold_of(h, s);
	return 0;
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
	if (thr_pool__exiting())
		return -ECANCELED;
	if (req->check_own && holds_here(shm, pool->me))
		return -EEXIST;
	if (req->detect_deadlock &&
	    thr_pool__deadlock_find(shm, pool->me, (uint32_t)thr_proc_tid(),
	                            req, req->deadlock)) {
		shm->stats.refused++;
		return -EDEADLK;
	}
	return thr_pool__enqueue(pool, req, resume, ret_waiter);
}

/* One acquire, as far as the first signal that ends its wait; tried: the
 * first pass was made and found the pool full. */
static int acquire_once(struct thr_pool *pool, const struct thr_pool_req *req,
                        const struct thr_pool_interrupt *resume,
                        struct thr_pool_interrupt *intr, uint32_t *ret_hold,
                        bool tried)
{
	struct thr_shm_pool *shm = pool->shm;
	int r = tried ? 0 : thr_pool__register(pool);
	if (r == -ENOSPC && !waits(req))
		return -EAGAIN; /* no entry for us: as full as can be */
	if (r < 0)
		return r;
	struct thr_wakes wakes = { 0 };
	for (int pass = tried ? 1 : 0;; pass++) {
		/* Full: take back what dead holders had before giving up. */
		if (pass == 1)
			thr_pool__recover_reclaim(pool, THR_RECLAIM_HOLDERS);
		if ((r = thr_pool__lock(pool)) < 0)
			return r;
		STEP("acquire.locked");
		/* A place left in the queue, or a release, may await us: it
		 * would make the pool look fuller than it is. */
		thr_pool__run_deferred(pool, &wakes);
		r = take_free(pool, req, ret_hold);
		if (r != -EAGAIN || pass > 0)
			break;
		thr_pool__unlock(pool, &wakes);
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
	thr_pool__unlock(pool, &wakes);
	if (r != 0 || wi == THR_NONE)
		return r;
	return thr_pool__wait_grant(pool, wi, req, resume, intr, ret_hold);
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
			r = thr_pool__wait_for_room(pool, req, intr);
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
	 * holder's thr_pool__lock_held mark must survive it, too. */
	if (__builtin_expect(thr_pool__lock_held != NULL, 0))
		return -EALREADY;
	bool tried = false;
	if (__builtin_expect(thr_pool__registered(pool), 1)) {
		/* The first pass inline. Nothing on it can change errno: the
		 * lock's and unlock's slow paths and the clock keep it. */
		int r = thr_pool__lock(pool);
		if (r < 0)
			return r;
		STEP("acquire.locked");
		struct thr_wakes wakes;
		wakes.n = 0;
		r = take_free(pool, req, ret_hold);
		thr_pool__unlock(pool, &wakes);
		if (r != -EAGAIN && r != -ESTALE)
			return r;
		tried = r == -EAGAIN;
	}
	int saved = errno;
	int r = acquire(pool, req, ret_hold, tried);
	errno = saved;
	return r;
}

/* ---- release and resize --------------------------------------------------- */

/* Marks our record hold RELEASING for the next lock holder to drop (see
 * thr_pool__run_deferred()): for a release made inside our own critical
 * section (a signal handler), or one that could not get the lock. */
static int defer_release(struct thr_pool *pool, uint32_t hold)
{
	struct thr_shm_pool *shm = pool->shm;
	if (!thr_pool__holder_is_ours(pool, hold))
		return -ESTALE;
	uint32_t live = THR_HOLDER_LIVE;
	uint32_t *state = &shm->holders[thr_pool__holder_of(hold)].state;
	__atomic_compare_exchange_n(state, &live, THR_HOLDER_RELEASING, false,
	                            __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
	thr_store(&shm->deferred, 1);
	return 0;
}

THR_HOT int thr_pool_release(struct thr_pool *pool, uint32_t hold)
{
	struct thr_shm_pool *shm = pool->shm;
	if (!thr_pool__handle_fits(pool, hold))
		return -ESTALE;
	if (thr_pool__lock_held == shm)
		return defer_release(pool, hold);
	/* Nothing here can change errno: the lock's and unlock's slow paths,
	 * the clock of a hand-off and the futex wrappers keep it. */
	struct thr_wakes wakes;
	wakes.n = 0;
	/* A signal handler may release here while its thread is inside
	 * another pool's lock: that thread's mark must survive us. */
	struct thr_shm_pool *outer = thr_pool__lock_held;
	int r = thr_pool__lock(pool);
	if (r == 0) {
		STEP("release.locked");
		/* Again under the lock: a reclaim or another thread may have
		 * freed it since. The checks on the handle alone still hold. */
		r = thr_pool__holder_is_ours(pool, hold)
		        ? drop_locked(pool, thr_pool__holder_of(hold), &wakes)
		        : -ESTALE;
		thr_pool__unlock(pool, &wakes);
	} else {
		/* The lock's owner is alive but stuck (stopped, say): the
		 * release waits for whoever takes the lock next. */
		r = defer_release(pool, hold);
	}
	thr_pool__lock_held = outer;
	return r;
}

_Static_assert(THR_POOL_TARGET_MAX == THR_TARGET_LEN - 1, "target length");
_Static_assert(THR_POOL_PROCS == THR_PROCS && THR_POOL_WAITERS == THR_WAITERS,
               "table sizes");
_Static_assert(THR_POOL_LIMIT_MAX == THR_SLOTS, "largest limit");
_Static_assert(THR_POOL_HIST_BUCKETS == THR_HIST_BUCKETS, "histogram");

/* Does a config asking for limit change the pool's (shm locked)? Only a
 * limit other than the one a config last asked for does; an operator's,
 * set before any config spoke, holds too (the config is then recorded). */
static bool config_changes_limit(struct thr_shm_pool *shm, uint32_t limit)
{
	if (shm->config_limit == limit)
		return false;
	if (shm->config_limit == 0 && shm->limit_source == THR_POOL_LIMIT_SET) {
		shm->config_limit = limit;
		return false;
	}
	return true;
}

/* Sets the limit for thr_pool_set_limit() (from_config false) or for a
 * config's open (true), and grants what the new limit lets in. */
static int change_limit(struct thr_pool *pool, uint32_t limit,
                        bool from_config)
{
	int saved = errno;
	struct thr_wakes wakes = { 0 };
	struct thr_shm_pool *shm = pool->shm;
	int r = thr_pool__register(pool);
	if (r == 0 && (r = thr_pool__lock(pool)) == 0) {
		if (!from_config || config_changes_limit(shm, limit)) {
			shm->limit = limit;
			shm->limit_source = from_config ? THR_POOL_LIMIT_CONFIG
			                                : THR_POOL_LIMIT_SET;
			if (from_config)
				shm->config_limit = limit;
			thr_pool__grant_locked(pool, &wakes);
		}
		thr_pool__unlock(pool, &wakes);
	}
	errno = saved;
	return r;
}

int thr_pool_set_limit(struct thr_pool *pool, uint32_t limit)
{
	if (limit < 1 || limit > THR_SLOTS)
		return -EINVAL;
	return change_limit(pool, limit, false);
}

int thr_pool_reclaim(struct thr_pool *pool)
{
	int saved = errno;
	int r = thr_pool__register(pool);
	if (r == 0)
		r = thr_pool__recover_reclaim(pool, THR_RECLAIM_ALL);
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
	r = thr_pool__segment_map(name, opts, &pool->shm, err);
	if (r < 0)
		goto out_free;
	/* Read first without the lock: an unchanged config, the common case,
	 * neither registers nor locks. */
	if (opts->from_config && !opts->readonly &&
	    thr_load(&pool->shm->config_limit) != opts->limit &&
	    (r = change_limit(pool, opts->limit, true)) < 0)
		goto out_unmap;
	*ret_pool = pool;
	errno = saved;
	return 0;
out_unmap:
	thr_pool__segment_unmap(pool->shm);
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
	thr_pool__segment_unmap(pool->shm);
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
		r = thr_pool_segment_path(name, dir, path, sizeof(path));
	if (r == 0 && unlink(path) < 0)
		r = -errno;
	errno = saved;
	return r;
}

