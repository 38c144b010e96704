/* gate.c - the policy between the hooks and the pools: which calls match
 * (routing), how a full pool is met (wait, fail, observe, timeout), and the
 * slots a call takes before it and keeps on its descriptor or gives back
 * after it. What a refused or failed wait does to the call, and what is
 * logged about it, is policy.c's; a descriptor's later life is track.c's,
 * its copies into other processes inherit.c's. Code reachable from close()
 * and dup2() stays free of allocation, stdio and locks; everything else
 * runs under the guard. */
#define _GNU_SOURCE
#include "gate.h"

#include "describe.h"
#include "guard.h"
#include "hot.h"
#include "init.h"
#include "match.h"
#include "policy.h"
#include "proc.h"
#include "procfd.h"
#include "freeze.h"
#include "prochold.h"
#include "real.h"
#include "stale.h"
#include "track.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Everything set until the first load is done: see gate.h. */
unsigned char thr_gate_wants = THR_GATE_OPEN | THR_GATE_CONNECT;

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

static void release_holds(const struct thr_init_state *st,
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
static void give_back(const struct thr_init_state *st,
                      struct thr_gate_ticket *t)
{
	release_holds(st, t->pool, t->hold, t->ncall);
	t->ncall = 0;
	release_desc(st, t->d);
	t->d = 0;
}

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
		struct timespec *d = &call->deadline;
		clock_gettime(CLOCK_MONOTONIC, d);
		uint64_t ns = (uint64_t)d->tv_nsec + (ms % 1000) * 1000000ull;
		d->tv_sec += (time_t)(ms / 1000 + ns / 1000000000ull);
		d->tv_nsec = (long)(ns % 1000000000ull);
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

static bool match_dest(const struct thr_config_pool *c,
                       const struct sockaddr *sa, socklen_t len)
{
	for (size_t i = 0; i < c->nconnect; i++)
		if (thr_match_dest_matches(&c->connect[i], sa, len))
			return true;
	return false;
}

/* Does pool i want a connect to sa? With many rules, the index says. */
static bool wants_dest(const struct thr_init_state *st, size_t i,
                       const struct sockaddr *sa, socklen_t len)
{
	if (st->destindex)
		return thr_destindex_first(st->destindex, sa, len, i) == i;
	return match_dest(st->pools[i].conf, sa, len);
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

/* The absolute, normalised form of path as open() would see it. */
static int absolute(int dirfd, const char *path, char *out, size_t len)
{
	char base[PATH_MAX];
	if (path[0] == '/')
		return thr_match_normalize(NULL, path, out, len);
	if (dirfd == AT_FDCWD) {
		if (!getcwd(base, sizeof(base)))
			return -errno;
	} else {
		char link[64];
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		ssize_t n = readlink(link, base, sizeof(base) - 1);
		if (n <= 0 || base[0] != '/')
			return -EBADF;
		base[n] = '\0';
	}
	return thr_match_normalize(base, path, out, len);
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
__attribute__((noinline))
static THR_HOT int take_open(const struct thr_init_state *st, size_t first,
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

/* The first glob that norm matches, or st->nglobs: the common case, no
 * pool wanting the path, costs only this loop, or with many globs the
 * index's walk. */
static inline __attribute__((always_inline))
size_t first_glob(const struct thr_init_state *st, const char *norm, size_t n)
{
	if (__builtin_expect(st->globindex != NULL, 0))
		return thr_globindex_first(st->globindex, norm, n, 0);
	const struct thr_match_cglob *g = st->globs;
	size_t i = 0, k = st->nglobs;
	while (i < k && !thr_match_cglob(&g[i], norm, n))
		i++;
	return i;
}

static int match_open(const struct thr_init_state *st, const char *norm,
                      size_t n, struct thr_gate_ticket *t)
{
	size_t i = first_glob(st, norm, n);
	return i < st->nglobs ? take_open(st, st->glob_pool[i], norm, n, t) : 0;
}

/* Kept apart so that the common case does not pay for a PATH_MAX frame. */
__attribute__((noinline))
static int match_open_slow(const struct thr_init_state *st, int dirfd,
                           const char *path, struct thr_gate_ticket *t)
{
	char norm[PATH_MAX];
	int saved = errno;
	thr_guard_enter();
	int r = absolute(dirfd, path, norm, sizeof(norm));
	thr_guard_leave();
	errno = saved;
	if (r < 0)
		return 0; /* open() will fail or we cannot tell: not ours */
	return match_open(st, norm, (size_t)r, t);
}

static int open_begin(const struct thr_init_state *st, int dirfd,
                      const char *path, struct thr_gate_ticket *t)
{
	ptrdiff_t n = thr_match_normal_length(path);
	return n >= 0 ? match_open(st, path, (size_t)n, t)
	              : match_open_slow(st, dirfd, path, t);
}

/* The state to gate a call with (open or connect), or NULL with *r what
 * the call gets instead: 0, let through (the shim's own call, nothing to
 * gate), or -EACCES (a broken config with on-error = closed). Calls a
 * longjmp left on this thread are given back first (their guard with
 * them); sp is the hook's thr_flight_sp(). */
static inline __attribute__((always_inline))
const struct thr_init_state *gating(bool open, uintptr_t sp, int *r)
{
	thr_flight_sweep(sp);
	const struct thr_init_state *st = thr_guard_active() ? NULL : thr_init();
	if (st && st->mode == THR_MODE_ACTIVE &&
	    (open ? st->any_open : st->any_connect))
		return st;
	*r = st && st->mode == THR_MODE_DENY_ALL ? -EACCES : 0;
	return NULL;
}

/* What a begin returns for call ticket t, whose slots came to r: the
 * ticket stays in flight, for thr_gate_finish(), only when it holds any. */
static inline __attribute__((always_inline))
int landed(int r, struct thr_gate_ticket *t, struct thr_gate_ticket **ret_t)
{
	if (r > 0)
		*ret_t = t;
	else
		thr_flight_end(t);
	return r;
}

/* landed() for an open: the forks that matter to it from here on are
 * those after its slots came, since only a fork after the real open can
 * copy the descriptor. Counting from the call's start instead let a long
 * wait fill the list of children remembered (cohold_late()) with forks
 * that copied nothing, and the one that did copy went without a co-hold.
 * A connect keeps its start: its socket exists, and is copied, before. */
static inline __attribute__((always_inline))
int landed_open(int r, struct thr_gate_ticket *t,
                struct thr_gate_ticket **ret_t)
{
	if (r > 0)
		t->gen = thr_freeze_gen();
	return landed(r, t, ret_t);
}

/* What a gate_open() opens: a stream's descriptor, a folder. */
enum { OPEN_STREAM = 1, OPEN_FOLDER = 2 };

/* An open that the route could not settle, or an fopen-like call (how:
 * OPEN_* bits): donor, when not NULL, is freopen's (see
 * thr_gate_freopen_begin), and is left as what of it the new file did not
 * take. */
static inline __attribute__((always_inline))
int gate_open(int dirfd, const char *path, unsigned how, thr_fd_entry *donor,
              uintptr_t sp, struct thr_gate_ticket **ret_t)
{
	if (!path)
		return 0;
	int r;
	const struct thr_init_state *st = gating(true, sp, &r);
	if (!st)
		return r;
	struct thr_gate_ticket *t = thr_flight_begin(sp);
	if (!t)
		return 0;
	t->stream = how & OPEN_STREAM;
	t->folder = how & OPEN_FOLDER;
	t->donor = donor ? *donor : 0;
	r = open_begin(st, dirfd, path, t);
	if (donor)
		*donor = t->donor;
	return landed_open(r, t, ret_t);
}

static int connect_begin(const struct thr_init_state *st, int fd,
                         const struct sockaddr *sa, socklen_t len,
                         struct thr_gate_ticket *t)
{
	size_t i = 0;
	if (st->destindex)
		i = thr_destindex_first(st->destindex, sa, len, 0);
	else
		while (i < st->npools && !match_dest(st->pools[i].conf, sa, len))
			i++;
	if (i == st->npools)
		return 0;
	char target[128];
	size_t tlen = thr_describe_sockaddr(sa, len, target, sizeof(target));
	struct call c = { .k = KIND_CONNECT, .sa = sa, .len = len, .fd = fd,
	                  .nonblocking = -1, .target = target, .tlen = tlen };
	t->d = 0;
	t->ncall = 0;
	t->socket = true;
	int r = take(st, i, &c, t);
	struct thr_fd_desc *desc = thr_fdtable_desc(t->d);
	if (desc)
		desc->ino = thr_stale_socket_ino(fd);
	return r;
}

THR_HOT
int thr_gate_connect_begin(int fd, const struct sockaddr *sa, socklen_t len,
                           uintptr_t sp, struct thr_gate_ticket **ret_t)
{
	if (!sa || len < sizeof(sa_family_t))
		return 0;
	int r;
	const struct thr_init_state *st = gating(false, sp, &r);
	if (!st)
		return r;
	thr_fd_entry e = thr_fdtable_get(fd);
	struct thr_fd_desc *desc = thr_fdtable_desc(e);
	bool was_socket = desc && desc->socket;
	if (was_socket && thr_stale_same_socket(fd, desc))
		return 0; /* a connect already in progress holds its slots */
	if (e && !was_socket && !thr_stale_socket_ino(fd))
		return 0; /* a file: connect fails with ENOTSOCK, the file's
		             slots stay */
	if (e) /* closed behind our back, its number now another socket */
		thr_gate_drop(thr_fdtable_detach(fd), fd);
	struct thr_gate_ticket *t = thr_flight_begin(sp);
	if (!t)
		return 0;
	t->stream = false;
	t->donor = 0; /* take_one() reads it: only freopen passes one */
	return landed(connect_begin(st, fd, sa, len, t), t, ret_t);
}

/* The children of the forks begun since ticket t's call began may have its
 * descriptor fd (the kernel made it before copying the table) though the
 * table, which the fork's co-holds follow, did not yet name it: each that
 * shares it becomes co-holder, as the fork would have made it. Its own
 * table does not name it, so its slot stays until it exits or execs.
 * Inheritance, but kept here, static: the compiler then knows which
 * registers it uses, and thr_gate_finish() spills none around the call
 * (extern in inherit.c it cost 4 instructions per gated open+close,
 * tests/bench shim-instructions). */
static __attribute__((noinline)) void cohold_late(
	const struct thr_init_state *st, const struct thr_gate_ticket *t,
	int fd)
{
	int kids[THR_FREEZE_REMEMBERED];
	uint32_t mine;
	int n = thr_freeze_children_since(t->gen, kids,
	                                  THR_FREEZE_REMEMBERED);
	struct thr_fd_desc *desc = thr_fdtable_desc(t->d);
	uint16_t one_pool = thr_fdtable_direct_pool(t->d);
	uint32_t one_hold = thr_fdtable_direct_hold(t->d);
	const uint16_t *pool = desc ? desc->pool : &one_pool;
	const uint32_t *hold = desc ? desc->hold : &one_hold;
	uint32_t nholds = desc ? desc->n : 1;
	for (int k = 0; k < n; k++) {
		if (thr_procfd_same(0, fd, kids[k], fd) != 1)
			continue;
		for (uint32_t i = 0; i < nholds; i++) {
			const struct thr_gate_pool *gp = &st->pools[pool[i]];
			if (pool[i] < st->npools && gp->pool)
				thr_pool_cohold(gp->pool,
				                thr_prochold_resolve(gp, hold[i]),
				                kids[k], fd, &mine);
		}
	}
}

/* Attaches t's entry to fd. A fork whose parent scanned the table for
 * co-holds before the entry was there counted its child before the scan
 * (thr_freeze_note_child), so it shows here as a count moved since the
 * call began: cohold_late() gives that child what it inherited. */
static inline __attribute__((always_inline))
void attach_unforked(const struct thr_init_state *st,
                     struct thr_gate_ticket *t, int fd)
{
	if (!thr_fdtable_attach(fd, t->d)) {
		release_desc(st, t->d);
		return;
	}
	if (__builtin_expect(thr_freeze_moved(t->gen), 0))
		cohold_late(st, t, fd);
}

/* Everything but the descriptor was settled before the call: what is left
 * here is the descriptor's number, the table entry, and the slots held for
 * the call only. Nothing here touches errno: the engine's release and
 * set_fd, like the table's atomics, never do, so errno is the call's own
 * without a save. */
static inline __attribute__((always_inline))
void finish(struct thr_gate_ticket *t, int fd, bool ok)
{
	const struct thr_init_state *st = thr_init();
	if (t->ncall)
		release_holds(st, t->pool, t->hold, t->ncall);
	if (!ok || !t->d) {
		release_desc(st, t->d);
		return;
	}
	struct thr_fd_desc *desc = thr_fdtable_desc(t->d);
	if (desc) {
		thr_track_record_fd(st, desc, fd);
		if (desc->stream)
			desc->stream_fd = fd;
	} else
		thr_track_set_fd(st, thr_fdtable_direct_pool(t->d),
		       thr_fdtable_direct_hold(t->d), fd);
	/* A stale entry means the fd was closed behind our back. */
	thr_gate_drop(thr_fdtable_detach(fd), fd);
	thr_fdtable_publish(t->d);
	attach_unforked(st, t, fd);
}

/* The ticket is copied out before its flight ends, since a signal
 * handler's call may take the entry over the moment it has. A longjmp
 * between the two would leave the copy's slots held until exit: nothing
 * here blocks, so that takes a handler in the few nanoseconds between. */
THR_HOT void thr_gate_finish(struct thr_gate_ticket *t, int fd, bool ok)
{
	struct thr_gate_ticket mine;
	mine.d = t->d;
	mine.ncall = t->ncall;
	mine.gen = t->gen;
	if (__builtin_expect(mine.ncall != 0, 0)) {
		memcpy(mine.pool, t->pool, sizeof(mine.pool));
		memcpy(mine.hold, t->hold, sizeof(mine.hold));
	}
	if (thr_flight_end(t))
		finish(&mine, fd, ok);
}


THR_HOT struct thr_gate_route thr_gate_route_path(const char *path,
                                                 uintptr_t sp)
{
	struct thr_gate_route pass = { 0, 0 }, full = { THR_GATE_ROUTE_FULL, 0 };
	if (!path)
		return pass;
	int r;
	const struct thr_init_state *st = gating(true, sp, &r);
	if (!st)
		return r < 0 ? full : pass;
	ptrdiff_t n = thr_match_normal_length(path);
	if (n < 0 || (size_t)n >= THR_GATE_ROUTE_FULL)
		return full; /* relative, or to be normalised first */
	size_t i = first_glob(st, path, (size_t)n);
	if (i == st->nglobs)
		return pass;
	return (struct thr_gate_route){ (uint32_t)i + 1, (uint32_t)n };
}

THR_HOT int thr_gate_open_begin(int dirfd, const char *path,
                                struct thr_gate_route route, uintptr_t sp,
                                struct thr_gate_ticket **ret_t)
{
	if (route.glob >= THR_GATE_ROUTE_FOLDER)
		return gate_open(dirfd, path,
		                 route.glob == THR_GATE_ROUTE_FOLDER ? OPEN_FOLDER
		                                                     : 0,
		                 NULL, sp, ret_t);
	const struct thr_init_state *st = thr_init();
	struct thr_gate_ticket *t = thr_flight_begin(sp);
	if (!t)
		return 0;
	t->stream = false;
	t->folder = false;
	t->donor = 0;
	return landed_open(take_open(st, st->glob_pool[route.glob - 1], path,
	                             route.n, t), t, ret_t);
}

/* A call a longjmp left gives back what it took, and the engine forgets
 * it was inside a lock: from a sweep, on the thread that made it. */
void thr_gate_abandon(struct thr_gate_ticket *t)
{
	const struct thr_init_state *st = thr_gate_table_state();
	thr_pool_forget_locks();
	give_back(st, t);
	if (t->donor)
		thr_gate_drop(t->donor, -1);
	t->donor = 0;
}

THR_HOT void thr_gate_release(thr_fd_entry d)
{
	release_desc(thr_gate_table_state(), d);
}

THR_HOT void thr_gate_drop(thr_fd_entry d, int fd)
{
	if (thr_track_unref(d, fd))
		release_desc(thr_gate_table_state(), d);
}


int thr_gate_fopen_begin(const char *path, uintptr_t sp,
                         struct thr_gate_ticket **ret_t)
{
	return gate_open(AT_FDCWD, path, OPEN_STREAM, NULL, sp, ret_t);
}

int thr_gate_path_begin(const char *path, uintptr_t sp,
                        struct thr_gate_ticket **ret_t)
{
	return gate_open(AT_FDCWD, path, 0, NULL, sp, ret_t);
}

int thr_gate_dir_begin(const char *path, uintptr_t sp,
                       struct thr_gate_ticket **ret_t)
{
	if (!thr_gate_wants_folders())
		return 0;
	return gate_open(AT_FDCWD, path, OPEN_FOLDER, NULL, sp, ret_t);
}

int thr_gate_freopen_begin(const char *path, thr_fd_entry *old, uintptr_t sp,
                           struct thr_gate_ticket **ret_t)
{
	thr_fd_entry donor = thr_track_is_only_name(*old) ? *old : 0;
	int r = gate_open(AT_FDCWD, path, OPEN_STREAM, &donor, sp, ret_t);
	if (thr_fdtable_is_direct(*old) && !donor)
		*old = 0; /* its one hold went to the new file */
	return r;
}
