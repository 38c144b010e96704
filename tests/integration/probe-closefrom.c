/* probe-closefrom.c - open(path, flags) COUNT times, then gives them all back
 * with one closefrom(lowest). */
#define _GNU_SOURCE
#include "probe.h"

#include <fcntl.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	h->fd = open(p->target, p->flags);
	return h->fd < 0 ? -1 : 0;
}

static int give_all(struct probe *p)
{
	int lo = -1;

	for (int i = 0; i < p->nheld; i++)
		if (p->held[i].fd >= 0 && (lo < 0 || p->held[i].fd < lo))
			lo = p->held[i].fd;
	if (lo >= 0)
		closefrom(lo);
	return 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -f open flags (rdonly by default)",
	.take = take,
	.give_all = give_all,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
