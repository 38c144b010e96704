/* flight.h - the gated calls in progress on this thread. Their tickets (the
 * slots a call has taken so far) live here rather than on the stack, with
 * the stack pointer of the hook that made them, so that a call that a
 * signal handler left by longjmp, or a cancelled thread, is found later and
 * its slots given back. Everything here is async-signal-safe: no allocation,
 * no locks, no stdio. */
#ifndef THR_FLIGHT_H
#define THR_FLIGHT_H

#include <stdbool.h>
#include <stdint.h>

#include "fdtable.h"
#include "freeze.h"
#include "guard.h"

#define THR_FLIGHT_MAX_HOLDS 8  /* pools one call can take a slot in */

/* Slots taken for one call, in one pool each: those the descriptor will
 * keep go straight into a description reserved for it, the rest here. */
struct thr_gate_ticket {
	thr_fd_entry d;                 /* the descriptor's entry to be: a
	                                   description reserved for the holds
	                                   kept on it, a direct hold, or 0 */
	uint16_t ncall;                 /* holds for the call only: hold = call,
	                                   or the description table was full */
	bool socket;                    /* for connect(), not open() */
	bool stream;                    /* for fopen()/freopen() */
	bool folder;                    /* for a folder: only pools with
	                                   folders = yes take a slot */
	unsigned gen;                   /* thr_freeze_gen() when the call
	                                   began: a fork since may have
	                                   copied its descriptor */
	thr_fd_entry donor;             /* freopen: the stream's old entry,
	                                   whose holds the new file may take
	                                   over (thr_gate_freopen_begin), or 0 */
	uint16_t pool[THR_FLIGHT_MAX_HOLDS]; /* those holds: index of the pool */
	uint32_t hold[THR_FLIGHT_MAX_HOLDS]; /* and the hold handle in it */
};

/* Calls nested deeper than this (signal handlers making gated calls
 * inside gated calls, four deep) go through ungated. */
#define THR_FLIGHT_MAX 4

struct thr_flight {
	uintptr_t sp;           /* thr_flight_sp() in its hook: a later call
	                           whose own is not below it (on the same
	                           stack) cannot be running inside this one,
	                           so this one was left */
	int guard;              /* thr_guard_depth when the call began */
	struct thr_gate_ticket t;
};

struct thr_flights {
	unsigned depth;         /* calls in progress, innermost last */
	bool registered;        /* the thread-exit handler knows this thread */
	struct thr_flight f[THR_FLIGHT_MAX];
};
extern __thread struct thr_flights thr_flights_;

/* Where the hook it is inlined into was called from: the caller's stack
 * pointer (the hook's canonical frame address), the same for every hook
 * called from one place in the program, whatever each hook's own frame
 * size, and through tail calls. A call running inside another (a signal
 * handler's, on the same stack) has a lower one. Inline it into the
 * exported hook itself and pass it down. */
static inline __attribute__((always_inline)) uintptr_t thr_flight_sp(void)
{
	return (uintptr_t)__builtin_dwarf_cfa();
}

/* Is any call in progress (or left) on this thread? One load. */
static inline bool thr_flight_any(void)
{
	return thr_flights_.depth != 0;
}

/* Gives back the slots of the calls on this thread that were left by a
 * longjmp: those not running below the caller, whose stack pointer (the
 * hook's) is sp. Async-signal-safe. */
void thr_flight_sweep_slow(uintptr_t sp);

static inline void thr_flight_sweep(uintptr_t sp)
{
	if (__builtin_expect(thr_flight_any(), 0))
		thr_flight_sweep_slow(sp);
}

struct thr_gate_ticket *thr_flight_begin_slow(uintptr_t sp);
bool thr_flight_end_slow(struct thr_gate_ticket *t);

/* Fills in what a sweep reads of a new call's ticket. */
static inline struct thr_gate_ticket *thr_flight_start(struct thr_flight *f,
                                                       uintptr_t sp)
{
	f->sp = sp;
	f->guard = thr_guard_depth;
	f->t.d = 0;
	f->t.ncall = 0;
	f->t.donor = 0;
	f->t.gen = thr_freeze_gen();
	return &f->t;
}

/* A new call's ticket, empty, after a sweep; NULL when calls are nested
 * THR_FLIGHT_MAX deep (the call then goes through ungated). sp: the hook's
 * stack pointer. Async-signal-safe. */
static inline struct thr_gate_ticket *thr_flight_begin(uintptr_t sp)
{
	struct thr_flights *fl = &thr_flights_;
	if (__builtin_expect(fl->depth != 0 || !fl->registered, 0))
		return thr_flight_begin_slow(sp);
	struct thr_gate_ticket *t = thr_flight_start(&fl->f[0], sp);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fl->depth = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return t;
}

/* The call whose ticket t is is over: the caller has copied what t holds
 * and hands it to the descriptor table or gives it back. Calls above it
 * were left by a longjmp inside it: their slots go back. Returns false if
 * t was swept already (its slots went back then). The entry may be reused
 * as soon as this returns. Async-signal-safe. */
static inline bool thr_flight_end(struct thr_gate_ticket *t)
{
	struct thr_flights *fl = &thr_flights_;
	unsigned d = fl->depth;
	if (__builtin_expect(d == 0 || &fl->f[d - 1].t != t, 0))
		return thr_flight_end_slow(t);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fl->depth = d - 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return true;
}

/* Makes thread exits give back their calls in flight. Called once, at
 * start-up; not async-signal-safe. */
void thr_flight_init(void);

/* Makes the calling thread's end run the shim's thread-end work (its calls
 * in flight, its place in freeze.c's table). Idempotent. */
void thr_flight_watch_thread(void);

/* Defined by the gate: gives back what ticket t holds, for a call that was
 * left, and the engine's marks of this thread with it. */
void thr_gate_abandon(struct thr_gate_ticket *t);

#endif
