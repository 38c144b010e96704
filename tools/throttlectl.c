/* throttlectl.c - the operator's view of pools: `throttlectl VERB [ARGS...]`.
 * Verbs are a table of functions, so later ones (set-limit, top, metrics,
 * run) slot in beside status, reclaim and remove. Pools are mapped
 * read-only but by reclaim, which writes only through the engine. */
#define _GNU_SOURCE
#include "options.h"
#include "pool.h"
#include "status.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


struct verb {
	const char *name;
	const char *args;       /* for the usage line */
	const char *summary;    /* for --help */
	int (*run)(int argc, char **argv); /* argv[0] is the verb */
	bool needs_pool;        /* at least one POOL must be named */
};

static int verb_status(int argc, char **argv);
static int verb_reclaim(int argc, char **argv);
static int verb_remove(int argc, char **argv);

static const struct verb verbs[] = {
	{ "status", "[--json] [POOL...]",
	  "show the pools you can read (or the named ones): limit, counters, "
	  "holders, the dead apart", verb_status, false },
	{ "reclaim", "[POOL...]",
	  "give back now what dead processes hold or wait for, and say what "
	  "it was", verb_reclaim, false },
	{ "remove", "[--force] POOL...",
	  "delete pools' segments; refused while a live process holds a slot, "
	  "unless --force", verb_remove, true },
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static void help(FILE *out)
{
	fprintf(out, "usage: throttlectl VERB [ARGS...]\n\nverbs:\n");
	for (size_t i = 0; i < NVERBS; i++)
		fprintf(out, "  %s %s\n      %s\n", verbs[i].name, verbs[i].args,
		        verbs[i].summary);
	fprintf(out, "\noptions:\n");
	thr_options_help_lines(out, 17);
	fprintf(out, "\nexit status: 0 ok, 1 a named pool is missing, "
	        "unreadable or (remove) still held, 2 usage\n");
}

/* What a usage error without a verb ends with. */
static const char main_usage[] =
	"usage: throttlectl VERB [ARGS...] (see throttlectl --help)";

/* getopt's complaint about the options of verb v. */
static int bad_option(const struct verb *v, int c, const char *arg)
{
	char usage[128];
	snprintf(usage, sizeof(usage), "usage: throttlectl %s %s", v->name,
	         v->args);
	return thr_options_bad_option("throttlectl", usage, c, arg);
}

/* ---- status ------------------------------------------------------------- */

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

/* The snapshots gathered so far. */
struct snap_list {
	struct thr_pool_snapshot *v;
	size_t n, cap;
};

static void snap_list_free(struct snap_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		thr_pool_snapshot_free(&l->v[i]);
	free(l->v);
}

/* Reads pool name into l. Returns 0, or -errno with err filled. */
static int add_pool(struct snap_list *l, const char *name, char *err)
{
	struct thr_pool_opts opts = { .readonly = true };
	struct thr_pool *pool;
	int r;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct thr_pool_snapshot *v = realloc(l->v, cap * sizeof(*v));
		if (!v) {
			snprintf(err, THR_POOL_ERR_LEN, "out of memory");
			return -ENOMEM;
		}
		l->v = v;
		l->cap = cap;
	}
	r = thr_pool_open(name, &opts, &pool, err);
	if (r < 0)
		return r;
	r = thr_pool_snapshot(pool, &l->v[l->n]);
	thr_pool_close(pool);
	if (r < 0) {
		snprintf(err, THR_POOL_ERR_LEN, "pool '%s': cannot read it: %s",
		         name, strerror(-r));
		return r;
	}
	l->n++;
	return 0;
}

static bool listed(const struct snap_list *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return true;
	return false;
}

/* Every pool in /dev/shm the caller can read. Pools that are not readable,
 * or vanish meanwhile, are skipped without a word; damaged ones get a
 * warning. Returns 0, or EXIT_FAILURE when the folder cannot be read. */
static int scan_pools(struct snap_list *l)
{
	const size_t plen = strlen(THR_POOL_SEGMENT_PREFIX);
	char err[THR_POOL_ERR_LEN];
	DIR *dir = opendir(THR_POOL_DIR);
	struct dirent *d;

	if (!dir) {
		if (errno == ENOENT)
			return 0;
		fprintf(stderr, "throttlectl: cannot read %s: %s\n", THR_POOL_DIR,
		        strerror(errno));
		return EXIT_FAILURE;
	}
	while ((d = readdir(dir))) {
		const char *name = d->d_name + plen;
		if (strncmp(d->d_name, THR_POOL_SEGMENT_PREFIX, plen) != 0 ||
		    !thr_pool_name_is_valid(name))
			continue;
		int r = add_pool(l, name, err);
		if (r == -ENOMEM) {
			closedir(dir);
			fprintf(stderr, "throttlectl: %s\n", err);
			return EXIT_FAILURE;
		}
		if (r < 0 && r != -EACCES && r != -ENOENT)
			fprintf(stderr, "throttlectl: warning: %s\n", err);
	}
	closedir(dir);
	return 0;
}

/* The pools named on the command line, once each. Returns 0, or
 * EXIT_FAILURE after a line per pool that could not be read. */
