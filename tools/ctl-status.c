/* ctl-status.c - `throttlectl status`: every readable pool (or the named
 * ones) as a table or one line of JSON, formatted by status.c. Reads only;
 * never writes to a pool. */
#define _GNU_SOURCE
#include "ctl.h"
#include "status.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char status_help[] =
	"\nShows every pool you can read (or the named ones), sorted by name,\n"
	"each with its holders. IN_USE and WAITING count live processes only.\n"
	"What processes that are dead (killed, zombies, or their pid reused)\n"
	"still hold or wait for is counted apart, on a 'dead:' line, and their\n"
	"holders are marked dead, until the engine's next reclaim (an acquire\n"
	"that finds the pool full, or a waiter's periodic check) takes it back.\n"
	"A process hidden by /proc (hidepid) or in another pid namespace cannot\n"
	"be judged: it is marked unknown and counted as live, as the engine\n"
	"keeps its slots.\n"
	"\n--json prints one line:\n"
	"  {\"pools\":[{\"name\",\"limit\",\"in_use\",\"waiting\",\"dead_in_use\",\n"
	"  \"dead_waiting\",\"peak\",\"granted\",\"timeouts\",\"refused\",\"over\",\n"
	"  \"reclaimed\",\"holders\":[{\"pid\",\"fd\",\"target\",\"held_ms\",\"process\"}],\n"
	"  \"waiters\":[{\"pid\",\"fd\",\"target\",\"waited_ms\",\"process\"}]}]}\n"
	"in_use and waiting are the live figures; dead_in_use and dead_waiting\n"
	"what dead processes have; process is \"alive\", \"dead\" or \"unknown\".\n";

static int run_status(int argc, char **argv);

const struct thr_ctl_verb thr_ctl_status = {
	"status", "[--json] [POOL...]",
	"show the pools you can read (or the named ones): limit, counters, "
	"holders, the dead apart", run_status, false,
};

static int run_status(int argc, char **argv)
{
	struct thr_ctl_pools l = { 0 };
	bool json = false;
	int status;
	if (!thr_ctl_gather(&thr_ctl_status, argc, argv, status_help, "json", &json,
	                    &l, &status))
		return status;
	int r = json ? thr_status_json(stdout, l.v, l.n)
	             : thr_status_table(stdout, l.v, l.n);
	thr_ctl_pools_free(&l);
	if (r < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "throttlectl: cannot write the output: %s\n",
		        strerror(errno));
		return EXIT_FAILURE;
	}
	return status;
}
