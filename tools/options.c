/* options.c - the command-line wording throttle and throttlectl share (see
 * options.h), so that both complain, and print their versions, alike.
 * Prints, never exits. */
#include "options.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef THR_VERSION
#error "THR_VERSION must be defined"
#endif

int thr_options_usage_error(const char *prog, const char *usage,
                            const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "%s: ", prog);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "; %s\n", usage);
	va_end(ap);
	return THR_EXIT_USAGE;
}

int thr_options_bad_option(const char *prog, const char *usage, int c,
                           const char *arg)
{
	char shortopt[3] = { '-', (char)optopt, '\0' };
	const char *name = optopt ? shortopt : arg;

	if (c == ':')
		return thr_options_usage_error(prog, usage, "option '%s' needs "
		                               "an argument", name);
	return thr_options_usage_error(prog, usage, "unknown option '%s'",
	                               name);
}

int thr_options_version(const char *prog)
{
	printf("%s %s\n", prog, THR_VERSION);
	return EXIT_SUCCESS;
}

void thr_options_help_lines(FILE *out, int width)
{
	fprintf(out, "  %-*s%s\n      %-*s%s\n", width - 2, "-h, --help",
	        "show this help", width - 6, "--version", "show the version");
}
