/* layout.h - the byte layout of a pool segment, /dev/shm/throttle.<name>.
 * Every process that uses the pool maps this, so it uses fixed-width types only
 * (identical for 32- and 64-bit processes, checked by test-layout) and nothing
 * read from it may be trusted: any process with write access can scribble on it. */
#ifndef THR_LAYOUT_H
#define THR_LAYOUT_H

#include <stdint.h>

#define THR_LAYOUT_MAGIC   UINT64_C(0x314c4f4f50524854) /* "THRPOOL1" */
#define THR_LAYOUT_VERSION 3u

/* Capacities are part of the layout: changing one is a new layout version. */
#define THR_SLOTS       1024u   /* the largest limit a pool can have */
#define THR_HOLDERS     4096u   /* (slot, process) pairs: fork children co-hold */
#define THR_WAITERS     1024u   /* queued acquirers */
#define THR_PROCS       1024u   /* processes attached at once */
#define THR_TARGET_LEN  64u     /* "10.0.0.5:5432" or a path, cut to fit */
#define THR_NAME_LEN    72u     /* pool name (64) + NUL, padded */
#define THR_HIST_BUCKETS 32u    /* wait-time histogram, log2 of microseconds */
#define THR_NONE        UINT32_MAX

/* Lock word: 0 when free, else (proc index + 1); THR_LOCK_SLEEPERS is set
 * while somebody sleeps on the futex, so unlock knows whether to wake. */
#define THR_LOCK_SLEEPERS UINT32_C(0x80000000)
#define THR_LOCK_OWNER    UINT32_C(0x7fffffff)

enum thr_proc_state   { THR_PROC_FREE = 0, THR_PROC_LIVE = 1 };
enum thr_slot_state   { THR_SLOT_FREE = 0, THR_SLOT_HELD = 1 };
/* A holder record is PENDING from creation until the operation that made it
 * finishes; a repair after its creator died mid-operation drops PENDING ones.
 * RELEASING marks a release deferred because the releasing thread was
 * interrupted (a signal handler) while it held the pool lock itself. */
enum thr_holder_state { THR_HOLDER_FREE = 0, THR_HOLDER_PENDING = 1,
                        THR_HOLDER_LIVE = 2, THR_HOLDER_RELEASING = 3 };
/* The waiter state is the futex word its owner sleeps on. TIMED_OUT and
 * INTERRUPTED mark a place its owner left without the lock, whose owner was
 * stuck: the entry still counts in waiting until the next lock holder frees
 * it and counts why. */
#define THR_WAITER_SOLE 1u
enum thr_waiter_state { THR_WAITER_FREE = 0, THR_WAITER_WAITING = 1,
                        THR_WAITER_GRANTED = 2, THR_WAITER_TIMED_OUT = 3,
                        THR_WAITER_INTERRUPTED = 4 };

struct thr_shm_proc {
	uint32_t state;         /* enum thr_proc_state */
	uint32_t pid;           /* in the pid namespace named by pidns */
	uint64_t start;         /* start time, clock ticks after boot: pid + start
	                           is an identity that pid reuse cannot fool */
	uint64_t pidns;         /* inode of the pid namespace pid is a number in
	                           (its identifier's own); a checker in another
	                           namespace cannot judge this process, so it
	                           never declares it dead */
	uint32_t gen;           /* bumped whenever the entry is freed, so a cached
	                           index of a dead process is told from its successor */
	uint32_t image;         /* the number of the program image that last
	                           registered (thr_proc_image(): where the kernel
	                           put its code and stack; 0: none recorded). An
	                           exec keeps pid and start time but not this, so
	                           a lock a thread killed by an exec held inside
	                           is known */
};

struct thr_shm_slot {
	uint32_t state;         /* enum thr_slot_state; HELD counts toward in_use */
	uint32_t refs;          /* LIVE/RELEASING holder records naming this slot;
	                           derived data, recounted by a repair */
	uint64_t taken_ns;      /* CLOCK_MONOTONIC_COARSE when it was granted */
	char target[THR_TARGET_LEN]; /* what it is held for, NUL-terminated */
};

struct thr_shm_holder {
	uint32_t state;         /* enum thr_holder_state */
	uint32_t slot;          /* index into slots[], bounds-checked on every read */
	uint32_t proc;          /* index into procs[] of the holding process */
	int32_t fd;             /* the holder's descriptor number, -1 if none */
	uint32_t tid;           /* the thread that took it (its id in the
	                           process's pid namespace), or 0: any of the
	                           process's (a co-holder's record made for it
	                           by its parent). A waiter whose own thread
	                           holds every slot would wait for ever */
	uint32_t reserved;      /* alignment */
};

