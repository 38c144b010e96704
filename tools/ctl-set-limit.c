/* ctl-set-limit.c - `throttlectl set-limit POOL N`: changes a pool's limit
 * live, through the engine, which records it as the operator's so that
 * processes loading the same config do not set it back. Never revokes a
 * slot: a smaller limit drains. */
#define _GNU_SOURCE
#include "ctl.h"
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char set_limit_help[] =
	"\nSets POOL's limit to N (1-1024) now, for every process using it.\n"
	"Growing lets waiters in at once, oldest first. Shrinking takes nothing\n"
	"back: the slots in use stay held, and nobody new gets one until fewer\n"
	"than N are in use. Prints 'POOL: limit N (was M)'.\n"
	"\nThe limit holds until the config's own 'limit' for the pool changes:\n"
	"a process that starts and loads the same config leaves it alone; one\n"
	"that loads an edited limit applies that. 'throttlectl status' says\n"
	"where the limit came from (FROM: created, config, set-limit).\n"
	"Needs write access to the pool's segment.\n"
	"\nexit status: 0 set, 1 no such pool or it cannot be written, 2 usage\n"
	"(N not a number within 1-1024 among them)\n";

static int run_set_limit(int argc, char **argv);

const struct thr_ctl_verb thr_ctl_set_limit = {
	"set-limit", "POOL N",
	"change a pool's limit live; it holds until the config's own limit "
	"changes", run_set_limit, true,
};

_Static_assert(THR_POOL_LIMIT_MAX == 1024, "the bound the help states");

/* Sets snap->name's limit; snap tells what it was. */
static int set_one(const struct thr_pool_snapshot *snap, uint32_t limit)
{
	struct thr_pool_opts opts = { .limit = limit };
	char err[THR_POOL_ERR_LEN];
	struct thr_pool *pool;
	int r = thr_pool_open(snap->name, &opts, &pool, err);
	if (r < 0) {
		fprintf(stderr, "throttlectl: %s\n", err);
		return EXIT_FAILURE;
	}
	r = thr_pool_set_limit(pool, limit);
	thr_pool_close(pool);
	if (r < 0) {
		fprintf(stderr, "throttlectl: pool '%s': cannot set the limit: "
		        "%s\n", snap->name, strerror(-r));
		return EXIT_FAILURE;
	}
	printf("%s: limit %u (was %u)", snap->name, limit, snap->limit);
	if (snap->in_use > limit)
		printf("; %u in use, none taken back: no new grants until "
		       "fewer than %u", snap->in_use, limit);
	putchar('\n');
	return fflush(stdout) == 0 ? 0 : EXIT_FAILURE;
}

static int run_set_limit(int argc, char **argv)
{
	const struct thr_ctl_verb *v = &thr_ctl_set_limit;
	struct thr_ctl_pools l = { 0 };
	unsigned long long limit;
	int status = thr_ctl_options(v, argc, argv, set_limit_help, NULL, NULL);
	if (status >= 0)
		return status;
	if (argc - optind != 2)
		return thr_ctl_usage_error(v, argc - optind < 2
		                           ? "POOL and N are both needed"
		                           : "too many arguments");
	if (!thr_ctl_parse_whole(argv[optind + 1], 1, THR_POOL_LIMIT_MAX,
	                         &limit))
		return thr_ctl_usage_error(v, "limit '%s' is not a whole number "
		                           "within 1-%u", argv[optind + 1],
		                           THR_POOL_LIMIT_MAX);
	status = thr_ctl_pools_read(v, argv + optind, 1, &l);
	if (status == 0 && l.n == 1)
		status = set_one(&l.v[0], (uint32_t)limit);
	thr_ctl_pools_free(&l);
	return status;
}
