/* ctl-remove.c - `throttlectl remove`: deletes pools' segments, refused
 * while a live process holds a slot (unless --force). Never touches a
 * pool's contents. */
#define _GNU_SOURCE
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

static const char remove_help[] =
	"\nDeletes the named pools' segments. Processes that have a pool open\n"
	"keep using their mapping; the next one to open the name creates a new\n"
	"pool. Refused, with the holders' pids, while a live process (or one\n"
	"that cannot be judged) holds a slot, unless --force.\n"
	"\nexit status: 0 removed, 1 a pool is missing, unreadable, still held\n"
	"or cannot be removed, 2 usage\n";

static int run_remove(int argc, char **argv);

const struct thr_ctl_verb thr_ctl_remove = {
	"remove", "[--force] POOL...",
	"delete pools' segments; refused while a live process holds a slot, "
	"unless --force", run_remove, true,
};

/* Removes pool snap->name, unless a live process holds a slot of it. */
static int remove_one(const struct thr_pool_snapshot *snap, bool force)
{
	size_t live = 0;
	for (size_t i = 0; i < snap->nholders; i++)
		if (snap->holders[i].process != THR_PROC_JUDGED_DEAD) {
			if (live++ == 0 && !force)
				fprintf(stderr, "throttlectl: pool '%s' is in use, "
				        "not removed (--force removes it): held by "
				        "pid %d", snap->name,
				        (int)snap->holders[i].pid);
			else if (!force)
				fprintf(stderr, ", %d", (int)snap->holders[i].pid);
		}
	if (live && !force) {
		fputc('\n', stderr);
		return EXIT_FAILURE;
	}
	int r = thr_pool_unlink(snap->name, NULL);
	if (r < 0) {
		fprintf(stderr, "throttlectl: pool '%s': cannot remove: %s\n",
		        snap->name, strerror(-r));
		return EXIT_FAILURE;
	}
	return 0;
}

static int run_remove(int argc, char **argv)
{
	struct thr_ctl_pools l = { 0 };
	bool force = false;
	int status;
	if (!thr_ctl_gather(&thr_ctl_remove, argc, argv, remove_help, "force", &force,
	                    &l, &status))
		return status;
	for (size_t i = 0; i < l.n; i++)
		if (remove_one(&l.v[i], force) != 0)
			status = EXIT_FAILURE;
	thr_ctl_pools_free(&l);
	return status;
}
