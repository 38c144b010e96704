/* flight.c - the stack of gated calls in progress on each thread, and
 * what finds the ones a longjmp or a thread's end left behind. Reached from
 * close() and from signal handlers: no allocation, no locks, no stdio, and
 * errno kept. */
#define _GNU_SOURCE
#include "flight.h"

#include "freeze.h"
#include "guard.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>

__thread struct thr_flights thr_flights_;

static pthread_key_t thread_end_key;
static bool thread_end_known;

/* Is the caller, at sp, running on the alternate signal stack while the
 * call at fsp ran on another? Then fsp is the call the handler
 * interrupted: alive, wherever the two stacks lie. */
static bool on_other_stack(uintptr_t sp, uintptr_t fsp)
{
	stack_t ss;
	if (sigaltstack(NULL, &ss) < 0 || !(ss.ss_flags & SS_ONSTACK))
		return false;
	uintptr_t lo = (uintptr_t)ss.ss_sp, hi = lo + ss.ss_size;
	return sp >= lo && sp < hi && !(fsp >= lo && fsp < hi);
}

/* Takes the innermost call off the stack and gives back what it held. The
 * entry is copied first, so that a call a handler makes meanwhile may use
 * it. */
static void drop_top(void)
{
	struct thr_flights *fl = &thr_flights_;
	struct thr_flight left = fl->f[fl->depth - 1];
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fl->depth--;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	thr_guard_depth = left.guard;
	thr_gate_abandon(&left.t);
}

void thr_flight_sweep_slow(uintptr_t sp)
{
	struct thr_flights *fl = &thr_flights_;
	int saved = errno;
	while (fl->depth > 0) {
		uintptr_t fsp = fl->f[fl->depth - 1].sp;
		if (fsp > sp || on_other_stack(sp, fsp))
			break;
		drop_top();
	}
	errno = saved;
}

/* At a thread's end (pthread_exit, cancellation inside a blocking call):
 * whatever it still has in flight is given back. */
static void thread_ended(void *unused)
{
	int saved = errno;
	while (thr_flights_.depth > 0)
		drop_top();
	thr_freeze_thread_end();
	errno = saved;
}

void thr_flight_init(void)
{
	thread_end_known = pthread_key_create(&thread_end_key,
	                                      thread_ended) == 0;
}

void thr_flight_watch_thread(void)
{
	struct thr_flights *fl = &thr_flights_;
	if (!fl->registered && thread_end_known) {
		fl->registered = true;
		pthread_setspecific(thread_end_key, fl);
	}
}

struct thr_gate_ticket *thr_flight_begin_slow(uintptr_t sp)
{
	struct thr_flights *fl = &thr_flights_;
	thr_flight_sweep(sp);
	if (fl->depth >= THR_FLIGHT_MAX)
		return NULL;
	thr_flight_watch_thread();
	struct thr_gate_ticket *t = thr_flight_start(&fl->f[fl->depth], sp);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fl->depth++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return t;
}

bool thr_flight_end_slow(struct thr_gate_ticket *t)
{
	struct thr_flights *fl = &thr_flights_;
	unsigned i = 0;
	while (i < fl->depth && &fl->f[i].t != t)
		i++;
	if (i == fl->depth)
		return false; /* swept already: its slots went back */
	/* Calls above it were left by a longjmp inside it. */
	while (fl->depth > i + 1)
		drop_top();
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fl->depth = i;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return true;
}
