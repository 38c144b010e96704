/* take.h - what the gate and its taking of slots share: one gated call's
 * description, and giving slots back. Internal to gate.c and take.c; the
 * release helpers run from close() and signal handlers, so they stay free
 * of allocation, stdio and locks. */
#ifndef THR_TAKE_H
#define THR_TAKE_H

#include "fdtable.h"
#include "gate.h"
#include "init.h"
#include "match.h"
#include "pool.h"
#include "prochold.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>

enum kind { KIND_OPEN, KIND_CONNECT };

/* One gated call: what it reaches, for matching and for the records. */
struct call {
	enum kind k;
	const char *path;       /* open: absolute and normalised */
	size_t n;               /* its length */
	const struct sockaddr *sa; /* connect */
	socklen_t len;
	int fd;                 /* connect's socket; -1 for open */
	int nonblocking;        /* connect's socket is O_NONBLOCK; -1: not
	                           asked yet, since only some pools care */
	const char *target;     /* what the records say it is held for */
	size_t tlen;            /* its length */
	bool folder;            /* a folder: only pools with folders = yes */
	bool has_deadline;      /* deadline is set: a timeout runs from the
	                           call's start, across resumed waits */
	struct timespec deadline;
	struct thr_pool_interrupt intr; /* a signal that ended a wait */
	bool resuming;          /* intr's wait goes on, in pool resume_pool */
	uint16_t resume_pool;
};

/* Gives back hold in pool pi (or one reference on the process's slot
 * there). Async-signal-safe. */
static inline void release_hold(const struct thr_init_state *st, uint16_t pi,
                                uint32_t hold)
{
	if (pi >= st->npools || !st->pools[pi].pool)
		return;
	if (hold == THR_FD_PROCESS_HOLD)
		thr_prochold_unref(&st->pools[pi]);
	else
		thr_pool_release(st->pools[pi].pool, hold);
}

static inline void release_holds(const struct thr_init_state *st,
                          const uint16_t *pool, const uint32_t *hold,
                          uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		release_hold(st, pool[i], hold[i]);
}

_Static_assert(THR_FD_HOLD_BITS == THR_POOL_HOLD_BITS, "direct entry holds");
_Static_assert(THR_FD_HOLD_BITS + THR_FD_POOL_BITS <= 30,
               "THR_FD_PROCESS and THR_FD_DIRECT above the pool bits");
_Static_assert(THR_GATE_MAX_POOLS <= 1u << THR_FD_POOL_BITS,
               "direct entry pools");

/* Gives back the slots of entry e (a description, or a direct hold), no
 * longer named by anyone. */
static inline void release_desc(const struct thr_init_state *st, thr_fd_entry e)
{
	if (thr_fdtable_is_direct(e)) {
		uint16_t pool = thr_fdtable_direct_pool(e);
		uint32_t hold = thr_fdtable_direct_hold(e);
		release_holds(st, &pool, &hold, 1);
		return;
	}
	struct thr_fd_desc *desc = thr_fdtable_desc(e);
	if (desc)
		release_holds(st, desc->pool, desc->hold, desc->n);
	thr_fdtable_free(e);
}

/* Everything the ticket holds goes back: the call failed or was refused. */
static inline void give_back(const struct thr_init_state *st,
                      struct thr_gate_ticket *t)
{
	release_holds(st, t->pool, t->hold, t->ncall);
	t->ncall = 0;
	release_desc(st, t->d);
	t->d = 0;
}

/* Does pool c's list of destinations take a connect to sa? */
static inline bool thr_take_match_dest(const struct thr_config_pool *c,
                       const struct sockaddr *sa, socklen_t len)
{
	for (size_t i = 0; i < c->nconnect; i++)
		if (thr_match_dest_matches(&c->connect[i], sa, len))
			return true;
	return false;
}

/* Takes a slot in pool first, which wants the open of norm (n bytes,
 * absolute and normalised), and in every later pool that wants it too, as
 * each pool's policy says; a pool that is open_alone gives the descriptor
 * a direct entry. Returns 1 if t holds anything, 0 if the call goes
 * ahead holding nothing, or -errno to fail it with. May block (a wait);
 * runs signal handlers only where it holds nothing. Not async-signal-safe
 * (it may log). */
int thr_take_open(const struct thr_init_state *st, size_t first,
                  const char *norm, size_t n, struct thr_gate_ticket *t);

/* The same for call c (a connect), from pool first on. */
int thr_take_call(const struct thr_init_state *st, size_t first,
                  struct call *c, struct thr_gate_ticket *t);

#endif
