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

/* Sleeps while *word == expected, at most rel (NULL: no limit). Returns 0
 * when woken (or spuriously), -EAGAIN if *word already differed, -ETIMEDOUT,
 * or -EINTR when a signal handler ran. Async-signal-safe. */
static inline int thr_futex_wait(uint32_t *word, uint32_t expected,
                                 const struct timespec *rel)
{
	int saved = errno;
	long r = syscall(SYS_futex, word, FUTEX_WAIT, expected, rel, NULL, 0);
	int e = r < 0 ? -errno : 0;
	errno = saved;
	return e;
}

/* Wakes at most n sleepers on word. Returns how many woke, or -errno.
 * Async-signal-safe. */
static inline int thr_futex_wake(uint32_t *word, int n)
{
	int saved = errno;
	long r = syscall(SYS_futex, word, FUTEX_WAKE, n, NULL, NULL, 0);
	int e = r < 0 ? -errno : (int)r;
	errno = saved;
	return e;
}

#endif
