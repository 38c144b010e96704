/* probe-close_range.c - open(path, flags) COUNT times, then gives them all
 * back with one close_range(lowest, highest, 0). With -x the flag is
 * CLOSE_RANGE_CLOEXEC instead, which closes nothing and so must give back
 * nothing; with -e badflags it is a flag the kernel refuses (EINVAL), so
 * that the call fails, closes nothing and must give back nothing. */
#define _GNU_SOURCE
#include "probe.h"

#include <fcntl.h>
#include <linux/close_range.h>
#include <string.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	h->fd = open(p->target, p->flags);
	return h->fd < 0 ? -1 : 0;
}

static int give_all(struct probe *p)
{
	int lo = -1, hi = -1;

	for (int i = 0; i < p->nheld; i++) {
		int fd = p->held[i].fd;

		if (fd < 0)
			continue;
		if (lo < 0 || fd < lo)
			lo = fd;
		if (fd > hi)
			hi = fd;
	}
	if (lo < 0)
		return 0;
	if (p->variant && strcmp(p->variant, "badflags") == 0)
		return close_range((unsigned)lo, (unsigned)hi, 1u << 30);
	return close_range((unsigned)lo, (unsigned)hi,
	                   p->alt ? CLOSE_RANGE_CLOEXEC : 0);
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -f open flags; -x use CLOSE_RANGE_CLOEXEC; "
	         "-e badflags",
	.take = take,
	.give_all = give_all,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
