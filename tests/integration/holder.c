/* holder.c - the program the exec and vfork probes turn into: it keeps the
 * descriptors it was given, then closes them.
 *     holder FD[,FD...] HOLD LINGER
 * Prints "held fd=N" for each descriptor that survived the exec (or
 * "lost fd=N"), waits HOLD, closes the survivors, prints "released", waits
 * LINGER, prints "done". HOLD and LINGER as in probe.h. */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int fds[PROBE_MAX], n = 0;
	bool alive[PROBE_MAX];
	char *s, *save = NULL;

	if (argc != 4) {
		probe_emit("usage: holder FD[,FD...] HOLD LINGER");
		return 2;
	}
	for (s = strtok_r(argv[1], ",", &save); s && n < PROBE_MAX;
	     s = strtok_r(NULL, ",", &save)) {
		fds[n] = atoi(s);
		alive[n] = fds[n] >= 0 && fcntl(fds[n], F_GETFD) >= 0;
		probe_emit("%s fd=%d", alive[n] ? "held" : "lost", fds[n]);
		n++;
	}
	probe_wait(argv[2]);
	for (int i = 0; i < n; i++)
		if (alive[i] && close(fds[i]) < 0)
			probe_emit("relerr fd=%d errno=%s", fds[i],
			           strerrorname_np(errno));
	probe_emit("released");
	probe_wait(argv[3]);
	probe_emit("done");
	return 0;
}
