/* ctl-reclaim.c - `throttlectl reclaim`: gives back now what dead
 * processes hold or wait for, through the engine, and says what it was.
 * Never takes anything from a live process or one it cannot judge. */
#define _GNU_SOURCE
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

static const char reclaim_help[] =
	"\nGives back at once the slots and queue places of processes that are\n"
	"dead (killed, zombies, or their pid reused), in every pool you can\n"
	"read or the named ones, and prints a line for each slot given back:\n"
	"  POOL: pid PID fd FD TARGET\n"
	"then one line per pool that had any: 'POOL: N slots back'. The engine\n"
	"does the same by itself when an acquire finds the pool full or a\n"
	"waiter checks; this is for an operator who wants it now. A process\n"
	"that cannot be judged (hidepid, another pid namespace) keeps its\n"
	"slots. Needs write access to the pool's segment.\n"
	"\nexit status: 0 ok, 1 a named pool is missing or unreadable, or a\n"
	"pool cannot be written, 2 usage\n";

static int run_reclaim(int argc, char **argv);

const struct thr_ctl_verb thr_ctl_reclaim = {
	"reclaim", "[POOL...]",
	"give back now what dead processes hold or wait for, and say what "
	"it was", run_reclaim, false,
};

/* Reclaims pool snap->name, whose snapshot names the dead holders. */
static int reclaim_one(const struct thr_pool_snapshot *snap)
{
	struct thr_pool_opts opts = { .limit = 1 };
	char err[THR_POOL_ERR_LEN];
	struct thr_pool *pool;
	int r = thr_pool_open(snap->name, &opts, &pool, err);
	if (r < 0) {
		fprintf(stderr, "throttlectl: %s\n", err);
		return EXIT_FAILURE;
	}
	r = thr_pool_reclaim(pool);
	thr_pool_close(pool);
	if (r < 0) {
		fprintf(stderr, "throttlectl: pool '%s': cannot reclaim: %s\n",
		        snap->name, strerror(-r));
		return EXIT_FAILURE;
	}
	for (size_t i = 0; r > 0 && i < snap->nholders; i++) {
		const struct thr_pool_holder_info *h = &snap->holders[i];
		if (h->process == THR_PROC_JUDGED_DEAD)
			printf("%s: pid %d fd %d %.64s\n", snap->name, (int)h->pid,
			       h->fd, h->target);
	}
	if (r > 0)
		printf("%s: %d slot%s back\n", snap->name, r, r == 1 ? "" : "s");
	return 0;
}

static int run_reclaim(int argc, char **argv)
{
	struct thr_ctl_pools l = { 0 };
	int status;
	if (!thr_ctl_gather(&thr_ctl_reclaim, argc, argv, reclaim_help, NULL, NULL,
	                    &l, &status))
		return status;
	for (size_t i = 0; i < l.n; i++)
		if (reclaim_one(&l.v[i]) != 0)
			status = EXIT_FAILURE;
	thr_ctl_pools_free(&l);
	return status;
}
