/* pool.h - named, system-wide, crash-safe, fair counting semaphores ("pools").
 * The engine under the shim, the tools and the public API. Functions return 0
 * or a negative errno and never touch errno, never print and never exit. */
#ifndef THR_POOL_H
#define THR_POOL_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "poolname.h"
#include "proc.h"

#define THR_POOL_TARGET_MAX 63  /* what a record keeps of its target */
#define THR_POOL_PROCS 1024     /* processes a pool has entries for */
#define THR_POOL_WAITERS 1024   /* callers it can queue at once */
#define THR_POOL_ERR_LEN 256
#define THR_POOL_LIMIT_MAX 1024 /* the largest limit a pool can have */

struct thr_pool; /* a process's handle on one pool; not shared across fork */

/* How thr_pool_open() creates or attaches. */
struct thr_pool_opts {
	uint32_t limit;         /* limit for a new pool, 1..THR_SLOTS */
	bool from_config;       /* limit is what a config asks for: a new pool
	                           records it as the config's; an existing one
	                           takes it only when it differs from what a
	                           config last asked for, so that an
	                           operator's thr_pool_set_limit() holds until
	                           the config's own limit changes (and one made
	                           before any config spoke holds too) */
	bool create;            /* create the pool when it does not exist */
	mode_t mode;            /* permissions of a new segment; 0 means 0600 */
	gid_t gid;              /* group of a new segment, when has_gid */
	bool has_gid;
	uid_t owner;            /* expected owner of an existing segment, when
	                           has_owner; otherwise the effective uid */
	bool has_owner;
	const char *dir;        /* NULL means /dev/shm */
	bool readonly;          /* map read-only, for observers: only
	                           thr_pool_snapshot() and thr_pool_close() may
	                           then be called; the owner check is skipped */
};

enum thr_pool_mode {
	THR_POOL_WAIT,          /* block until a slot is free */
	THR_POOL_TRY,           /* fail at once with -EAGAIN, counted as refused */
	THR_POOL_DEADLINE,      /* block until deadline, then -ETIMEDOUT */
	THR_POOL_OBSERVE,       /* like TRY, but a full pool is counted as "over" */
};

struct thr_pool_req {
	enum thr_pool_mode mode;
	struct timespec deadline; /* CLOCK_MONOTONIC, for THR_POOL_DEADLINE */
	int fd;                 /* recorded with the holder; -1 if none */
	const char *target;     /* recorded with the slot; cut to 63 bytes; NULL ok */
	size_t target_len;      /* its length if the caller knows it (saves a
	                           strnlen on the fast path), else 0 */
	bool restart;           /* a signal whose handler has SA_RESTART does
	                           not end the wait, as the kernel restarts a
	                           system call it interrupts: the wait goes on
	                           from its place in the queue once the handler
	                           has run (all handlers that run, when several
	                           signals come at once) */
	struct thr_pool_interrupt *interrupt; /* NULL: the engine runs the
	                           handlers of a signal that ends a wait itself;
	                           else it hands them to the caller, see below */
	const struct thr_pool_interrupt *resume; /* NULL, or an interrupt
	                           whose wait goes on: it queues again at the
	                           place it gave up */
	bool check_own;         /* rather than wait, return -EEXIST when this
	                           process holds slots here, so that the caller
	                           can look at them first (a descriptor closed
	                           behind its back keeps a slot nobody uses);
	                           then ask again without */
	bool detect_deadlock;   /* rather than wait for ever, return -EDEADLK
	                           when nobody could let a slot go: see
	                           struct thr_pool_deadlock */
	bool per_thread;        /* judge that by threads (an event loop's
	                           connections, which the thread that made
	                           them closes) rather than by processes */
	bool sole_thread;       /* the caller's process has one thread: by
	                           processes, only then does what it holds
	                           count as stuck while it waits */
	struct thr_pool_deadlock *deadlock; /* filled in with -EDEADLK; may
	                           be NULL */
};

/* Why a wait could never end: the pool is full, and either the waiter
 * itself holds limit slots of it (a process that needs two files of a pool
 * of one, an event loop that opens more connections than the limit:
 * neither can let one go while it waits), or every held slot is held by a
 * waiter in this queue itself (several such processes, each holding one).
 * The waiter is the thread with req->per_thread, else the process, and
 * then only one with no other thread (sole_thread), since another thread
 * may close what one opened (libuv's pool reads and closes files on other
 * threads than the one that opened them): such a wait is left to wait. */
struct thr_pool_deadlock {
	uint32_t mine;          /* slots the waiting thread holds */
	uint32_t limit;         /* the pool's limit then */
	bool cycle;             /* the second case, not the first */
};

