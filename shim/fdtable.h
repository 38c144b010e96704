/* fdtable.h - which descriptors of this process hold pool slots. Read and
 * written from close(), dup2() and friends, which may run in signal handlers
 * and between fork and exec: everything here is atomics on memory mapped
 * once at start-up; no allocation, no locks, no stdio. */
#ifndef THR_FDTABLE_H
#define THR_FDTABLE_H

#include <stdbool.h>
#include <stdint.h>

#define THR_FD_MAX_HOLDS 8      /* pools one call can take a slot in */
#define THR_FD_DESCS 4096       /* gated open descriptions per process */

/* One open file description (an open() or socket), shared by its dups. */
struct thr_fd_desc {
	uint32_t refs;          /* descriptors naming it here; 0 when free */
	uint16_t n;             /* pools it holds slots in */
	uint8_t socket;         /* made by connect(), not open() */
	uint8_t stream;         /* opened by fopen()/freopen(): a FILE owns it */
	uint16_t pool[THR_FD_MAX_HOLDS]; /* index into the gate's pools */
	uint32_t hold[THR_FD_MAX_HOLDS]; /* thr_pool hold handle in each */
};

/* Maps the tables for descriptors below the hard RLIMIT_NOFILE (at most
 * 2^20). Returns 0 or -errno. Not async-signal-safe; call once. */
int thr_fdtable_init(void);

/* The description fd names (1-based id), or 0. One load, no lock. */
uint32_t thr_fdtable_get(int fd);

/* Takes fd's entry away and returns it (0 if none). Async-signal-safe. */
uint32_t thr_fdtable_detach(int fd);

/* Makes fd name description d, which must hold a reference for it.
 * Returns false when fd is beyond the table. Async-signal-safe. */
bool thr_fdtable_attach(int fd, uint32_t d);

/* A new description with refs = 1, holding n slots; 0 if the table is
 * full. Async-signal-safe. */
uint32_t thr_fdtable_new(const uint16_t *pool, const uint32_t *hold,
                         uint16_t n, bool socket, bool stream);

/* The same, made before the call whose descriptor it will describe: it
 * stays invisible (to thr_fdtable_each(), thr_fdtable_unref()) until
 * thr_fdtable_publish() gives it refs = 1, or thr_fdtable_free(). So the
 * work of filling it is done before the call, not after. Async-signal-safe. */
uint32_t thr_fdtable_reserve(const uint16_t *pool, const uint32_t *hold,
                             uint16_t n, bool socket, bool stream);
void thr_fdtable_publish(uint32_t d);

struct thr_fd_desc *thr_fdtable_desc(uint32_t d);

/* Adds a reference to d (a dup). Async-signal-safe. */
void thr_fdtable_ref(uint32_t d);

/* Drops a reference; true when it was the last: the caller then releases
 * the slots and calls thr_fdtable_free(). Async-signal-safe. */
bool thr_fdtable_unref(uint32_t d);
void thr_fdtable_free(uint32_t d);

/* One more than the highest descriptor ever attached, to bound scans. */
int thr_fdtable_high(void);

/* Calls fn on every live description id (for fork). */
void thr_fdtable_each(void (*fn)(uint32_t d, void *ctx), void *ctx);

#endif
