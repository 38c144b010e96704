/* gate.h - what every gated hook calls: route a call, take slots before
 * it, keep them on the descriptor it returns or give them back, and give
 * them back when the descriptor's last name goes (track.h follows the
 * names, inherit.h the copies into other processes). Functions return 0 or
 * -errno and keep errno as they found it; only the hooks (hooks.c,
 * hookproc.c) set errno. */
#ifndef THR_GATE_H
#define THR_GATE_H

#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "fdtable.h"
#include "flight.h"
#include "freeze.h"
#include "init.h"

_Static_assert(THR_FLIGHT_MAX_HOLDS == THR_FD_MAX_HOLDS, "ticket holds");

/* What this process gates, for hooks to skip the gate in one load: set
 * once loading is done; until then every bit is set, so that the first
 * call goes through the gate and loads the config. */
enum { THR_GATE_OPEN = 1, THR_GATE_CONNECT = 2, THR_GATE_FOLDERS = 4 };
extern unsigned char thr_gate_wants;

static inline bool thr_gate_wants_open(void)
{
	return __atomic_load_n(&thr_gate_wants, __ATOMIC_RELAXED) & THR_GATE_OPEN;
}

static inline bool thr_gate_wants_connect(void)
{
	return __atomic_load_n(&thr_gate_wants, __ATOMIC_RELAXED) &
	       THR_GATE_CONNECT;
}

/* Does some pool take slots for folders (folders = yes)? Else an open of a
 * folder (O_DIRECTORY, opendir) goes straight to libc. */
static inline bool thr_gate_wants_folders(void)
{
	return __atomic_load_n(&thr_gate_wants, __ATOMIC_RELAXED) &
	       THR_GATE_FOLDERS;
}

/* Building the state, once, at load (gatestate.c). Build fills st from cfg
 * (st keeps cfg): pools sorted by name, globs compiled, indexes made.
 * Returns 0 or -ENOMEM (st then partly filled, to be left inert).
 * Allocates and may log; not for a hook's path. */
struct thr_config;
int thr_gate_build(struct thr_config *cfg, struct thr_init_state *st);

/* Attaches (creating if need be) the segment of every pool of st; one that
 * is refused is logged and left NULL, and calls it gates are let through
 * or refused as on-error says. May block briefly on a segment's lock. */
void thr_gate_attach(struct thr_init_state *st);

/* The gate's own handle on pool name, for the public API (shim/api), so
 * that one process takes part in a pool through one handle: NULL if the
 * loaded config has no such pool, its segment was refused, or the state is
 * not loaded (loads it first if nobody has begun to). The handle lives as
 * long as the process; never close it. Not async-signal-safe. */
struct thr_pool *thr_gate_pool_named(const char *name);

/* Tells the hooks what st gates (thr_gate_wants), once loading is done. */
void thr_gate_publish(const struct thr_init_state *st);

#ifdef THR_TEST_HOOKS
/* Tests only: the gate runs on a copy of st and on real as libc, as if
 * loaded from a config (the process's tables are set up on the first use).
 * Not in the library: the hot path reads its globals directly. */
struct thr_real;
void thr_gate_use(const struct thr_init_state *st,
                  const struct thr_real *real);
#endif

/* Where an open() goes, settled before the call in a few loads and
 * compares: straight to libc, or through thr_gate_open_begin() with what
 * was found here, so that it is not looked for twice. One register wide
 * on x86-64 and AArch64, so that a hook can hand it on in a tail call. */
#define THR_GATE_ROUTE_FULL UINT32_MAX
#define THR_GATE_ROUTE_FOLDER (UINT32_MAX - 1)
struct thr_gate_route {
	uint32_t glob;          /* 0: not gated; THR_GATE_ROUTE_FULL: the gate
	                           decides (a path it must normalise first, or
	                           a refusal); THR_GATE_ROUTE_FOLDER: the same,
	                           for a folder; else 1 + the first glob that
	                           matches the path as it stands */
	uint32_t n;             /* the path's length, with a glob */
};

/* The route for path (opened relative to the cwd or to a dirfd), from a
 * hook whose thr_flight_sp() is sp. Keeps errno. A process's first call
 * loads the config (files, segments); after that, no system call and no
 * allocation. */
struct thr_gate_route thr_gate_route_path(const char *path, uintptr_t sp);

/* The route for an open of path with flags: an O_PATH open does no I/O
 * and takes no slot; a folder's (O_DIRECTORY) takes one only in pools with
 * folders = yes. */
