/* track.h - a descriptor's life in this process once it holds slots: its
 * copies (dup, dup2, fcntl F_DUPFD), its close-on-exec flag, its close
 * alone or in a range, and the sweep for closes the shim did not see.
 * Keeps the pool records naming a descriptor that is still open; gives the
 * slots back (thr_gate_release) when the last name goes, exactly once.
 * Nothing here allocates, takes a lock or uses stdio: close() and dup2()
 * may run in signal handlers and between fork and exec. */
#ifndef THR_TRACK_H
#define THR_TRACK_H

#include <stdbool.h>
#include <stdint.h>

#include "fdtable.h"
#include "init.h"
#include "pool.h"
#include "prochold.h"

/* Makes the record of hold in pool pi name descriptor fd. Async-signal-
 * safe; keeps errno. */
static inline void thr_track_set_fd(const struct thr_init_state *st,
                                    uint16_t pi, uint32_t hold, int fd)
{
	if (pi < st->npools && st->pools[pi].pool)
		thr_pool_set_fd(st->pools[pi].pool,
		                thr_prochold_resolve(&st->pools[pi], hold), fd);
}

/* Makes desc's records name fd, and desc remember it. Async-signal-safe;
 * keeps errno. */
static inline void thr_track_record_fd(const struct thr_init_state *st,
                                       struct thr_fd_desc *desc, int fd)
{
	desc->fd = fd;
	for (uint32_t i = 0; i < desc->n; i++)
		thr_track_set_fd(st, desc->pool[i], desc->hold[i], fd);
}

/* close(): detach fd before the real close, drop after it. Returns fd's
 * entry, 0 when untracked. Async-signal-safe; an untracked fd costs one
 * load. */
static inline thr_fd_entry thr_track_detach(int fd)
{
	return thr_fdtable_detach(fd);
}

/* Gives fd back the entry d detached from it, when the call that was to
 * close it did not. Async-signal-safe. */
static inline void thr_track_reattach(int fd, thr_fd_entry d)
{
	if (d)
		thr_fdtable_attach(fd, d);
}

/* fd, detached, was a name of d that others still share: if d's records
 * named fd, they name one of the others now (one without close-on-exec if
 * there is one), so that an exec which keeps that one keeps the slots too.
 * Async-signal-safe; keeps errno. */
void thr_track_unname(thr_fd_entry d, int fd);

/* Drops the reference fd (detached already; -1 for none) had on d, and
 * returns whether it was the last: then thr_gate_release() gives d's slots
 * back. close() does this before the real close and only the release
 * after it. Async-signal-safe. */
static inline bool thr_track_unref(thr_fd_entry d, int fd)
{
	if (!d)
		return false;
	if (thr_fdtable_is_direct(d))
		return true; /* a direct hold has no other names */
	if (thr_fdtable_unref(d))
		return true;
	thr_track_unname(d, fd);
	return false;
}

/* Is fd open here without close-on-exec, so that an exec keeps it? Makes
 * one fcntl(F_GETFD). Async-signal-safe; keeps errno. */
bool thr_track_survives_exec(int fd);

/* Is entry e (detached from its descriptor) named by nothing else, so that
 * closing that descriptor lets its slots go? freopen() asks, to hand the
 * old file's slot to the new one. Async-signal-safe. */
bool thr_track_is_only_name(thr_fd_entry e);

/* After fcntl(fd, F_SETFD) or ioctl(fd, FIOCLEX/FIONCLEX) succeeded: a
 * descriptor cleared of close-on-exec becomes the one its records name,
 * and the named one marked close-on-exec hands that to a copy an exec
 * keeps, if there is one. Async-signal-safe; keeps errno. */
void thr_track_setfd(int fd, bool cloexec);

/* dup()/fcntl(F_DUPFD): begin references oldfd's entry before the call and
 * returns it (0 when untracked, or no room to share a direct hold: the copy
 * goes untracked); end attaches it to newfd (-1: the call failed, the
 * reference is dropped). A copy made without close-on-exec becomes the
 * descriptor the records name, as the one most likely to outlive an exec.
 * Never block; async-signal-safe; keep errno. */
thr_fd_entry thr_track_dup_begin(int oldfd);
void thr_track_dup_end(thr_fd_entry d, int newfd, bool cloexec);

/* dup2()/dup3(): as dup, and a tracked newfd is closed implicitly: begin
 * sets *ret_d (oldfd's entry, referenced) and *ret_victim (newfd's, detached)
 * - both 0 when oldfd == newfd; end, with ok the call's success, releases
 * the victim's slots if newfd was its last name, or on failure puts it back.
 * Async-signal-safe; keep errno. */
void thr_track_dup2_begin(int oldfd, int newfd, thr_fd_entry *ret_d,
                          thr_fd_entry *ret_victim);
void thr_track_dup2_end(thr_fd_entry d, thr_fd_entry victim, int newfd, bool ok,
                        bool cloexec);

/* close_range()/closefrom(): closes [first, last] with libc's close_range,
 * releasing tracked descriptors in it; a failed call leaves them tracked.
 * Returns what close_range returns (-1 and errno; ENOSYS where libc has
 * none). Async-signal-safe; never allocates. */
int thr_track_close_range(unsigned first, unsigned last, int flags);

/* close_range(CLOSE_RANGE_CLOEXEC): marks [first, last] close-on-exec with
 * libc's close_range, then moves the records as fcntl(F_SETFD) would, so
 * that an exec keeps the slots of copies it keeps. Returns what
 * close_range returns (-1 and errno; ENOSYS where libc has none). */
int thr_track_cloexec_range(unsigned first, unsigned last, int flags);

/* Gives back the slots of descriptors now closed (fcntl says EBADF) and,
 * with streams (after fcloseall(), which flushes the streams but leaves
 * their descriptors open), drops the names that streams owned: copies made
 * by dup keep the slots. One fcntl per tracked descriptor; never blocks;
 * keeps errno. */
void thr_track_sweep(bool streams);

#endif
