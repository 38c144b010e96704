/* probe-fcloseall.c - fopen(path, mode) COUNT times, then gives every stream
 * back with one fcloseall(). (glibc's fcloseall flushes the streams but
 * leaves their descriptors open; the shim still has to give the slots
 * back.) With -e dup, each stream's descriptor is also dup()ed, and the
 * copies stay open to the end: they keep the slots. */
#define _GNU_SOURCE
#include "probe.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	h->f = fopen(p->target, p->mode);
	if (!h->f)
		return -1;
	h->fd = fileno(h->f);
	if (p->variant && strcmp(p->variant, "dup") == 0 && dup(h->fd) < 0)
		return -1;
	return 0;
}

static int give_all(struct probe *p)
{
	return fcloseall() == 0 ? 0 : -1;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -m fopen mode (r by default); -e dup",
	.take = take,
	.give_all = give_all,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
