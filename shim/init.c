/* init.c - the shim's start in a process: the environment read once, the
 * config loaded, the gate's state built and attached (gatestate.c), what
 * the parent or a pre-exec image held taken over (inherit.c), and the
 * result published to the hooks. Never exits, never writes to stdout, and
 * leaves errno as it found it. */
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

/* What the environment asks of the shim, read once. */
struct env {
	const char *config;     /* THROTTLE_CONFIG: the config file */
	const char *service;    /* THROTTLE_SERVICE: a service's config */
};

static void read_env(struct env *env)
{
	const char *quiet = secure_getenv("THROTTLE_QUIET");
	env->config = secure_getenv("THROTTLE_CONFIG");
	env->service = secure_getenv("THROTTLE_SERVICE");
	thr_log_quiet(quiet && *quiet && strcmp(quiet, "0") != 0);
}

/* Finds and loads the config the environment points at into the state. */
static int load_config(const struct env *env)
{
	const char *env_config = env->config;
	const char *env_service = env->service;
	char path[PATH_MAX], err[512], exe[PATH_MAX];
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
	} else if (thr_init_state_.cfg->unresolved) {
		thr_log("%s", thr_init_state_.cfg->unresolved);
	}
	return r;
}

/* The process's own tables, mapped once: every hook may touch them. */
static int set_up_tables(void)
{
	thr_flight_init();
	thr_freeze_init();
	return thr_fdtable_init();
}

/* Environment, config, then the gate's state, then its pools attached and
 * what an earlier image or the parent held taken over. Any failure leaves
 * the shim inert (or denying, for a broken config with on-error =
 * closed). */
static void load(void)
{
	struct thr_init_state *st = &thr_init_state_;
	struct env env;
	read_env(&env);
	if (load_config(&env) < 0)
		return;
	if (set_up_tables() < 0 || thr_gate_build(st->cfg, st) < 0) {
		thr_log("cannot set up: out of memory");
		return;
	}
	thr_gate_attach(st);
	thr_inherit_claim(st);
	st->mode = THR_MODE_ACTIVE;
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
	thr_gate_publish(&thr_init_state_);
	return &thr_init_state_;
}

/* A unit test drives the gate with a state of its own (thr_gate_use()):
 * none is loaded behind its back. */
#ifndef THR_TEST_HOOKS
__attribute__((constructor)) static void at_load(void)
{
	thr_init();
}
#endif
