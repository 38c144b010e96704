/* jumper.c - the alarm() and siglongjmp() timeout of wget and many older
 * programs, around open() or connect():
 *     jumper open|connect TARGET ATTEMPTS ALARM_MS HOLD
 * Each attempt arms a one-shot timer of ALARM_MS, whose handler (installed
 * with signal(), so with SA_RESTART as glibc gives it) leaves the call by
 * siglongjmp; it prints "jumped ms=T", or "ok fd=N ms=T" if the call
 * returned first (the descriptor is kept). Then the program makes one call
 * of its own that no pool wants (an open of /dev/null), prints "after",
 * waits as HOLD says (probe_wait), prints "done" and exits 0. TARGET for
 * connect is IPv4-ADDRESS:PORT. */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

static sigjmp_buf timed_out;

static void on_alarm(int sig)
{
	siglongjmp(timed_out, 1);
}

/* One call on target; returns its descriptor or -1 with errno. */
static int call(bool is_connect, const char *target)
{
	return is_connect ? probe_connect4(target, SOCK_STREAM)
	                  : open(target, O_RDONLY);
}

int main(int argc, char **argv)
{
	if (argc != 6 || (strcmp(argv[1], "open") && strcmp(argv[1], "connect"))) {
		probe_emit("usage: jumper open|connect TARGET ATTEMPTS ALARM_MS HOLD");
		return 2;
	}
	bool is_connect = strcmp(argv[1], "connect") == 0;
	int attempts = atoi(argv[3]);
	long ms = atol(argv[4]);
	signal(SIGALRM, on_alarm);
	for (volatile int i = 0; i < attempts; i++) {
		volatile uint64_t t0 = probe_now_ms();
		if (sigsetjmp(timed_out, 1)) {
			probe_emit("jumped ms=%llu",
			           (unsigned long long)(probe_now_ms() - t0));
			continue;
		}
		struct itimerval it = { .it_value = { ms / 1000, (ms % 1000) * 1000 } };
		setitimer(ITIMER_REAL, &it, NULL);
		int fd = call(is_connect, argv[2]);
		struct itimerval off = { { 0, 0 }, { 0, 0 } };
		setitimer(ITIMER_REAL, &off, NULL);
		probe_report(fd, errno, t0);
	}
	int null = open("/dev/null", O_RDONLY);
	probe_emit("after");
	probe_wait(argv[5]);
	close(null);
	probe_emit("done");
	return 0;
}