/* A wait never lets a signal handler run while it has a place in the
 * queue, since a handler may leave by longjmp and the place would then be
 * granted a slot nobody gives back. It keeps signals blocked (but those a
 * fault raises) and looks for pending ones between naps; when one has a
 * handler, it gives its place up (a slot granted meanwhile goes back too),
 * and only then lets the handlers run. A caller that holds things of its
 * own around the wait (the shim's other slots, its guard) asks for that
 * last step itself with req->interrupt: acquire then returns -EINTR with
 * pending set and the signals still blocked; the caller lets go of what it
 * holds and calls thr_pool_interrupt_deliver(). */
struct thr_pool_interrupt {
	bool pending;           /* the signals are still blocked */
	bool restart;           /* every handler about to run has SA_RESTART
	                           and the request asked for restart: ask
	                           again with req->resume pointing here */
	sigset_t mask;          /* the caller's mask, to restore */
	uint64_t ticket;        /* the place given up */
	uint64_t since_ns;      /* when it first queued, kept across resumes */
	uint64_t next_tick_ns;  /* when the next look for dead holders is due */
	bool no_room;           /* out: the pool's tables had no room for the
	                           caller, who waited for some (see
	                           thr_pool_acquire()) */
};

/* Restores the caller's mask saved in intr, so that the pending signals'
 * handlers run now (one may not return). Returns intr->restart. */
bool thr_pool_interrupt_deliver(struct thr_pool_interrupt *intr);

/* Reads of one pool at one moment, for throttlectl and the API. A record's
 * process is judged as a reclaim would judge it (thr_proc_judge()) just
 * after the copy: a dead one's record stays in the tables, and counted in
 * in_use or waiting, until the engine's next reclaim takes it back. */
struct thr_pool_holder_info {
	pid_t pid;
	int fd;
	uint32_t slot;          /* co-holders of one slot share this */
	uint64_t held_ms;
	char target[64];
	enum thr_proc_verdict process; /* is the holder alive? */
	char comm[THR_PROC_COMM_LEN]; /* its command name; "" unless alive */
};

struct thr_pool_waiter_info {
	pid_t pid;
	int fd;
	uint64_t waited_ms;
	char target[64];
	enum thr_proc_verdict process; /* is the waiter alive? */
	char comm[THR_PROC_COMM_LEN]; /* its command name; "" unless alive */
};

/* Where a pool's limit came from, as the segment records it. */
enum thr_pool_limit_source {
	THR_POOL_LIMIT_CREATED = 0, /* whoever created the pool gave it, and
	                           nothing has changed it since */
	THR_POOL_LIMIT_CONFIG = 1, /* a config's: an open with from_config
	                           created the pool or brought a new limit */
	THR_POOL_LIMIT_SET = 2, /* thr_pool_set_limit(): an operator's
	                           (throttlectl set-limit) or a program's */
};

#define THR_POOL_HIST_BUCKETS 32 /* a snapshot's wait histogram */

struct thr_pool_snapshot {
	char name[THR_POOL_NAME_MAX + 1];
	uint32_t limit, in_use, waiting, peak; /* as the segment counts them */
	enum thr_pool_limit_source limit_source; /* where limit came from */
	uint32_t config_limit;  /* what a config last asked for; 0 if none */
	uint32_t dead_in_use;   /* of in_use: slots every holder of which is
	                           judged dead */
	uint32_t dead_waiting;  /* of waiting: waiters judged dead */
	uint64_t granted, timeouts, refused, over, reclaimed, handoffs, wakes,
		interrupted, repairs;
	uint64_t wait_hist[THR_POOL_HIST_BUCKETS]; /* bucket b counts grants
	                           that waited below 2^b microseconds (the
	                           last: all longer ones too); a grant without
	                           a wait counts in bucket 0 */
	uint64_t wait_ns;       /* those waits added up, in nanoseconds */
	size_t nholders, nwaiters;
	struct thr_pool_holder_info *holders; /* malloc'd; thr_pool_snapshot_free */
	struct thr_pool_waiter_info *waiters;
};

/* thr_pool_name_is_valid() and THR_POOL_NAME_MAX, the rule for pool names,
 * are in poolname.h (included above), which config/ shares. */

#define THR_POOL_DIR "/dev/shm"         /* where segments are by default */
#define THR_POOL_SEGMENT_PREFIX "throttle." /* a segment's file name: this,
                                           then the pool's name */

/* Writes the path of pool name's segment, <dir>/throttle.<name> (dir NULL
 * means THR_POOL_DIR), into out, len bytes. Does not check the name.
 * Returns 0 or -ENAMETOOLONG. Never blocks; not async-signal-safe
 * (snprintf). */
int thr_pool_segment_path(const char *name, const char *dir, char *out,
                          size_t len);

