/* probe-closedir.c - open(dir, O_RDONLY | O_DIRECTORY) COUNT times and wraps
 * each descriptor in a directory stream with fdopendir(), then gives each
 * back with closedir(), whose own close is internal to libc. TARGET is a
 * directory. */
#define _GNU_SOURCE
#include "probe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static DIR *dirs[PROBE_MAX];

static int take(struct probe *p, int i, struct probe_held *h)
{
	int fd = open(p->target, O_RDONLY | O_DIRECTORY);

	if (fd < 0)
		return -1;
	dirs[i] = fdopendir(fd);
	if (!dirs[i]) {
		int saved = errno;

		close(fd);
		errno = saved;
		return -1;
	}
	h->fd = fd;
	return 0;
}

static int give(struct probe *p, struct probe_held *h)
{
	return closedir(dirs[h - p->held]);
}

static const struct probe_ops ops = {
	.usage = "TARGET: a directory",
	.take = take,
	.give = give,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
