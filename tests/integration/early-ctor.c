/* early-ctor.c - a library whose constructor calls open() before the shim's
 * own constructor may have run, as other people's libraries do. It opens
 * EARLY_PATH twice, holding the first, and reports both results on fd 2. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((constructor)) static void early(void)
{
	const char *path = getenv("EARLY_PATH");
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