static int named_pools(struct snap_list *l, char **names, int n)
{
	char err[THR_POOL_ERR_LEN];
	int status = 0;

	for (int i = 0; i < n; i++) {
		if (listed(l, names[i]))
			continue;
		if (!thr_pool_name_is_valid(names[i])) {
			fprintf(stderr, "throttlectl: no pool '%s': pool names "
			        "are 1-%d of A-Z a-z 0-9 _ . -\n", names[i],
			        THR_POOL_NAME_MAX);
			status = EXIT_FAILURE;
			continue;
		}
		int r = add_pool(l, names[i], err);
		char path[512];
		if (r == -ENOENT &&
		    thr_pool_segment_path(names[i], NULL, path, sizeof(path)) == 0)
			fprintf(stderr, "throttlectl: no pool '%s' (no %s)\n",
			        names[i], path);
		else if (r < 0)
			fprintf(stderr, "throttlectl: %s\n", err);
		if (r < 0)
			status = EXIT_FAILURE;
	}
	return status;
}

/* Reads verb v's options: --help prints usage and help_text; --FLAG (when
 * flag is not NULL) sets *flag_set. Returns -1 to go on (operands from
 * optind), else the exit status. */
static int verb_options(const struct verb *v, int argc, char **argv,
                        const char *help_text, const char *flag,
                        bool *flag_set)
{
	const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ flag ? flag : "help", no_argument, NULL, flag ? 'f' : 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'f') {
			*flag_set = true;
		} else if (c == 'h') {
			printf("usage: throttlectl %s %s\n%s", v->name, v->args,
			       help_text);
			return EXIT_SUCCESS;
		} else {
			return bad_option(v, c, argv[optind - 1]);
		}
	}
	return -1;
}

/* Verb v's options (see verb_options()), then the pools it names from
 * argv[optind] on, or every readable one, into l, sorted by name. Returns
 * true to go on, with *status the exit status so far; false to exit with
 * *status now. */
static bool verb_pools(const struct verb *v, int argc, char **argv,
                       const char *help_text, const char *flag,
                       bool *flag_set, struct snap_list *l, int *status)
{
	char usage[128];
	*status = verb_options(v, argc, argv, help_text, flag, flag_set);
	if (*status >= 0)
		return false;
	if (optind < argc) {
		*status = named_pools(l, argv + optind, argc - optind);
	} else if (v->needs_pool) {
		snprintf(usage, sizeof(usage), "usage: throttlectl %s %s",
		         v->name, v->args);
		*status = thr_options_usage_error("throttlectl", usage,
		                                  "no pool named");
		return false;
	} else {
		*status = scan_pools(l);
	}
	thr_status_sort(l->v, l->n);
	return true;
}

static int verb_status(int argc, char **argv)
{
	struct snap_list l = { 0 };
	bool json = false;
	int status;
	if (!verb_pools(&verbs[0], argc, argv, status_help, "json", &json, &l,
	                &status))
		return status;
	int r = json ? thr_status_json(stdout, l.v, l.n)
	             : thr_status_table(stdout, l.v, l.n);
	snap_list_free(&l);
	if (r < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "throttlectl: cannot write the output: %s\n",
		        strerror(errno));
		return EXIT_FAILURE;
	}
	return status;
}

/* ---- reclaim ------------------------------------------------------------ */

static const char reclaim_help[] =
	"\nGives back at once the slots and queue places of processes that are\n"
	"dead (killed, zombies, or their pid reused), in every pool you can\n"
	"read or the named ones, and prints a line for each slot given back:\n"
	"  POOL: pid PID fd FD TARGET\n"
	"then one line per pool that had any: 'POOL: N slots back'. The engine\n"
	"does the same by itself when an acquire finds the pool full or a\n"
	"waiter checks; this is for an operator who wants it now. A process\n"
	"that cannot be judged (hidepid, another pid namespace) keeps its\n"
	"slots. Needs write access to the pool's segment.\n";

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

static int verb_reclaim(int argc, char **argv)
{
	struct snap_list l = { 0 };
	int status;
	if (!verb_pools(&verbs[1], argc, argv, reclaim_help, NULL, NULL, &l,
	                &status))
		return status;
	for (size_t i = 0; i < l.n; i++)
		if (reclaim_one(&l.v[i]) != 0)
			status = EXIT_FAILURE;
	snap_list_free(&l);
	return status;
}

/* ---- remove ------------------------------------------------------------- */

static const char remove_help[] =
	"\nDeletes the named pools' segments. Processes that have a pool open\n"
	"keep using their mapping; the next one to open the name creates a new\n"
	"pool. Refused, with the holders' pids, while a live process (or one\n"
	"that cannot be judged) holds a slot, unless --force.\n";

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

static int verb_remove(int argc, char **argv)
{
	struct snap_list l = { 0 };
	bool force = false;
	int status;
	if (!verb_pools(&verbs[2], argc, argv, remove_help, "force", &force,
	                &l, &status))
		return status;
	for (size_t i = 0; i < l.n; i++)
		if (remove_one(&l.v[i], force) != 0)
			status = EXIT_FAILURE;
	snap_list_free(&l);
	return status;
}

/* ---- dispatch ----------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (argc < 2)
		return thr_options_usage_error("throttlectl", main_usage,
		                               "no verb given");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		help(stdout);
		return EXIT_SUCCESS;
	}
	if (strcmp(argv[1], "--version") == 0)
		return thr_options_version("throttlectl");
	if (argv[1][0] == '-')
		return thr_options_usage_error("throttlectl", main_usage,
		                               "unknown option '%s'", argv[1]);
	for (size_t i = 0; i < NVERBS; i++)
		if (strcmp(argv[1], verbs[i].name) == 0)
			return verbs[i].run(argc - 1, argv + 1);
	return thr_options_usage_error("throttlectl", main_usage,
	                               "unknown verb '%s'", argv[1]);
}
