/* probe-fcntl.c - per call: fd = open(path, flags), copy = fcntl(fd, F_DUPFD,
 * 100) (F_DUPFD_CLOEXEC with -x), close(fd), hold the copy, which close()
 * gives back. With -D_FILE_OFFSET_BITS=64 the call goes to fcntl64. */

/* probe-fcntl64.c defines these and includes this file. */
#ifndef PROBE_CALL
#define PROBE_CALL fcntl
#define PROBE_NAME "fcntl"
#endif
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	int fd = open(p->target, p->flags), saved;

	if (fd < 0)
		return -1;
	h->fd = PROBE_CALL(fd, p->alt ? F_DUPFD_CLOEXEC : F_DUPFD, 100);
	saved = errno;
	close(fd);
	errno = saved;
	return h->fd < 0 ? -1 : 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -f open flags; -x use F_DUPFD_CLOEXEC",
	.take = take,
	.give = probe_give_close,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
