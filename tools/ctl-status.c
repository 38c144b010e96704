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
	"each with its holders, then its waiters, one line each:\n"
	"  pid PID  COMMAND  fd FD  held|wait DURATION  TARGET\n"
	"FROM says where the limit came from: created (whoever made the pool),\n"
	"config (a config's limit), or set-limit (an operator's, followed by\n"
	"'(config N)' once a config has asked for N); an operator's limit holds\n"
	"until the config's own limit changes.\n"
	"IN_USE and WAITING count live processes only.\n"
	"What processes that are dead (killed, zombies, or their pid reused)\n"
	"still hold or wait for is counted apart, on a 'dead:' line, and their\n"
	"lines are marked dead, until the engine's next reclaim (an acquire\n"
	"that finds the pool full, or a waiter's periodic check) takes it back.\n"
	"A process hidden by /proc (hidepid) or in another pid namespace cannot\n"
	"be judged: it is marked unknown and counted as live, as the engine\n"
	"keeps its slots. COMMAND is '-' for a process not judged alive.\n"
	"\n--json prints one line:\n"
	"  {\"pools\":[{\"name\",\"limit\",\"limit_source\",\"config_limit\",\n"
	"  \"in_use\",\"waiting\",\"dead_in_use\",\"dead_waiting\",\"peak\",\n"
	"  \"granted\",\"timeouts\",\"refused\",\"over\",\"reclaimed\",\n"
	"  \"holders\":[{\"pid\",\"comm\",\"fd\",\"target\",\"held_ms\",\"process\"}],\n"
	"  \"waiters\":[{\"pid\",\"comm\",\"fd\",\"target\",\"waited_ms\",\"process\"}]}]}\n"
	"limit_source is \"created\", \"config\" or \"set-limit\"; config_limit\n"
	"what a config last asked for, or null. in_use and waiting are the live\n"
	"figures; dead_in_use and dead_waiting what dead processes have; comm\n"
	"is \"\" for a process not judged alive; process is \"alive\", \"dead\"\n"
	"or \"unknown\".\n"
	"\nexit status: 0 ok, 1 a named pool is missing or unreadable, 2 usage\n";

static int run_status(int argc, char **argv);

const struct thr_ctl_verb thr_ctl_status = {
	"status", "[--json] [POOL...]",
	"show the pools you can read (or the named ones): limit and its "
	"source, counters, holders, waiters", run_status, false,
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
	return thr_ctl_output_done(r) ? EXIT_FAILURE : status;
}
