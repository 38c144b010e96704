/* snapshot.c - reading a pool's counters, holders and waiters without taking
 * its lock, so observers never slow down or block users. A copy is taken
 * between two equal even values of the seqlock, and checked like any input;
 * its processes are then judged by the engine's own rule, never written. */
#include "poolint.h"

#include "clock.h"
#include "segment.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Copies the segment, retrying while a writer is inside; after many tries
 * the last copy is used: counts may then be off by one operation. */
static void copy_consistent(const struct thr_shm_pool *shm,
                            struct thr_shm_pool *copy, size_t len)
{
	for (int tries = 0; tries < 200; tries++) {
		uint32_t before = thr_load(&shm->seq);
		if (before & 1) {
			sched_yield();
			continue;
		}
		memcpy(copy, shm, len);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (thr_load(&shm->seq) == before)
			return;
	}
	memcpy(copy, shm, len);
}

static uint64_t age_ms(uint64_t since_ns, clockid_t clk)
{
	uint64_t now = thr_clock_ns(clk);
	return now > since_ns ? (now - since_ns) / 1000000ull : 0;
}

static void copy_text(char *dst, const char *src)
{
	memcpy(dst, src, THR_TARGET_LEN);
	dst[THR_TARGET_LEN - 1] = '\0';
}

static void fill_counters(const struct thr_shm_pool *c,
                          struct thr_pool_snapshot *snap)
{
	memcpy(snap->name, c->name, sizeof(snap->name) - 1);
	snap->limit = c->limit;
	snap->in_use = c->in_use;
	snap->waiting = c->waiting;
	snap->peak = c->peak;
	snap->limit_source = c->limit_source <= THR_POOL_LIMIT_SET
	                     ? (enum thr_pool_limit_source)c->limit_source
	                     : THR_POOL_LIMIT_CREATED;
	snap->config_limit = c->config_limit;
	snap->granted = c->stats.granted;
	snap->timeouts = c->stats.timeouts;
	snap->refused = c->stats.refused;
	snap->over = c->stats.over;
	snap->reclaimed = c->stats.reclaimed;
	snap->handoffs = c->stats.handoffs;
	snap->wakes = c->stats.wakes;
	snap->interrupted = c->stats.interrupted;
	snap->repairs = c->stats.repairs;
	memcpy(snap->wait_hist, c->stats.wait_hist, sizeof(snap->wait_hist));
	snap->wait_ns = c->stats.wait_ns;
}

/* Verdicts on the processes the copy names, each judged once, so that a
 * process shows the same on all its rows. */
#define UNJUDGED 0xff
struct verdicts {
	bool can_judge;         /* we can place ourselves (thr_proc_self()):
	                           the engine too reclaims only then */
	uint8_t of[THR_PROCS];  /* enum thr_proc_verdict, or UNJUDGED */
	char comm[THR_PROCS][THR_PROC_COMM_LEN]; /* the judged's names */
};

static void verdicts_init(struct verdicts *v)
{
	struct thr_proc_id me;
	v->can_judge = thr_proc_self(&me) == 0;
	memset(v->of, UNJUDGED, sizeof(v->of));
}

/* Judges the process of entry idx of the copy as a reclaim would, and
 * copies its command name into comm ("" unless alive). An entry no longer
 * LIVE is nobody's: a repair drops the records naming it. */
static enum thr_proc_verdict judge(const struct thr_shm_pool *c,
                                   struct verdicts *v, uint32_t idx,
                                   char comm[THR_PROC_COMM_LEN])
{
	if (v->of[idx] == UNJUDGED) {
		const struct thr_shm_proc *e = &c->procs[idx];
		struct thr_proc_id id = { (pid_t)e->pid, e->start, e->pidns };
		enum thr_proc_verdict r = THR_PROC_CANNOT_JUDGE;
		v->comm[idx][0] = '\0';
		if (e->state != THR_PROC_LIVE)
			r = THR_PROC_JUDGED_DEAD;
		else if (v->can_judge)
			r = thr_proc_judge_named(&id, v->comm[idx]);
		v->of[idx] = (uint8_t)r;
	}
	memcpy(comm, v->comm[idx], THR_PROC_COMM_LEN);
	return v->of[idx];
}

/* Slots every holder of which is dead: in_use counts them until a reclaim,
 * but nobody uses them. A slot with a live or unjudged co-holder is used. */
