/* ctl.h - what the verbs of throttlectl share: the verb table's entry, the
 * reading of a verb's options and the gathering of the pools it names (or
 * every readable one) as snapshots. Each verb lives in its own ctl-VERB.c;
 * throttlectl.c only dispatches. Prints to stdout and stderr; never exits. */
#ifndef THR_CTL_H
#define THR_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "pool.h"

struct thr_ctl_verb {
	const char *name;
	const char *args;       /* for the usage line */
	const char *summary;    /* for throttlectl --help */
	int (*run)(int argc, char **argv); /* argv[0] is the verb; returns
	                           the exit status */
	bool needs_pool;        /* at least one POOL must be named */
};

/* The verbs, each defined in its own file. */
extern const struct thr_ctl_verb thr_ctl_status, thr_ctl_reclaim,
	thr_ctl_remove;
extern const struct thr_ctl_verb thr_ctl_check;
extern const struct thr_ctl_verb thr_ctl_set_limit;
extern const struct thr_ctl_verb thr_ctl_run;
extern const struct thr_ctl_verb thr_ctl_metrics;
extern const struct thr_ctl_verb thr_ctl_top;

/* Snapshots of pools, gathered by thr_ctl_gather(). */
struct thr_ctl_pools {
	struct thr_pool_snapshot *v;
	size_t n, cap;
};

void thr_ctl_pools_free(struct thr_ctl_pools *l);

/* Reads pool name (a valid name) read-only into l, at its end, without a
 * word on stderr. Returns 0, or -errno (-ENOENT: no such pool) with err
 * (THR_POOL_ERR_LEN bytes) saying what went wrong. */
int thr_ctl_pool_add(struct thr_ctl_pools *l, const char *name, char *err);

/* Every pool in /dev/shm the caller can read, into l (unsorted). Pools
 * that are not readable, or vanish meanwhile, are skipped without a word;
 * damaged ones get a warning on stderr when warn (as do the errors). Returns
 * 0, or EXIT_FAILURE when the folder cannot be read or memory runs out. */
int thr_ctl_pools_scan(struct thr_ctl_pools *l, bool warn);

/* The pools named by names[0..n), each once (a name given twice is read
 * once), appended to l (unsorted). A name that is invalid, missing or
 * unreadable gets a line on stderr when warn. Returns 0, or EXIT_FAILURE
 * when any could not be read. */
int thr_ctl_pools_named(struct thr_ctl_pools *l, char **names, int n,
                        bool warn);

/* Prints "throttlectl: <message>; usage: throttlectl VERB ARGS" on stderr.
 * Returns THR_EXIT_USAGE. */
__attribute__((format(printf, 2, 3)))
int thr_ctl_usage_error(const struct thr_ctl_verb *v, const char *fmt, ...);

/* getopt_long()'s complaint c about verb v's option arg, as a usage
 * error. Returns THR_EXIT_USAGE. */
int thr_ctl_bad_option(const struct thr_ctl_verb *v, int c, const char *arg);

/* Reads text as a whole number within lo..hi: digits only (no sign, no
 * space), as a limit or a count is written. Returns true with *ret, or
 * false. */
bool thr_ctl_parse_whole(const char *text, unsigned long long lo,
                         unsigned long long hi, unsigned long long *ret);

/* Reads text as seconds within lo..hi, decimals allowed (strtod's own
 * forms, whole text). Returns true with *ret, or false. */
bool thr_ctl_parse_seconds(const char *text, double lo, double hi,
                           double *ret);

/* Ends a verb's output to stdout, which a formatter returned r for (0, or
 * -EIO when the stream failed: errno then says why; or another -errno):
 * flushes it, and says on stderr if it could not be written. Returns 0 or
 * EXIT_FAILURE. */
int thr_ctl_output_done(int r);

/* Prints verb v's usage line and help_text on stdout. Returns
 * EXIT_SUCCESS. */
int thr_ctl_help(const struct thr_ctl_verb *v, const char *help_text);

/* Reads verb v's options: --help prints usage and help_text; --FLAG (when
 * flag is not NULL) sets *flag_set. Returns -1 to go on (operands from
 * optind), else the exit status. */
int thr_ctl_options(const struct thr_ctl_verb *v, int argc, char **argv,
                    const char *help_text, const char *flag, bool *flag_set);

/* The pools named by names[0..n) (each once), or every pool in /dev/shm
 * the caller can read when n is 0 (unless v->needs_pool: a usage error),
 * read-only into l, sorted by name. A named pool that is missing or
 * unreadable gets a line on stderr. Returns the exit status so far: 0,
 * EXIT_FAILURE, or THR_EXIT_USAGE (then l is empty). */
int thr_ctl_pools_read(const struct thr_ctl_verb *v, char **names, int n,
                       struct thr_ctl_pools *l);

/* thr_ctl_options(), then thr_ctl_pools_read() of the operands. Returns
 * true to go on, with *status the exit status so far; false to exit with
 * *status now. */
bool thr_ctl_gather(const struct thr_ctl_verb *v, int argc, char **argv,
                    const char *help_text, const char *flag, bool *flag_set,
                    struct thr_ctl_pools *l, int *status);

#endif
