/* take.c - taking the slots a gated call needs, as each pool's policy
 * says: wait, fail, observe or time out, all or nothing across pools, a
 * signal's handler let in only where the call holds nothing. What a
 * refused or failed wait does to the call is policy.c's; which pool a call
 * reaches first is gate.c's. Runs under the guard; never from close(). */
#define _GNU_SOURCE
#include "take.h"

#include "clock.h"
#include "guard.h"
#include "hot.h"
#include "policy.h"
#include "proc.h"
#include "real.h"
#include "stale.h"

#include <errno.h>
#include <fcntl.h>
#include <time.h>

/* A wait without a deadline, as the real call would block, for fd and
 * target: what every pool asks but those with a policy of their own. */
static inline struct thr_pool_req wait_req(int fd, const char *target,
                                           size_t len)
{
	struct thr_pool_req req = { .mode = THR_POOL_WAIT, .fd = fd,
	                            .target = target, .target_len = len,
	                            .restart = true };
	return req;
}

/* The call's deadline for a timeout of ms, counted from the first time a
 * pool asked for one. */
static struct timespec deadline_of(struct call *call, uint64_t ms)
{
	if (!call->has_deadline) {
		call->deadline = thr_clock_deadline_ms(ms);
		call->has_deadline = true;
	}
	return call->deadline;
}

static struct thr_pool_req request(const struct thr_config_pool *c,
                                   bool nonblocking, struct call *call)
{
	struct thr_pool_req req = wait_req(call->fd, call->target, call->tlen);
	if (c->on_full == THR_FULL_FAIL || (nonblocking && c->nonblocking_fail))
		req.mode = THR_POOL_TRY;
	else if (c->on_full == THR_FULL_OBSERVE)
		req.mode = THR_POOL_OBSERVE;
	else if (c->timeout_ms) {
		req.deadline = deadline_of(call, c->timeout_ms);
		req.mode = THR_POOL_DEADLINE;
	}
	return req;
}

static bool is_nonblocking(struct call *c)
{
	if (c->nonblocking < 0) {
		int saved = errno;
		c->nonblocking = (thr_real_get()->fcntl(c->fd, F_GETFL) &
		                  O_NONBLOCK) != 0;
		errno = saved;
	}
	return c->nonblocking;
}

/* Keeps hold of pool i on the description reserved for the descriptor,
 * or, for hold = call or when the table is full, for the call only. */
static void keep(struct thr_gate_ticket *t, const struct thr_gate_pool *gp,
                 uint16_t i, uint32_t hold)
{
	if (!t->d && !gp->call)
		t->d = thr_fdtable_reserve(NULL, NULL, 0, t->socket, t->stream);
	struct thr_fd_desc *desc = gp->call ? NULL : thr_fdtable_desc(t->d);
	if (desc) {
		desc->pool[desc->n] = i;
		desc->hold[desc->n++] = hold;
	} else {
		t->pool[t->ncall] = i;
		t->hold[t->ncall++] = hold;
	}
}

/* Takes freopen's donor's hold in pool i, if it has one: the donor's
 * release then skips it (a direct donor is given whole, and t->donor
 * cleared). */
static bool donated(struct thr_gate_ticket *t, uint16_t i, uint32_t *ret_hold)
{
	if (thr_fdtable_is_direct(t->donor)) {
		if (thr_fdtable_direct_pool(t->donor) != i)
			return false;
		*ret_hold = thr_fdtable_direct_hold(t->donor);
		t->donor = 0;
		return true;
	}
	struct thr_fd_desc *old = thr_fdtable_desc(t->donor);
	for (uint16_t k = 0; old && k < old->n; k++)
		if (old->pool[k] == i) {
			*ret_hold = old->hold[k];
			old->pool[k] = UINT16_MAX;
			return true;
		}
	return false;
}

/* thr_pool_acquire() in pool i for a call of kind k, as the gate always
 * asks: a wait that could never end is refused (and said why), and before
 * a wait the process's own descriptors in the pool are looked at, since a
 * close the shim did not see leaves a slot that nothing will give back.
 * In a pool of hold = process the slot is the process's: a reference on
 * one it holds already (another thread may have taken it meanwhile), or
 * a new one. Returns 0 with *ret_hold, or -errno. */
