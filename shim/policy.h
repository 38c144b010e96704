/* policy.h - what a refused or failed acquire does to a gated call, and the
 * one line the shim logs about it: the cold side of gate.c, run only when a
 * pool is full, broken or refuses a wait. Nothing here takes a slot or
 * decides which pools a call meets; no close or dup path comes here. */
#ifndef THR_POLICY_H
#define THR_POLICY_H

#include <stdbool.h>

#include "init.h"
#include "pool.h"

/* Every function here runs only when a pool is full, broken or refuses:
 * marked cold, so that the callers keep their calls off the straight path. */
#define THR_POLICY_COLD __attribute__((cold))

/* The -errno that a call (an open, else a connect) refused by a pool of
 * config c fails with; why is what ended its wait (-EINTR, -ETIMEDOUT, or
 * any other refusal). Returns -EINTR for -EINTR, else the pool's own errno
 * (c->err), else -ENFILE for an open, -ETIMEDOUT or -ECONNREFUSED for a
 * connect. Keeps errno; never blocks; async-signal-safe. */
THR_POLICY_COLD
int thr_policy_refusal(const struct thr_config_pool *c, bool open, int why);

/* Pool gp cannot be used: its segment was refused or broke later (why
 * -EIO, or the engine's -errno), its lock is stuck (-ENOLCK), or this
 * process cannot say who it is (-ENOTSUP, see thr_proc_self()). Says why
 * on stderr, once per pool. Returns -EACCES under on-error = closed (st's
 * fail_closed), else 0: the call goes through unthrottled. Keeps errno;
 * blocks only in the one write(2) to stderr; not async-signal-safe (the
 * message is formatted with snprintf). */
THR_POLICY_COLD
int thr_policy_broken(const struct thr_init_state *st,
                      struct thr_gate_pool *gp, int why);

/* What thr_pool_acquire()'s error r, for request req in pool gp, does to
 * a call (an open, else a connect): returns 0 to let it through (observe
 * found the pool full; -EALREADY, a signal handler's call inside a pool's
 * lock; a broken pool under on-error = open), else the -errno to fail it
 * with (thr_policy_refusal()'s, -EACCES, or thr_policy_broken()'s). Keeps
 * errno; may log as thr_policy_broken() does, and is no more
 * async-signal-safe than it. */
THR_POLICY_COLD
int thr_policy_failed(const struct thr_init_state *st,
                      struct thr_gate_pool *gp, bool open,
                      const struct thr_pool_req *req, int r);

/* Says, once per pool, why a call (an open, else a connect) in pool gp is
 * refused rather than left to wait for ever (dl, from the engine's
 * -EDEADLK): what the program does, and what to change. Keeps errno; blocks
 * only in write(2); not async-signal-safe. */
THR_POLICY_COLD
void thr_policy_report_deadlock(struct thr_gate_pool *gp, bool open,
                                const struct thr_pool_deadlock *dl);

/* Says that gp's segment had no room for this process or its wait (calls
 * wait for room): thr_policy_no_room()'s line. Keeps errno; blocks only in
 * write(2); not async-signal-safe. */
THR_POLICY_COLD
void thr_policy_report_no_room(const struct thr_gate_pool *gp);

/* thr_policy_report_no_room(), once per pool. The once-test is inline: with
 * it out of line, the register choices GCC made around the call cost 3-4
 * instructions per gated open+close (tests/bench shim-instructions). */
static inline void thr_policy_no_room(struct thr_gate_pool *gp)
{
	if (!__atomic_exchange_n(&gp->room_reported, 1, __ATOMIC_RELAXED))
		thr_policy_report_no_room(gp);
}

#endif
