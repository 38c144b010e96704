/* ctl.c - the option reading and pool gathering every throttlectl verb
 * shares (see ctl.h). Pools are mapped read-only here; a verb that writes
 * opens its pool again itself. */
#define _GNU_SOURCE
#include "ctl.h"
#include "options.h"
#include "status.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

bool thr_ctl_parse_whole(const char *text, unsigned long long lo,
                         unsigned long long hi, unsigned long long *ret)
{
	if (!text[0] || strspn(text, "0123456789") != strlen(text))
		return false;
	errno = 0;
	unsigned long long v = strtoull(text, NULL, 10);
	if (errno || v < lo || v > hi)
		return false;
	*ret = v;
	return true;
}

bool thr_ctl_parse_seconds(const char *text, double lo, double hi,
                           double *ret)
{
	char *end;
	errno = 0;
	double d = strtod(text, &end);
	/* written so that NaN fails too */
	if (errno || end == text || *end || !(d >= lo && d <= hi))
		return false;
	*ret = d;
	return true;
}

int thr_ctl_output_done(int r)
{
	if (r == 0 && fflush(stdout) != 0)
		r = -EIO;
	if (r == 0)
		return 0;
	fprintf(stderr, "throttlectl: cannot write the output: %s\n",
	        strerror(r == -EIO ? errno : -r));
	return EXIT_FAILURE;
}

void thr_ctl_pools_free(struct thr_ctl_pools *l)
{
	for (size_t i = 0; i < l->n; i++)
		thr_pool_snapshot_free(&l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}

static void usage_line(const struct thr_ctl_verb *v, char *buf, size_t len)
{
	snprintf(buf, len, "usage: throttlectl %s %s", v->name, v->args);
}

int thr_ctl_usage_error(const struct thr_ctl_verb *v, const char *fmt, ...)
{
	char usage[160], msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	usage_line(v, usage, sizeof(usage));
	return thr_options_usage_error("throttlectl", usage, "%s", msg);
}

int thr_ctl_bad_option(const struct thr_ctl_verb *v, int c, const char *arg)
{
	char usage[160];
	usage_line(v, usage, sizeof(usage));
	return thr_options_bad_option("throttlectl", usage, c, arg);
}

int thr_ctl_help(const struct thr_ctl_verb *v, const char *help_text)
{
	printf("usage: throttlectl %s %s\n%s", v->name, v->args, help_text);
	return EXIT_SUCCESS;
}

int thr_ctl_options(const struct thr_ctl_verb *v, int argc, char **argv,
                    const char *help_text, const char *flag, bool *flag_set)
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
		if (c == 'f')
			*flag_set = true;
		else if (c == 'h')
			return thr_ctl_help(v, help_text);
		else
			return thr_ctl_bad_option(v, c, argv[optind - 1]);
	}
	return -1;
}

int thr_ctl_pool_add(struct thr_ctl_pools *l, const char *name, char *err)
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
	/* The name as opened, which is valid, not the copy's: a process with
	 * write access may scribble bytes there that would reach a terminal
	 * or break the Prometheus format. */
	snprintf(l->v[l->n].name, sizeof(l->v[l->n].name), "%s", name);
	l->n++;
	return 0;
}

static bool listed(const struct thr_ctl_pools *l, const char *name)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].name, name) == 0)
			return true;
	return false;
}

int thr_ctl_pools_scan(struct thr_ctl_pools *l, bool warn)
{
	const size_t plen = strlen(THR_POOL_SEGMENT_PREFIX);
	char err[THR_POOL_ERR_LEN];
	DIR *dir = opendir(THR_POOL_DIR);
	struct dirent *d;

	if (!dir) {
		if (errno == ENOENT)
			return 0;
		if (warn)
			fprintf(stderr, "throttlectl: cannot read %s: %s\n",
			        THR_POOL_DIR, strerror(errno));
		return EXIT_FAILURE;
	}
	while ((d = readdir(dir))) {
		const char *name = d->d_name + plen;
		if (strncmp(d->d_name, THR_POOL_SEGMENT_PREFIX, plen) != 0 ||
		    !thr_pool_name_is_valid(name))
			continue;
		int r = thr_ctl_pool_add(l, name, err);
		if (r == -ENOMEM) {
			closedir(dir);
			if (warn)
				fprintf(stderr, "throttlectl: %s\n", err);
			return EXIT_FAILURE;
		}
		if (warn && r < 0 && r != -EACCES && r != -ENOENT)
			fprintf(stderr, "throttlectl: warning: %s\n", err);
	}
	closedir(dir);
	return 0;
}

/* Says on stderr why pool name, which thr_ctl_pool_add() could not read
 * (r, err), is not there. */
static void say_missing(const char *name, int r, const char *err)
{
	char path[512];
	if (r == -ENOENT &&
	    thr_pool_segment_path(name, NULL, path, sizeof(path)) == 0)
		fprintf(stderr, "throttlectl: no pool '%s' (no %s)\n", name,
		        path);
	else
		fprintf(stderr, "throttlectl: %s\n", err);
}

int thr_ctl_pools_named(struct thr_ctl_pools *l, char **names, int n,
                        bool warn)
{
	char err[THR_POOL_ERR_LEN];
	int status = 0;

	for (int i = 0; i < n; i++) {
		if (listed(l, names[i]))
			continue;
		if (!thr_pool_name_is_valid(names[i])) {
			if (warn)
				fprintf(stderr, "throttlectl: no pool '%s': pool "
				        "names are 1-%d of A-Z a-z 0-9 _ . -\n",
				        names[i], THR_POOL_NAME_MAX);
			status = EXIT_FAILURE;
			continue;
		}
		int r = thr_ctl_pool_add(l, names[i], err);
		if (r < 0 && warn)
			say_missing(names[i], r, err);
		if (r < 0)
			status = EXIT_FAILURE;
	}
	return status;
}

int thr_ctl_pools_read(const struct thr_ctl_verb *v, char **names, int n,
                       struct thr_ctl_pools *l)
{
	int status;
	if (n > 0)
		status = thr_ctl_pools_named(l, names, n, true);
	else if (v->needs_pool)
		return thr_ctl_usage_error(v, "no pool named");
	else
		status = thr_ctl_pools_scan(l, true);
	thr_status_sort(l->v, l->n);
	return status;
}

bool thr_ctl_gather(const struct thr_ctl_verb *v, int argc, char **argv,
                    const char *help_text, const char *flag, bool *flag_set,
                    struct thr_ctl_pools *l, int *status)
{
	*status = thr_ctl_options(v, argc, argv, help_text, flag, flag_set);
	if (*status >= 0)
		return false;
	*status = thr_ctl_pools_read(v, argv + optind, argc - optind, l);
	return *status != THR_EXIT_USAGE;
}
