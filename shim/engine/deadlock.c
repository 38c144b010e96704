/* deadlock.c - whether a wait could ever end, judged from the holder and
 * waiter tables before a process queues. A limiter must not hang a program
 * that holds what it waits for (cp with a pool of 1), nor processes that
 * wait for each other's slots; it refuses such a wait at once instead.
 * Reads the segment only, bounds-checking everything it reads. */
#include "deadlock.h"

#include "poolint.h"

#include <string.h>

/* Waiters looked at; with more queued, cycles are not judged. */
#define WATCHED 64

/* Who waits in the queue: threads, and whether each one's process has no
 * other thread. */
struct queued {
	unsigned n;
	uint32_t proc[WATCHED];
	uint32_t tid[WATCHED];
	bool sole[WATCHED];
};

/* The waiters in the queue; false if there are too many. */
static bool queued_threads(const struct thr_shm_pool *shm, struct queued *q)
{
	q->n = 0;
	for (uint32_t i = 0; i < THR_WAITERS; i++) {
		const struct thr_shm_waiter *w = &shm->waiters[i];
		if (thr_load(&w->state) != THR_WAITER_WAITING)
			continue;
		if (q->n == WATCHED)
			return false;
		q->proc[q->n] = w->proc;
		q->tid[q->n] = w->tid;
		q->sole[q->n++] = (w->flags & THR_WAITER_SOLE) != 0;
	}
	return true;
}

/* Does the waiter that could let a record go (its thread tid, 0 for any
 * of proc's, with per_thread; else a process with no other thread) wait
 * in q? */
static bool waits(const struct queued *q, uint32_t proc, uint32_t tid,
                  bool per_thread)
{
	for (unsigned i = 0; i < q->n; i++)
		if (q->proc[i] == proc &&
		    (per_thread ? !tid || q->tid[i] == tid : q->sole[i]))
			return true;
	return false;
}

static void mark(uint8_t *bits, uint32_t s)
{
	bits[s / 8] |= (uint8_t)(1u << (s % 8));
}

static bool marked(const uint8_t *bits, uint32_t s)
{
	return bits[s / 8] & (1u << (s % 8));
}

/* Is record h the asking waiter's own, as req judges waiters? */
static bool own(const struct thr_shm_holder *h, uint32_t me, uint32_t tid,
                const struct thr_pool_req *req)
{
	if (h->proc != me)
		return false;
	return req->per_thread ? h->tid == tid || !h->tid : req->sole_thread;
}

bool thr_pool__deadlock_find(const struct thr_shm_pool *shm, uint32_t me,
                             uint32_t tid, const struct thr_pool_req *req,
                             struct thr_pool_deadlock *ret)
{
	uint32_t limit = shm->limit;
	if (!limit || limit > THR_SLOTS || shm->in_use < limit)
		return false;
	uint8_t mine[THR_SLOTS / 8], stuck[THR_SLOTS / 8];
	memset(mine, 0, sizeof(mine));
	memset(stuck, 0, sizeof(stuck));
	struct queued q;
	bool cycles = queued_threads(shm, &q);
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		const struct thr_shm_holder *h = &shm->holders[i];
		uint32_t s = h->slot;
		if (thr_load(&h->state) != THR_HOLDER_LIVE || s >= THR_SLOTS)
			continue;
		bool is_own = own(h, me, tid, req);
		if (is_own && (!req->per_thread || h->tid == tid))
			mark(mine, s);
		if (is_own || (cycles && waits(&q, h->proc, h->tid,
		                               req->per_thread)))
			mark(stuck, s);
	}
	uint32_t held = 0, nmine = 0, nstuck = 0;
	for (uint32_t s = 0; s < THR_SLOTS; s++) {
		if (shm->slots[s].state != THR_SLOT_HELD)
			continue;
		held++;
		nmine += marked(mine, s);
		nstuck += marked(stuck, s);
	}
	bool self = nmine >= limit, cycle = held && nstuck == held;
	if ((self || cycle) && ret) {
		ret->mine = nmine;
		ret->limit = limit;
		ret->cycle = !self;
	}
	return self || cycle;
}