static inline __attribute__((always_inline))
int acquire_in(const struct thr_init_state *st, uint16_t i, enum kind k,
               struct thr_pool_req *req, uint32_t *ret_hold)
{
	struct thr_gate_pool *gp = &st->pools[i];
	struct thr_pool_deadlock dl;
	*ret_hold = THR_FD_PROCESS_HOLD;
	if (gp->whole && thr_prochold_ref(gp))
		return 0;
	req->detect_deadlock = true;
	req->deadlock = &dl;
	req->check_own = true;
	/* An event loop's connections are closed by the thread that made
	 * them; files, by any (libuv's pool reads and closes them on other
	 * threads than the one that opened them). */
	req->per_thread = k == KIND_CONNECT;
	req->sole_thread = false;
	int r = thr_pool_acquire(gp->pool, req, ret_hold);
	if (r == -EEXIST) {
		if (gp->whole && thr_prochold_ref(gp)) {
			*ret_hold = THR_FD_PROCESS_HOLD;
			return 0;
		}
		thr_stale_drop(st, i);
		req->check_own = false;
		req->sole_thread = thr_proc_sole_thread();
		r = thr_pool_acquire(gp->pool, req, ret_hold);
	}
	if (r == 0 && gp->whole) {
		thr_prochold_install(gp, *ret_hold);
		*ret_hold = THR_FD_PROCESS_HOLD;
	}
	if (r == -EDEADLK)
		thr_policy_report_deadlock(gp, k == KIND_OPEN, &dl);
	if (req->interrupt && req->interrupt->no_room)
		thr_policy_no_room(gp);
	return r;
}

/* A slot in pool i for call c, met as the pool's policy says. Returns 0
 * (taken, or let through) or -errno to fail the call with. */
static int take_one(const struct thr_init_state *st, uint16_t i,
                    struct call *c, struct thr_gate_ticket *t)
{
	struct thr_gate_pool *gp = &st->pools[i];
	const struct thr_config_pool *conf = gp->conf;
	if (!gp->pool)
		return thr_policy_broken(st, gp, -EIO);
	bool nonblocking = conf->nonblocking_fail && is_nonblocking(c);
	struct thr_pool_req req = wait_req(c->fd, c->target, c->tlen);
	if (!gp->plain || nonblocking)
		req = request(conf, nonblocking, c);
	uint32_t hold;
	if (donated(t, i, &hold)) {
		keep(t, gp, i, hold);
		return 0;
	}
	req.interrupt = &c->intr;
	req.resume = c->resuming && c->resume_pool == i ? &c->intr : NULL;
	int r = acquire_in(st, i, c->k, &req, &hold);
	if (r >= 0) {
		keep(t, gp, i, hold);
		return 0;
	}
	if (r == -EINTR && c->intr.pending)
		c->resume_pool = i;
	return thr_policy_failed(st, gp, c->k == KIND_OPEN, &req, r);
}

/* Does pool i want a connect to sa? With many rules, the index says. */
static bool wants_dest(const struct thr_init_state *st, size_t i,
                       const struct sockaddr *sa, socklen_t len)
{
	if (st->destindex)
		return thr_destindex_first(st->destindex, sa, len, i) == i;
	return thr_take_match_dest(st->pools[i].conf, sa, len);
}

/* Does pool i want an open of path (n bytes)? With many globs, the index
 * says: the pool's globs are a run of st->globs. */
static bool wants_path(const struct thr_init_state *st, size_t i,
                       const char *path, size_t n)
{
	const struct thr_gate_pool *gp = &st->pools[i];
	if (!st->globindex)
		return thr_gate_pool_matches(gp, path, n);
	size_t start = (size_t)(gp->open - st->globs);
	return gp->nopen &&
	       thr_globindex_first(st->globindex, path, n, start) <
	       start + gp->nopen;
}

