/* probe-fopen.c - fopen(path, mode) COUNT times, then fclose() each. The mode
 * is -m (default "r"). With -D_FILE_OFFSET_BITS=64 the call goes to
 * fopen64. */

/* probe-fopen64.c defines these and includes this file. */
#ifndef PROBE_CALL
#define PROBE_CALL fopen
#define PROBE_NAME "fopen"
#endif
#define _GNU_SOURCE
#include "probe.h"

#include <stdio.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	h->f = PROBE_CALL(p->target, p->mode);
	if (!h->f)
		return -1;
	h->fd = fileno(h->f);
	return 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -m fopen mode (r by default)",
	.take = take,
	.give = probe_give_fclose,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
