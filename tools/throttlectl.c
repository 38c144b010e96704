/* throttlectl.c - the operator's view of pools: `throttlectl VERB [ARGS...]`.
 * Only dispatches: each verb is a struct thr_ctl_verb in its own ctl-VERB.c
 * (see ctl.h), listed here once. */
#define _GNU_SOURCE
#include "ctl.h"
#include "options.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct thr_ctl_verb *const verbs[] = {
	&thr_ctl_status,
	&thr_ctl_reclaim,
	&thr_ctl_remove,
	&thr_ctl_check,
	&thr_ctl_set_limit,
	&thr_ctl_run,
	&thr_ctl_metrics,
	&thr_ctl_top,
};

#define NVERBS (sizeof(verbs) / sizeof(verbs[0]))

static void help(FILE *out)
{
	fprintf(out, "usage: throttlectl VERB [ARGS...]\n\nverbs:\n");
	for (size_t i = 0; i < NVERBS; i++)
		fprintf(out, "  %s %s\n      %s\n", verbs[i]->name, verbs[i]->args,
		        verbs[i]->summary);
	fprintf(out, "\noptions:\n");
	thr_options_help_lines(out, 17);
	fprintf(out, "\nexit status: 0 ok; 1 a named pool missing or unreadable,\n"
	        "(remove) still held, (set-limit) not writable, (check) a config\n"
	        "with an error; 2 usage; run exits with its command's status\n"
	        "(see throttlectl run --help)\n");
}

/* What a usage error without a verb ends with. */
static const char main_usage[] =
	"usage: throttlectl VERB [ARGS...] (see throttlectl --help)";

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
		if (strcmp(argv[1], verbs[i]->name) == 0)
			return verbs[i]->run(argc - 1, argv + 1);
	return thr_options_usage_error("throttlectl", main_usage,
	                               "unknown verb '%s'", argv[1]);
}
