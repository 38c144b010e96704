/* probe-openat.c - openat(dirfd, path, flags[, mode]) COUNT times, then
 * close() each. dirfd is -d DIR (opened without the shim) or AT_FDCWD. With
 * -O2 -D_FORTIFY_SOURCE=2 the call goes to __openat_2; with
 * -D_FILE_OFFSET_BITS=64 to openat64. */

/* probe-openat64.c defines these and includes this file. */
#ifndef PROBE_CALL
#define PROBE_CALL openat
#define PROBE_NAME "openat"
#endif
#define _GNU_SOURCE
#include "probe.h"

#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

static int dirfd_of(struct probe *p)
{
	static int dfd = -2;

	if (dfd == -2)
		dfd = p->dir ? (int)probe_raw(SYS_openat, AT_FDCWD,
		                              (long)p->dir,
		                              O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
		             : AT_FDCWD;
	return dfd;
}

static int take(struct probe *p, int i, struct probe_held *h)
{
	if (probe_needs_mode(p->flags))
		h->fd = PROBE_CALL(dirfd_of(p), p->target, p->flags, 0600);
	else
		h->fd = PROBE_CALL(dirfd_of(p), p->target, p->flags);
	return h->fd < 0 ? -1 : 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path, relative to -d DIR if given; -f open flags",
	.take = take,
	.give = probe_give_close,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