static inline struct thr_gate_route thr_gate_route_open(const char *path,
                                                        int flags,
                                                        uintptr_t sp)
{
	struct thr_gate_route pass = { 0, 0 };
	if (!thr_gate_wants_open() || (flags & O_PATH))
		return pass;
	if (__builtin_expect(flags & O_DIRECTORY, 0)) {
		struct thr_gate_route folder = { THR_GATE_ROUTE_FOLDER, 0 };
		return thr_gate_wants_folders() && path ? folder : pass;
	}
	return thr_gate_route_path(path, sp);
}

/* Every begin below takes sp, the hook's own stack pointer
 * (thr_flight_sp()), and sets *ret_t to the ticket of the call in flight
 * when it returns 1: see flight.h. A call a signal handler leaves by
 * longjmp, at any point before thr_gate_finish(), has its slots given back
 * by the thread's next call; none is ever granted to a wait it left. */

/* Before open(), openat(), creat() and their 64 and fortify forms, when
 * the route is not 0: takes a slot in every pool whose patterns match the
 * path. Returns 1 (make the call, then thr_gate_finish() *ret_t), 0 (make
 * the call, nothing held) or -errno to fail it with, uncalled: the pool's
 * policy errno, -EINTR, or -EACCES (on-error = closed). Blocks as the
 * policy says. A signal handler never runs while the call waits: a signal
 * ends the wait, gives back what the call took, and runs its handler
 * before this returns -EINTR (or, with SA_RESTART, takes up its place in
 * the queue again). */
int thr_gate_open_begin(int dirfd, const char *path,
                        struct thr_gate_route route, uintptr_t sp,
                        struct thr_gate_ticket **ret_t);

/* Before fopen()/freopen() of path, whose descriptor a stream will own:
 * takes the slots. Returns 1 (go ahead, then thr_gate_finish() t), 0 (go
 * ahead, t holds nothing) or -errno to fail the call with, as above. */
int thr_gate_fopen_begin(const char *path, uintptr_t sp,
                         struct thr_gate_ticket **ret_t);

/* The same before a call that opens path inside libc, where no hook sees
 * the open, and whose descriptor is kept as an open()'s: opendir() (its
 * stream's closedir() closes it as close() would), and the mkstemp family
 * (path is the template: its X's, which the call replaces, are matched as
 * they stand, and a glob's * matches either). */
int thr_gate_path_begin(const char *path, uintptr_t sp,
                        struct thr_gate_ticket **ret_t);

/* The same for opendir() of path: a folder, which takes a slot only in
 * pools with folders = yes. */
int thr_gate_dir_begin(const char *path, uintptr_t sp,
                       struct thr_gate_ticket **ret_t);

/* The same for freopen(), with *old the entry detached from the stream's
 * descriptor. glibc opens the new file before it lets the old one go: where
 * the descriptor is the old file's last name, its slot in a pool that path
 * also wants passes to the new file, rather than the call waiting for a
 * slot its own stream holds. *old is left with the rest, or 0. */
int thr_gate_freopen_begin(const char *path, thr_fd_entry *old, uintptr_t sp,
                           struct thr_gate_ticket **ret_t);

/* Before connect(fd, sa): the same for connect patterns. An fd that holds
 * slots already (a connect in progress) is let through. */
int thr_gate_connect_begin(int fd, const struct sockaddr *sa, socklen_t len,
                           uintptr_t sp, struct thr_gate_ticket **ret_t);

/* After a call whose begin returned 1: ok with descriptor fd keeps the
 * slots on fd (hold = descriptor), otherwise they are given back. Ends the
 * call's flight. */
void thr_gate_finish(struct thr_gate_ticket *t, int fd, bool ok);

/* Gives back the slots of entry d (a description, or a direct hold) that
 * no descriptor names any more: after thr_track_unref() said it was the
 * last. Async-signal-safe; never blocks; keeps errno. */
void thr_gate_release(thr_fd_entry d);

/* thr_track_unref(), then thr_gate_release() if it was the last: fd
 * (detached already; -1 for none) stops naming d. Async-signal-safe. */
void thr_gate_drop(thr_fd_entry d, int fd);

/* The state a table entry's slots are given back through: the loaded one,
 * even while another thread still loads it, since entries are made only
 * for pools already attached. (thr_init() reads as inert then, and a slot
 * let go during the load stayed held until exit.) */
static inline const struct thr_init_state *thr_gate_table_state(void)
{
	return &thr_init_state_;
}

/* Around what a close does to a tracked descriptor: taking its entry out
 * of the table, and the real close (or dup2, fclose, closedir...). A
 * window no fork may straddle: it waits while another thread forks.
 * Async-signal-safe; a few plain stores. */
static inline void thr_gate_closing(void)
{
	thr_freeze_close_begin();
}

static inline void thr_gate_closed(void)
{
	thr_freeze_close_end();
}

#endif
