/* inherit.c - both sides of a process copy. The parent's side: after
 * fork, posix_spawn and popen the child becomes co-holder of the slots of
 * the descriptors it shares with us. The child's side, at start-up: it
 * joins its parent's slots itself (the parent may be late, or cannot hook
 * the call) and takes back its own records from before an exec. Never
 * waits for a slot: it only copies records of slots already held. */
#define _GNU_SOURCE
#include "inherit.h"

#include "fdtable.h"
#include "freeze.h"
#include "guard.h"
#include "layout.h"
#include "proc.h"
#include "procfd.h"
#include "prochold.h"
#include "real.h"
#include "track.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Who inherits the descriptors: a fork child (pid > 0, from the parent's
 * side), this process as a fork child (pid 0), or a spawned program (exec),
 * which gets only what survives its exec, on whatever numbers its file
 * actions put them. */
struct heir {
	pid_t pid;
	bool exec;
};

/* The heir's descriptor for our descriptor fd's open file description, or
 * -1 if it has none. A spawned program is asked by kcmp; where kcmp cannot
 * tell, it has fd's number if fd was open without close-on-exec. */
static int heir_fd(const struct heir *heir, int fd)
{
	if (!heir->exec)
		return fd;
	int theirs = thr_procfd_twin(0, fd, heir->pid);
	if (theirs >= 0 || theirs == -ENODATA)
		return theirs >= 0 ? theirs : -1;
	return thr_track_survives_exec(fd) ? fd : -1;
}

/* Did the heir close its copy of our descriptor fd (its number theirs)
 * before its co-hold landed? Its own release then came first, and the
 * record we made for it has no descriptor behind it. Where kcmp cannot
 * tell, it did not. */
static bool heir_closed(const struct heir *heir, int fd, int theirs)
{
	int same = thr_procfd_same(0, fd, heir->pid, theirs);
	if (same == -EBADF) /* theirs, or ours closed by another thread? */
		return thr_procfd_same(0, fd, 0, fd) == 1;
	return same == 0;
}

/* Makes the heir co-holder of the n holds (of pools pi) that our
 * descriptor fd keeps; a fork child adopting its parent's records keeps
 * its own instead. From the parent's side, a record made after the heir
 * had closed its copy is taken back. */
static void pass_on(struct heir *heir, int fd, const uint16_t *pi,
                    uint32_t *hold, uint32_t n)
{
	const struct thr_init_state *st = thr_init();
	struct thr_pool *p[THR_FD_MAX_HOLDS];
	uint32_t mine[THR_FD_MAX_HOLDS];
	bool made[THR_FD_MAX_HOLDS] = { false };
	int theirs = heir_fd(heir, fd);
	if (theirs < 0)
		return;
	for (uint32_t i = 0; i < n; i++) {
		p[i] = pi[i] < st->npools ? st->pools[pi[i]].pool : NULL;
		if (!p[i])
			continue;
		struct thr_gate_pool *gp = &st->pools[pi[i]];
		uint32_t h = thr_prochold_resolve(gp, hold[i]);
		bool whole = hold[i] == THR_FD_PROCESS_HOLD;
		if (heir->pid > 0)
			/* A process slot stays the heir's while it has any
			 * copy: one closed early takes nothing back. */
			made[i] = thr_pool_cohold(p[i], h, heir->pid, theirs,
			                          &mine[i]) == 0 && !whole;
		else if (thr_pool_adopt(p[i], h, theirs, &mine[i]) < 0)
			continue;
		else if (whole)
			thr_prochold_rename(gp, mine[i], 0);
		else
			hold[i] = mine[i];
	}
	if (heir->pid <= 0 || !heir_closed(heir, fd, theirs))
		return;
	for (uint32_t i = 0; i < n; i++)
		if (made[i])
			thr_pool_uncohold(p[i], mine[i], heir->pid);
}

static void cohold(thr_fd_entry d, void *ctx)
{
	struct thr_fd_desc *desc = thr_fdtable_desc(d);
	pass_on(ctx, desc->fd, desc->pool, desc->hold,
	        desc->n < THR_FD_MAX_HOLDS ? desc->n : THR_FD_MAX_HOLDS);
}

/* The same for descriptors whose entry is a direct hold. */
static void cohold_direct(struct heir *heir)
{
	for (int fd = 0, high = thr_fdtable_high(); fd < high; fd++) {
		thr_fd_entry e = thr_fdtable_get(fd);
		if (!thr_fdtable_is_direct(e))
			continue;
		uint16_t pi = thr_fdtable_direct_pool(e);
		uint32_t hold = thr_fdtable_direct_hold(e);
		pass_on(heir, fd, &pi, &hold, 1);
		if (heir->pid == 0)
			thr_fdtable_attach(fd, thr_fdtable_direct(pi, hold));
	}
}

