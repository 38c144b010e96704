/* recover.c - getting a pool back to health: repair after a process died
 * holding the pool lock, and reclaim of slots and queue places of dead
 * processes, on demand or every tick of a wait. Never trusts a count when
 * the tables can be recounted. */
#include "poolint.h"

#include "clock.h"

#include <string.h>

static bool holder_counts(uint32_t st)
{
	return st == THR_HOLDER_LIVE || st == THR_HOLDER_RELEASING;
}

/* Drops records a dead lock owner left half-made, or that point nowhere. */
static void repair_holders(struct thr_shm_pool *shm)
{
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		struct thr_shm_holder *h = &shm->holders[i];
		uint32_t st = thr_load(&h->state);
		if (st == THR_HOLDER_FREE)
			continue;
		if (!holder_counts(st) || h->slot >= THR_SLOTS ||
		    h->proc >= THR_PROCS ||
		    thr_load(&shm->procs[h->proc].state) != THR_PROC_LIVE)
			thr_store(&h->state, THR_HOLDER_FREE);
		else if (st == THR_HOLDER_RELEASING)
			thr_store(&shm->deferred, 1);
	}
}

static void recount_slots(struct thr_shm_pool *shm)
{
	for (uint32_t s = 0; s < THR_SLOTS; s++)
		shm->slots[s].refs = 0;
	for (uint32_t i = 0; i < THR_HOLDERS; i++)
		if (holder_counts(thr_load(&shm->holders[i].state)) &&
		    shm->holders[i].slot < THR_SLOTS)
			shm->slots[shm->holders[i].slot].refs++;
	shm->in_use = 0;
	for (uint32_t s = 0; s < THR_SLOTS; s++) {
		struct thr_shm_slot *slot = &shm->slots[s];
		slot->state = slot->refs ? THR_SLOT_HELD : THR_SLOT_FREE;
		shm->in_use += slot->refs ? 1 : 0;
	}
	if (shm->peak < shm->in_use)
		shm->peak = shm->in_use;
}

/* A place left while a hand-off to it was half done (its owner killed
 * between making the record and telling the waiter): the record goes too,
 * since the waiter's call has failed and knows nothing of it. */
static void drop_left_grant(struct thr_shm_pool *shm,
                            const struct thr_shm_waiter *w)
{
	uint32_t st = thr_load(&w->state), h = w->hold;
	if ((st == THR_WAITER_TIMED_OUT || st == THR_WAITER_INTERRUPTED) &&
	    h < THR_HOLDERS && shm->holders[h].proc == w->proc &&
	    thr_load(&shm->holders[h].state) != THR_HOLDER_FREE)
		thr_store(&shm->holders[h].state, THR_HOLDER_FREE);
}

/* Grants waiter w its live record h, unless it left meanwhile without the
 * lock: then the record goes (recount_slots, after us, frees the slot) and
 * so does the entry. */
static bool roll_forward(struct thr_shm_pool *shm, struct thr_shm_waiter *w,
                         uint32_t h)
{
	uint32_t st = THR_WAITER_WAITING;
	if (__atomic_compare_exchange_n(&w->state, &st, THR_WAITER_GRANTED,
	                                false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		thr_pool__count_handoff(shm, w);
		return true;
	}
	thr_store(&shm->holders[h].state, THR_HOLDER_FREE);
	thr_pool__free_left(shm, w);
	return false;
}

/* A hand-off is done once the waiter's record is live: roll it forward;
 * otherwise roll it back and leave the waiter queued. */
static void repair_waiters(struct thr_shm_pool *shm, struct thr_wakes *wakes)
{
	shm->waiting = 0;
	for (uint32_t i = 0; i < THR_WAITERS; i++) {
		struct thr_shm_waiter *w = &shm->waiters[i];
		uint32_t st = thr_load(&w->state);
		if (st == THR_WAITER_FREE || st == THR_WAITER_GRANTED)
			continue;
		if (st != THR_WAITER_WAITING || w->proc >= THR_PROCS) {
			drop_left_grant(shm, w);
			if (!thr_pool__free_left(shm, w))
				thr_store(&w->state, THR_WAITER_FREE);
			continue;
		}
		uint32_t h = w->hold;
		bool done = h < THR_HOLDERS &&
		            thr_load(&shm->holders[h].state) == THR_HOLDER_LIVE &&
		            shm->holders[h].proc == w->proc;
		if (done && roll_forward(shm, w, h)) {
			thr_pool__defer_wake(shm, wakes, i);
			continue;
		}
		if (done)
			continue; /* it left meanwhile; its record went */
		w->hold = THR_NONE;
		shm->waiting++;
	}
}

void thr_pool__recover_recount(struct thr_shm_pool *shm)
{
	uint32_t in_use = 0, waiting = 0;
	for (uint32_t s = 0; s < THR_SLOTS; s++)
		in_use += shm->slots[s].state == THR_SLOT_HELD;
	for (uint32_t i = 0; i < THR_WAITERS; i++)
		waiting += thr_pool__waiter_counts(
			thr_load(&shm->waiters[i].state));
	shm->in_use = in_use;
	shm->waiting = waiting;
}

void thr_pool__recover_repair(struct thr_pool *pool, struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	repair_holders(shm);
	repair_waiters(shm, wakes);
	recount_slots(shm);
	thr_pool__grant_locked(pool, wakes);
	shm->stats.repairs++;
}

unsigned thr_pool__recover_free_proc(struct thr_pool *pool, uint32_t idx,
                                     struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	unsigned slots = 0;
	/* Its places in the queue go first: a slot its holders free must not
	 * be handed to a waiter that died with them. A grant it never
	 * collected is one of its holder records, dropped below. */
	for (uint32_t i = 0; i < THR_WAITERS; i++) {
		struct thr_shm_waiter *w = &shm->waiters[i];
		uint32_t st = thr_load(&w->state);
		if (st == THR_WAITER_FREE || w->proc != idx)
			continue;
		if (!thr_pool__free_left(shm, w))
			thr_store(&w->state, THR_WAITER_FREE);
		if (thr_pool__waiter_counts(st) && shm->waiting)
			shm->waiting--;
	}
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		struct thr_shm_holder *h = &shm->holders[i];
		if (thr_load(&h->state) == THR_HOLDER_FREE || h->proc != idx)
			continue;
		if (h->slot < THR_SLOTS && shm->slots[h->slot].refs <= 1)
			slots++;
		thr_pool__drop_locked(pool, i, wakes);
	}
	struct thr_shm_proc *e = &shm->procs[idx];
	e->gen++;
	thr_store(&e->state, THR_PROC_FREE);
	shm->stats.reclaimed += slots;
	return slots;
}

