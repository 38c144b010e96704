/* ctl-check.c - `throttlectl check FILE...`, like `nginx -t`: loads each
 * config as the shim would (thr_config_check(), the same reader) and says
 * what is wrong or likely wrong, file and line first. Never touches a pool
 * or its segment. */
#define _GNU_SOURCE
#include "config.h"
#include "ctl.h"

#include <stdlib.h>
#include <string.h>

static const char check_help[] =
	"\nLoads each config FILE exactly as the preloaded library does (the\n"
	"same reader, the files it includes, hostnames resolved now, so a\n"
	"check waits for DNS as a starting program would) and prints, on\n"
	"stderr, one line per problem:\n"
	"  FILE:LINE: message             an error: the line the library logs,\n"
	"                                 and a program given FILE would run\n"
	"                                 unthrottled (or fail, on-error = closed)\n"
	"  FILE:LINE: warning: message    legal but likely wrong\n"
	"A file with no error gets 'FILE: ok, N pools' on stdout. An included\n"
	"file's error does not stop the check: the next include is read.\n"
	"Warnings: a path pattern under a folder that is missing now, is not a\n"
	"folder, or is reached through a symbolic link; a timeout that on-full\n"
	"never uses; a pool that two FILEs define with different limits.\n"
	"\nexit status: 0 every FILE loads (warnings allowed), 1 a FILE has an\n"
	"error, 2 usage\n";

static int run_check(int argc, char **argv);

const struct thr_ctl_verb thr_ctl_check = {
	"check", "FILE...",
	"load configs as the shim would; print FILE:LINE: for each error "
	"and warning", run_check, false,
};

/* What the config library reported about one file. */
struct check_lines {
	unsigned errors;
};

static void print_line(void *arg, bool warning, const char *line)
{
	struct check_lines *lines = arg;

	if (!warning)
		lines->errors++;
	fprintf(stderr, "%s\n", line);
}

/* Warns about each pool of cfg that an earlier file's config defines with
 * another limit: the processes loading either share one segment. */
static void compare_limits(const struct thr_config *cfg,
                           struct thr_config *const *earlier, int n)
{
	for (size_t i = 0; i < cfg->npools; i++) {
		const struct thr_config_pool *p = &cfg->pools[i];
		for (int j = 0; j < n; j++) {
			for (size_t k = 0; earlier[j] && k < earlier[j]->npools;
			     k++) {
				const struct thr_config_pool *q =
					&earlier[j]->pools[k];
				if (strcmp(p->name, q->name) != 0 ||
				    p->limit == q->limit)
					continue;
				fprintf(stderr, "%s:%u: warning: pool '%s' has "
				        "limit %u here and %u at %s:%u: programs "
				        "loading these files share one pool and "
				        "set its limit apart\n", p->file, p->line,
				        p->name, p->limit, q->limit, q->file,
				        q->line);
			}
		}
	}
}

/* Checks one file; its config, when it loads, into *ret. */
static int check_one(const char *path, struct thr_config **ret)
{
	struct check_lines lines = { 0 };
	struct thr_config_report report = { print_line, &lines };
	char err[512];

	*ret = NULL;
	if (thr_config_check(path, &report, ret, err, sizeof(err)) < 0) {
		if (lines.errors == 0)  /* failed before it could report */
			fprintf(stderr, "throttlectl: %s: %s\n", path, err);
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

static int run_check(int argc, char **argv)
{
	int status = thr_ctl_options(&thr_ctl_check, argc, argv, check_help,
	                             NULL, NULL);
	if (status >= 0)
		return status;
	int n = argc - optind;
	if (n == 0)
		return thr_ctl_usage_error(&thr_ctl_check, "no FILE given");
	struct thr_config **cfgs = calloc((size_t)n, sizeof(*cfgs));
	if (!cfgs) {
		fprintf(stderr, "throttlectl: out of memory\n");
		return EXIT_FAILURE;
	}
	status = EXIT_SUCCESS;
	for (int i = 0; i < n; i++) {
		const char *path = argv[optind + i];
		if (check_one(path, &cfgs[i]) != EXIT_SUCCESS) {
			status = EXIT_FAILURE;
			continue;
		}
		compare_limits(cfgs[i], cfgs, i);
		fflush(stderr);
		printf("%s: ok, %zu pool%s\n", path, cfgs[i]->npools,
		       cfgs[i]->npools == 1 ? "" : "s");
		fflush(stdout);
	}
	for (int i = 0; i < n; i++)
		thr_config_free(cfgs[i]);
	free(cfgs);
	return status;
}
