/* witness.c - the state file, clock and stop signal of the programs
 * suite's witnesses (see witness.h). */
#define _GNU_SOURCE
#include "witness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

volatile sig_atomic_t witness_stop;

static void on_stop(int sig)
{
	(void)sig;
	witness_stop = 1;
}

void witness_catch_stop(int restart)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
}

void witness_save(const char *prog, const char *path, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	FILE *f;
	int n;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		goto broken;
	va_start(ap, fmt);
	n = vfprintf(f, fmt, ap);
	va_end(ap);
	if (fputc('\n', f) == EOF || fclose(f) != 0 || n < 0 ||
	    rename(tmp, path) < 0)
		goto broken;
	return;
broken:
	fprintf(stderr, "%s: cannot write %s\n", prog, path);
	exit(1);
}

int64_t witness_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int witness_run(bool (*sample)(void), void (*save)(void), struct timespec gap)
{
	int64_t saved = 0;

	for (bool first = true; !witness_stop; first = false) {
		if (sample() || first || witness_ms() - saved >= 100) {
			save();
			saved = witness_ms();
		}
		nanosleep(&gap, NULL);
	}
	save();
	return 0;
}
