/* early-ctor.c - a library whose constructor calls open() before the shim's
 * own constructor may have run, as other people's libraries do. It opens
 * EARLY_PATH twice, holding the first, and reports both results on fd 2.
 * With EARLY_CLOSE_FD set instead, it starts a thread (as other people's
 * libraries do too) that closes that descriptor EARLY_CLOSE_MS ms later,
 * while the shim may still be loading. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void *close_later(void *arg)
{
	const char *ms = getenv("EARLY_CLOSE_MS");
	usleep((useconds_t)(ms ? atoi(ms) : 0) * 1000);
	close(atoi(getenv("EARLY_CLOSE_FD")));
	return NULL;
}

__attribute__((constructor)) static void early(void)
{
	const char *path = getenv("EARLY_PATH");
	pthread_t t;
	if (getenv("EARLY_CLOSE_FD") &&
	    pthread_create(&t, NULL, close_later, NULL) == 0)
		pthread_detach(t);
	if (!path)
		return;
	int a = open(path, O_RDONLY);
	int b = open(path, O_RDONLY);
	int e = errno;
	dprintf(2, "early: first %s, second %s\n", a >= 0 ? "ok" : strerror(errno),
	        b >= 0 ? "ok" : strerror(e));
	close(a);
	if (b >= 0)
		close(b);
}