/* Opens or creates the pool name (segment <dir>/throttle.<name>). Creation is
 * race-free: the segment is built under a temporary name and linked into
 * place, so nobody maps a half-built one. Returns 0 and *ret_pool, or:
 * -EINVAL bad name or limit; -ENOENT absent and !opts->create; -EPERM owned by
 * an unexpected user; -EPROTO another layout version; -EBADMSG truncated or
 * corrupted; other -errno from the system. On error, err (THR_POOL_ERR_LEN
 * bytes, may be NULL) holds one sentence naming the pool and the reason.
 * Blocks briefly on a busy pool lock. Not async-signal-safe (allocates). */
int thr_pool_open(const char *name, const struct thr_pool_opts *opts,
                  struct thr_pool **ret_pool, char *err);

/* Unmaps and frees the handle; slots this process holds stay held (they are
 * the process's, not the handle's) until released or the process dies. */
void thr_pool_close(struct thr_pool *pool);

const char *thr_pool_name(const struct thr_pool *pool);

/* The descriptor of a slot the process holds for itself, not for a
 * descriptor (the C API, throttlectl run and its command): no close ends
 * it, and an exec keeps it, as the process is the same. A record with -1
 * is one whose descriptor is not known yet (an open under way). */
#define THR_POOL_FD_PROCESS (-2)

/* Hold handles fit in this many bits, so that a caller may pack one with
 * other bits into a word. */
#define THR_POOL_HOLD_BITS 22

/* Takes a slot as req->mode says. Returns 0 and *ret_hold, a holder record for
 * thr_pool_release(), or: -EAGAIN full (TRY, OBSERVE); -ETIMEDOUT deadline
 * passed (a deadline already past waits not at all, one too far to reach
 * waits forever); -EINVAL a DEADLINE whose tv_nsec is outside 0..999999999,
 * found only when the call would wait, as sem_timedwait() does; -EINTR a
 * signal handler ran while waiting (see req->restart); -EBADMSG the segment
 * is corrupted; -ENOLCK the pool lock is held by a live process for
 * seconds (2 s if it is stopped, a minute if it runs), or by the same one
 * as when last found so, which this process does not wait for again;
 * -EEXIST (req->check_own) and -EDEADLK (req->detect_deadlock) instead of
 * a wait, as they say; -EALREADY at once, taking nothing, when called
 * from a signal handler that interrupted this thread
 * inside a pool's lock (its own lock cannot be taken, nor another's held
 * while waiting). Served first come, first served: while anyone waits,
 * nobody takes a free slot past them. A full pool first has its dead
 * holders reclaimed. Tables that are full (more processes use the pool at
 * once than it has entries for, after those of idle ones are freed; more
 * wait than it has places) are waited out, in naps, by WAIT and DEADLINE
 * (intr->no_room says so) and count as a full pool for TRY and OBSERVE:
 * they never let a call through. Blocks (except TRY and OBSERVE). Not async-signal-safe
 * otherwise: the -EALREADY check is what a handler may rely on. */
int thr_pool_acquire(struct thr_pool *pool, const struct thr_pool_req *req,
                     uint32_t *ret_hold);

/* The process exits (exit(), not _exit()): every wait of its threads ends
 * with -ECANCELED, now or within a tick, and none begins. An exit may wait
 * for those threads (node's joins its libuv threads), and a slot they wait
 * for may be one the process holds until it is gone. Async-signal-safe. */
void thr_pool_end_waits(void);

/* The calling thread begins (begins) or ends joining thread: a wait of
 * thread's that could end only by the joiner's own slots (it holds every
 * slot of the pool) ends with -ECANCELED, since the joiner is stopped in
 * the join. Async-signal-safe (pthread_join is not, but this is). */
void thr_pool_joining(pthread_t thread, bool begins);

/* After a longjmp out of an engine call on this thread (a signal handler
 * that left a call while it waited for a pool's lock): forgets that the
 * thread was inside a lock, which would otherwise make its later acquires
 * return -EALREADY. Async-signal-safe. A longjmp out of the lock's few
 * instructions of holding leaves the lock held by a live process, which
 * others then treat as stuck. */
void thr_pool_forget_locks(void);

/* The pid of the process that holds the pool's lock now, or 0: for a
 * message on a lock found stuck. Reads without the lock. */
pid_t thr_pool_lock_owner(const struct thr_pool *pool);

/* Gives back this process's holder record hold. The slot is freed when its
 * last holder lets go; a free slot goes straight to the oldest waiter, with
 * one wake. Returns 0, or -ESTALE if hold is not a record of this process
 * (already released, or reclaimed). Async-signal-safe and safe between fork
 * and exec: no allocation, no stdio, no process-local locks. */
int thr_pool_release(struct thr_pool *pool, uint32_t hold);

