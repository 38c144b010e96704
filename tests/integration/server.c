/* server.c - the outside witness for connect(): a loopback stream server that
 * accepts every connection, keeps it open until the client closes it, and
 * counts by itself how many are open at once. It never runs under the shim.
 *     server [-6] [-u UNIXPATH] [-H DELAY_MS] STATEFILE
 * Listens on 127.0.0.1 (::1 with -6) on a free port, and on UNIXPATH with -u.
 * STATEFILE is rewritten (atomically, by rename) whenever a count changes:
 *     port=P cur=C max=M total=T
 * cur: connections open now; max: the most ever open at once; total: all
 * accepted. With -H the server speaks just enough HTTP/1.0: DELAY_MS after a
 * request's blank line it answers "200 OK" with a 3-byte body, and still
 * counts the connection until the client closes it. SIGTERM writes the file
 * a last time and exits 0.
 *
 * Counting is exact in the direction that matters: a client's close sends
 * its FIN before the shim gives the slot back, so before counting a newly
 * accepted connection every open one is checked for a FIN. Sent is not yet
 * arrived, though: loopback packets wait in a per-CPU queue, and under load
 * the one holding the FIN can be served after another CPU's carrying the
 * next client's connection. So before a connection would raise the most,
 * the open ones are given SETTLE_MS for their FINs to arrive; a client the
 * shim really let in too early stays connected far longer than that. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define MAXCONN 1024

struct conn {
	int fd;
	char req[4];            /* the last bytes seen, to find "\r\n\r\n" */
	bool answered;
	int64_t answer_at;      /* ms; 0 = no request seen yet */
};

static struct conn conns[MAXCONN];
static int nconns;
static int port, cur, max, total;
static const char *state_path;
static int delay_ms = -1;       /* -1: not HTTP */
static volatile sig_atomic_t stop;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_state(void)
{
	char tmp[4096], line[128];
	int fd, n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", state_path);
	n = snprintf(line, sizeof(line), "port=%d cur=%d max=%d total=%d\n",
	             port, cur, max, total);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, line, (size_t)n) != n) {
		perror("server: state file");
		exit(1);
	}
	close(fd);
	if (rename(tmp, state_path) < 0) {
		perror("server: rename");
		exit(1);
	}
}

static void drop(int i)
{
	close(conns[i].fd);
	conns[i] = conns[--nconns];
	cur--;
}

/* Reads what connection i has to say. Returns false if it is closed (and
 * then has been dropped). */
static bool drain(int i)
{
	char buf[4096];

	for (;;) {
		ssize_t n = recv(conns[i].fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			drop(i);
			return false;
		}
		if (n < 0)
			return true;
		for (ssize_t k = 0; k < n; k++) {
			struct conn *c = &conns[i];

			memmove(c->req, c->req + 1, 3);
			c->req[3] = buf[k];
			if (delay_ms >= 0 && !c->answer_at &&
			    memcmp(c->req, "\r\n\r\n", 4) == 0)
				c->answer_at = now_ms() + delay_ms;
		}
	}
}

/* Drops every connection whose client has already closed. */
static void sweep(void)
{
	for (int i = nconns - 1; i >= 0; i--)
		drain(i);
}

static void answer_due(void)
{
	static const char resp[] = "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n"
	                           "Connection: close\r\n\r\nok\n";
	int64_t now = now_ms();

	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		if (c->answer_at && !c->answered && now >= c->answer_at) {
			c->answered = true;
			if (send(c->fd, resp, sizeof(resp) - 1, MSG_NOSIGNAL) < 0) {
				/* the client is gone; its EOF drops it */
			}
		}
	}
}

static int next_timeout(void)
{
	int64_t now = now_ms(), t = -1;

	for (int i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		if (c->answer_at && !c->answered) {
			int64_t left = c->answer_at - now;

			if (left < 0)
				left = 0;
			if (t < 0 || left < t)
				t = left;
		}
	}
	return (int)t;
}

