/* probe-close.c - open(path, flags) COUNT times, then close() each and close
 * it once more, which must fail with EBADF and give back nothing else:
 *     close2 fd=N errno=EBADF     (or "close2 fd=N ok" if it did not fail) */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	if (probe_needs_mode(p->flags))
		h->fd = open(p->target, p->flags, 0600);
	else
		h->fd = open(p->target, p->flags);
	return h->fd < 0 ? -1 : 0;
}

static int give(struct probe *p, struct probe_held *h)
{
	int r = close(h->fd);
	int saved = errno;

	if (close(h->fd) < 0)
		probe_emit("close2 fd=%d errno=%s", h->fd,
		           strerrorname_np(errno));
	else
		probe_emit("close2 fd=%d ok", h->fd);
	errno = saved;
	return r;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -f open flags (rdonly by default)",
	.take = take,
	.give = give,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
