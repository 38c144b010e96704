/* wait.c - the queue and the signal-aware wait: queueing a caller, sleeping
 * on its futex word until granted, a deadline, a signal with a handler, the
 * process's exit or a join in vain; and leaving the queue again. A signal
 * handler never runs while the caller has a place in the queue (see struct
 * thr_pool_interrupt), and a wait never goes through unthrottled. */
#include "poolint.h"

#include "clock.h"
#include "futex.h"
#include "sys.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SLICE_NS (20 * 1000 * 1000ull) /* and for signals, with handlers */
#define ROOM_NAP_NS (20 * 1000 * 1000ull) /* a wait without a place */
#define NO_TICKET UINT64_MAX    /* an interrupt that gave up no place */

/* ---- the queue: in, and out again --------------------------------------- */

/* Queues a waiter for req: at the place resume gave up, if it asks to
 * resume, else at the back. */
int thr_pool__enqueue(struct thr_pool *pool, const struct thr_pool_req *req,
                      const struct thr_pool_interrupt *resume,
                      uint32_t *ret_waiter)
{
	struct thr_shm_pool *shm = pool->shm;
	for (uint32_t i = 0; i < THR_WAITERS; i++) {
		struct thr_shm_waiter *w = &shm->waiters[i];
		if (thr_load(&w->state) != THR_WAITER_FREE)
			continue;
		w->proc = pool->me;
		w->tid = (uint32_t)thr_proc_tid();
		w->flags = req->sole_thread ? THR_WAITER_SOLE : 0;
		if (resume && resume->ticket < shm->next_ticket) {
			w->ticket = resume->ticket;
			w->since_ns = resume->since_ns;
		} else {
			w->ticket = shm->next_ticket++;
			w->since_ns = thr_clock_ns(CLOCK_MONOTONIC);
		}
		w->hold = THR_NONE;
		w->fd = req->fd;
		thr_pool__copy_target(w->target, req->target, req->target_len);
		thr_store(&w->state, THR_WAITER_WAITING);
		shm->waiting++;
		*ret_waiter = i;
		return 0;
	}
	return -ENOSPC;
}

/* Our waiter was granted: take the holder record and free the entry. */
static int collect(struct thr_shm_pool *shm, struct thr_shm_waiter *w,
                   uint32_t *ret_hold)
{
	uint32_t h = w->hold;
	thr_store(&w->state, THR_WAITER_FREE);
	if (h >= THR_HOLDERS || shm->holders[h].slot >= THR_SLOTS)
		return -EBADMSG;
	*ret_hold = thr_pool__hold_of(h, shm->holders[h].slot);
	return 0;
}

/* cancel() without the lock, whose owner is stuck (stopped, say): our place
 * is marked left for the next lock holder to free (see
 * thr_pool__run_deferred()), unless a grant got there first. */
