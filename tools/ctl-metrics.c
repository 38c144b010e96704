/* ctl-metrics.c - `throttlectl metrics`: every readable pool (or the named
 * ones) in the Prometheus text format (formatted by metrics.c), on stdout or
 * as DIR/throttle.prom for node_exporter's textfile collector. Reads pools
 * only; never leaves a half-written throttle.prom behind. */
#define _GNU_SOURCE
#include "ctl.h"
#include "metrics.h"
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char metrics_help[] =
	"\nWrites every pool you can read (or the named ones) in the Prometheus\n"
	"text format 0.0.4, each sample labelled pool=\"NAME\":\n"
	"  gauges    throttle_pool_limit, throttle_pool_in_use,\n"
	"            throttle_pool_waiting, throttle_pool_dead_in_use,\n"
	"            throttle_pool_dead_waiting, throttle_pool_peak\n"
	"  counters  throttle_pool_granted_total, throttle_pool_timeouts_total,\n"
	"            throttle_pool_refused_total, throttle_pool_over_total,\n"
	"            throttle_pool_reclaimed_total,\n"
	"            throttle_pool_interrupted_total\n"
	"  histogram throttle_pool_wait_seconds (buckets at 2^b microseconds)\n"
	"in_use and waiting count live processes, as status does; what dead ones\n"
	"still have until the next reclaim is in the dead_ gauges.\n"
	"\n--textfile DIR writes DIR/throttle.prom instead, atomically (a\n"
	"temporary file in DIR, synced, renamed over it), for node_exporter's\n"
	"--collector.textfile.directory. A named pool that is missing is left\n"
	"out, the others are written, and the exit status is 1.\n";

static int run_metrics(int argc, char **argv);

const struct thr_ctl_verb thr_ctl_metrics = {
	"metrics", "[--textfile DIR] [POOL...]",
	"the pools' figures in the Prometheus text format, on stdout or for "
	"node_exporter's textfile collector", run_metrics, false,
};

/* Reads the options. Returns -1 to go on, with *dir the --textfile folder
 * or NULL, else the exit status. */
static int metrics_options(int argc, char **argv, const char **dir)
{
	const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "textfile", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*dir = NULL;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h')
			return thr_ctl_help(&thr_ctl_metrics, metrics_help);
		if (c != 't')
			return thr_ctl_bad_option(&thr_ctl_metrics, c,
			                          argv[optind - 1]);
		if (!*optarg)
			return thr_ctl_usage_error(&thr_ctl_metrics,
			                           "--textfile needs a folder");
		*dir = optarg;
	}
	return -1;
}

/* Writes the metrics into the open temporary file fd and syncs it.
 * Returns 0 or -errno; closes fd either way. */
static int write_synced(int fd, const struct thr_ctl_pools *l)
{
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int e = errno;
		close(fd);
		return -e;
	}
	int r = thr_metrics_write(f, l->v, l->n);
	if (r == 0 && fflush(f) != 0)
		r = -errno;
	if (r == 0 && fsync(fd) != 0)
		r = -errno;
	if (fclose(f) != 0 && r == 0)
		r = -errno;
	return r;
}

/* DIR/throttle.prom, replaced whole: a reader sees the old file or the new
 * one, never a part. Returns 0 or EXIT_FAILURE after a line on stderr. */
static int write_textfile(const char *dir, const struct thr_ctl_pools *l)
{
	char tmp[4096], path[4096];
	if ((size_t)snprintf(path, sizeof(path), "%s/throttle.prom", dir) >=
	    sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s/.throttle.prom.XXXXXX",
	                     dir) >= sizeof(tmp)) {
		fprintf(stderr, "throttlectl: --textfile %s: name too long\n",
		        dir);
		return EXIT_FAILURE;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		fprintf(stderr, "throttlectl: cannot create a file in %s: %s\n",
		        dir, strerror(errno));
		return EXIT_FAILURE;
	}
	/* node_exporter runs as another user, who must read it. */
	int r = fchmod(fd, 0644) == 0 ? 0 : -errno;
	if (r == 0)
		r = write_synced(fd, l);
	else
		close(fd);
	if (r == 0 && rename(tmp, path) != 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		fprintf(stderr, "throttlectl: cannot write %s: %s\n", path,
		        strerror(-r));
		return EXIT_FAILURE;
	}
	/* The rename itself is durable once the folder is synced. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

static int run_metrics(int argc, char **argv)
{
	struct thr_ctl_pools l = { 0 };
	const char *dir;
	int status = metrics_options(argc, argv, &dir);
	if (status >= 0)
		return status;
	status = thr_ctl_pools_read(&thr_ctl_metrics, argv + optind,
	                            argc - optind, &l);
	if (status == THR_EXIT_USAGE)
		return status;
	int r = dir ? write_textfile(dir, &l)
	            : thr_ctl_output_done(thr_metrics_write(stdout, l.v, l.n));
	thr_ctl_pools_free(&l);
	return r ? r : status;
}
