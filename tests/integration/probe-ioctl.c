/* probe-ioctl.c - open(path, flags) COUNT times, copies each descriptor
 * with fcntl, changes close-on-exec with ioctl, and replaces itself with
 * ./holder (see holder.c for its lines), handing it the descriptors that
 * survive the exec. -e picks the ioctl:
 *     fionclex (default)  the copy is made close-on-exec and FIONCLEX
 *                         clears it: the copies are handed on (open the
 *                         target with -f rdonly,cloexec)
 *     fioclex             the copy is made without close-on-exec and
 *                         FIOCLEX sets it: the originals are handed on
 *     close_range         the same, with close_range(CLOSE_RANGE_CLOEXEC)
 *                         in place of FIOCLEX
 * Prints "copyerr fd=N errno=NAME" for a copy or ioctl that failed, "exec"
 * just before the exec, "exec-failed errno=NAME" if it returns. */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

extern char **environ;

/* Sets (FIOCLEX, or close_range with ranged) or clears (FIONCLEX)
 * close-on-exec on c. */
static int mark(int c, bool set, bool ranged)
{
	if (ranged)
		return close_range((unsigned)c, (unsigned)c, CLOSE_RANGE_CLOEXEC);
	return ioctl(c, set ? FIOCLEX : FIONCLEX);
}

/* Copies fd and sets or clears close-on-exec on the copy; the descriptor
 * handed on (the copy, or fd), or -1. */
static int copy(int fd, bool set, bool ranged)
{
	int c = fcntl(fd, set ? F_DUPFD : F_DUPFD_CLOEXEC, 0);
	if (c < 0 || mark(c, set, ranged) != 0) {
		probe_emit("copyerr fd=%d errno=%s", fd, strerrorname_np(errno));
		return -1;
	}
	return set ? fd : c;
}

int main(int argc, char **argv)
{
	static struct probe p;
	static char fds[PROBE_MAX * 8];
	size_t len = 0;

	probe_parse(&p, argc, argv, "TARGET: a path; -e fionclex|fioclex|close_range");
	bool ranged = p.variant && strcmp(p.variant, "close_range") == 0;
	bool set = ranged || (p.variant && strcmp(p.variant, "fioclex") == 0);
	probe_open_list(&p, fds, sizeof(fds));
	fds[0] = '\0';
	for (int i = 0; i < p.nheld; i++) {
		int fd = p.held[i].fd >= 0 ? copy(p.held[i].fd, set, ranged) : -1;
		if (fd >= 0)
			len += (size_t)snprintf(fds + len, sizeof(fds) - len,
			                        "%s%d", len ? "," : "", fd);
	}
	probe_emit("exec");
	execve(probe_sibling("holder"), probe_holder_argv(&p, fds), environ);
	probe_emit("exec-failed errno=%s", strerrorname_np(errno));
	return 1;
}