static void bequeath(struct heir *heir)
{
	if (thr_init()->mode != THR_MODE_ACTIVE)
		return;
	int saved = errno;
	thr_guard_enter();
	thr_fdtable_each(cohold, heir);
	cohold_direct(heir);
	thr_guard_leave();
	errno = saved;
}

void thr_inherit_forked(pid_t pid)
{
	struct heir heir = { .pid = pid };
	if (pid == 0)
		thr_freeze_child();
	else
		thr_freeze_note_child(pid);
	bequeath(&heir);
}

bool thr_inherit_copying(void)
{
	if (thr_guard_active() || thr_init()->mode != THR_MODE_ACTIVE)
		return false;
	thr_freeze_fork_begin();
	return true;
}

void thr_inherit_copied(bool frozen)
{
	if (frozen)
		thr_freeze_fork_end();
}

void thr_inherit_bare_forked(pid_t pid)
{
	if (pid == 0)
		thr_proc_fork_child();
	thr_inherit_forked(pid);
}

/* A spawned child has run its file actions and exec'd by the time
 * posix_spawn returns (glibc's clone waits for the exec), so the
 * descriptors listed now are the ones it keeps. */
void thr_inherit_spawned(pid_t pid)
{
	struct heir heir = { .pid = pid, .exec = true };
	if (pid <= 0)
		return;
	thr_freeze_note_child(pid);
	bequeath(&heir);
}

void thr_inherit_kids_before(struct thr_inherit_kids *kids)
{
	kids->n = -1;
	if (thr_guard_active() || thr_init()->mode != THR_MODE_ACTIVE ||
	    thr_fdtable_high() == 0)
		return;
	int n = thr_procfd_children(kids->pid, THR_INHERIT_KIDS);
	/* A full list may have left out the child the new one looks like. */
	kids->n = n < (int)THR_INHERIT_KIDS ? n : -1;
}

static bool listed(const struct thr_inherit_kids *kids, pid_t pid)
{
	for (int i = 0; i < kids->n; i++)
		if (kids->pid[i] == pid)
			return true;
	return false;
}

void thr_inherit_kids_spawned(const struct thr_inherit_kids *kids)
{
	pid_t now[THR_INHERIT_KIDS];
	if (kids->n < 0)
		return;
	int n = thr_procfd_children(now, THR_INHERIT_KIDS);
	for (int i = 0; i < n; i++)
		if (!listed(kids, now[i]))
			thr_inherit_spawned(now[i]);
}

static bool is_open(int fd)
{
	return fd >= 0 && thr_real_get()->fcntl(fd, F_GETFD) >= 0;
}

#define ANY_HOLD UINT32_MAX

/* Is held, what an entry keeps in pool pi, hold (ANY_HOLD: anything)? */
static bool same_hold(const struct thr_init_state *st, uint16_t pi,
                       uint32_t held, uint32_t hold)
{
	return hold == ANY_HOLD ||
	       thr_prochold_resolve(&st->pools[pi], held) == hold;
}

/* Does fd's entry hold a slot of pool pi already: hold, or any when hold is
 * ANY_HOLD? */
static bool tracked_in(const struct thr_init_state *st, int fd, uint16_t pi,
                       uint32_t hold)
{
	thr_fd_entry e = thr_fdtable_get(fd);
	if (thr_fdtable_is_direct(e))
		return thr_fdtable_direct_pool(e) == pi &&
		       same_hold(st, pi, thr_fdtable_direct_hold(e), hold);
	const struct thr_fd_desc *desc = thr_fdtable_desc(e);
	for (uint32_t i = 0; desc && i < desc->n; i++)
		if (desc->pool[i] == pi &&
		    same_hold(st, pi, desc->hold[i], hold))
			return true;
	return false;
}

/* Puts hold, of pool pi, on open descriptor fd: its direct entry if it has
 * none, else into its description, made from a direct entry it had.
 * Returns false when the table has no room. */
static bool attach_hold(uint16_t pi, uint32_t hold, int fd)
{
	thr_fd_entry e = thr_fdtable_get(fd);
	if (!e)
		return thr_fdtable_attach(fd, thr_fdtable_direct(pi, hold));
	struct thr_fd_desc *desc = thr_fdtable_desc(e);
	if (thr_fdtable_is_direct(e)) {
		uint16_t pools[2] = { thr_fdtable_direct_pool(e), pi };
		uint32_t holds[2] = { thr_fdtable_direct_hold(e), hold };
		thr_fd_entry d = thr_fdtable_new(pools, holds, 2, false, false);
		if (!d)
			return false;
		thr_fdtable_desc(d)->fd = fd;
		thr_fdtable_attach(fd, d);
		return true;
	}
	if (!desc || desc->n >= THR_FD_MAX_HOLDS)
		return false;
	desc->pool[desc->n] = pi;
	desc->hold[desc->n++] = hold;
	return true;
}

