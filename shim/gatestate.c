/* gatestate.c - the gate's state built from a loaded config: its pools in
 * name order, every open glob compiled into one array, the indexes, and the
 * segments attached; then what the hooks read to skip the gate. Runs once,
 * at load, under the guard: it may allocate and log, and must never be
 * reached from a hook's own path. */
#define _GNU_SOURCE
#include "gate.h"

#include "init.h"
#include "log.h"
#include "real.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static int by_name(const void *a, const void *b)
{
	const struct thr_gate_pool *x = a, *y = b;
	return strcmp(x->conf->name, y->conf->name);
}

/* The pools of cfg, at most THR_GATE_MAX_POOLS, sorted by name. */
static int list_pools(struct thr_config *cfg, struct thr_init_state *st)
{
	st->pools = calloc(cfg->npools, sizeof(*st->pools));
	if (!st->pools)
		return -ENOMEM;
	st->cfg = cfg;
	st->fail_closed = cfg->fail_closed;
	st->npools = cfg->npools;
	if (st->npools > THR_GATE_MAX_POOLS) {
		thr_log("%s: %zu pools, only the first %u are used",
		        cfg->path, st->npools, THR_GATE_MAX_POOLS);
		st->npools = THR_GATE_MAX_POOLS;
	}
	for (size_t i = 0; i < st->npools; i++) {
		st->pools[i].conf = &cfg->pools[i];
		st->any_open |= cfg->pools[i].nopen > 0;
		st->any_connect |= cfg->pools[i].nconnect > 0;
	}
	qsort(st->pools, st->npools, sizeof(*st->pools), by_name);
	return 0;
}

/* What the hot path reads of each pool, and all pools' globs in one
 * array, to touch few cache lines. */
static int compile_pools(struct thr_init_state *st)
{
	size_t nglobs = 0;
	for (size_t i = 0; i < st->npools; i++)
		nglobs += st->pools[i].conf->nopen;
	struct thr_match_cglob *g = calloc(nglobs ? nglobs : 1, sizeof(*g));
	uint16_t *owner = calloc(nglobs ? nglobs : 1, sizeof(*owner));
	if (!g || !owner) {
		free(g);
		free(owner);
		return -ENOMEM;
	}
	st->globs = g;
	st->glob_pool = owner;
	st->nglobs = nglobs;
	for (size_t i = 0; i < st->npools; i++) {
		struct thr_gate_pool *gp = &st->pools[i];
		const struct thr_config_pool *c = gp->conf;
		gp->open = g;
		gp->nopen = c->nopen;
		gp->plain = c->on_full == THR_FULL_WAIT && !c->timeout_ms;
		gp->call = c->hold == THR_HOLD_CALL;
		gp->whole = c->hold == THR_HOLD_PROCESS;
		gp->folders = c->folders;
		st->any_folders |= c->folders && c->nopen > 0;
		for (size_t k = 0; k < c->nopen; k++) {
			*owner++ = (uint16_t)i;
			thr_match_glob_compile(c->open[k], g++);
		}
	}
	return 0;
}

/* Without an index (too few rules, or no memory for one) the hooks loop
 * over the rules: slower with many, never wrong. */
static void index_rules(struct thr_init_state *st)
{
	thr_globindex_build(st->globs, st->nglobs, THR_GLOBINDEX_MIN,
	                    &st->globindex);
	struct thr_destindex_set *sets = malloc(st->npools * sizeof(*sets) + 1);
	for (size_t i = 0; sets && i < st->npools; i++)
		sets[i] = (struct thr_destindex_set){
			st->pools[i].conf->connect,
			st->pools[i].conf->nconnect };
	if (sets)
		thr_destindex_build(sets, st->npools, THR_DESTINDEX_MIN,
		                    &st->destindex);
	free(sets);
}

int thr_gate_build(struct thr_config *cfg, struct thr_init_state *st)
{
	int r = list_pools(cfg, st);
	if (r == 0)
		r = compile_pools(st);
	if (r == 0)
		index_rules(st);
	return r;
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
static void mark_alone(struct thr_init_state *st)
{
	bool later_open = false;
	for (size_t i = st->npools; i-- > 0;) {
		struct thr_gate_pool *gp = &st->pools[i];
		gp->open_alone = gp->plain && !gp->call && gp->pool &&
		                 !later_open;
		later_open |= gp->nopen > 0;
	}
}

void thr_gate_attach(struct thr_init_state *st)
{
	for (size_t i = 0; i < st->npools; i++)
		attach_pool(&st->pools[i]);
	mark_alone(st);
}

static int by_key(const void *key, const void *elem)
{
	const struct thr_gate_pool *gp = elem;
	return strcmp(key, gp->conf->name);
}

struct thr_pool *thr_gate_pool_named(const char *name)
{
	const struct thr_init_state *st = thr_init();
	if (st->mode != THR_MODE_ACTIVE || !st->npools)
		return NULL;
	const struct thr_gate_pool *gp = bsearch(name, st->pools, st->npools,
	                                         sizeof(*gp), by_key);
	return gp ? gp->pool : NULL;
}

void thr_gate_publish(const struct thr_init_state *st)
{
	unsigned char wants = 0;
	if (st->mode == THR_MODE_DENY_ALL)
		wants = THR_GATE_OPEN | THR_GATE_CONNECT | THR_GATE_FOLDERS;
	if (st->mode == THR_MODE_ACTIVE)
		wants = (st->any_open ? THR_GATE_OPEN : 0) |
		        (st->any_connect ? THR_GATE_CONNECT : 0) |
		        (st->any_folders ? THR_GATE_FOLDERS : 0);
	__atomic_store_n(&thr_gate_wants, wants, __ATOMIC_RELEASE);
}

#ifdef THR_TEST_HOOKS
void thr_gate_use(const struct thr_init_state *st, const struct thr_real *real)
{
	static bool tables;
	if (!tables) {
		thr_flight_init();
		thr_freeze_init();
		tables = thr_fdtable_init() == 0;
	}
	thr_real = *real;
	thr_init_state_ = *st;
	__atomic_store_n(&thr_init_phase, 2, __ATOMIC_RELEASE);
	thr_gate_publish(st);
}
#endif