static void mark(uint8_t *set, uint32_t i)
{
	if (i < THR_PROCS)
		set[i / 8] |= (uint8_t)(1u << (i % 8));
}

static bool marked(const uint8_t *set, uint32_t i)
{
	return set[i / 8] & (1u << (i % 8));
}

static void suspects(const struct thr_shm_pool *shm,
                     enum thr_reclaim_scope scope, uint8_t *set)
{
	for (uint32_t i = 0; i < THR_HOLDERS; i++)
		if (holder_counts(thr_load(&shm->holders[i].state)))
			mark(set, shm->holders[i].proc);
	for (uint32_t i = 0; scope != THR_RECLAIM_HOLDERS && i < THR_WAITERS; i++)
		if (thr_load(&shm->waiters[i].state) != THR_WAITER_FREE)
			mark(set, shm->waiters[i].proc);
	for (uint32_t i = 0; scope == THR_RECLAIM_ALL && i < THR_PROCS; i++)
		if (thr_load(&shm->procs[i].state) == THR_PROC_LIVE)
			mark(set, i);
}

/* A reaped process is caught at once by the cheap check; a zombie or a
 * reused pid needs /proc, which a busy full pool would otherwise read on
 * every acquire, so a process seen alive recently is taken as alive. */
static bool is_dead(struct thr_pool *pool, uint32_t i, uint32_t gen,
                    const struct thr_proc_id *id, bool cached)
{
	if (thr_proc_is_gone(id))
		return true;
	struct thr_pool_seen *seen = pool->seen ? &pool->seen[i] : NULL;
	uint64_t now = thr_clock_ns(CLOCK_MONOTONIC_COARSE);
	if (cached && seen && seen->gen == gen && seen->at_ns &&
	    now - seen->at_ns < THR_SEEN_NS)
		return false;
	if (thr_proc_is_dead(id))
		return true;
	if (seen) {
		seen->gen = gen;
		seen->at_ns = now;
	}
	return false;
}

int thr_pool__recover_reclaim(struct thr_pool *pool,
                              enum thr_reclaim_scope scope)
{
	struct thr_shm_pool *shm = pool->shm;
	uint8_t set[THR_PROCS / 8] = { 0 }, dead[THR_PROCS / 8] = { 0 };
	uint32_t gens[THR_PROCS];
	bool any = false;
	suspects(shm, scope, set);
	/* Checked without the lock: reading /proc takes microseconds. The gen
	 * read first tells, under the lock, whether the entry was reused. */
	for (uint32_t i = 0; i < THR_PROCS; i++) {
		if (!marked(set, i) || i == pool->me)
			continue;
		struct thr_shm_proc *e = &shm->procs[i];
		gens[i] = __atomic_load_n(&e->gen, __ATOMIC_ACQUIRE);
		struct thr_proc_id id = { (pid_t)e->pid, e->start, e->pidns };
		if (thr_load(&e->state) == THR_PROC_LIVE &&
		    is_dead(pool, i, gens[i], &id, scope != THR_RECLAIM_ALL)) {
			mark(dead, i);
			any = true;
		}
	}
	if (!any)
		return 0;
	int r = thr_pool__lock(pool);
	if (r < 0)
		return r;
	struct thr_wakes wakes = { 0 };
	unsigned slots = 0;
	for (uint32_t i = 0; i < THR_PROCS; i++)
		if (marked(dead, i) && shm->procs[i].gen == gens[i] &&
		    thr_load(&shm->procs[i].state) == THR_PROC_LIVE)
			slots += thr_pool__recover_free_proc(pool, i, &wakes);
	thr_pool__unlock(pool, &wakes);
	return (int)slots;
}

/* Is it this waiter's turn to look for dead holders: has nobody looked for
 * a tick? One waiter a tick wins. A time in the future (a scribbled word,
 * a clock reset) counts as long ago. */
static bool tick_due(struct thr_shm_pool *shm)
{
	uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
	uint64_t last = __atomic_load_n(&shm->ticked_ns, __ATOMIC_ACQUIRE);
	if (last <= now && now - last < THR_TICK_NS)
		return false;
	return __atomic_compare_exchange_n(&shm->ticked_ns, &last, now, false,
	                                   __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

/* Every THR_TICK_NS of waiting, by one of the waiters: take back slots of
 * dead holders, and recount the gauges, so that a scribbled count cannot
 * keep a waiter queued. */
void thr_pool__recover_tick(struct thr_pool *pool)
{
	struct thr_wakes wakes = { 0 };
	if (!tick_due(pool->shm))
		return;
	thr_pool__recover_reclaim(pool, THR_RECLAIM_SUSPECTS);
	if (thr_pool__lock(pool) < 0)
		return;
	thr_pool__recover_recount(pool->shm);
	thr_pool__grant_locked(pool, &wakes);
	thr_pool__unlock(pool, &wakes);
}
