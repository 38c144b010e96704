/* handler-open.c - open() and close() from a signal handler that lands
 * anywhere in the gated open()+close() loop of its own thread, the shim's
 * pool lock included (open and close are async-signal-safe).
 *     handler-open LOOP_PATH HANDLER_PATH MS
 * Loops for MS milliseconds under a 20 µs interval timer, then prints
 * "loops=N handled=M failed=K": failed counts the handler's opens that
 * failed. Exits 0, or 1 if a loop open failed. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *handler_path;
static volatile sig_atomic_t handled, failed;

static void on_alarm(int sig)
{
	int saved = errno;
	int fd = open(handler_path, O_RDONLY);
	if (fd < 0)
		failed++;
	else
		close(fd);
	handled++;
	errno = saved;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: handler-open LOOP_PATH HANDLER_PATH MS\n");
		return 2;
	}
	handler_path = argv[2];
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	struct itimerval every = { { 0, 20 }, { 0, 20 } };
	setitimer(ITIMER_REAL, &every, NULL);
	long long loops = 0, until = now_ms() + atoll(argv[3]);
	int rc = 0;
	while (now_ms() < until) {
		int fd = open(argv[1], O_RDONLY);
		if (fd < 0) {
			rc = 1;
			break;
		}
		close(fd);
		loops++;
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	printf("loops=%lld handled=%d failed=%d\n", loops, (int)handled,
	       (int)failed);
	return rc;
}
