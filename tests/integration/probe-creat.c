/* probe-creat.c - creat(path, 0600) COUNT times, then close() each.
 * With -D_FILE_OFFSET_BITS=64 the call goes to creat64. */

/* probe-creat64.c defines these and includes this file. */
#ifndef PROBE_CALL
#define PROBE_CALL creat
#define PROBE_NAME "creat"
#endif
#define _GNU_SOURCE
#include "probe.h"

#include <fcntl.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	h->fd = PROBE_CALL(p->target, 0600);
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
