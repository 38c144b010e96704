/* probe-connect.c - connect() COUNT new stream sockets to TARGET, then
 * close() each. TARGET is HOST:PORT with an IPv4 address, [IPv6]:PORT, or
 * unix:PATH. With -n the sockets are non-blocking: EINPROGRESS is reported
 * as success ("ok fd=N ms=T inprogress"), then the probe waits for the
 * outcome and prints "connected fd=N" or "connerr fd=N errno=NAME". */
#define _GNU_SOURCE
#include "probe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct sockaddr_storage addr;
static socklen_t addrlen;

/* Parses TARGET once into addr; exits 2 on nonsense. */
static void parse_target(const char *t)
{
	char host[256];
	const char *colon;

	memset(&addr, 0, sizeof(addr));
	if (strncmp(t, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)&addr;

		un->sun_family = AF_UNIX;
		if (strlen(t + 5) >= sizeof(un->sun_path))
			goto bad;
		strcpy(un->sun_path, t + 5);
		addrlen = sizeof(*un);
		return;
	}
	if (t[0] == '[') {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&addr;
		const char *end = strchr(t, ']');

		if (!end || end[1] != ':' || (size_t)(end - t - 1) >= sizeof(host))
			goto bad;
		memcpy(host, t + 1, (size_t)(end - t - 1));
		host[end - t - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)atoi(end + 2));
		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			goto bad;
		addrlen = sizeof(*in6);
		return;
	}
	colon = strrchr(t, ':');
	if (!colon || (size_t)(colon - t) >= sizeof(host))
		goto bad;
	{
		struct sockaddr_in *in = (struct sockaddr_in *)&addr;

		memcpy(host, t, (size_t)(colon - t));
		host[colon - t] = '\0';
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)atoi(colon + 1));
		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			goto bad;
		addrlen = sizeof(*in);
	}
	return;
bad:
	probe_emit("bad target '%s'", t);
	exit(2);
}

/* Waits for a non-blocking connect to finish and reports how it ended. */
static void finish(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (poll(&pfd, 1, 3000) != 1) {
		probe_emit("connerr fd=%d errno=ETIMEDOUT", fd);
		return;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err)
		probe_emit("connerr fd=%d errno=%s", fd, strerrorname_np(err));
	else
		probe_emit("connected fd=%d", fd);
}

static int take(struct probe *p, int i, struct probe_held *h)
{
	uint64_t t0 = probe_now_ms();
	int fd, saved;

	if (i == 0)
		parse_target(p->target);
	fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC |
	            (p->nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, addrlen) == 0) {
		h->fd = fd;
		return 0;
	}
	if (errno == EINPROGRESS) {
		probe_emit("ok fd=%d ms=%llu inprogress", fd,
		           (unsigned long long)(probe_now_ms() - t0));
		finish(fd);
		h->fd = fd;
		/* Already reported; tell probe_run to stay quiet. */
		errno = EINPROGRESS;
		return 1;
	}
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static const struct probe_ops ops = {
	.usage = "TARGET: HOST:PORT, [V6]:PORT or unix:PATH; -n non-blocking",
	.take = take,
	.give = probe_give_close,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
