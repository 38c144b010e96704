/* fdtable.h - which descriptors of this process hold pool slots. Read and
 * written from close(), dup2() and friends, which may run in signal handlers
 * and between fork and exec: everything here is atomics on memory mapped
 * once at start-up; no allocation, no locks, no stdio. */
#ifndef THR_FDTABLE_H
#define THR_FDTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define THR_FD_MAX_HOLDS 8      /* pools one call can take a slot in */
#define THR_FD_DESCS 4096       /* gated open descriptions per process */

/* A descriptor's entry in the table: 0 for none, a description's id
 * (1..THR_FD_DESCS), or a direct hold (THR_FD_DIRECT set, see below). One
 * word, so that close() takes it with one atomic exchange. */
typedef uint32_t thr_fd_entry;

/* One open file description (an open() or socket), shared by its dups. */
struct thr_fd_desc {
	uint32_t refs;          /* descriptors naming it here; 0 when free */
	uint16_t n;             /* pools it holds slots in */
	uint8_t socket;         /* made by connect(), not open() */
	uint8_t stream;         /* opened by fopen()/freopen(): a FILE owns it */
	int32_t fd;             /* the descriptor its pool records name, -1
	                           before the call returns: exec keeps the
	                           slots only while that one stays open */
	int32_t stream_fd;      /* the name the FILE owns, -1 when none is or
	                           that one went: fcloseall() (which leaves
	                           descriptors open) drops only that name, so
	                           dups keep the slots */
	uint16_t pool[THR_FD_MAX_HOLDS]; /* index into the gate's pools */
	uint32_t hold[THR_FD_MAX_HOLDS]; /* thr_pool hold handle in each */
	uint64_t ino;           /* a socket's inode, 0 if unknown: a number
	                           another socket took after a close the shim
	                           did not see is not this connection */
};

/* The tables, for the inline functions below; fdtable.c owns them. */
struct thr_fdtable {
	thr_fd_entry *fds;      /* fd -> its entry, 0 for none */
	int nfds;
	int high;               /* one more than the highest fd attached */
	uint32_t next_free;     /* where to look for a free description: a
	                           hint, kept low so that the descriptions in
	                           use stay in a few cache lines */
};
extern struct thr_fdtable thr_fdtable_;
extern struct thr_fd_desc thr_fdtable_descs[THR_FD_DESCS];

/* A descriptor that holds one slot and shares its file with no other
 * descriptor here (the common case: one open, one close) needs no
 * description: its entry is the hold itself, marked with THR_FD_DIRECT. A
 * dup turns it into a description (thr_fdtable_promote()). */
#define THR_FD_DIRECT UINT32_C(0x80000000)
#define THR_FD_HOLD_BITS 22     /* THR_POOL_HOLD_BITS, checked in gate.c */
#define THR_FD_POOL_BITS 8      /* THR_GATE_MAX_POOLS, checked in gate.c */

/* A hold that stands for the process's one slot in a pool of hold =
 * process, which all its descriptors there share (the gate keeps it and
 * counts them): in a description's hold[], or as a direct entry with
 * THR_FD_PROCESS set and no hold bits. */
#define THR_FD_PROCESS_HOLD UINT32_MAX
#define THR_FD_PROCESS UINT32_C(0x40000000)

static inline thr_fd_entry thr_fdtable_direct(uint16_t pool, uint32_t hold)
{
	if (hold == THR_FD_PROCESS_HOLD)
		return THR_FD_DIRECT | THR_FD_PROCESS |
		       (uint32_t)pool << THR_FD_HOLD_BITS;
	return THR_FD_DIRECT | (uint32_t)pool << THR_FD_HOLD_BITS | hold;
}

static inline bool thr_fdtable_is_direct(thr_fd_entry e)
{
	return (e & THR_FD_DIRECT) != 0;
}

static inline uint16_t thr_fdtable_direct_pool(thr_fd_entry e)
{
	return (uint16_t)((e >> THR_FD_HOLD_BITS) &
	                  ((1u << THR_FD_POOL_BITS) - 1));
}

static inline uint32_t thr_fdtable_direct_hold(thr_fd_entry e)
{
	if (e & THR_FD_PROCESS)
		return THR_FD_PROCESS_HOLD;
	return e & ((1u << THR_FD_HOLD_BITS) - 1);
}

/* refs value while the last holder releases the slots, so that the entry is
 * not handed out again before its holds have been read. */
#define THR_FD_DYING UINT32_C(0x80000000)

/* Maps the tables for descriptors below the hard RLIMIT_NOFILE (at most
 * 2^20). Returns 0 or -errno. Not async-signal-safe; call once. */
int thr_fdtable_init(void);

/* fd's entry: the description it names (1-based id), a direct hold, or 0.
 * One load, no lock. */
static inline thr_fd_entry thr_fdtable_get(int fd)
{
	if ((unsigned)fd >= (unsigned)__atomic_load_n(&thr_fdtable_.nfds,
	                                              __ATOMIC_ACQUIRE))
		return 0;
	return __atomic_load_n(&thr_fdtable_.fds[fd], __ATOMIC_ACQUIRE);
}

