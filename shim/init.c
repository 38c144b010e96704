/* init.c - reading the environment once, loading the config, attaching the
 * pools, and taking back the slots a pre-exec image of this process held.
 * Never exits, never writes to stdout, and leaves errno as it found it. */
#define _GNU_SOURCE
#include "init.h"

#include "fdtable.h"
#include "flight.h"
#include "freeze.h"
#include "prochold.h"
#include "gate.h"
#include "guard.h"
#include "layout.h"
#include "log.h"
#include "procfd.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef THR_CONFDIR
#define THR_CONFDIR "/etc/throttle"
#endif

__thread int thr_guard_depth;
unsigned char thr_gate_wants = THR_GATE_OPEN | THR_GATE_CONNECT;
struct thr_init_state thr_init_state_;
int thr_init_phase; /* 0 not started, 1 loading, 2 loaded */

static int by_name(const void *a, const void *b)
{
	const struct thr_gate_pool *x = a, *y = b;
	return strcmp(x->conf->name, y->conf->name);
}

static void attach_pool(struct thr_gate_pool *gp)
{
	const struct thr_config_pool *c = gp->conf;
	struct thr_pool_opts o = {
		.limit = c->limit, .set_limit = true, .create = true,
		.mode = c->mode, .has_gid = c->has_gid, .gid = c->gid,
	};
	char err[THR_POOL_ERR_LEN];
	if (thr_pool_open(c->name, &o, &gp->pool, err) < 0) {
		gp->pool = NULL;
		gp->reported = 1;
		thr_log("%s", err);
	}
}

static bool is_open(int fd)
{
	return fd >= 0 && thr_real_get()->fcntl(fd, F_GETFD) >= 0;
}

#define ANY_HOLD UINT32_MAX

/* Is held, what an entry keeps in pool pi, hold (ANY_HOLD: anything)? */
static bool same_hold(uint16_t pi, uint32_t held, uint32_t hold)
{
	return hold == ANY_HOLD ||
	       thr_prochold_resolve(&thr_init_state_.pools[pi], held) == hold;
}

/* Does fd's entry hold a slot of pool pi already: hold, or any when hold is
 * ANY_HOLD? */
static bool tracked_in(int fd, uint16_t pi, uint32_t hold)
{
	uint32_t e = thr_fdtable_get(fd);
	if (thr_fdtable_is_direct(e))
		return thr_fdtable_direct_pool(e) == pi &&
		       same_hold(pi, thr_fdtable_direct_hold(e), hold);
	const struct thr_fd_desc *desc = thr_fdtable_desc(e);
	for (uint32_t i = 0; desc && i < desc->n; i++)
		if (desc->pool[i] == pi && same_hold(pi, desc->hold[i], hold))
			return true;
	return false;
}

/* Puts hold, of pool pi, on open descriptor fd: its direct entry if it has
 * none, else into its description, made from a direct entry it had.
 * Returns false when the table has no room. */
