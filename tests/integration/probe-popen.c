/* probe-popen.c - open(path, flags) COUNT times (without O_CLOEXEC unless -f
 * says so), then starts ./holder through sh with glibc's popen, handing it
 * the descriptors, and closes its own copies at once: the child, started by
 * a clone no shim sees, must keep the slots. With -e system the child is
 * started with system() instead, which waits for it: a second thread closes
 * the copies once -d GO exists (the child's shim has joined by then).
 * Lines, besides the "ok"/"err" of each open and the holder's own (see
 * holder.c):
 *     spawned              popen returned, or system is about to be called
 *     parent-released      the parent has closed its copies
 *     holder-failed status=N  system's child did not exit 0
 *     done                 the child is reaped */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct probe p;
static char cmd[PROBE_MAX * 8 + 4096];

static void close_all(void)
{
	probe_close_held(&p);
	probe_emit("parent-released");
}

static void *close_on_go(void *arg)
{
	(void)arg;
	probe_wait(p.dir);
	close_all();
	return NULL;
}

static int by_system(void)
{
	pthread_t closer;
	if (!p.dir || pthread_create(&closer, NULL, close_on_go, NULL) != 0) {
		probe_emit("spawn-failed errno=%s", p.dir ? "pthread" : "no-go");
		return 1;
	}
	probe_emit("spawned");
	int status = system(cmd);
	pthread_join(closer, NULL);
	if (status != 0)
		probe_emit("holder-failed status=%d", status);
	probe_emit("done");
	return 0;
}

static int by_popen(void)
{
	FILE *child = popen(cmd, "w");
	if (!child) {
		probe_emit("spawn-failed errno=%s", strerrorname_np(errno));
		return 1;
	}
	probe_emit("spawned");
	if (p.dir)
		probe_wait(p.dir);
	close_all();
	pclose(child);
	probe_emit("done");
	return 0;
}

int main(int argc, char **argv)
{
	static char fds[PROBE_MAX * 8];

	probe_parse(&p, argc, argv, "TARGET: a path; -e system, -d GO");
	probe_open_list(&p, fds, sizeof(fds));
	snprintf(cmd, sizeof(cmd), "exec %s %s %s %s", probe_sibling("holder"),
	         fds, p.hold, p.linger);
	if (p.variant && strcmp(p.variant, "system") == 0)
		return by_system();
	return by_popen();
}