static int leave(struct thr_pool *pool, struct thr_shm_waiter *w, int why,
                 uint32_t *ret_hold)
{
	uint32_t st = THR_WAITER_WAITING;
	uint32_t left = why == -ETIMEDOUT ? THR_WAITER_TIMED_OUT
	                                  : THR_WAITER_INTERRUPTED;
	if (w->proc != pool->me)
		return -EBADMSG;
	if (__atomic_compare_exchange_n(&w->state, &st, left, false,
	                                __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		thr_store(&pool->shm->deferred, 1);
		return why;
	}
	return st == THR_WAITER_GRANTED ? collect(pool->shm, w, ret_hold)
	                                : -EBADMSG;
}

/* Leaves the queue after a timeout or a signal, unless a grant got there
 * first, in which case the slot is ours after all. counted: the leaving is
 * counted as a timeout or an interruption (a wait that will resume is
 * not). */
static int cancel(struct thr_pool *pool, uint32_t wi, int why, bool counted,
                  uint32_t *ret_hold)
{
	struct thr_shm_pool *shm = pool->shm;
	struct thr_shm_waiter *w = &shm->waiters[wi];
	struct thr_wakes wakes = { 0 };
	if (thr_pool__lock(pool) < 0)
		return leave(pool, w, why, ret_hold);
	int r;
	uint32_t st = thr_load(&w->state);
	if (st == THR_WAITER_GRANTED) {
		r = collect(shm, w, ret_hold);
	} else if (st == THR_WAITER_WAITING && w->proc == pool->me) {
		thr_store(&w->state, THR_WAITER_FREE);
		if (shm->waiting)
			shm->waiting--;
		if (counted && why == -ETIMEDOUT)
			shm->stats.timeouts++;
		else if (counted)
			shm->stats.interrupted++;
		r = why;
	} else {
		r = -EBADMSG; /* somebody else freed our place */
	}
	thr_pool__unlock(pool, &wakes);
	return r;
}

/* ---- the process exits -------------------------------------------------- */

/* The waits in progress in this process, by futex word, so that its exit
 * can wake them (one past the list waits for its next tick); and whether
 * it is exiting: then they end, since an exit may wait for the threads
 * that wait (node's joins its libuv threads), and a slot they wait for
 * may be one this very process holds until it is gone. */
#define NOTED_WAITS 64
static uint32_t *noted_waits[NOTED_WAITS];
static int ending;

static uint32_t **waits_note(uint32_t *word)
{
	for (int i = 0; i < NOTED_WAITS; i++) {
		uint32_t *none = NULL;
		if (__atomic_compare_exchange_n(&noted_waits[i], &none, word,
		                                false, __ATOMIC_ACQ_REL,
		                                __ATOMIC_RELAXED))
			return &noted_waits[i];
	}
	return NULL;
}

/* Wakes the waits in progress here, to look at why they might end. */
static void wake_noted(void)
{
	for (int i = 0; i < NOTED_WAITS; i++) {
		uint32_t *word = __atomic_load_n(&noted_waits[i],
		                                 __ATOMIC_ACQUIRE);
		if (word)
			thr_futex_wake(word, INT_MAX);
	}
}

bool thr_pool__exiting(void)
{
	return __atomic_load_n(&ending, __ATOMIC_ACQUIRE);
}

void thr_pool_end_waits(void)
{
	__atomic_store_n(&ending, 1, __ATOMIC_RELEASE);
	wake_noted();
}

/* ---- signals ------------------------------------------------------------ */

/* Does a handler of the program's own run for sig? Its flags into
 * *flags. */
static bool handler_of(int sig, int *flags)
{
	struct sigaction sa;
	if (sigaction(sig, NULL, &sa) < 0 || sa.sa_handler == SIG_DFL ||
	    sa.sa_handler == SIG_IGN)
		return false;
	*flags = sa.sa_flags;
	return true;
}

/* Has any signal of set a handler of the program's; into *all_restart,
 * whether every such handler has SA_RESTART. Changes errno (its caller
 * restores it). */
static bool handled(const sigset_t *set, bool *all_restart)
{
	bool any = false;
	int flags;
	*all_restart = true;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(set, sig) != 1 || !handler_of(sig, &flags))
			continue;
		any = true;
		if (!(flags & SA_RESTART))
			*all_restart = false;
	}
	return any;
}

/* Into *set, the signals the wait blocks: all but those a fault raises.
 * The kernel kills a process whose fault signal is blocked, past its
 * handler, and the wait reads the segment, which another process may have
 * truncated. So such a signal sent by kill() has its handler run at once,
 * and the wait goes on. */
static void wait_blocks(sigset_t *set)
{
	static const int faults[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTRAP,
	                              SIGSYS };
	sigfillset(set);
	for (size_t i = 0; i < sizeof(faults) / sizeof(faults[0]); i++)
		sigdelset(set, faults[i]);
}

/* Into *open, the signals that the caller's mask lets in. */
static void signals_let_in(const sigset_t *caller, sigset_t *open)
{
	sigfillset(open);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(caller, sig) == 1)
			sigdelset(open, sig);
}

/* Into *sigs, the signals of open pending for this thread or its process:
 * false if none. */
