/* probe-open.c - open(path, flags[, mode]) COUNT times, then close() each.
 * Flags come from -f at run time, so with -O2 -D_FORTIFY_SOURCE=2 the call
 * goes to __open_2; with -D_FILE_OFFSET_BITS=64 it goes to open64. With
 * -e connect each file is also handed to connect(), which must fail with
 * ENOTSOCK and leave the file its slot ("connerr" if it fails otherwise). */

/* probe-open64.c defines these and includes this file. */
#ifndef PROBE_CALL
#define PROBE_CALL open
#define PROBE_NAME "open"
#endif
#define _GNU_SOURCE
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void connect_file(int fd)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_port = htons(9) };
	int saved = errno;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ||
	    errno != ENOTSOCK)
		probe_emit("connerr fd=%d errno=%s", fd, strerrorname_np(errno));
	errno = saved;
}

static int take(struct probe *p, int i, struct probe_held *h)
{
	if (probe_needs_mode(p->flags))
		h->fd = PROBE_CALL(p->target, p->flags, 0600);
	else
		h->fd = PROBE_CALL(p->target, p->flags);
	if (h->fd >= 0 && p->variant && strcmp(p->variant, "connect") == 0)
		connect_file(h->fd);
	return h->fd < 0 ? -1 : 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -f open flags (rdonly by default); -e connect",
	.take = take,
	.give = probe_give_close,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
