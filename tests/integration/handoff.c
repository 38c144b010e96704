/* handoff.c - files one thread opens and another closes, as libuv's
 * thread pool does with node's fs calls:
 *     handoff PATH
 * the main thread opens PATH twice (a pool of 2: both slots), hands both
 * descriptors to a second thread that closes them 300 ms later, and opens
 * PATH a third time meanwhile: it must wait for them, not be refused as a
 * wait that could never end. Prints the third open's line (probe.h's
 * "ok fd=N ms=T" or "err errno=NAME ms=T"). */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

static int fds[2];

static void *close_later(void *unused)
{
	usleep(300 * 1000);
	close(fds[0]);
	close(fds[1]);
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t t;
	if (argc != 2)
		return 2;
	fds[0] = open(argv[1], O_RDONLY);
	fds[1] = open(argv[1], O_RDONLY);
	if (fds[0] < 0 || fds[1] < 0)
		return 1;
	pthread_create(&t, NULL, close_later, NULL);
	uint64_t t0 = probe_now_ms();
	int fd = open(argv[1], O_RDONLY);
	probe_report(fd, errno, t0);
	pthread_join(t, NULL);
	return 0;
}
