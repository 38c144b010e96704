/* gate.c - the policy between the hooks and the pools: which calls match
 * (routing), the call's ticket from begin to finish, and the slots it
 * keeps on its descriptor or gives back after it. Taking the slots, as
 * each pool's policy says, is take.c's; what a refused or failed wait does
 * to the call is policy.c's; a descriptor's later life is track.c's, its
 * copies into other processes inherit.c's. Code reachable from close()
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
#include "take.h"
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
	return i < st->nglobs ? thr_take_open(st, st->glob_pool[i], norm, n, t)
	                      : 0;
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
		while (i < st->npools &&
		       !thr_take_match_dest(st->pools[i].conf, sa, len))
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
	int r = thr_take_call(st, i, &c, t);
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
	return landed_open(thr_take_open(st, st->glob_pool[route.glob - 1],
	                                 path, route.n, t), t, ret_t);
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