static bool signals_pending(const sigset_t *open, sigset_t *sigs)
{
	sigset_t pending;
	bool any = false;
	sigemptyset(sigs);
	if (sigpending(&pending) < 0)
		return false;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sigismember(&pending, sig) == 1 &&
		    sigismember(open, sig) == 1) {
			sigaddset(sigs, sig);
			any = true;
		}
	}
	return any;
}

/* Takes one of sigs off its queue (this thread's, else the process's) and
 * puts it back, with its siginfo, on this thread's alone: of several
 * waiting threads only one acts on a signal sent to the process, as only
 * one would run its handler. Returns it, or 0 if another thread took it
 * first. Changes errno (its caller restores it). */
static int signal_claim(const sigset_t *sigs)
{
	siginfo_t info;
	struct timespec now = { 0, 0 };
	int sig = sigtimedwait(sigs, &info, &now);
	if (sig <= 0)
		return 0;
	thr_sys6(SYS_rt_tgsigqueueinfo, getpid(), thr_proc_tid(), sig,
	         (long)&info, 0, 0);
	return sig;
}

/* Lets the pending signals in (their handlers run, or their default
 * actions), then blocks all again. */
static void signals_deliver(const sigset_t *caller, const sigset_t *all)
{
	pthread_sigmask(SIG_SETMASK, caller, NULL);
	pthread_sigmask(SIG_BLOCK, all, NULL);
}

/* What a wait does with its blocked signals, while it waits. */
struct wait_signals {
	sigset_t caller;        /* the caller's mask */
	sigset_t all;           /* what the wait blocks */
	sigset_t open;          /* what the caller lets in */
	bool handlers;          /* some signal of open has a handler: naps are
	                           then cut into slices, to see it pending */
};

/* Signals sigs are pending. Without a handler among them, their default
 * actions are let in (nothing of the program's runs) and the wait goes on:
 * -EAGAIN. Else the wait gives its place wi up (THR_NONE: it has none, it
 * waits for room), and a slot granted meanwhile too, and returns -EINTR
 * with intr filled in: the handlers run once the caller lets them in. */
static int on_signals(struct thr_pool *pool, uint32_t wi,
                      const struct thr_pool_req *req,
                      const struct wait_signals *ws, const sigset_t *sigs,
                      struct thr_pool_interrupt *intr)
{
	bool restart;
	if (!handled(sigs, &restart)) {
		signals_deliver(&ws->caller, &ws->all);
		return -EAGAIN;
	}
	if (!signal_claim(sigs))
		return -EAGAIN; /* another waiting thread of ours took it */
	restart = restart && req->restart;
	intr->ticket = NO_TICKET;
	intr->since_ns = thr_clock_ns(CLOCK_MONOTONIC);
	if (wi != THR_NONE) {
		struct thr_shm_waiter *w = &pool->shm->waiters[wi];
		uint32_t hold;
		intr->ticket = w->ticket;
		intr->since_ns = w->since_ns;
		int r = cancel(pool, wi, -EINTR, !restart, &hold);
		if (r == 0) /* granted meanwhile: held, no handler may run */
			thr_pool_release(pool, hold);
		else if (r != -EINTR)
			return r;
	}
	intr->pending = true;
	intr->restart = restart;
	return -EINTR;
}

/* Blocks the signals a wait blocks, noting the caller's mask in ws. */
static void signals_block(struct wait_signals *ws)
{
	bool restart;
	wait_blocks(&ws->all);
	pthread_sigmask(SIG_BLOCK, &ws->all, &ws->caller);
	signals_let_in(&ws->caller, &ws->open);
	ws->handlers = handled(&ws->open, &restart);
}

/* Lets the caller's mask back, unless an interrupt r leaves that to the
 * caller (thr_pool_interrupt_deliver()). */
static void signals_unblock(struct wait_signals *ws, int r,
                            struct thr_pool_interrupt *intr)
{
	if (r == -EINTR && intr->pending)
		intr->mask = ws->caller;
	else
		pthread_sigmask(SIG_SETMASK, &ws->caller, NULL);
}

/* ---- no room: a wait without a place ------------------------------------ */

