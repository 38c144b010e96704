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

static void close_all(struct probe *p)
{
	for (int i = 0; i < p->nheld; i++)
		if (p->held[i].fd >= 0 && close(p->held[i].fd) < 0)
			probe_emit("relerr fd=%d errno=%s", p->held[i].fd,
			           strerrorname_np(errno));
}

int main(int argc, char **argv)
{
	static struct probe p;
	static char fds[PROBE_MAX * 8];
	char *hargv[5];
	const char *holder;
	pid_t pid;
	int status;

	probe_parse(&p, argc, argv, "TARGET: a path; -x child _exit()s at once");
	probe_open_list(&p, fds, sizeof(fds));
	/* Everything the child needs is ready before vfork(): it may only
	 * exec or _exit. */
	holder = probe_sibling("holder");
	hargv[0] = (char *)"holder";
	hargv[1] = fds;
	hargv[2] = (char *)p.hold;
	hargv[3] = (char *)p.linger;
	hargv[4] = NULL;
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
		close_all(&p);
		probe_emit("parent-released");
		probe_wait(p.linger);
	} else {
		close_all(&p);
		probe_emit("parent-released");
		waitpid(pid, &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			probe_emit("holder-failed status=%d", status);
	}
	probe_emit("done");
	return 0;
}
