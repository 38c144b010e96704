/* probe-dup2.c - by default, per call: fd = open(path, flags), copy =
 * dup2(fd, 100 + i), close(fd), hold the copy, which close() gives back.
 * With -x: hold fd itself and give it back by dup2()-ing /dev/null over it,
 * an implicit close; the descriptor stays open on /dev/null through LINGER. */

/* probe-dup3.c defines these and includes this file. */
#ifndef PROBE_DUP
#define PROBE_DUP(old, new, flags) dup2(old, new)
#define PROBE_NAME "dup2"
#endif
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	int fd = open(p->target, p->flags), saved;

	if (fd < 0 || p->alt) {
		h->fd = fd;
		return fd < 0 ? -1 : 0;
	}
	h->fd = PROBE_DUP(fd, 100 + i, O_CLOEXEC);
	saved = errno;
	close(fd);
	errno = saved;
	return h->fd < 0 ? -1 : 0;
}

static int give(struct probe *p, struct probe_held *h)
{
	int null, r;

	if (!p->alt)
		return close(h->fd);
	null = probe_devnull();
	if (null < 0)
		return -1;
	r = PROBE_DUP(null, h->fd, 0);
	close(null);
	return r < 0 ? -1 : 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -f open flags; -x release by " PROBE_NAME " over it",
	.take = take,
	.give = give,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
