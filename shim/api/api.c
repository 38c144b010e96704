/* api.c - the public C API (throttle.h) over the pool engine: handles,
 * acquire in its three modes, release of what the process took through a
 * handle, counters and the limit. It never prints, never exits, and leaves
 * errno alone on success; a pool the preloaded gate has open is used
 * through the gate's own handle, which it must never close. */
#define _GNU_SOURCE
/* The library hides every name but those its version script lists: these
 * are declared visible here, as the hooks are by EXPORT (hooks.h). */
#pragma GCC visibility push(default)
#include "throttle.h"
#pragma GCC visibility pop

#include "apiint.h"
#include "clock.h"
#include "gate.h"
#include "layout.h"
#include "pool.h"
#include "proc.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#ifndef THR_VERSION
#define THR_VERSION "unknown"
#endif

_Static_assert(THROTTLE_LIMIT_MAX == THR_SLOTS, "limit bound");
_Static_assert(THROTTLE_NAME_MAX == THR_POOL_NAME_MAX, "name bound");

/* A process holds at most limit slots of a pool, so this many places keep
 * every hold one handle can have. */
#define HOLDS THR_SLOTS

struct throttle_pool {
	struct thr_pool *pool;
	bool shared;            /* the gate's handle: never closed here */
	/* The holds taken through this handle, one word each, 0 when free:
	 * the fork generation that took it (high half) and hold + 1. Words
	 * of an earlier generation are a parent's, never given back here.
	 * Lock-free, so a fork child is never left with a lock held. */
	uint64_t holds[HOLDS];
};

/* Sets errno from the engine's -errno r, and returns -1; 0 stays 0. */
static int fail(int r)
{
	if (r >= 0)
		return 0;
	errno = -r;
	return -1;
}

static uint64_t hold_word(uint32_t hold)
{
	return (uint64_t)thr_proc_fork_gen() << 32 | ((uint64_t)hold + 1);
}

static bool word_is_ours(uint64_t w)
{
	return w && (uint32_t)(w >> 32) == thr_proc_fork_gen();
}

/* Keeps hold on the handle's list: in a free place, or one a parent's
 * hold took before a fork (the child can never give that back). */
static bool keep_hold(throttle_pool *p, uint32_t hold)
{
	uint64_t w = hold_word(hold);
	for (size_t i = 0; i < HOLDS; i++) {
		uint64_t old = __atomic_load_n(&p->holds[i], __ATOMIC_RELAXED);
		if (word_is_ours(old))
			continue;
		if (__atomic_compare_exchange_n(&p->holds[i], &old, w, false,
		                                __ATOMIC_ACQ_REL,
		                                __ATOMIC_RELAXED))
			return true;
	}
	return false;
}

/* Takes one of this process's holds off the list; false if none. */
static bool take_hold(throttle_pool *p, uint32_t *ret_hold)
{
	for (size_t i = 0; i < HOLDS; i++) {
		uint64_t old = __atomic_load_n(&p->holds[i], __ATOMIC_RELAXED);
		if (!word_is_ours(old) ||
		    !__atomic_compare_exchange_n(&p->holds[i], &old, 0, false,
		                                 __ATOMIC_ACQ_REL,
		                                 __ATOMIC_RELAXED))
			continue;
		*ret_hold = (uint32_t)old - 1;
		return true;
	}
	return false;
}

static int open_own(const char *name, unsigned limit, int flags,
                    struct thr_pool **ret)
{
	struct thr_pool_opts o = {
		.limit = (flags & THROTTLE_CREATE) ? limit : 1,
		.create = (flags & THROTTLE_CREATE) != 0,
	};
	return thr_pool_open(name, &o, ret, NULL);
}

