/* probe-open.c - open(path, flags[, mode]) COUNT times, then close() each.
 * Flags come from -f at run time, so with -O2 -D_FORTIFY_SOURCE=2 the call
 * goes to __open_2; with -D_FILE_OFFSET_BITS=64 it goes to open64. */

/* probe-open64.c defines these and includes this file. */
#ifndef PROBE_CALL
#define PROBE_CALL open
#define PROBE_NAME "open"
#endif
#define _GNU_SOURCE
#include "probe.h"

#include <fcntl.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	if (probe_needs_mode(p->flags))
		h->fd = PROBE_CALL(p->target, p->flags, 0600);
	else
		h->fd = PROBE_CALL(p->target, p->flags);
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
