/* exitwait.c - a program that exits while one of its threads waits for a
 * slot it holds itself, and whose exit joins that thread, as node's exit
 * joins its libuv threads:
 *     exitwait PATH
 * opens PATH (a pool of 1: the only slot), starts a thread that opens it
 * too and waits, and 300 ms later calls exit(0), whose atexit handler
 * joins the thread. Prints "thread errno=NAME" (the waiting open's result)
 * and "exited" from the handler. Without the shim the thread's open
 * succeeds at once ("thread errno=0"). */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *path;
static pthread_t waiter;

static void *wait_for_slot(void *unused)
{
	int fd = open(path, O_RDONLY);
	probe_emit("thread errno=%s", fd >= 0 ? "0" : strerrorname_np(errno));
	return NULL;
}

static void join_at_exit(void)
{
	pthread_join(waiter, NULL);
	probe_emit("exited");
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	path = argv[1];
	if (open(path, O_RDONLY) < 0)
		return 1;
	atexit(join_at_exit);
	pthread_create(&waiter, NULL, wait_for_slot, NULL);
	usleep(300 * 1000);
	exit(0);
}
