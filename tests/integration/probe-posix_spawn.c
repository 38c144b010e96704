/* probe-posix_spawn.c - open(path, flags) COUNT times (without O_CLOEXEC
 * unless -f says so), then starts ./holder with posix_spawn (-e spawnp:
 * posix_spawnp), handing it the descriptors, and closes its own copies: the
 * child, not a fork, must keep the slots. Lines, besides the "ok"/"err" of
 * each open and the holder's own (see holder.c):
 *     spawned child=PID    posix_spawn returned
 *     parent-released      the parent has closed its copies
 *     done                 the parent has reaped the child */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static void close_all(struct probe *p)
{
	probe_close_held(p);
	probe_emit("parent-released");
}

int main(int argc, char **argv)
{
	static struct probe p;
	static char fds[PROBE_MAX * 8];
	char **hargv;
	const char *holder;
	pid_t pid;
	int r, status;

	probe_parse(&p, argc, argv, "TARGET: a path; -e spawnp");
	probe_open_list(&p, fds, sizeof(fds));
	holder = probe_sibling("holder");
	hargv = probe_holder_argv(&p, fds);
	if (p.variant && strcmp(p.variant, "spawnp") == 0)
		r = posix_spawnp(&pid, holder, NULL, NULL, hargv, environ);
	else
		r = posix_spawn(&pid, holder, NULL, NULL, hargv, environ);
	if (r != 0) {
		probe_emit("spawn-failed errno=%s", strerrorname_np(r));
		return 1;
	}
	probe_emit("spawned child=%d", (int)pid);
	close_all(&p);
	waitpid(pid, &status, 0);
	probe_emit("done");
	return 0;
}
