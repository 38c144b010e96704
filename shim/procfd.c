/* procfd.c - open descriptors of a process, and whether two of them are one
 * open file description, from /proc and kcmp. Raw system calls, so that the
 * shim's hooks never see them and errno is left as it was. */
#define _GNU_SOURCE
#include "procfd.h"

#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The record getdents64 fills in; glibc declares it only with its own
 * wrapper, which is newer than some of the systems we run on. */
struct dirent64_raw {
	uint64_t ino;
	int64_t off;
	unsigned short reclen;
	unsigned char type;
	char name[];
};

/* The descriptor number a /proc/PID/fd entry names, or -1 for "." and "..". */
static int fd_of(const char *name)
{
	int fd = 0;
	if (*name < '0' || *name > '9')
		return -1;
	for (; *name >= '0' && *name <= '9'; name++)
		fd = fd * 10 + (*name - '0');
	return *name ? -1 : fd;
}

/* What a walk of /proc/PID/fd looks for: a descriptor of pid naming the
 * open file description that fa of process a names. */
struct twin {
	pid_t a, b;
	int fa;
	int skip;               /* the walk's own descriptor, when b is us */
};

/* The first descriptor in one getdents64 buffer that is t's twin;
 * -ENODATA if none is; -errno when kcmp cannot tell. A descriptor closed
 * since it was listed (EBADF) is none. */
static int twin_in(const char *buf, long len, const struct twin *t)
{
	for (long off = 0; off < len;) {
		const struct dirent64_raw *e = (const void *)(buf + off);
		int fd = fd_of(e->name);
		off += e->reclen;
		if (fd < 0 || fd == t->fa || fd == t->skip)
			continue;
		int same = thr_procfd_same(t->a, t->fa, t->b, fd);
		if (same == 1)
			return fd;
		if (same < 0 && same != -EBADF)
			return same;
	}
	return -ENODATA;
}

/* Walks /proc/B/fd for t's twin, a buffer at a time, so that no number of
 * descriptors is too many. */
static int walk(struct twin *t)
{
	char path[48];
	char buf[2048] __attribute__((aligned(8)));
	if (t->b > 0)
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)t->b);
	else
		snprintf(path, sizeof(path), "/proc/self/fd");
	long dir = thr_sys(SYS_openat, AT_FDCWD, path,
	                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return (int)dir;
	/* Our own walking descriptor is in our own list: not a file of ours. */
	t->skip = t->b > 0 ? -1 : (int)dir;
	int r = -ENODATA;
	long len;
	while (r == -ENODATA &&
	       (len = thr_sys(SYS_getdents64, dir, buf, sizeof(buf))) > 0)
		r = twin_in(buf, len, t);
	if (r == -ENODATA && len < 0)
		r = (int)len;
	thr_sys(SYS_close, dir, 0, 0);
	return r;
}

int thr_procfd_twin(pid_t a, int fa, pid_t b)
{
	int saved = errno;
	struct twin t = { .a = a, .b = b, .fa = fa, .skip = -1 };
	int r = thr_procfd_same(a, fa, b, fa);
	if (r == 1)
		r = fa;
	else if (r == 0 || r == -EBADF)
		r = walk(&t);
	errno = saved;
	return r;
}

/* Appends the pids of one piece of a children file; a number cut at the
 * piece's end carries over in *partial (-1: none). */
static size_t add_pids(const char *buf, long len, pid_t *ret, size_t n,
                       size_t max, long *partial)
{
	for (long i = 0; i < len && n < max; i++) {
		if (buf[i] >= '0' && buf[i] <= '9') {
			*partial = (*partial < 0 ? 0 : *partial * 10) +
			           (buf[i] - '0');
		} else if (*partial >= 0) {
			ret[n++] = (pid_t)*partial;
			*partial = -1;
		}
	}
	return n;
}

int thr_procfd_children(pid_t *ret_pids, size_t max)
{
	char buf[512];
	int saved = errno, r;
	long f = thr_sys(SYS_openat, AT_FDCWD, "/proc/thread-self/children",
	                 O_RDONLY | O_CLOEXEC);
	if (f < 0) {
		r = (int)f;
		goto restore_errno;
	}
	size_t n = 0;
	long len = 0, partial = -1;
	while (n < max && (len = thr_sys(SYS_read, f, buf, sizeof(buf))) > 0)
		n = add_pids(buf, len, ret_pids, n, max, &partial);
	if (partial >= 0 && n < max)
		ret_pids[n++] = (pid_t)partial;
	r = len < 0 ? (int)len : (int)n;
	thr_sys(SYS_close, f, 0, 0);
restore_errno:
	errno = saved;
	return r;
}

int thr_procfd_same(pid_t a, int fa, pid_t b, int fb)
{
	int saved = errno;
	pid_t self = a <= 0 || b <= 0 ? getpid() : 0;
	long r = thr_sys6(SYS_kcmp, a > 0 ? a : self, b > 0 ? b : self,
	                  KCMP_FILE, (long)(unsigned)fa, (long)(unsigned)fb, 0);
	int ret = r == 0 ? 1 : r > 0 ? 0 : (int)r;
	errno = saved;
	return ret;
}
