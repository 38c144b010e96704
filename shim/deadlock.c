/* deadlock.c - whether a wait could ever end, judged from the holder and
 * waiter tables before a process queues. A limiter must not hang a program
 * that holds what it waits for (cp with a pool of 1), nor processes that
 * wait for each other's slots; it refuses such a wait at once instead.
 * Reads the segment only, bounds-checking everything it reads. */
#include "deadlock.h"

#include "poolint.h"

#include <string.h>

/* Waiting threads looked at; with more queued, cycles are not judged. */
#define WATCHED 64

struct queued {
	unsigned n;
	uint32_t proc[WATCHED];
	uint32_t tid[WATCHED];
};

/* The threads waiting in the queue; false if there are too many. */
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
		q->tid[q->n++] = w->tid;
	}
	return true;
}

/* Does the thread a record names (tid 0: any of proc's) wait in q? */
static bool waits(const struct queued *q, uint32_t proc, uint32_t tid)
{
	for (unsigned i = 0; i < q->n; i++)
		if (q->proc[i] == proc && (!tid || q->tid[i] == tid))
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

bool thr_deadlock_find(const struct thr_shm_pool *shm, uint32_t me,
                       uint32_t tid, struct thr_pool_deadlock *ret)
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
		bool own = h->proc == me && (h->tid == tid || !h->tid);
		if (own && h->tid == tid)
			mark(mine, s);
		if (own || (cycles && waits(&q, h->proc, h->tid)))
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