throttle_pool *throttle_open(const char *name, unsigned limit, int flags)
{
	if (!name || !thr_pool_name_is_valid(name) || (flags & ~THROTTLE_CREATE) ||
	    ((flags & THROTTLE_CREATE) && (!limit || limit > THR_SLOTS))) {
		errno = EINVAL;
		return NULL;
	}
	throttle_pool *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->pool = thr_gate_pool_named(name);
	p->shared = p->pool != NULL;
	int r = p->shared ? 0 : open_own(name, limit, flags, &p->pool);
	if (r < 0) {
		free(p);
		fail(r);
		return NULL;
	}
	return p;
}

/* Takes a slot as req asks, and keeps it on the handle's list. A wait
 * without a deadline is refused when it could never end (one with a
 * deadline ends anyway, as sem_timedwait() does), judged as the gate
 * judges one: the process's own slots matter only when it has one thread,
 * and that is read from /proc only when it holds some here (the engine
 * says -EEXIST rather than wait). */
static int take(throttle_pool *p, struct thr_pool_req *req)
{
	if (!p) {
		errno = EINVAL;
		return -1;
	}
	uint32_t hold;
	req->fd = THR_POOL_FD_PROCESS;
	req->target = "api";
	req->detect_deadlock = req->mode == THR_POOL_WAIT;
	req->check_own = req->detect_deadlock;
	int r = thr_pool_acquire(p->pool, req, &hold);
	if (r == -EEXIST) {
		req->check_own = false;
		req->sole_thread = thr_proc_sole_thread();
		r = thr_pool_acquire(p->pool, req, &hold);
	}
	if (r < 0)
		return fail(r);
	if (!keep_hold(p, hold)) { /* cannot be: more holds than slots */
		thr_pool_release(p->pool, hold);
		return fail(-ENOSPC);
	}
	return 0;
}

int throttle_acquire(throttle_pool *pool)
{
	struct thr_pool_req req = { .mode = THR_POOL_WAIT };
	return take(pool, &req);
}

int throttle_try_acquire(throttle_pool *pool)
{
	struct thr_pool_req req = { .mode = THR_POOL_TRY };
	return take(pool, &req);
}

int throttle_acquire_timeout(throttle_pool *pool, unsigned long timeout_ms)
{
	/* A deadline too far to reach waits for ever, as the engine says. */
	struct thr_pool_req req = {
		.mode = THR_POOL_DEADLINE,
		.deadline = thr_clock_deadline_ms(timeout_ms),
	};
	return take(pool, &req);
}

int throttle_release(throttle_pool *pool)
{
	uint32_t hold;
	if (!pool) {
		errno = EINVAL;
		return -1;
	}
	if (!take_hold(pool, &hold))
		return fail(-EPERM);
	/* A hold the engine took back already (this process looked dead to
	 * a reclaim) is given back as far as the caller is concerned. */
	thr_pool_release(pool->pool, hold);
	return 0;
}

int throttle_info(throttle_pool *pool, struct throttle_info *info)
{
	struct thr_pool_snapshot s;
	if (!pool || !info) {
		errno = EINVAL;
		return -1;
	}
	int r = thr_pool_counters(pool->pool, &s);
	if (r < 0)
		return fail(r);
	*info = (struct throttle_info){
		.limit = s.limit, .in_use = s.in_use, .waiting = s.waiting,
		.peak = s.peak, .granted = s.granted, .timeouts = s.timeouts,
		.refused = s.refused,
	};
	return 0;
}

int throttle_set_limit(throttle_pool *pool, unsigned limit)
{
	if (!pool || !limit || limit > THR_SLOTS) {
		errno = EINVAL;
		return -1;
	}
	return fail(thr_pool_set_limit(pool->pool, limit));
}

void throttle_close(throttle_pool *pool)
{
	if (!pool)
		return;
	if (!pool->shared)
		thr_pool_close(pool->pool);
	free(pool);
}

const char *throttle_version(void)
{
	return THR_VERSION;
}

struct thr_pool *thr_api_engine(const throttle_pool *pool)
{
	return pool->pool;
}
