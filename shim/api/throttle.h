/* throttle.h - the public C API of libthrottle: named, system-wide counting
 * semaphores ("pools") that a program takes and gives back itself, the same
 * pools the preloaded shim gates open() and connect() through. Link with
 * -lthrottle (pkg-config throttle). Nothing here prints, exits or changes
 * errno on success.
 *
 * Conventions, for every function below unless it says otherwise:
 * - returns 0 on success, or -1 with errno set (as sem_wait() does);
 * - thread safe: one handle may be used by many threads at once;
 * - not async-signal-safe: do not call from a signal handler;
 * - slots belong to the process, not to the handle or the thread: another
 *   thread of the process may release a slot one thread took, through the
 *   same handle. A process that dies (even by SIGKILL) gives its slots back
 *   by itself: the next acquire that finds the pool full, or a waiter's
 *   periodic check, takes them back;
 * - fork: the child starts with no slots of its own, and may use the
 *   parent's handles (its own acquires and releases); the parent's slots
 *   stay the parent's, and a release in the child fails with EPERM;
 * - exec: handles are gone with the image; slots held then stay held until
 *   the process ends, except in pools the preloaded shim's config gates,
 *   which the shim gives back when it starts in the new image. */
#ifndef THROTTLE_H
#define THROTTLE_H

#ifdef __cplusplus
extern "C" {
#endif

/* A process's handle on one pool. */
typedef struct throttle_pool throttle_pool;

/* throttle_open() flags. */
#define THROTTLE_CREATE 1       /* create the pool with limit if absent */

#define THROTTLE_LIMIT_MAX 1024 /* the largest limit a pool can have */
#define THROTTLE_NAME_MAX 64    /* the longest pool name, in bytes */

/* Opens pool name, the segment /dev/shm/throttle.<name>. With
 * THROTTLE_CREATE an absent pool is created with limit (1..
 * THROTTLE_LIMIT_MAX, checked even when the pool exists, whose own limit
 * is then left as it is); without it, limit is ignored. A name is 1 to
 * THROTTLE_NAME_MAX bytes of letters, digits, '.', '_' and '-', but not
 * "." or "..". Where the preloaded shim already has the pool
 * open (its config names it), the handle uses the shim's own, so that one
 * process takes part in a pool once. Returns the handle, or NULL with
 * errno: EINVAL bad name, flags or limit; ENOENT absent and no
 * THROTTLE_CREATE; EPERM owned by another user; EPROTO made by another
 * version of libthrottle; EBADMSG corrupted; ENOMEM; others from the
 * system (EACCES, ...). Blocks briefly on a busy pool's lock. */
throttle_pool *throttle_open(const char *name, unsigned limit, int flags);

/* Takes one slot, waiting as long as it takes. Waiters are served first
 * come, first served. errno: EINTR a signal handler ran while it waited
 * (also for handlers installed with SA_RESTART, as sem_wait() does; the
 * wait's place in the queue is given up first); EDEADLK the wait could
 * never end (this process has one thread and holds every slot of the pool,
 * or every slot is held by processes that wait in this pool's queue
 * themselves), refused at once; ENOLCK the pool's lock is held for seconds
 * by a live process; EBADMSG the pool is corrupted; ECANCELED the process
 * is exiting (exit() was called: waits of its other threads end so);
 * EINVAL pool is NULL. */
int throttle_acquire(throttle_pool *pool);

/* Takes one slot if one is free now and nobody waits. Never blocks (but
 * briefly on a busy pool's lock). errno: EAGAIN the pool is full; and as
 * throttle_acquire() but EINTR and EDEADLK. */
int throttle_try_acquire(throttle_pool *pool);

/* throttle_acquire(), giving up after timeout_ms milliseconds (0: as
 * throttle_try_acquire(), but counted as a timeout). errno: ETIMEDOUT the
 * time passed with no slot (also where the wait could never end: no
 * EDEADLK here, as with sem_timedwait()); and as throttle_acquire(). */
int throttle_acquire_timeout(throttle_pool *pool, unsigned long timeout_ms);

/* Gives back one slot this process took through this handle; the oldest
 * waiter gets it at once. Never blocks for long. errno: EPERM this process
 * holds no slot taken through this handle (never took one, released them
 * all, or is a fork child of the process that took them); EINVAL pool is
 * NULL. */
int throttle_release(throttle_pool *pool);

/* A pool's counters at one moment, read without taking its lock. A dead
 * process's slots are counted in in_use until something takes them back. */
struct throttle_info {
	unsigned limit;         /* slots the pool has */
	unsigned in_use;        /* slots held now, by every process */
	unsigned waiting;       /* callers queued now */
	unsigned peak;          /* the most slots ever held at once */
	unsigned long long granted;  /* slots ever given */
	unsigned long long timeouts; /* waits that ran out of time */
	unsigned long long refused;  /* tries that found the pool full */
};

/* Fills *info. errno: EINVAL pool or info is NULL; ENOMEM; EBADMSG. */
int throttle_info(throttle_pool *pool, struct throttle_info *info);

/* Sets the pool's limit, for every process, 1..THROTTLE_LIMIT_MAX.
 * Growing gives the new slots to waiters at once; shrinking takes nothing
 * back: in_use drains to the new limit. errno: EINVAL bad limit or NULL
 * pool; ENOLCK; EBADMSG. */
int throttle_set_limit(throttle_pool *pool, unsigned limit);

/* Frees the handle (NULL is ignored). Slots still held through it stay
 * held until the process dies: close only when none is. Never fails. */
void throttle_close(throttle_pool *pool);

/* The library's version, "MAJOR.MINOR.PATCH". Async-signal-safe. */
const char *throttle_version(void);

#ifdef __cplusplus
}
#endif

#endif
