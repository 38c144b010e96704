/* steps.c - a program that does the steps named on its command line, in
 * order, as real programs do them between their opens and closes:
 *     steps STEP...
 *   open=PATH            open(PATH, O_RDONLY), keeping the descriptor
 *   connect=ADDR:PORT    a new IPv4 stream socket, connect()ed
 *   nbconnect=ADDR:PORT  the same, non-blocking (in progress is ok)
 *   close                close() the last descriptor kept
 *   syscall-close        syscall(SYS_close, last), as libuv (node) does
 *   raw-close            the close system call made straight, as Go
 *                        does: no libc, no shim sees it
 *   wait=SPEC            probe_wait(SPEC): milliseconds, or @FILE
 *   stdin                read standard input to its end: an idle wait
 *                        that costs nothing, for many processes at once
 * A call prints "ok fd=N ms=T" or "err errno=NAME ms=T" (probe.h); then
 * "done", and exit 0. */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

static int kept[PROBE_MAX];
static int nkept;

static void keep(int fd, uint64_t t0)
{
	probe_report(fd, errno, t0);
	if (fd >= 0 && nkept < PROBE_MAX)
		kept[nkept++] = fd;
}

static int last(void)
{
	return nkept ? kept[--nkept] : -1;
}


static void to_end_of_stdin(void)
{
	char buf[64];
	while (read(0, buf, sizeof(buf)) > 0 || errno == EINTR)
		;
}

static void step(const char *s)
{
	uint64_t t0 = probe_now_ms();
	if (strncmp(s, "open=", 5) == 0)
		keep(open(s + 5, O_RDONLY), t0);
	else if (strncmp(s, "connect=", 8) == 0)
		keep(probe_connect4(s + 8, SOCK_STREAM), t0);
	else if (strncmp(s, "nbconnect=", 10) == 0)
		keep(probe_connect4(s + 10, SOCK_STREAM | SOCK_NONBLOCK), t0);
	else if (strcmp(s, "close") == 0)
		close(last());
	else if (strcmp(s, "syscall-close") == 0)
		syscall(SYS_close, last());
	else if (strcmp(s, "raw-close") == 0)
		probe_raw(SYS_close, last(), 0, 0, 0);
	else if (strncmp(s, "wait=", 5) == 0)
		probe_wait(s + 5);
	else if (strcmp(s, "stdin") == 0)
		to_end_of_stdin();
	else {
		probe_emit("bad step '%s'", s);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		step(argv[i]);
	probe_emit("done");
	return 0;
}