static bool attach_hold(uint16_t pi, uint32_t hold, int fd)
{
	uint32_t e = thr_fdtable_get(fd);
	if (!e)
		return thr_fdtable_attach(fd, thr_fdtable_direct(pi, hold));
	struct thr_fd_desc *desc = thr_fdtable_desc(e);
	if (thr_fdtable_is_direct(e)) {
		uint16_t pools[2] = { thr_fdtable_direct_pool(e), pi };
		uint32_t holds[2] = { thr_fdtable_direct_hold(e), hold };
		uint32_t d = thr_fdtable_new(pools, holds, 2, false, false);
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
static bool keep_on(uint16_t pi, uint32_t hold, int fd)
{
	struct thr_gate_pool *gp = &thr_init_state_.pools[pi];
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
 * descriptor is ours already. */
static void take_back(uint16_t pi, struct records *r)
{
	struct thr_pool *p = thr_init_state_.pools[pi].pool;
	int n = p ? thr_pool_held(p, r->holds, r->fds, THR_HOLDERS) : 0;
	for (int i = 0; i < n; i++)
		if (!tracked_in(r->fds[i], pi, r->holds[i]) &&
		    (!is_open(r->fds[i]) || !keep_on(pi, r->holds[i], r->fds[i])))
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
static void join_parent(uint16_t pi, struct records *r)
{
	uint32_t mine;
	struct thr_pool *p = thr_init_state_.pools[pi].pool;
	pid_t parent = getppid();
	int n = p && parent > 1 ? thr_pool_held_by(p, parent, r->holds, r->fds,
	                                           THR_HOLDERS)
	                        : 0;
	for (int i = 0; i < n; i++) {
		int fd = r->fds[i] >= 0 ? shared_fd(parent, r->fds[i]) : -1;
		if (fd < 0 || tracked_in(fd, pi, ANY_HOLD) ||
		    thr_pool_adopt(p, r->holds[i], fd, &mine) < 0)
			continue;
		if (!keep_on(pi, mine, fd))
			thr_pool_release(p, mine);
	}
}

/* Which pools an open they want can take the short way (open_alone). */
static void mark_alone(void)
{
	bool later_open = false;
	for (size_t i = thr_init_state_.npools; i-- > 0;) {
		struct thr_gate_pool *gp = &thr_init_state_.pools[i];
		gp->open_alone = gp->plain && !gp->call && gp->pool && !later_open;
		later_open |= gp->nopen > 0;
	}
}

static int load_config(void)
{
	const char *env_config = secure_getenv("THROTTLE_CONFIG");
	const char *env_service = secure_getenv("THROTTLE_SERVICE");
	const char *quiet = secure_getenv("THROTTLE_QUIET");
	char path[PATH_MAX], err[512], exe[PATH_MAX];
	thr_log_quiet(quiet && *quiet && strcmp(quiet, "0") != 0);
	int r = thr_config_locate(env_config, env_service,
	                          thr_config_progname(exe, sizeof(exe)),
	                          THR_CONFDIR, path, sizeof(path));
	if (r < 0) {
		thr_config_locate_error(r, env_config, env_service,
		                        sizeof(path), err, sizeof(err));
		if (err[0])
			thr_log("%s", err);
		return r;
	}
	/* A config that does not parse says nothing reliable, except
	 * perhaps that its author asked to fail closed. */
	bool closed = false;
	r = thr_config_load_closed(path, &thr_init_state_.cfg, &closed, err,
	                           sizeof(err));
	if (r < 0) {
		thr_log("%s", err);
		if (closed)
			thr_init_state_.mode = THR_MODE_DENY_ALL;
	}
	return r;
}

/* Without an index (too few rules, or no memory for one) the hooks loop
 * over the rules: slower with many, never wrong. */
static void index_rules(void)
{
	struct thr_init_state *st = &thr_init_state_;
	thr_globindex_build(st->globs, st->nglobs, THR_GLOBINDEX_MIN,
	                    &st->globindex);
	struct thr_destindex_set *sets = malloc(st->npools * sizeof(*sets) + 1);
	for (size_t i = 0; sets && i < st->npools; i++)
		sets[i] = (struct thr_destindex_set){ st->pools[i].conf->connect,
		                                      st->pools[i].conf->nconnect };
	if (sets)
		thr_destindex_build(sets, st->npools, THR_DESTINDEX_MIN,
		                    &st->destindex);
	free(sets);
}

static void load(void)
{
	if (load_config() < 0)
		return;
	thr_flight_init();
	thr_freeze_init();
	if (thr_fdtable_init() < 0 ||
	    !(thr_init_state_.pools = calloc(thr_init_state_.cfg->npools, sizeof(*thr_init_state_.pools)))) {
		thr_log("cannot set up: out of memory");
		return;
	}
	thr_init_state_.fail_closed = thr_init_state_.cfg->fail_closed;
	thr_init_state_.npools = thr_init_state_.cfg->npools;
	if (thr_init_state_.npools > THR_GATE_MAX_POOLS) {
		thr_log("%s: %zu pools, only the first %u are used",
		        thr_init_state_.cfg->path, thr_init_state_.npools, THR_GATE_MAX_POOLS);
		thr_init_state_.npools = THR_GATE_MAX_POOLS;
	}
	for (size_t i = 0; i < thr_init_state_.npools; i++) {
		thr_init_state_.pools[i].conf = &thr_init_state_.cfg->pools[i];
		thr_init_state_.any_open |= thr_init_state_.cfg->pools[i].nopen > 0;
		thr_init_state_.any_connect |= thr_init_state_.cfg->pools[i].nconnect > 0;
	}
	qsort(thr_init_state_.pools, thr_init_state_.npools, sizeof(*thr_init_state_.pools), by_name);
	/* All pools' globs in one array, to touch few cache lines. */
	size_t nglobs = 0;
	for (size_t i = 0; i < thr_init_state_.npools; i++)
		nglobs += thr_init_state_.pools[i].conf->nopen;
	struct thr_match_cglob *g = calloc(nglobs ? nglobs : 1, sizeof(*g));
	uint16_t *owner = calloc(nglobs ? nglobs : 1, sizeof(*owner));
	if (!g || !owner) {
		free(g);
		free(owner);
		thr_log("cannot set up: out of memory");
		return;
	}
	thr_init_state_.globs = g;
	thr_init_state_.glob_pool = owner;
	thr_init_state_.nglobs = nglobs;
	for (size_t i = 0; i < thr_init_state_.npools; i++) {
		struct thr_gate_pool *gp = &thr_init_state_.pools[i];
		const struct thr_config_pool *c = gp->conf;
		gp->open = g;
		gp->nopen = c->nopen;
		gp->plain = c->on_full == THR_FULL_WAIT && !c->timeout_ms;
		gp->call = c->hold == THR_HOLD_CALL;
		gp->whole = c->hold == THR_HOLD_PROCESS;
		gp->folders = c->folders;
		thr_init_state_.any_folders |= c->folders && c->nopen > 0;
		for (size_t k = 0; k < c->nopen; k++) {
			*owner++ = (uint16_t)i;
			thr_match_glob_compile(c->open[k], g++);
		}
	}
	index_rules();
	for (size_t i = 0; i < thr_init_state_.npools; i++)
		attach_pool(&thr_init_state_.pools[i]);
	mark_alone();
	/* Without the room (no memory at start-up) records are not taken
	 * back: they stay until the process exits, and no slot is lost. */
	struct records *r = malloc(sizeof(*r));
	for (size_t i = 0; r && i < thr_init_state_.npools; i++) {
		join_parent((uint16_t)i, r);
		take_back((uint16_t)i, r);
	}
	free(r);
	thr_init_state_.mode = THR_MODE_ACTIVE;
}

const struct thr_init_state *thr_init_load(void)
{
	static const struct thr_init_state inert;
	int p = __atomic_load_n(&thr_init_phase, __ATOMIC_ACQUIRE);
	if (p == 2)
		return &thr_init_state_;
	if (p == 1 || thr_guard_active())
		return &inert;
	int zero = 0;
	if (!__atomic_compare_exchange_n(&thr_init_phase, &zero, 1, false,
	                                 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return zero == 2 ? &thr_init_state_ : &inert;
	int saved = errno;
	thr_guard_enter();
	thr_real_get();
	load();
	thr_guard_leave();
	errno = saved;
	__atomic_store_n(&thr_init_phase, 2, __ATOMIC_RELEASE);
	unsigned char wants = 0;
	if (thr_init_state_.mode == THR_MODE_DENY_ALL)
		wants = THR_GATE_OPEN | THR_GATE_CONNECT | THR_GATE_FOLDERS;
	if (thr_init_state_.mode == THR_MODE_ACTIVE)
		wants = (thr_init_state_.any_open ? THR_GATE_OPEN : 0) |
		        (thr_init_state_.any_connect ? THR_GATE_CONNECT : 0) |
		        (thr_init_state_.any_folders ? THR_GATE_FOLDERS : 0);
	__atomic_store_n(&thr_gate_wants, wants, __ATOMIC_RELEASE);
	return &thr_init_state_;
}

__attribute__((constructor)) static void at_load(void)
{
	thr_init();
}
