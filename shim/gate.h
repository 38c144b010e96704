/* gate.h - what every hook calls: take slots before a gated call, keep them
 * on the descriptor it returns or give them back, and follow descriptors
 * through dup, close, fork and exec. Functions return 0 or -errno and keep
 * errno as they found it; only hooks.c sets errno. */
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
int thr_gate_freopen_begin(const char *path, uint32_t *old, uintptr_t sp,
                           struct thr_gate_ticket **ret_t);

/* Before connect(fd, sa): the same for connect patterns. An fd that holds
 * slots already (a connect in progress) is let through. */
int thr_gate_connect_begin(int fd, const struct sockaddr *sa, socklen_t len,
                           uintptr_t sp, struct thr_gate_ticket **ret_t);

/* After a call whose begin returned 1: ok with descriptor fd keeps the
 * slots on fd (hold = descriptor), otherwise they are given back. Ends the
 * call's flight. */
void thr_gate_finish(struct thr_gate_ticket *t, int fd, bool ok);

/* close(): detach fd before the real close, drop after it. Async-signal-
 * safe; an untracked fd costs one load. */
static inline uint32_t thr_gate_detach(int fd)
{
	return thr_fdtable_detach(fd);
}

/* Gives fd back the entry d detached from it, when the call that was to
 * close it did not. Async-signal-safe. */
static inline void thr_gate_reattach(int fd, uint32_t d)
{
	if (d)
		thr_fdtable_attach(fd, d);
}

/* fd, detached, was a name of d that others still share: if d's records
 * named fd, they name one of the others now (one without close-on-exec if
 * there is one), so that an exec which keeps that one keeps the slots too.
 * Async-signal-safe. */
void thr_gate_moved(uint32_t d, int fd);

/* After fcntl(fd, F_SETFD) or ioctl(fd, FIOCLEX/FIONCLEX) succeeded: a
 * descriptor cleared of close-on-exec becomes the one its records name,
 * and the named one marked close-on-exec hands that to a copy an exec
 * keeps, if there is one. Async-signal-safe; keeps errno. */
void thr_gate_setfd(int fd, bool cloexec);

/* Drops the reference fd (detached already; -1 for none) had on d, and says
 * whether it was the last: then thr_gate_release() gives d's slots back.
 * close() does this before the real close and only the release after it.
 * Async-signal-safe. */
static inline bool thr_gate_unref(uint32_t d, int fd)
{
	if (!d)
		return false;
	if (thr_fdtable_is_direct(d))
		return true; /* a direct hold has no other names */
	if (thr_fdtable_unref(d))
		return true;
	thr_gate_moved(d, fd);
	return false;
}
void thr_gate_release(uint32_t d);

/* thr_gate_unref(), then thr_gate_release() if it was the last. */
void thr_gate_drop(uint32_t d, int fd);

/* dup()/fcntl(F_DUPFD): reference before, attach or drop after. A copy
 * made without close-on-exec becomes the descriptor d's records name, as
 * the one most likely to outlive an exec. */
uint32_t thr_gate_dup_begin(int oldfd);
void thr_gate_dup_end(uint32_t d, int newfd, bool cloexec);

/* dup2()/dup3() onto a tracked newfd close it implicitly. */
void thr_gate_dup2_begin(int oldfd, int newfd, uint32_t *ret_d,
                         uint32_t *ret_victim);
void thr_gate_dup2_end(uint32_t d, uint32_t victim, int newfd, bool ok,
                       bool cloexec);

/* close_range()/closefrom(): closes [first, last] with real_close_range,
 * releasing tracked descriptors in it; a failed call leaves them tracked.
 * Returns what close_range returns (-1 and ENOSYS where libc has none).
 * Async-signal-safe. */
int thr_gate_close_range(unsigned first, unsigned last, int flags);

/* close_range(CLOSE_RANGE_CLOEXEC): marks [first, last] close-on-exec with
 * real_close_range, then moves the records as fcntl(F_SETFD) would, so
 * that an exec keeps the slots of copies it keeps. Returns what
 * close_range returns (-1 and ENOSYS where libc has none). */
int thr_gate_cloexec_range(unsigned first, unsigned last, int flags);

/* Gives back the slots of descriptors now closed and, with streams (after
 * fcloseall(), which flushes the streams but leaves their descriptors
 * open), drops the names that streams owned: copies made by dup keep the
 * slots. Keeps errno. */
void thr_gate_sweep(bool streams);

/* Around a call that copies the process (fork, _Fork, glibc's clone(),
 * posix_spawn, popen): copying() holds other threads' closes off, after
 * waiting for those under way, so that the child inherits exactly the
 * descriptors the table names; copied(), with what copying() returned,
 * lets them go on once the child co-holds (in the parent, or after the
 * call failed; a fork child skips it). Without pools, copying() does
 * nothing and returns false. */
bool thr_gate_copying(void);
void thr_gate_copied(bool frozen);

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

/* After fork(): the child becomes co-holder of every slot (from both
 * sides, so whichever runs first does it). */
void thr_gate_forked(pid_t pid);

/* The same after _Fork(), which runs no atfork handlers: in the child,
 * the process's cached identity is dropped first, as fork's handler
 * does. */
void thr_gate_bare_forked(pid_t pid);

/* After posix_spawn() (a clone that execs at once, no fork): the child
 * becomes co-holder of the slots of the descriptors it has after its exec,
 * its record naming the number it has each on (found by kcmp, so file
 * actions that move a descriptor are followed); where kcmp cannot tell, of
 * those open here without close-on-exec. Keeps errno. */
void thr_gate_spawned(pid_t pid);

/* popen() starts its child with a clone of glibc's own, which no hook sees,
 * and returns once the child has exec'd. The calling thread's children
 * before the call tell which is new after it: that one is treated as
 * spawned (above), before the caller can close its copy. */
#define THR_GATE_KIDS 256
struct thr_gate_kids {
	int n;                  /* pids listed; -1 when there is nothing to
	                           pass on, or no way to tell the new child */
	pid_t pid[THR_GATE_KIDS];
};

/* Lists the children before the call; cheap (no system call) when no
 * descriptor is tracked. Keeps errno. */
void thr_gate_kids_before(struct thr_gate_kids *kids);

/* After the call succeeded: every child not listed before co-holds what it
 * shares with us. Keeps errno. */
void thr_gate_kids_spawned(const struct thr_gate_kids *kids);

#endif
