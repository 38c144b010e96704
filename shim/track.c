/* track.c - a descriptor's life in this process: its copies, its
 * close-on-exec flag, its closes alone or in a range, and the sweep for
 * closes the shim did not see. Never allocates, locks or uses stdio: these
 * run from close() and dup2(), in signal handlers and between fork and
 * exec. Slots go back only through thr_gate_drop()/thr_gate_release(). */
#define _GNU_SOURCE
#include "track.h"

#include "gate.h"
#include "hot.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>

/* Is fd open here without close-on-exec? Keeps errno. */
bool thr_track_survives_exec(int fd)
{
	int saved = errno;
	int flags = fd >= 0 ? thr_real_get()->fcntl(fd, F_GETFD) : -1;
	errno = saved;
	return flags >= 0 && !(flags & FD_CLOEXEC);
}

/* A descriptor other than fd naming description d, or -1. When there are
 * several (others > 1), one that an exec keeps if there is one: that asks
 * the kernel about each, which a lone copy, the common case, is spared. */
static int other_fd_naming(thr_fd_entry d, int fd, uint32_t others)
{
	int any = -1;
	for (int other = 0, high = thr_fdtable_high(); other < high; other++) {
		if (other == fd || thr_fdtable_get(other) != d)
			continue;
		if (others <= 1 || thr_track_survives_exec(other))
			return other;
		if (any < 0)
			any = other;
	}
	return any;
}

/* How many descriptors name d, counting those being made by a dup. */
static uint32_t name_count(const struct thr_fd_desc *desc)
{
	return __atomic_load_n(&desc->refs, __ATOMIC_ACQUIRE) & ~THR_FD_DYING;
}

void thr_track_unname(thr_fd_entry d, int fd)
{
	struct thr_fd_desc *desc = thr_fdtable_desc(d);
	if (desc && desc->stream_fd == fd)
		desc->stream_fd = -1;
	if (!desc || fd < 0 || desc->fd != fd)
		return;
	int other = other_fd_naming(d, fd, name_count(desc));
	if (other >= 0)
		thr_track_record_fd(thr_gate_table_state(), desc, other);
}

void thr_track_setfd(int fd, bool cloexec)
{
	thr_fd_entry d = thr_fdtable_get(fd);
	struct thr_fd_desc *desc = thr_fdtable_desc(d);
	if (!desc)
		return; /* untracked, or a direct hold: its only name */
	if (!cloexec) {
		thr_track_record_fd(thr_gate_table_state(), desc, fd);
		return;
	}
	int other = desc->fd == fd
		? other_fd_naming(d, fd, name_count(desc) - 1) : -1;
	if (other >= 0 && thr_track_survives_exec(other))
		thr_track_record_fd(thr_gate_table_state(), desc, other);
}

/* oldfd's entry was direct hold e: a description shared with the copy to
 * be, or 0 (no room for one: the copy goes untracked). Apart from
 * thr_track_dup_begin(), which most dups leave at once. */
static __attribute__((noinline)) thr_fd_entry promote(int oldfd, thr_fd_entry e)
{
	for (;;) {
		thr_fd_entry d = thr_fdtable_promote(oldfd, e);
		if (d || thr_fdtable_get(oldfd) == e)
			return d;
		/* Lost to a close of oldfd meanwhile: look again. */
		e = thr_fdtable_get(oldfd);
		if (!thr_fdtable_is_direct(e)) {
			thr_fdtable_ref(e);
			return e;
		}
	}
}

THR_HOT thr_fd_entry thr_track_dup_begin(int oldfd)
{
	thr_fd_entry e = thr_fdtable_get(oldfd);
	if (thr_fdtable_is_direct(e))
		return promote(oldfd, e);
	thr_fdtable_ref(e);
	return e;
}

THR_HOT void thr_track_dup_end(thr_fd_entry d, int newfd, bool cloexec)
{
	if (!d)
		return;
	if (newfd < 0 || !thr_fdtable_attach(newfd, d))
		thr_gate_drop(d, -1);
	else if (!cloexec)
		thr_track_record_fd(thr_gate_table_state(), thr_fdtable_desc(d),
		                    newfd);
}

void thr_track_dup2_begin(int oldfd, int newfd, thr_fd_entry *ret_d,
                         thr_fd_entry *ret_victim)
{
	*ret_d = oldfd == newfd ? 0 : thr_track_dup_begin(oldfd);
	*ret_victim = oldfd == newfd ? 0 : thr_fdtable_detach(newfd);
}

void thr_track_dup2_end(thr_fd_entry d, thr_fd_entry victim, int newfd, bool ok,
                       bool cloexec)
{
	if (!ok) {
		/* newfd was left as it was: so is its entry. */
		if (victim)
			thr_fdtable_attach(newfd, victim);
		thr_gate_drop(d, -1);
		return;
	}
	thr_gate_drop(victim, newfd);
	thr_track_dup_end(d, newfd, cloexec);
}

/* libc's close_range, or -1 and ENOSYS where it has none (before 2.34). */
static int real_close_range(unsigned first, unsigned last, int flags)
{
	const struct thr_real *real = thr_real_get();
	if (real->close_range)
		return real->close_range(first, last, flags);
	errno = ENOSYS;
	return -1;
}

/* Closes [first, last] in pieces, each ending after at most 32 tracked
 * descriptors, so their entries fit on the stack without allocation. */
int thr_track_close_range(unsigned first, unsigned last, int flags)
{
	unsigned high = (unsigned)thr_fdtable_high();
	for (;;) {
		uint32_t ds[32];
		int fds[32];
		unsigned n = 0, end = first;
		for (; end <= last && end < high && n < 32; end++)
			if ((ds[n] = thr_fdtable_detach((int)end)))
				fds[n++] = (int)end;
		if (end > last || end >= high)
			end = last;
		else
			end--;
		int r = real_close_range(first, end, flags);
		int e = errno;
		for (unsigned i = 0; i < n; i++)
			if (r < 0) /* nothing was closed: the entries go back */
				thr_track_reattach(fds[i], ds[i]);
			else
				thr_gate_drop(ds[i], fds[i]);
		errno = e;
		if (r < 0 || end == last)
			return r;
		first = end + 1;
	}
}

int thr_track_cloexec_range(unsigned first, unsigned last, int flags)
{
	int r = real_close_range(first, last, flags);
	if (r < 0)
		return r;
	unsigned high = (unsigned)thr_fdtable_high();
	for (unsigned fd = first; fd <= last && fd < high; fd++)
		if (thr_fdtable_get((int)fd))
			thr_track_setfd((int)fd, true);
	return r;
}

/* Is entry e (detached) named by nothing else, so that closing the
 * descriptor it came from lets its slots go? */
bool thr_track_is_only_name(thr_fd_entry e)
{
	struct thr_fd_desc *desc = thr_fdtable_desc(e);
	return thr_fdtable_is_direct(e) || (desc && name_count(desc) == 1);
}

void thr_track_sweep(bool streams)
{
	int saved = errno;
	int high = thr_fdtable_high();
	for (int fd = 0; fd < high; fd++) {
		thr_fd_entry e = thr_fdtable_get(fd);
		struct thr_fd_desc *desc = thr_fdtable_desc(e);
		if (e && ((streams && desc && desc->stream_fd == fd) ||
		          (thr_real_get()->fcntl(fd, F_GETFD) < 0 &&
		           errno == EBADF)))
			thr_gate_drop(thr_fdtable_detach(fd), fd);
	}
	errno = saved;
}
