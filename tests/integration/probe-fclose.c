/* probe-fclose.c - open(path, flags) COUNT times and wraps each descriptor in
 * a stream with fdopen(), then gives each back with fclose(): the slot is
 * taken by open() and must be released by fclose(), whose own close is
 * internal to libc. First, fclose() of an fmemopen() stream, which has no
 * descriptor, must leave errno alone: "errno-changed errno=NAME" if not. */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	int fd = open(p->target, p->flags);
	int saved;

	if (fd < 0)
		return -1;
	h->f = fdopen(fd, p->mode);
	if (!h->f) {
		saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	h->fd = fd;
	return 0;
}

static void fclose_keeps_errno(void)
{
	static char buf[16];
	FILE *m = fmemopen(buf, sizeof(buf), "r");

	errno = 0;
	if (m && fclose(m) == 0 && errno != 0)
		probe_emit("errno-changed errno=%s", strerrorname_np(errno));
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -f open flags; -m fdopen mode (r)",
	.take = take,
	.give = probe_give_fclose,
};

int main(int argc, char **argv)
{
	fclose_keeps_errno();
	return probe_run(argc, argv, &ops);
}
