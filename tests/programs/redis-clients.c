/* redis-clients.c - the outside witness for a real redis-server: asks the
 * server itself, over one connection of its own, how many clients it has
 * (INFO clients, connected_clients less this one), about every millisecond.
 * It never runs under the shim.
 *     redis-clients PORT STATEFILE
 * STATEFILE is rewritten (atomically, by rename) after the first answer,
 * whenever max grows, and every 100 ms:
 *     cur=C max=M samples=S
 * SIGTERM writes it a last time and exits 0.
 *
 * The server counts a client from its accept until it reads the client's
 * close, and one pass of its event loop may accept a new client before it
 * reads an old one's close that came first. So a count above the most so
 * far is asked again SETTLE_MS later, and the smaller of the two is
 * believed: a close already sent is read by then, while a client the shim
 * really let in too early stays connected far longer (every case holds its
 * clients for 300 ms or more). */
#define _GNU_SOURCE
#include "witness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SETTLE_MS 50

static const char *state_path;
static int cur, max;
static unsigned long samples;

static void save(void)
{
	witness_save("redis-clients", state_path, "cur=%d max=%d samples=%lu",
	             cur, max, samples);
}

static int dial(int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	in.sin_port = htons((uint16_t)port);
	in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&in, sizeof(in)) < 0) {
		perror("redis-clients: connect");
		exit(1);
	}
	return fd;
}

/* One INFO clients round trip: the server's client count, less us. The
 * reply is a bulk string, "$LEN\r\n" then LEN bytes and "\r\n". */
static int ask(int fd)
{
	static const char req[] = "INFO clients\r\n";
	char buf[8192], *p;
	size_t have = 0;
	long want = -1;

	if (write(fd, req, sizeof(req) - 1) != (ssize_t)sizeof(req) - 1)
		goto broken;
	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);

		if (n <= 0)
			goto broken;
		have += (size_t)n;
		buf[have] = '\0';
		p = strstr(buf, "\r\n");
		if (want < 0 && p)
			want = (p - buf) + 2 + atol(buf + 1) + 2;
		if (want >= 0 && have >= (size_t)want)
			break;
		if (have == sizeof(buf) - 1)
			goto broken;
	}
	p = strstr(buf, "connected_clients:");
	if (buf[0] != '$' || !p)
		goto broken;
	return atoi(p + strlen("connected_clients:")) - 1;
broken:
	fprintf(stderr, "redis-clients: no answer to INFO clients\n");
	exit(1);
}

static int fd;

/* One question, and a second SETTLE_MS later before a most is believed;
 * true when the most grew. */
static bool sample(void)
{
	const struct timespec settle = { 0, SETTLE_MS * 1000000L };
	int again;

	cur = ask(fd);
	samples++;
	if (cur <= max)
		return false;
	nanosleep(&settle, NULL);
	again = ask(fd);
	if (again < cur)
		cur = again;
	if (cur <= max)
		return false;
	max = cur;
	return true;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: redis-clients PORT STATEFILE\n");
		return 2;
	}
	state_path = argv[2];
	fd = dial(atoi(argv[1]));
	witness_catch_stop(1); /* a round trip under way ends first */
	return witness_run(sample, save, (struct timespec){ 0, 1000000 });
}
