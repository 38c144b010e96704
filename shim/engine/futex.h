/* futex.h - thin wrappers over the futex system call on shared words.
 * Shared (not PRIVATE) futexes, because waiters and wakers are different
 * processes. Return 0 or -errno and leave errno as they found it. */
#ifndef THR_FUTEX_H
#define THR_FUTEX_H

#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sys.h"

/* Sleeps while *word == expected, at most rel (NULL: no limit). Returns 0
 * when woken (or spuriously), -EAGAIN if *word already differed, -ETIMEDOUT,
 * or -EINTR when a signal handler ran. Async-signal-safe. */
static inline int thr_futex_wait(uint32_t *word, uint32_t expected,
                                 const struct timespec *rel)
{
	long r = thr_sys6(SYS_futex, (long)word, FUTEX_WAIT, (long)expected,
	                  (long)rel, 0, 0);
	return r < 0 ? (int)r : 0;
}

/* Wakes at most n sleepers on word. Returns how many woke, or -errno.
 * Async-signal-safe. */
static inline int thr_futex_wake(uint32_t *word, int n)
{
	return (int)thr_sys6(SYS_futex, (long)word, FUTEX_WAKE, n, 0, 0, 0);
}

#endif
