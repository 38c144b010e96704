/* stale.c - finding the descriptors a close the shim never saw left in its
 * table. A slot kept for such a number would hang its own process (cp,
 * node) the next time it waits on the pool, so a process looks at its own
 * before it waits. When unsure, a slot stays: a late release is harmless,
 * one given back for a file still open would break the limit. */
#define _GNU_SOURCE
#include "stale.h"

#include "gate.h"
#include "prochold.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

uint64_t thr_stale_socket_ino(int fd)
{
	struct stat sb;
	int saved = errno;
	bool sock = fstat(fd, &sb) == 0 && S_ISSOCK(sb.st_mode);
	errno = saved;
	return sock ? (uint64_t)sb.st_ino : 0;
}

bool thr_stale_same_socket(int fd, const struct thr_fd_desc *desc)
{
	uint64_t ino = thr_stale_socket_ino(fd);
	return ino && (!desc->ino || ino == desc->ino);
}

/* The open file behind our fd: its path (absolute, symbolic links
 * resolved), or what /proc says of a pipe or socket ("pipe:[...]").
 * Returns its length, or -errno (-ENOENT: fd is not open). */
static int fd_path(int fd, char *buf, size_t len)
{
	char link[32];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	return (int)n;
}

/* Is the file fd names another than the one opened for hold, whose path
 * (as opened) the pool recorded? Only when that path names, now, another
 * file: a path cut short, or gone, cannot say. */
static bool other_file(struct thr_pool *pool, uint32_t hold, int fd)
{
	char opened[PATH_MAX];
	struct stat was, is;
	int n = thr_pool_target(pool, hold, opened, sizeof(opened));
	if (n <= 0 || n >= THR_POOL_TARGET_MAX || opened[0] != '/' ||
	    stat(opened, &was) < 0 ||
	    fstat(fd, &is) < 0)
		return false;
	return was.st_dev != is.st_dev || was.st_ino != is.st_ino;
}

/* Is our descriptor fd, whose entry holds hold in pool pi, gone? */
static bool gone(const struct thr_init_state *st, uint16_t pi, uint32_t hold,
                 const struct thr_fd_desc *desc, int fd)
{
	if (desc && desc->socket)
		return !thr_stale_same_socket(fd, desc);
	char path[PATH_MAX];
	int n = fd_path(fd, path, sizeof(path));
	if (n < 0)
		return n == -ENOENT;
	if (path[0] != '/')
		return true; /* a socket, pipe or anonymous inode now */
	const struct thr_gate_pool *gp = &st->pools[pi];
	if (thr_gate_pool_matches(gp, path, (size_t)n))
		return false;
	return gp->pool &&
	       other_file(gp->pool, thr_prochold_resolve(gp, hold), fd);
}

/* The hold entry e keeps in pool pi, if it keeps one. */
static bool hold_in(thr_fd_entry e, uint16_t pi, uint32_t *ret_hold)
{
	if (thr_fdtable_is_direct(e)) {
		*ret_hold = thr_fdtable_direct_hold(e);
		return thr_fdtable_direct_pool(e) == pi;
	}
	const struct thr_fd_desc *desc = thr_fdtable_desc(e);
	for (uint16_t k = 0; desc && k < desc->n; k++)
		if (desc->pool[k] == pi) {
			*ret_hold = desc->hold[k];
			return true;
		}
	return false;
}

int thr_stale_drop(const struct thr_init_state *st, uint16_t pi)
{
	int saved = errno, dropped = 0;
	for (int fd = 0, high = thr_fdtable_high(); fd < high; fd++) {
		thr_fd_entry e = thr_fdtable_get(fd), hold;
		if (!e || !hold_in(e, pi, &hold) ||
		    !gone(st, pi, hold, thr_fdtable_desc(e), fd))
			continue;
		thr_fd_entry d = thr_fdtable_detach(fd);
		thr_gate_drop(d, fd);
		dropped++;
	}
	errno = saved;
	return dropped;
}