static bool wants(const struct thr_init_state *st, size_t i,
                  const struct call *c)
{
	return c->k == KIND_OPEN ? wants_path(st, i, c->path, c->n)
	                         : wants_dest(st, i, c->sa, c->len);
}

/* Pool first wants call c; the pools after it may too. Takes a slot in
 * each, in the global (name) order the pools are sorted in, all or
 * nothing. The engine and /proc reads run under the guard, so that their
 * own opens pass through. Nothing here changes errno: the engine, the log
 * and is_nonblocking() keep it. Returns -errno, 1 if t holds anything,
 * else 0. */
static inline __attribute__((always_inline))
int take_all(const struct thr_init_state *st, size_t first,
             struct call *c, struct thr_gate_ticket *t)
{
	int r = 0;
	thr_guard_enter();
	for (size_t i = first; i < st->npools && r == 0; i++) {
		struct thr_fd_desc *desc = thr_fdtable_desc(t->d);
		if ((desc ? desc->n : 0) + t->ncall >= THR_FD_MAX_HOLDS)
			break;
		if ((i == first || wants(st, i, c)) &&
		    (!c->folder || st->pools[i].folders))
			r = take_one(st, (uint16_t)i, c, t);
	}
	thr_guard_leave();
	if (r < 0)
		give_back(st, t);
	return r;
}

/* A signal ended call c's wait, and the call holds nothing now, nor is
 * the guard up: its handlers run here (one may leave by longjmp, which
 * then leaves nothing behind). Returns true if the wait goes on, at its
 * place, as the kernel restarts a call for SA_RESTART. */
static bool interrupted(struct call *c)
{
	c->resuming = thr_pool_interrupt_deliver(&c->intr);
	return c->resuming;
}

static inline __attribute__((always_inline))
int take(const struct thr_init_state *st, size_t first,
         struct call *c, struct thr_gate_ticket *t)
{
	int r;
	while ((r = take_all(st, first, c, t)) == -EINTR && c->intr.pending &&
	       interrupted(c))
		;
	return r < 0 ? r : t->d || t->ncall;
}

/* take() for a pool that is open_alone, as take() would do it: one slot,
 * waited for without a deadline, kept as the descriptor's direct entry
 * (a stream's goes into a description, which says whose it is). */
static int take_alone(const struct thr_init_state *st, size_t i,
                      const char *norm, size_t n, struct thr_gate_ticket *t)
{
	struct thr_gate_pool *gp = &st->pools[i];
	struct thr_pool_req req = wait_req(-1, norm, n);
	struct thr_pool_interrupt intr;
	uint32_t hold;
	intr.no_room = false;
	req.interrupt = &intr;
	for (;;) {
		thr_guard_enter();
		int r = acquire_in(st, (uint16_t)i, KIND_OPEN, &req, &hold);
		thr_guard_leave();
		if (r == 0)
			break;
		if (r != -EINTR || !intr.pending)
			return thr_policy_failed(st, gp, true, &req, r);
		if (!thr_pool_interrupt_deliver(&intr))
			return -EINTR;
		req.resume = &intr;
	}
	t->d = thr_fdtable_direct((uint16_t)i, hold);
	return 1;
}

/* Pool first wants the path: not inline, so that the common case (no pool
 * wants it) keeps a small frame. */
THR_HOT __attribute__((noinline))
int thr_take_open(const struct thr_init_state *st, size_t first,
                  const char *norm, size_t n, struct thr_gate_ticket *t)
{
	t->d = 0;
	t->ncall = 0;
	t->socket = false;
	if (st->pools[first].open_alone && !t->stream && !t->folder)
		return take_alone(st, first, norm, n, t);
	struct call c = { .k = KIND_OPEN, .path = norm, .n = n, .fd = -1,
	                  .target = norm, .tlen = n, .folder = t->folder };
	return take(st, first, &c, t);
}

int thr_take_call(const struct thr_init_state *st, size_t first,
                  struct call *c, struct thr_gate_ticket *t)
{
	return take(st, first, c, t);
}
