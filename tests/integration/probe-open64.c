/* probe-open64.c - open64(path, flags[, mode]) COUNT times, then close()
 * each. With -O2 -D_FORTIFY_SOURCE=2 the call goes to __open64_2. */
#define _GNU_SOURCE
#include "probe.h"

#include <fcntl.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	if (probe_needs_mode(p->flags))
		h->fd = open64(p->target, p->flags, 0600);
	else
		h->fd = open64(p->target, p->flags);
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
