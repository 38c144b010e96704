/* probe-closedir.c - open(dir, O_RDONLY | O_DIRECTORY) COUNT times and wraps
 * each descriptor in a directory stream with fdopendir(), then gives each
 * back with closedir(), whose own close is internal to libc. TARGET is a
 * directory. probe-opendir.c builds this with opendir() in their place. */
#define _GNU_SOURCE
#include "probe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

static DIR *dirs[PROBE_MAX];

/* The directory stream for TARGET: opendir(), or fdopendir() of open(). */
static DIR *open_dir(const char *target)
{
#ifdef PROBE_OPENDIR
	return opendir(target);
#else
	int fd = open(target, O_RDONLY | O_DIRECTORY);
	DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;

	if (fd >= 0 && !dir) {
		int saved = errno;

		close(fd);
		errno = saved;
	}
	return dir;
#endif
}

static int take(struct probe *p, int i, struct probe_held *h)
{
	dirs[i] = open_dir(p->target);
	if (!dirs[i])
		return -1;
	h->fd = dirfd(dirs[i]);
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
