/* freeze.c - a fork and other threads' closes, kept apart. Each thread that
 * closes tracked descriptors has a place in a fixed table of windows (or
 * counts in an overflow word past it); a forker announces itself in one
 * word, makes every thread's earlier stores visible with membarrier (or,
 * without it, closes pay a full fence), then waits for the windows in
 * flight. Closes that find a fork announced step back and sleep on the
 * word. Reached from close() and signal handlers: plain atomics and
 * futexes only; never allocates, never prints. */
#define _GNU_SOURCE
#include "freeze.h"

#include "flight.h"
#include "proc.h"
#include "sys.h"

#include <limits.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <string.h>


uint32_t thr_freeze_windows_[THR_FREEZE_PLACES];
int thr_freeze_forker_;
bool thr_freeze_expedited_;
__thread int thr_freeze_place_;

static uint32_t taken[THR_FREEZE_PLACES]; /* the place is a live thread's */
static uint32_t overflow;         /* threads past the table in a window */
unsigned thr_freeze_forks_;
static struct {
	unsigned gen;             /* the fork that made it */
	int pid;
} children[THR_FREEZE_REMEMBERED];

static long membarrier(int cmd)
{
	return thr_sys(SYS_membarrier, cmd, 0, 0);
}

void thr_freeze_init(void)
{
	thr_freeze_expedited_ =
		membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0;
}

/* This thread's window word, taking a place on first use; NULL past the
 * table (the overflow word counts it then). */
static uint32_t *window(void)
{
	int *place = &thr_freeze_place_;
	for (int i = 0; *place == 0 && i < THR_FREEZE_PLACES; i++) {
		uint32_t free_place = 0;
		if (__atomic_compare_exchange_n(&taken[i], &free_place, 1, false,
		                                __ATOMIC_ACQ_REL,
		                                __ATOMIC_RELAXED)) {
			*place = i + 1;
			thr_flight_watch_thread();
		}
	}
	if (*place == 0)
		*place = -1;
	return *place > 0 ? &thr_freeze_windows_[*place - 1] : NULL;
}

static void futex_wait(int *word, int val)
{
	thr_sys6(SYS_futex, (long)word, FUTEX_WAIT_PRIVATE, val, 0, 0, 0);
}

/* Marks the window open, before the forker's word is read. */
static void mark(uint32_t *w)
{
	if (w)
		__atomic_store_n(w, 1, __ATOMIC_RELAXED);
	else
		__atomic_add_fetch(&overflow, 1, __ATOMIC_RELAXED);
	if (thr_freeze_expedited_)
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	else
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void unmark(uint32_t *w)
{
	if (w)
		__atomic_store_n(w, 0, __ATOMIC_RELEASE);
	else
		__atomic_sub_fetch(&overflow, 1, __ATOMIC_RELEASE);
}

void thr_freeze_close_begin_slow(void)
{
	uint32_t *w = window();
	for (;;) {
		mark(w);
		int f = __atomic_load_n(&thr_freeze_forker_, __ATOMIC_ACQUIRE);
		if (!f || f == thr_proc_tid())
			return; /* a handler on the forking thread goes on */
		unmark(w);
		futex_wait(&thr_freeze_forker_, f);
	}
}

void thr_freeze_close_end_slow(void)
{
	unmark(thr_freeze_place_ > 0
	       ? &thr_freeze_windows_[thr_freeze_place_ - 1] : NULL);
}

/* Waits until no other thread is in a window. */
static void windows_closed(void)
{
	int mine = thr_freeze_place_ - 1;
	for (int i = 0; i < THR_FREEZE_PLACES; i++)
		while (i != mine && __atomic_load_n(&thr_freeze_windows_[i],
		                                    __ATOMIC_ACQUIRE))
			sched_yield();
	while (__atomic_load_n(&overflow, __ATOMIC_ACQUIRE) >
	       (uint32_t)(thr_freeze_place_ < 0))
		sched_yield();
}

void thr_freeze_fork_begin(void)
{
	int me = thr_proc_tid(), f = 0;
	while (!__atomic_compare_exchange_n(&thr_freeze_forker_, &f, me, false,
	                                    __ATOMIC_ACQ_REL,
	                                    __ATOMIC_ACQUIRE)) {
		futex_wait(&thr_freeze_forker_, f);
		f = 0;
	}
	if (!thr_freeze_expedited_ ||
	    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) < 0)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	windows_closed();
}

void thr_freeze_fork_end(void)
{
	__atomic_store_n(&thr_freeze_forker_, 0, __ATOMIC_RELEASE);
	thr_sys6(SYS_futex, (long)&thr_freeze_forker_, FUTEX_WAKE_PRIVATE,
	         INT_MAX, 0, 0, 0);
}

void thr_freeze_child(void)
{
	memset(thr_freeze_windows_, 0, sizeof(thr_freeze_windows_));
	memset(taken, 0, sizeof(taken));
	overflow = 0;
	thr_freeze_place_ = 0;
	__atomic_store_n(&thr_freeze_forker_, 0, __ATOMIC_RELEASE);
	thr_freeze_init(); /* the registration is the mm's: a child has none */
}

void thr_freeze_thread_end(void)
{
	int p = thr_freeze_place_;
	if (p > 0) {
		__atomic_store_n(&thr_freeze_windows_[p - 1], 0,
		                 __ATOMIC_RELEASE);
		__atomic_store_n(&taken[p - 1], 0, __ATOMIC_RELEASE);
	}
	thr_freeze_place_ = 0;
}

/* Called by the forker, frozen still: an open that read the count before
 * the fork, and attaches after the freeze, sees it moved. */
void thr_freeze_note_child(int pid)
{
	unsigned g = thr_freeze_gen() + 1;
	unsigned at = g % THR_FREEZE_REMEMBERED;
	children[at].pid = pid;
	__atomic_store_n(&children[at].gen, g, __ATOMIC_RELEASE);
	__atomic_store_n(&thr_freeze_forks_, g, __ATOMIC_RELEASE);
	/* Before the parent's scan: see thr_freeze_moved(). */
	if (!thr_freeze_expedited_ ||
	    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) < 0)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int thr_freeze_children_since(unsigned since, int *ret, int max)
{
	int f;
	while ((f = __atomic_load_n(&thr_freeze_forker_, __ATOMIC_ACQUIRE)) &&
	       f != thr_proc_tid())
		futex_wait(&thr_freeze_forker_, f);
	unsigned now = thr_freeze_gen();
	if (now - since > THR_FREEZE_REMEMBERED)
		return -1;
	int n = 0;
	for (unsigned g = since + 1; g - since <= now - since && n < max; g++)
		if (__atomic_load_n(&children[g % THR_FREEZE_REMEMBERED].gen,
		                    __ATOMIC_ACQUIRE) == g)
			ret[n++] = children[g % THR_FREEZE_REMEMBERED].pid;
	return n;
}