static uint32_t dead_slots(const struct thr_pool_snapshot *snap)
{
	enum { HELD = 1, USED = 2 };
	uint8_t seen[THR_SLOTS] = { 0 };
	uint32_t n = 0;
	for (size_t i = 0; i < snap->nholders; i++) {
		const struct thr_pool_holder_info *h = &snap->holders[i];
		seen[h->slot] |= HELD;
		if (h->process != THR_PROC_JUDGED_DEAD)
			seen[h->slot] |= USED;
	}
	for (uint32_t s = 0; s < THR_SLOTS; s++)
		n += seen[s] == HELD;
	return n;
}

static void fill_holders(const struct thr_shm_pool *c, struct verdicts *v,
                         struct thr_pool_snapshot *snap)
{
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		const struct thr_shm_holder *h = &c->holders[i];
		if ((h->state != THR_HOLDER_LIVE &&
		     h->state != THR_HOLDER_RELEASING) ||
		    h->slot >= THR_SLOTS || h->proc >= THR_PROCS)
			continue;
		struct thr_pool_holder_info *o = &snap->holders[snap->nholders++];
		o->pid = (pid_t)c->procs[h->proc].pid;
		o->fd = h->fd;
		o->slot = h->slot;
		o->held_ms = age_ms(c->slots[h->slot].taken_ns,
		                    CLOCK_MONOTONIC_COARSE);
		copy_text(o->target, c->slots[h->slot].target);
		o->process = judge(c, v, h->proc, o->comm);
	}
	snap->dead_in_use = dead_slots(snap);
}

static void fill_waiters(const struct thr_shm_pool *c, struct verdicts *v,
                         struct thr_pool_snapshot *snap)
{
	for (uint32_t i = 0; i < THR_WAITERS; i++) {
		const struct thr_shm_waiter *w = &c->waiters[i];
		if (w->state != THR_WAITER_WAITING || w->proc >= THR_PROCS)
			continue;
		struct thr_pool_waiter_info *o = &snap->waiters[snap->nwaiters++];
		o->pid = (pid_t)c->procs[w->proc].pid;
		o->fd = w->fd;
		o->waited_ms = age_ms(w->since_ns, CLOCK_MONOTONIC);
		copy_text(o->target, w->target);
		o->process = judge(c, v, w->proc, o->comm);
		snap->dead_waiting += o->process == THR_PROC_JUDGED_DEAD;
	}
}

int thr_pool_snapshot(struct thr_pool *pool, struct thr_pool_snapshot *snap)
{
	int saved = errno, r = -ENOMEM;
	memset(snap, 0, sizeof(*snap));
	struct thr_shm_pool *copy = malloc(sizeof(*copy));
	/* On the heap, as the copy: 17 KiB of names is too much for the
	 * stack of a program's thread calling throttle_info(). */
	struct verdicts *v = malloc(sizeof(*v));
	snap->holders = calloc(THR_HOLDERS, sizeof(*snap->holders));
	snap->waiters = calloc(THR_WAITERS, sizeof(*snap->waiters));
	if (!copy || !v || !snap->holders || !snap->waiters)
		goto out;
	copy_consistent(pool->shm, copy, sizeof(*copy));
	r = thr_pool__segment_check(copy, pool->name, NULL);
	if (r < 0)
		goto out;
	verdicts_init(v);
	fill_counters(copy, snap);
	fill_holders(copy, v, snap);
	fill_waiters(copy, v, snap);
out:
	free(v);
	free(copy);
	if (r < 0)
		thr_pool_snapshot_free(snap);
	errno = saved;
	return r;
}

int thr_pool_counters(struct thr_pool *pool, struct thr_pool_snapshot *snap)
{
	/* The header alone is copied (a few hundred bytes, where the whole
	 * segment is some 400 kB), into room for all of it, whose rest is
	 * never touched nor read. */
	const size_t len = offsetof(struct thr_shm_pool, procs);
	int saved = errno, r = -ENOMEM;
	memset(snap, 0, sizeof(*snap));
	struct thr_shm_pool *copy = malloc(sizeof(*copy));
	if (copy) {
		copy_consistent(pool->shm, copy, len);
		r = thr_pool__segment_check(copy, pool->name, NULL);
		if (r == 0)
			fill_counters(copy, snap);
	}
	free(copy);
	errno = saved;
	return r;
}

void thr_pool_snapshot_free(struct thr_pool_snapshot *snap)
{
	free(snap->holders);
	free(snap->waiters);
	snap->holders = NULL;
	snap->waiters = NULL;
	snap->nholders = snap->nwaiters = 0;
}
