/* freeze.h - keeps a fork (or a spawn) and other threads' closes apart.
 * While a thread copies the process, and the kernel copies its descriptor
 * table, and until the child co-holds what it inherits, no other thread may
 * be between taking a descriptor's entry out of the table and closing it:
 * the child would get the descriptor and no slot. Closes mark a window
 * with plain stores; a fork waits for the windows in flight and holds new
 * ones off. Everything here is async-signal-safe: no allocation, no locks
 * but the fork's own word, on which closes wait with a futex. */
#ifndef THR_FREEZE_H
#define THR_FREEZE_H

#include <stdbool.h>
#include <stdint.h>

/* Once, at start-up: asks the kernel for cheap cross-thread barriers
 * (membarrier), which let a close's window cost two plain stores. */
void thr_freeze_init(void);

/* The state, for the inline fast paths below; freeze.c owns it. */
#define THR_FREEZE_PLACES 1024
extern uint32_t thr_freeze_windows_[THR_FREEZE_PLACES]; /* 1 while its
                                 thread is in a window */
extern int thr_freeze_forker_;   /* tid of the thread forking, 0: none */
extern bool thr_freeze_expedited_; /* membarrier: a window is plain stores */
extern __thread int thr_freeze_place_; /* this thread's index + 1; 0 none
                                          yet, -1 past the table */
extern unsigned thr_freeze_forks_; /* forks done, see thr_freeze_gen() */

void thr_freeze_close_begin_slow(void);
void thr_freeze_close_end_slow(void);

/* Opens the calling thread's window around taking tracked descriptors'
 * entries out and closing them; waits first while another thread forks.
 * Pair with thr_freeze_close_end() on the same thread. */
static inline void thr_freeze_close_begin(void)
{
	int p = thr_freeze_place_;
	if (__builtin_expect(p > 0 && thr_freeze_expedited_, 1)) {
		__atomic_store_n(&thr_freeze_windows_[p - 1], 1,
		                 __ATOMIC_RELAXED);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		if (__builtin_expect(!__atomic_load_n(&thr_freeze_forker_,
		                                      __ATOMIC_ACQUIRE), 1))
			return;
		__atomic_store_n(&thr_freeze_windows_[p - 1], 0,
		                 __ATOMIC_RELEASE);
	}
	thr_freeze_close_begin_slow();
}

static inline void thr_freeze_close_end(void)
{
	int p = thr_freeze_place_;
	if (__builtin_expect(p > 0, 1))
		__atomic_store_n(&thr_freeze_windows_[p - 1], 0,
		                 __ATOMIC_RELEASE);
	else
		thr_freeze_close_end_slow();
}

/* Before fork, _Fork, clone, posix_spawn or popen: waits for the windows
 * in flight and makes new ones wait, until thr_freeze_fork_end(), which
 * the parent calls once the child co-holds what it inherited (or the call
 * failed). One fork at a time; another thread's waits for this one. */
void thr_freeze_fork_begin(void);
void thr_freeze_fork_end(void);

/* In a fork child: nothing is frozen there, and the threads the windows
 * were kept for are gone. */
void thr_freeze_child(void);

/* At a thread's end: its window's place is free for another thread. */
void thr_freeze_thread_end(void);

/* Counts forks done: an open whose call spanned one may have given its
 * descriptor to the child (see thr_freeze_children_since()). It moves
 * while the fork is frozen still, so an open that attaches its entry in a
 * window, and sees it unmoved since before its call, was copied by no
 * fork the parent's co-holds missed. */
static inline unsigned thr_freeze_gen(void)
{
	return __atomic_load_n(&thr_freeze_forks_, __ATOMIC_ACQUIRE);
}

/* Has a fork been done since gen, as seen after a store that the forker's
 * scan of the table (made after it counted the fork) must see otherwise?
 * The pair is a store-load on each side: the forker's membarrier after
 * counting makes a compiler barrier enough here. Async-signal-safe. */
static inline bool thr_freeze_moved(unsigned gen)
{
	if (thr_freeze_expedited_)
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	else
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return thr_freeze_gen() != gen;
}

/* How many of the latest forks' children are remembered for late
 * co-holds (thr_freeze_children_since()). */
#define THR_FREEZE_REMEMBERED 16

/* The children of forks begun after gen (thr_freeze_gen() before an open)
 * and done by now, after waiting for one in progress: up to max pids into
 * ret. Returns how many, or -1 when more forks went by than are
 * remembered. */
int thr_freeze_children_since(unsigned gen, int *ret, int max);

/* After the fork, in the parent and frozen still: its child's pid, for
 * thr_freeze_children_since(), and one more fork done. */
void thr_freeze_note_child(int pid);

#endif
