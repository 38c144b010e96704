/* probe-fcntl64.c - per call: fd = open(path, flags), copy = fcntl64(fd, F_DUPFD,
 * 100) (F_DUPFD_CLOEXEC with -x), close(fd), hold the copy, which close()
 * gives back. */
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
	h->fd = fcntl64(fd, p->alt ? F_DUPFD_CLOEXEC : F_DUPFD, 100);
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