struct thr_shm_waiter {
	uint32_t state;         /* enum thr_waiter_state; the owner's futex word */
	uint32_t proc;          /* index into procs[] of the waiting process */
	uint32_t tid;           /* the waiting thread, as in thr_shm_holder */
	uint32_t flags;         /* THR_WAITER_SOLE: its process has no other
	                           thread, so nothing it holds can be let go
	                           while it waits */
	uint64_t ticket;        /* arrival order: the lowest WAITING ticket is served
	                           first */
	uint64_t since_ns;      /* CLOCK_MONOTONIC when it queued */
	uint32_t hold;          /* holder record handed over with GRANTED */
	int32_t fd;             /* descriptor the slot will be held for, or -1 */
	char target[THR_TARGET_LEN]; /* copied into the slot on hand-off */
};

/* Counters only grow, except the gauges in_use, waiting and limit. */
struct thr_shm_stats {
	uint64_t granted;       /* successful acquires, fast path and hand-off */
	uint64_t timeouts;      /* waits that reached their deadline */
	uint64_t refused;       /* try-acquires that found the pool full */
	uint64_t over;          /* observe-mode calls that found the pool full */
	uint64_t reclaimed;     /* slots taken back from dead holders */
	uint64_t handoffs;      /* slots passed straight from a release to a waiter */
	uint64_t wakes;         /* futex wakes sent to waiters: one per hand-off */
	uint64_t interrupted;   /* waits ended by a signal (EINTR) */
	uint64_t repairs;       /* lock recoveries after an owner died inside */
	uint64_t wait_hist[THR_HIST_BUCKETS]; /* bucket b: waits below 2^b us */
	uint64_t wait_ns;       /* the waits of wait_hist added up, in ns (a
	                           grant on the fast path adds 0): with it, the
	                           histogram's mean, which the buckets cannot give */
};

struct thr_shm_pool {
	uint64_t magic;         /* THR_LAYOUT_MAGIC, stored before the file is
	                           linked into place */
	uint32_t version;       /* THR_LAYOUT_VERSION */
	uint32_t size;          /* sizeof(struct thr_shm_pool), the whole segment */
	uint32_t nslots;        /* THR_SLOTS; with the next three, cross-checks */
	uint32_t nholders;      /* THR_HOLDERS */
	uint32_t nwaiters;      /* THR_WAITERS */
	uint32_t nprocs;        /* THR_PROCS */
	char name[THR_NAME_LEN]; /* the pool name, NUL-terminated */

	uint32_t lock;          /* robust futex lock, see THR_LOCK_*; with seq
	                           one aligned 8-byte unit, which a takeover
	                           swaps whole (lock.h) */
	uint32_t seq;           /* seqlock for readers: odd while a writer is
	                           inside; the lock's waiters read its moving as
	                           a release */
	uint32_t deferred;      /* nonzero when RELEASING holders, or waiters
	                           that left, await the lock */
	uint32_t limit;         /* at most this many slots HELD, except right after
	                           a shrink while in_use drains */
	uint32_t in_use;        /* HELD slots; derived, recounted by a repair */
	uint32_t waiting;       /* WAITING waiters, and places left but not yet
	                           freed (see thr_waiter_state); derived
	                           likewise */
	uint32_t peak;          /* highest in_use seen */
	uint32_t config_limit;  /* the limit a config last asked for (an open
	                           with from_config), 0 if none has: a config
	                           imposes its limit only when it differs, so
	                           that an operator's set-limit holds until
	                           the config's own limit changes */
	uint32_t limit_source;  /* where limit came from: enum
	                           thr_pool_limit_source of pool.h (0 its
	                           creator, 1 a config, 2 set-limit) */
	uint32_t reserved;      /* alignment */
	uint64_t next_ticket;   /* the next waiter's ticket */
	uint64_t created_ns;    /* CLOCK_REALTIME at creation, for display */
	uint64_t ticked_ns;     /* CLOCK_MONOTONIC of the last waiter's look
	                           for dead holders: one look a tick for all
	                           waiters, not one each (a thousand waiters
	                           each reading /proc for each other would
	                           be a million reads a tick) */

	struct thr_shm_stats stats;
	struct thr_shm_proc procs[THR_PROCS];
	struct thr_shm_slot slots[THR_SLOTS];
	struct thr_shm_holder holders[THR_HOLDERS];
	struct thr_shm_waiter waiters[THR_WAITERS];
};

#endif
