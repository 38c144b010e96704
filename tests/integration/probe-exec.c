/* probe-exec.c - open(path, flags) COUNT times (without O_CLOEXEC unless -f
 * says so), then replaces itself with ./holder, which keeps the descriptors
 * that survive the exec (see holder.c for its lines). -e picks the exec
 * function: execve (default), execv, execvp, execvpe, execl, execle, execlp,
 * fexecve. Prints "exec" just before the call, "exec-failed errno=NAME" if
 * it returns. */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

extern char **environ;

int main(int argc, char **argv)
{
	static struct probe p;
	static char fds[PROBE_MAX * 8];
	char **hargv;
	const char *holder, *v;

	probe_parse(&p, argc, argv, "TARGET: a path; -e exec variant");
	probe_open_list(&p, fds, sizeof(fds));
	holder = probe_sibling("holder");
	hargv = probe_holder_argv(&p, fds);
	v = p.variant ? p.variant : "execve";
	probe_emit("exec");
	if (strcmp(v, "execve") == 0)
		execve(holder, hargv, environ);
	else if (strcmp(v, "execv") == 0)
		execv(holder, hargv);
	else if (strcmp(v, "execvp") == 0)
		execvp(holder, hargv);
	else if (strcmp(v, "execvpe") == 0)
		execvpe(holder, hargv, environ);
	else if (strcmp(v, "execl") == 0)
		execl(holder, "holder", fds, p.hold, p.linger, (char *)NULL);
	else if (strcmp(v, "execle") == 0)
		execle(holder, "holder", fds, p.hold, p.linger, (char *)NULL,
		       environ);
	else if (strcmp(v, "execlp") == 0)
		execlp(holder, "holder", fds, p.hold, p.linger, (char *)NULL);
	else if (strcmp(v, "fexecve") == 0) {
		int efd = (int)probe_raw(SYS_openat, AT_FDCWD, (long)holder,
		                         O_RDONLY | O_CLOEXEC, 0);

		if (efd >= 0)
			fexecve(efd, hargv, environ);
	} else {
		probe_emit("bad variant '%s'", v);
		return 2;
	}
	probe_emit("exec-failed errno=%s", strerrorname_np(errno));
	return 1;
}
