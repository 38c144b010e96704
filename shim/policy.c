/* policy.c - what a refused or failed acquire does to a gated call (let it
 * through, or fail it with which errno), and the lines the shim logs about
 * a pool it cannot use or a wait it refuses. Cold code, out of gate.c's hot
 * path: it runs only when a pool is full, broken or refuses; it must never
 * take or give back a slot itself. */
#define _GNU_SOURCE
#include "policy.h"

#include "log.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int thr_policy_refusal(const struct thr_config_pool *c, bool open, int why)
{
	if (why == -EINTR)
		return -EINTR;
	if (c->err)
		return -c->err;
	if (open)
		return -ENFILE;
	/* Not EAGAIN, which is EWOULDBLOCK: curl, asyncio and Perl read it
	 * as a connect in progress, and fail later, and worse. Every client
	 * tried reports ECONNREFUSED at once, and the retrying ones retry. */
	return why == -ETIMEDOUT ? -ETIMEDOUT : -ECONNREFUSED;
}

void thr_policy_report_deadlock(struct thr_gate_pool *gp, bool open,
                                const struct thr_pool_deadlock *dl)
{
	const char *call = open ? "open()" : "connect()";
	const char *what = open ? "files" : "connections";
	if (__atomic_exchange_n(&gp->deadlock_reported, 1, __ATOMIC_RELAXED))
		return;
	if (!dl->cycle)
		thr_log("pool '%s': %s (pid %d) holds %u of %u slots and waits "
		        "for another; failing %s - set hold = process to count "
		        "processes, not %s", gp->conf->name,
		        program_invocation_short_name, (int)getpid(), dl->mine,
		        dl->limit, call, what);
	else
		thr_log("pool '%s': %s (pid %d) would wait for ever: every one "
		        "of the %u slots is held by a process that waits for "
		        "another itself; failing %s - set hold = process to "
		        "count processes, not %s", gp->conf->name,
		        program_invocation_short_name, (int)getpid(), dl->limit,
		        call, what);
}

void thr_policy_report_no_room(const struct thr_gate_pool *gp)
{
	thr_log("pool '%s': more processes use it at once than its segment "
	        "has room for (%u), or more wait than it has places (%u): "
	        "calls wait for room", gp->conf->name, THR_POOL_PROCS,
	        THR_POOL_WAITERS);
}

/* Why pool gp cannot be used; closed: on-error = closed. */
static void report_broken(const struct thr_gate_pool *gp, int why,
                          bool closed)
{
	const char *name = gp->conf->name;
	const char *then = closed ? "calls it gates fail with EACCES"
	                          : "calls it gates run unthrottled";
	if (why == -ENOTSUP)
		thr_log("pool '%s': this process's /proc shows another process "
		        "under its pid (a pid namespace without a /proc of its "
		        "own), so it cannot hold slots", name);
	else if (why == -ENOLCK)
		thr_log("pool '%s': its lock has been held for over 2 s by pid "
		        "%d, which is stopped or stuck inside it; until it lets "
		        "go, %s (see throttlectl status)", name,
		        (int)thr_pool_lock_owner(gp->pool), then);
	else
		thr_log("pool '%s': %s", name, strerror(-why));
}

int thr_policy_broken(const struct thr_init_state *st,
                      struct thr_gate_pool *gp, int why)
{
	if (!__atomic_exchange_n(&gp->reported, 1, __ATOMIC_RELAXED))
		report_broken(gp, why, st->fail_closed);
	return st->fail_closed ? -EACCES : 0;
}

int thr_policy_failed(const struct thr_init_state *st,
                      struct thr_gate_pool *gp, bool open,
                      const struct thr_pool_req *req, int r)
{
	if ((r == -EAGAIN && req->mode == THR_POOL_OBSERVE) || r == -EALREADY)
		return 0;
	/* A wait cut short by the process's exit, or by a join of its thread,
	 * is refused as by a full pool: not EINTR, which libuv retries. */
	if (r == -EAGAIN || r == -ETIMEDOUT || r == -EINTR || r == -EDEADLK ||
	    r == -ECANCELED)
		return thr_policy_refusal(gp->conf, open,
		                          r == -ECANCELED ? -EAGAIN : r);
	return r == -EACCES ? r : thr_policy_broken(st, gp, r);
}