/* No room in the pool's tables for this caller: more processes use the
 * pool than it has entries (and none of them is idle), or more wait than
 * it has places. It naps ROOM_NAP_NS and asks again; it never goes
 * through unthrottled. Signals and the deadline as in a wait. Returns 0
 * (ask again), -ETIMEDOUT, or -EINTR with intr filled in. */
int thr_pool__wait_for_room(struct thr_pool *pool,
                            const struct thr_pool_req *req,
                            struct thr_pool_interrupt *intr)
{
	bool has_deadline = req->mode == THR_POOL_DEADLINE;
	uint64_t deadline = has_deadline ? thr_clock_ts_ns(&req->deadline) : UINT64_MAX;
	uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
	uint64_t until = now + ROOM_NAP_NS < deadline ? now + ROOM_NAP_NS : deadline;
	struct wait_signals ws;
	sigset_t sigs;
	int r = 0, saved = errno;
	intr->no_room = true;
	if (__atomic_load_n(&ending, __ATOMIC_ACQUIRE))
		return -ECANCELED;
	signals_block(&ws);
	while (r == 0 && now < until) {
		if (signals_pending(&ws.open, &sigs) &&
		    (r = on_signals(pool, THR_NONE, req, &ws, &sigs, intr)) ==
		    -EAGAIN)
			r = 0;
		struct timespec rel = { 0, (long)(until - now) };
		if (r == 0)
			nanosleep(&rel, NULL);
		now = thr_clock_ns(CLOCK_MONOTONIC);
	}
	if (r == 0 && now >= deadline)
		r = -ETIMEDOUT;
	signals_unblock(&ws, r, intr);
	errno = saved;
	return r;
}

/* ---- joins -------------------------------------------------------------- */

/* Threads that another thread of ours is joining (pthread_join), by id,
 * and the joiner's tid. */
#define JOINED 16
static struct {
	uintptr_t thread;
	uint32_t joiner;
} joined[JOINED];

/* The tid of the thread joining this one, or 0. */
static uint32_t joiner_of_self(void)
{
	uintptr_t self = (uintptr_t)pthread_self();
	for (int i = 0; i < JOINED; i++)
		if (__atomic_load_n(&joined[i].thread, __ATOMIC_ACQUIRE) == self)
			return __atomic_load_n(&joined[i].joiner,
			                       __ATOMIC_ACQUIRE);
	return 0;
}

/* Is this thread being joined by a thread that itself holds every slot of
 * the pool? The joiner, stopped in the join, is the one that would close
 * them (node's exit joins its libuv threads, with the files its program
 * opened on its main thread still open): the wait could never end. */
static bool joined_in_vain(const struct thr_pool *pool)
{
	uint32_t joiner = joiner_of_self();
	if (!joiner)
		return false;
	const struct thr_shm_pool *shm = pool->shm;
	uint32_t theirs = 0, limit = thr_pool__limit_of(shm);
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		const struct thr_shm_holder *h = &shm->holders[i];
		theirs += thr_load(&h->state) == THR_HOLDER_LIVE &&
		          h->proc == pool->me && h->tid == joiner;
	}
	return limit && theirs >= limit;
}

void thr_pool_joining(pthread_t thread, bool begins)
{
	uintptr_t t = (uintptr_t)thread;
	for (int i = 0; i < JOINED; i++) {
		uintptr_t want = begins ? 0 : t;
		if (!__atomic_compare_exchange_n(&joined[i].thread, &want,
		                                 begins ? t : 0, false,
		                                 __ATOMIC_ACQ_REL,
		                                 __ATOMIC_RELAXED))
			continue;
		if (begins) {
			__atomic_store_n(&joined[i].joiner,
			                 (uint32_t)thr_proc_tid(),
			                 __ATOMIC_RELEASE);
			wake_noted();
		}
		return;
	}
}

/* The process is exiting, or this thread is joined in vain: a wait gives
 * its place up, as an interrupted one does, and a slot granted meanwhile
 * goes back. Returns -ECANCELED. */
