/* probe-vfork.c - open(path, flags) COUNT times, then vfork(). Lines, besides
 * the "ok"/"err" of each open:
 *   default: the child execs ./holder with the descriptors (see holder.c,
 *   which prints "held", "released", "done" as it goes); the parent closes
 *   its copies at once:
 *     parent-released
 *     done               the parent has reaped the holder
 *   -x: the child _exit()s at once; the parent keeps its slots:
 *     child-exited
 *     parent-released    after HOLD; then LINGER
 *     done */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	static struct probe p;
	static char fds[PROBE_MAX * 8];
	char **hargv;
	const char *holder;
	pid_t pid;
	int status;

	probe_parse(&p, argc, argv, "TARGET: a path; -x child _exit()s at once");
	probe_open_list(&p, fds, sizeof(fds));
	/* Everything the child needs is ready before vfork(): it may only
	 * exec or _exit. */
	holder = probe_sibling("holder");
	hargv = probe_holder_argv(&p, fds);
	pid = vfork();
	if (pid < 0) {
		probe_emit("vfork-failed errno=%s", strerrorname_np(errno));
		return 1;
	}
	if (pid == 0) {
		if (!p.alt)
			execv(holder, hargv);
		_exit(p.alt ? 0 : 127);
	}
	if (p.alt) {
		waitpid(pid, &status, 0);
		probe_emit("child-exited");
		probe_wait(p.hold);
		probe_close_held(&p);
		probe_emit("parent-released");
		probe_wait(p.linger);
	} else {
		probe_close_held(&p);
		probe_emit("parent-released");
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			probe_emit("holder-failed status=%d", status);
	}
	probe_emit("done");
	return 0;
}