#define SETTLE_MS 50

/* Waits up to SETTLE_MS for FINs already sent to arrive, dropping the
 * connections they close. */
static void settle(void)
{
	int64_t until = now_ms() + SETTLE_MS;
	struct pollfd pfds[MAXCONN];

	for (int64_t left; nconns > 0 && (left = until - now_ms()) > 0;) {
		for (int i = 0; i < nconns; i++)
			pfds[i] = (struct pollfd){ .fd = conns[i].fd,
			                           .events = POLLRDHUP };
		if (poll(pfds, (nfds_t)nconns, (int)left) <= 0)
			return;
		for (int i = nconns - 1; i >= 0; i--)
			if (pfds[i].revents)
				drain(i);
	}
}

static void accept_all(int lfd)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0)
			return;
		/* Any connection closed before this one was made shows its EOF
		 * by now, or within SETTLE_MS: drop those first, so they never
		 * count together. */
		sweep();
		if (cur + 1 > max) /* only a new most needs the wait */
			settle();
		if (nconns == MAXCONN) {
			close(fd);
			continue;
		}
		memset(&conns[nconns], 0, sizeof(conns[nconns]));
		conns[nconns++].fd = fd;
		cur++;
		total++;
		if (cur > max)
			max = cur;
		write_state();
	}
}

static void on_term(int sig)
{
	stop = 1;
}

static int listen_inet(bool v6)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd = socket(v6 ? AF_INET6 : AF_INET,
	                SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_addr = in6addr_loopback;
		len = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*in);
	}
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) < 0 ||
	    listen(fd, 512) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &len) < 0) {
		perror("server: listen");
		exit(1);
	}
	port = ntohs(v6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
	                : ((struct sockaddr_in *)&ss)->sin_port);
	return fd;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un un;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	memset(&un, 0, sizeof(un));
	un.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(un.sun_path)) {
		fprintf(stderr, "server: unix path too long\n");
		exit(1);
	}
	strcpy(un.sun_path, path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof(un)) < 0 ||
	    listen(fd, 512) < 0) {
		perror("server: listen unix");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	static struct pollfd pfds[MAXCONN + 2];
	const char *unix_path = NULL;
	struct sigaction sa;
	int lfds[2], nl = 0, c;
	bool v6 = false;

	while ((c = getopt(argc, argv, "6u:H:")) != -1) {
		switch (c) {
		case '6': v6 = true; break;
		case 'u': unix_path = optarg; break;
		case 'H': delay_ms = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: server [-6] [-u PATH] [-H MS] "
			        "STATEFILE\n");
			return 2;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "usage: server [-6] [-u PATH] [-H MS] STATEFILE\n");
		return 2;
	}
	state_path = argv[optind];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lfds[nl++] = listen_inet(v6);
	if (unix_path)
		lfds[nl++] = listen_unix(unix_path);
	write_state();

	while (!stop) {
		int n = 0, r;

		for (int i = 0; i < nl; i++)
			pfds[n++] = (struct pollfd){ .fd = lfds[i], .events = POLLIN };
		for (int i = 0; i < nconns; i++)
			pfds[n++] = (struct pollfd){ .fd = conns[i].fd,
			                             .events = POLLIN };
		r = poll(pfds, (nfds_t)n, next_timeout());
		if (r < 0 && errno != EINTR)
			break;
		if (r > 0) {
			/* Closes first, then new connections (see the top). */
			bool changed = false;

			for (int i = nconns - 1; i >= 0; i--)
				if (pfds[nl + i].revents) {
					int before = nconns;

					drain(i);
					changed |= nconns != before;
				}
			if (changed)
				write_state();
			for (int i = 0; i < nl; i++)
				if (pfds[i].revents & POLLIN)
					accept_all(lfds[i]);
		}
		answer_due();
	}
	write_state();
	if (unix_path)
		unlink(unix_path);
	return 0;
}
