/* probe-dup3.c - by default, per call: fd = open(path, flags), copy =
 * dup3(fd, 100 + i, O_CLOEXEC), close(fd), hold the copy, which close()
 * gives back.
 * With -x: hold fd itself and give it back by dup3()-ing /dev/null over it,
 * an implicit close; the descriptor stays open on /dev/null through LINGER. */
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
	h->fd = dup3(fd, 100 + i, O_CLOEXEC);
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
	r = dup3(null, h->fd, 0);
	close(null);
	return r < 0 ? -1 : 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -f open flags; -x release by dup3 over it",
	.take = take,
	.give = give,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
