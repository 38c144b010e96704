/* init.c - reading the environment once, loading the config, attaching the
 * pools, and taking back the slots a pre-exec image of this process held.
 * Never exits, never writes to stdout, and leaves errno as it found it. */
#define _GNU_SOURCE
#include "init.h"

#include "fdtable.h"
#include "flight.h"
#include "freeze.h"
#include "gate.h"
#include "guard.h"
#include "inherit.h"
#include "log.h"
#include "real.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef THR_CONFDIR
#define THR_CONFDIR "/etc/throttle"
#endif

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
	thr_inherit_claim(&thr_init_state_);
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
