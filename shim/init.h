/* init.h - the shim's state for this process: which pools exist and how
 * they are gated, built once from the config. Loading never breaks the host
 * program: a problem gives one line on stderr and the shim goes inert
 * (or, with on-error = closed, refuses what it would have gated). */
#ifndef THR_INIT_H
#define THR_INIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "destindex.h"
#include "globindex.h"
#include "match.h"
#include "pool.h"

/* Pools one process gates; more in a config are ignored, with a message. */
#define THR_GATE_MAX_POOLS 256

enum thr_init_mode {
	THR_MODE_INERT,         /* no config, or not loaded yet: pass through */
	THR_MODE_ACTIVE,        /* gate what the pools match */
	THR_MODE_DENY_ALL,      /* broken config with on-error = closed */
};

struct thr_gate_pool {
	const struct thr_config_pool *conf;
	struct thr_pool *pool;  /* NULL when its segment was refused */
	int reported;           /* a breakage of this pool was logged */
	int deadlock_reported;  /* a wait refused as endless was logged */
	int room_reported;      /* a wait for room in the tables was logged */
	/* What the hot path needs, here rather than in conf: */
	struct thr_match_cglob *open; /* conf->open, prepared for matching */
	size_t nopen;
	bool plain;             /* on-full = wait with no timeout */
	bool call;              /* hold = call */
	bool whole;             /* hold = process */
	bool folders;           /* opens of folders take slots (folders =
	                           yes) */
	uint64_t process;       /* hold = process: the process's slot and how
	                           many table entries share it (prochold.c) */
	bool open_alone;        /* plain, hold = descriptor, attached, and no
	                           pool after it has open patterns: an open it
	                           wants takes one slot, the short way */
};

/* Does an open of path (absolute and normalised, n bytes) belong to pool
 * gp? */
static inline __attribute__((always_inline))
bool thr_gate_pool_matches(const struct thr_gate_pool *gp, const char *path,
                           size_t n)
{
	for (size_t i = 0; i < gp->nopen; i++)
		if (thr_match_cglob(&gp->open[i], path, n))
			return true;
	return false;
}

struct thr_init_state {
	enum thr_init_mode mode;
	bool fail_closed;       /* on-error = closed */
	bool any_open;          /* some pool has open patterns */
	bool any_connect;       /* some pool has connect patterns */
	bool any_folders;       /* some pool with open patterns takes slots
	                           for folders */
	size_t npools;
	struct thr_gate_pool *pools; /* sorted by name: the order in which a
	                                call matching several takes its slots */
	struct thr_match_cglob *globs; /* every pool's open globs, pool by pool,
	                                  so that a miss is one loop */
	uint16_t *glob_pool;    /* index in pools of each glob's pool */
	size_t nglobs;
	struct thr_globindex *globindex; /* over globs, when there are many
	                                    (globindex.h); else NULL */
	struct thr_destindex *destindex; /* over the pools' connect rules, when
	                                    there are many (destindex.h); else
	                                    NULL */
	struct thr_config *cfg;
};

/* The state, loading it on the first call (from the constructor, or from
 * whichever hook runs first). While another thread loads it, or when a
 * call comes from inside the loading itself, the state reads as inert.
 * Async-signal-safe once loaded (one load of a flag). */
const struct thr_init_state *thr_init_load(void);
extern struct thr_init_state thr_init_state_;
extern int thr_init_phase;

static inline const struct thr_init_state *thr_init(void)
{
	if (__builtin_expect(__atomic_load_n(&thr_init_phase,
	                                     __ATOMIC_ACQUIRE) == 2, 1))
		return &thr_init_state_;
	return thr_init_load();
}

#endif