/* Takes fd's entry away and returns it (0 if none). Async-signal-safe. */
static inline thr_fd_entry thr_fdtable_detach(int fd)
{
	if ((unsigned)fd >= (unsigned)__atomic_load_n(&thr_fdtable_.nfds,
	                                              __ATOMIC_ACQUIRE))
		return 0;
	if (!__atomic_load_n(&thr_fdtable_.fds[fd], __ATOMIC_RELAXED))
		return 0;
	return __atomic_exchange_n(&thr_fdtable_.fds[fd], 0, __ATOMIC_ACQ_REL);
}

/* Makes fd's entry d: a description, which must hold a reference for it,
 * or a direct hold. Returns false when fd is beyond the table.
 * Async-signal-safe. */
static inline bool thr_fdtable_attach(int fd, thr_fd_entry d)
{
	if ((unsigned)fd >= (unsigned)__atomic_load_n(&thr_fdtable_.nfds,
	                                              __ATOMIC_ACQUIRE))
		return false;
	__atomic_store_n(&thr_fdtable_.fds[fd], d, __ATOMIC_RELEASE);
	int h = __atomic_load_n(&thr_fdtable_.high, __ATOMIC_RELAXED);
	while (fd >= h && !__atomic_compare_exchange_n(&thr_fdtable_.high, &h,
	                                               fd + 1, true,
	                                               __ATOMIC_RELAXED,
	                                               __ATOMIC_RELAXED))
		;
	return true;
}

/* A new description with refs = 1, holding n slots; 0 if the table is
 * full. Async-signal-safe. */
thr_fd_entry thr_fdtable_new(const uint16_t *pool, const uint32_t *hold,
                             uint16_t n, bool socket, bool stream);

/* The same, made before the call whose descriptor it will describe: it
 * stays invisible (to thr_fdtable_each(), thr_fdtable_unref()) until
 * thr_fdtable_publish() gives it refs = 1, or thr_fdtable_free(). So the
 * work of filling it is done before the call, not after. Async-signal-safe. */
thr_fd_entry thr_fdtable_reserve(const uint16_t *pool,
                                 const uint32_t *hold, uint16_t n,
                                 bool socket, bool stream);

static inline void thr_fdtable_publish(thr_fd_entry d)
{
	if (d && d <= THR_FD_DESCS)
		__atomic_store_n(&thr_fdtable_descs[d - 1].refs, 1,
		                 __ATOMIC_RELEASE);
}

/* The description d, or NULL for 0 or a direct hold. */
static inline struct thr_fd_desc *thr_fdtable_desc(thr_fd_entry d)
{
	return d && d <= THR_FD_DESCS ? &thr_fdtable_descs[d - 1] : NULL;
}

/* Turns fd's direct entry e into a description with two references, fd's
 * and one for a copy about to be made, naming fd. Returns its id, or 0 if
 * fd's entry is no longer e (closed meanwhile: whoever took e gives its
 * slot back) or the table is full. Async-signal-safe. */
thr_fd_entry thr_fdtable_promote(int fd, thr_fd_entry e);

/* Adds a reference to d (a dup). Async-signal-safe. */
static inline void thr_fdtable_ref(thr_fd_entry d)
{
	if (d && d <= THR_FD_DESCS)
		__atomic_add_fetch(&thr_fdtable_descs[d - 1].refs, 1,
		                   __ATOMIC_ACQ_REL);
}

/* Drops a reference; true when it was the last: the caller then releases
 * the slots and calls thr_fdtable_free(). Async-signal-safe. */
static inline bool thr_fdtable_unref(thr_fd_entry d)
{
	if (!d || d > THR_FD_DESCS)
		return false;
	uint32_t *refs = &thr_fdtable_descs[d - 1].refs;
	uint32_t r = __atomic_load_n(refs, __ATOMIC_ACQUIRE), next;
	do {
		if (r == 0 || (r & THR_FD_DYING))
			return false;
		next = r == 1 ? THR_FD_DYING : r - 1;
	} while (!__atomic_compare_exchange_n(refs, &r, next, false,
	                                      __ATOMIC_ACQ_REL,
	                                      __ATOMIC_ACQUIRE));
	return next == THR_FD_DYING;
}

static inline void thr_fdtable_free(thr_fd_entry d)
{
	if (d && d <= THR_FD_DESCS) {
		thr_fdtable_descs[d - 1].n = 0;
		__atomic_store_n(&thr_fdtable_descs[d - 1].refs, 0,
		                 __ATOMIC_RELEASE);
		if (d - 1 < __atomic_load_n(&thr_fdtable_.next_free,
		                            __ATOMIC_RELAXED))
			__atomic_store_n(&thr_fdtable_.next_free, d - 1,
			                 __ATOMIC_RELAXED);
	}
}

/* One more than the highest descriptor ever attached, to bound scans. */
static inline int thr_fdtable_high(void)
{
	return __atomic_load_n(&thr_fdtable_.high, __ATOMIC_ACQUIRE);
}

/* Calls fn on every live description id (for fork). */
void thr_fdtable_each(void (*fn)(thr_fd_entry d, void *ctx), void *ctx);

#endif
