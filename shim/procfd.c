/* procfd.c - open descriptors of a process, and whether two of them are one
 * open file description, from /proc and kcmp. Raw system calls, so that the
 * shim's hooks never see them and errno is left as it was. */
#define _GNU_SOURCE
#include "procfd.h"

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

/* Appends the descriptors named in one getdents64 buffer. */
static size_t add_entries(const char *buf, long len, int *ret_fds, size_t n,
                          size_t max)
{
	for (long off = 0; off < len && n < max;) {
		const struct dirent64_raw *e = (const void *)(buf + off);
		int fd = fd_of(e->name);
		if (fd >= 0)
			ret_fds[n++] = fd;
		off += e->reclen;
	}
	return n;
}

/* Removes fd from the n descriptors listed; returns how many are left. */
static size_t without(int *fds, size_t n, int fd)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] == fd) {
			fds[i] = fds[n - 1];
			return n - 1;
		}
	return n;
}

int thr_procfd_list(pid_t pid, int *ret_fds, size_t max)
{
	char path[48];
	char buf[2048] __attribute__((aligned(8)));
	int saved = errno, r = 0;
	if (pid > 0)
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	else
		snprintf(path, sizeof(path), "/proc/self/fd");
	long dir = syscall(SYS_openat, AT_FDCWD, path,
	                   O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		r = -errno;
		goto restore_errno;
	}
	size_t n = 0;
	long len = 0;
	while (n < max &&
	       (len = syscall(SYS_getdents64, (int)dir, buf, sizeof(buf))) > 0)
		n = add_entries(buf, len, ret_fds, n, max);
	/* Our own listing descriptor is in our own list: not a file of ours. */
	if (pid <= 0)
		n = without(ret_fds, n, (int)dir);
	r = len < 0 && n == 0 ? -errno : (int)n;
	syscall(SYS_close, (int)dir);
restore_errno:
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
	long f = syscall(SYS_openat, AT_FDCWD, "/proc/thread-self/children",
	                 O_RDONLY | O_CLOEXEC);
	if (f < 0) {
		r = -errno;
		goto restore_errno;
	}
	size_t n = 0;
	long len = 0, partial = -1;
	while (n < max && (len = syscall(SYS_read, (int)f, buf, sizeof(buf))) > 0)
		n = add_pids(buf, len, ret_pids, n, max, &partial);
	if (partial >= 0 && n < max)
		ret_pids[n++] = (pid_t)partial;
	r = len < 0 ? -errno : (int)n;
	syscall(SYS_close, (int)f);
restore_errno:
	errno = saved;
	return r;
}

int thr_procfd_same(pid_t a, int fa, pid_t b, int fb)
{
	int saved = errno;
	pid_t self = a <= 0 || b <= 0 ? getpid() : 0;
	long r = syscall(SYS_kcmp, a > 0 ? a : self, b > 0 ? b : self,
	                 KCMP_FILE, (unsigned long)fa, (unsigned long)fb);
	int ret = r == 0 ? 1 : r > 0 ? 0 : -errno;
	errno = saved;
	return ret;
}
