/* probe-dup.c - per call: fd = open(path, flags), copy = dup(fd), close(fd),
 * and hold the copy, which close() gives back. The slot taken by open() must
 * survive the close of the original. */
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
	h->fd = dup(fd);
	saved = errno;
	close(fd);
	errno = saved;
	return h->fd < 0 ? -1 : 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -f open flags (rdonly by default)",
	.take = take,
	.give = probe_give_close,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