/* attach_hold() for record hold, found again after exec or joined from a
 * parent. In a pool of hold = process it becomes the process's one slot,
 * or goes back if the process has one already: the descriptor shares that
 * one. Returns false when the caller is to give hold back. */
static bool keep_on(const struct thr_init_state *st, uint16_t pi,
                    uint32_t hold, int fd)
{
	struct thr_gate_pool *gp = &st->pools[pi];
	uint32_t have;
	if (!gp->whole)
		return attach_hold(pi, hold, fd);
	if (!thr_prochold_get(gp, &have))
		thr_prochold_rename(gp, hold, 0);
	else if (have != hold)
		thr_pool_release(gp->pool, hold);
	thr_prochold_add_ref(gp);
	if (!attach_hold(pi, THR_FD_PROCESS_HOLD, fd))
		thr_prochold_unref(gp);
	return true;
}

/* Room for every record a pool can have, for take_back() and
 * join_parent(): a process may hold many more than a stack would take. */
struct records {
	uint32_t holds[THR_HOLDERS];
	int fds[THR_HOLDERS];
};

/* After exec the process is the same (pid and start time), so records it
 * held before are found again: kept for descriptors still open, released
 * for those closed on exec. A record join_parent() has just put on its
 * descriptor is ours already. One the process holds for itself (the C
 * API's, or throttlectl run's command's) is kept: it is no descriptor's,
 * and the process that holds it lives on. */
static void take_back(const struct thr_init_state *st, uint16_t pi,
                      struct records *r)
{
	struct thr_pool *p = st->pools[pi].pool;
	int n = p ? thr_pool_held(p, r->holds, r->fds, THR_HOLDERS) : 0;
	for (int i = 0; i < n; i++)
		if (r->fds[i] != THR_POOL_FD_PROCESS &&
		    !tracked_in(st, r->fds[i], pi, r->holds[i]) &&
		    (!is_open(r->fds[i]) ||
		     !keep_on(st, pi, r->holds[i], r->fds[i])))
			thr_pool_release(p, r->holds[i]);
}

/* Is our fd the file that the parent's fd of the same number is? */
static bool same_file(pid_t parent, int fd)
{
	char path[64];
	struct stat ours, theirs;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)parent, fd);
	return fd >= 0 && fstat(fd, &ours) == 0 && stat(path, &theirs) == 0 &&
	       ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino;
}

/* Our descriptor for the open file description that is the parent's pfd,
 * or -1: the same number first, else any (posix_spawn file actions and
 * shells move descriptors). kcmp tells exactly; where it cannot, the same
 * number if it is the same file. */
static int shared_fd(pid_t parent, int pfd)
{
	int ours = thr_procfd_twin(parent, pfd, 0);
	if (ours >= 0 || ours == -ENODATA)
		return ours >= 0 ? ours : -1;
	return same_file(parent, pfd) ? pfd : -1;
}

/* A child its parent started without fork() (posix_spawn, system, popen)
 * often gets here before the parent has made it co-holder, or the parent
 * cannot hook the call at all (glibc's system and popen): it joins the
 * slots of descriptors it shares with its parent itself. Joining twice is
 * harmless: a process has one record per slot. It runs before take_back():
 * the other way round, a co-hold landing between the two, with the parent
 * closing right after, would leave a record that no descriptor here names
 * (take_back too early to see it, the parent's gone when joining). */
static void join_parent(const struct thr_init_state *st, uint16_t pi,
                        struct records *r)
{
	uint32_t mine;
	struct thr_pool *p = st->pools[pi].pool;
	pid_t parent = getppid();
	int n = p && parent > 1 ? thr_pool_held_by(p, parent, r->holds, r->fds,
	                                           THR_HOLDERS)
	                        : 0;
	for (int i = 0; i < n; i++) {
		int fd = r->fds[i] >= 0 ? shared_fd(parent, r->fds[i]) : -1;
		if (fd < 0 || tracked_in(st, fd, pi, ANY_HOLD) ||
		    thr_pool_adopt(p, r->holds[i], fd, &mine) < 0)
			continue;
		if (!keep_on(st, pi, mine, fd))
			thr_pool_release(p, mine);
	}
}


void thr_inherit_claim(struct thr_init_state *st)
{
	/* Without the room (no memory at start-up) records are not taken
	 * back: they stay until the process exits, and no slot is lost. */
	struct records *r = malloc(sizeof(*r));
	for (size_t i = 0; r && i < st->npools; i++) {
		join_parent(st, (uint16_t)i, r);
		take_back(st, (uint16_t)i, r);
	}
	free(r);
}
