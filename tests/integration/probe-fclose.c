/* probe-fclose.c - open(path, flags) COUNT times and wraps each descriptor in
 * a stream with fdopen(), then gives each back with fclose(): the slot is
 * taken by open() and must be released by fclose(), whose own close is
 * internal to libc. */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	int fd = open(p->target, p->flags);
	int saved;

	if (fd < 0)
		return -1;
	h->f = fdopen(fd, p->mode);
	if (!h->f) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	h->fd = fd;
	return 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -f open flags; -m fdopen mode (r)",
	.take = take,
	.give = probe_give_fclose,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