/* Makes process pid a co-holder of the slot of this process's record hold
 * (for a fork or spawned child), so the slot stays held until both let go;
 * its record names pid's descriptor fd. Idempotent: a second call for the
 * same pid returns the same record, naming what it named. Returns 0 and
 * *ret_hold, -ESTALE if hold is not live, -ESRCH if pid is gone, -EACCES
 * if /proc hides it (hidepid), -ENOSPC. Reads /proc; not
 * async-signal-safe. */
int thr_pool_cohold(struct thr_pool *pool, uint32_t hold, pid_t pid, int fd,
                    uint32_t *ret_hold);

/* Takes back record hold that thr_pool_cohold() made for process pid, when
 * pid turned out to have closed that descriptor first: its own release came
 * before the record existed. Returns 0, or -ESTALE if hold is not a live
 * record of pid's (pid released it itself). Not async-signal-safe. */
int thr_pool_uncohold(struct thr_pool *pool, uint32_t hold, pid_t pid);

/* Finds this process's record on the slot of record hold (which may belong
 * to the parent it was forked from), creating it, naming our descriptor fd,
 * if the parent has not yet. Returns 0 and *ret_hold, or -ESTALE if the
 * slot is no longer held. */
int thr_pool_adopt(struct thr_pool *pool, uint32_t hold, int fd,
                   uint32_t *ret_hold);

/* Records fd as the descriptor of this process's record hold (open()
 * learns its fd only after the slot is taken). Returns 0 or -ESTALE.
 * Async-signal-safe: one store to our own record. */
int thr_pool_set_fd(struct thr_pool *pool, uint32_t hold, int fd);

/* Copies what the slot of this process's record hold is held for (a
 * path as opened, or an address) into buf, NUL-terminated, cut to len and
 * to what the record keeps (THR_POOL_TARGET_MAX bytes: a target that long
 * may have been cut). Returns its length, or -ESTALE if
 * hold is not this process's. Reads without the lock; keeps errno. */
int thr_pool_target(struct thr_pool *pool, uint32_t hold, char *buf,
                    size_t len);

/* The records this very process (same pid and start time, so across exec
 * too) holds in pool: up to max handles and their descriptors. Returns how
 * many, or -errno. For the shim after exec; not async-signal-safe. */
int thr_pool_held(struct thr_pool *pool, uint32_t *ret_holds, int *ret_fds,
                  size_t max);

/* The same for the live process pid (a parent, say), without registering
 * anything; pid is read from /proc only if the tables name it. Returns how
 * many, -ESRCH if pid is gone, -EACCES if /proc hides it, or -errno. */
int thr_pool_held_by(struct thr_pool *pool, pid_t pid, uint32_t *ret_holds,
                     int *ret_fds, size_t max);

/* Sets the limit, 1..THR_POOL_LIMIT_MAX, and records it as THR_POOL_LIMIT_SET: it
 * holds against later opens with from_config until the config's own limit
 * changes. Growing hands the new slots to waiters at once; shrinking
 * revokes nothing: in_use drains to the new limit. Returns 0, -EINVAL for
 * a limit out of range, or -errno of registering or of the lock (as
 * thr_pool_acquire()). Blocks briefly on the pool lock; keeps errno; not
 * async-signal-safe. */
int thr_pool_set_limit(struct thr_pool *pool, uint32_t limit);

/* Takes back the slots and queue places of dead processes (killed, zombies,
 * or a pid reused by another process). Returns how many slots came back, or
 * -errno. Reads /proc; blocks briefly. */
int thr_pool_reclaim(struct thr_pool *pool);

/* Copies counters, holders and waiters without taking the pool lock, so it
 * never disturbs or waits for users, then judges their processes from
 * /proc (a few us each, which also gives their command names) without
 * writing anything: fit for a read-only
 * handle. Where this process cannot judge any (no /proc of its own pid
 * namespace), each is THR_PROC_CANNOT_JUDGE. Returns 0 or -ENOMEM /
 * -EBADMSG. */
int thr_pool_snapshot(struct thr_pool *pool, struct thr_pool_snapshot *ret);
void thr_pool_snapshot_free(struct thr_pool_snapshot *snap);

/* The counters of a snapshot only, as the segment counts them (in_use and
 * waiting include what dead processes still have; dead_in_use and
 * dead_waiting are 0, and there are no holders or waiters: nothing to
 * free): the header copied without the lock, no table, no /proc. For
 * throttle_info(). Returns 0 or -ENOMEM / -EBADMSG; keeps errno. */
int thr_pool_counters(struct thr_pool *pool, struct thr_pool_snapshot *ret);

/* Removes the segment name; processes attached keep using theirs. */
int thr_pool_unlink(const char *name, const char *dir);

#ifdef THR_TEST_HOOKS
/* Test builds only: called at named steps inside acquire and release (while
 * holding the pool lock, mid-update), so a test can stop and kill there. */
extern void (*thr_pool_test_step)(const char *step);
#endif

#endif
