/* probe-creat64.c - creat64(path, 0600) COUNT times, then close() each. */
#define _GNU_SOURCE
#include "probe.h"

#include <fcntl.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	h->fd = creat64(p->target, 0600);
	return h->fd < 0 ? -1 : 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path, created or truncated",
	.take = take,
	.give = probe_give_close,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
