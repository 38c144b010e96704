/* log.c - one-line messages to stderr. The host program owns stdout and
 * errno; this file touches neither, and never allocates. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

static bool quiet;

void thr_log_quiet(bool q)
{
	quiet = q;
}

void thr_log(const char *fmt, ...)
{
	if (quiet)
		return;
	int saved = errno;
	char line[512];
	int n = snprintf(line, sizeof(line), "throttle: ");
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
	errno = saved;
}