static int ended(struct thr_pool *pool, uint32_t wi, uint32_t *ret_hold)
{
	uint32_t hold;
	if (cancel(pool, wi, -EINTR, true, &hold) == 0)
		thr_pool_release(pool, hold);
	return -ECANCELED;
}

/* ---- the wait ----------------------------------------------------------- */

/* The wait itself, with signals blocked all along: a handler never runs
 * while we have a place in the queue (see struct thr_pool_interrupt).
 * Pending signals are looked for between naps, which a handler makes
 * slices of SLICE_NS, so that it runs that late at most. */
static int wait_blocked(struct thr_pool *pool, uint32_t wi,
                        const struct thr_pool_req *req,
                        struct wait_signals *ws,
                        struct thr_pool_interrupt *intr, uint32_t *ret_hold)
{
	struct thr_shm_waiter *w = &pool->shm->waiters[wi];
	bool has_deadline = req->mode == THR_POOL_DEADLINE;
	uint64_t deadline = has_deadline ? thr_clock_ts_ns(&req->deadline) : UINT64_MAX;
	sigset_t sigs;
	bool restart;
	STEP("wait.queued");
	for (;;) {
		uint32_t st = thr_load(&w->state);
		if (st == THR_WAITER_GRANTED)
			return collect(pool->shm, w, ret_hold);
		if (st != THR_WAITER_WAITING)
			return -EBADMSG;
		uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
		if (now >= deadline)
			return cancel(pool, wi, -ETIMEDOUT, true, ret_hold);
		if (__atomic_load_n(&ending, __ATOMIC_ACQUIRE) ||
		    joined_in_vain(pool))
			return ended(pool, wi, ret_hold);
		if (signals_pending(&ws->open, &sigs)) {
			int r = on_signals(pool, wi, req, ws, &sigs, intr);
			if (r != -EAGAIN)
				return r;
			continue;
		}
		if (now >= intr->next_tick_ns) {
			thr_pool__recover_tick(pool);
			intr->next_tick_ns = thr_clock_ns(CLOCK_MONOTONIC) + THR_TICK_NS;
			ws->handlers = handled(&ws->open, &restart);
			continue;
		}
		uint64_t until = deadline < intr->next_tick_ns ? deadline
		                                               : intr->next_tick_ns;
		if (ws->handlers && until - now > SLICE_NS)
			until = now + SLICE_NS;
		struct timespec rel = { (time_t)((until - now) / 1000000000ull),
		                        (long)((until - now) % 1000000000ull) };
		thr_futex_wait(&w->state, THR_WAITER_WAITING, &rel);
	}
}

/* Sleeps on our own futex word until granted, waking every THR_TICK_NS to look
 * for dead holders (afresh: the seen-alive cache lasts less than a tick), so
 * a killed holder's slot comes back at the first tick after its death. The
 * ticks keep to the clock, across resumes too: signals that end naps must
 * not put them off for ever. On -EINTR with intr->pending, the signals are
 * still blocked. */
int thr_pool__wait_grant(struct thr_pool *pool, uint32_t wi,
                         const struct thr_pool_req *req,
                         const struct thr_pool_interrupt *resume,
                         struct thr_pool_interrupt *intr, uint32_t *ret_hold)
{
	struct wait_signals ws;
	int saved = errno;
	/* The first tick half a period in, so that an alarm of whole
	 * seconds set just before the call falls between two. */
	intr->next_tick_ns = resume ? resume->next_tick_ns
	                            : thr_clock_ns(CLOCK_MONOTONIC) + THR_TICK_NS / 2;
	signals_block(&ws);
	uint32_t **place = waits_note(&pool->shm->waiters[wi].state);
	int r = wait_blocked(pool, wi, req, &ws, intr, ret_hold);
	if (place)
		__atomic_store_n(place, NULL, __ATOMIC_RELEASE);
	signals_unblock(&ws, r, intr);
	errno = saved;
	return r;
}

bool thr_pool_interrupt_deliver(struct thr_pool_interrupt *intr)
{
	int saved = errno;
	intr->pending = false;
	pthread_sigmask(SIG_SETMASK, &intr->mask, NULL);
	errno = saved;
	return intr->restart;
}
