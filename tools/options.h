/* options.h - what throttle and throttlectl share in reading a command line:
 * the wording of usage errors, of getopt's complaints and of --version, and
 * the help lines of -h and --version. Output only, to stdout or stderr;
 * never exits: each returns the exit status for main() to return. */
#ifndef THR_OPTIONS_H
#define THR_OPTIONS_H

#include <stdio.h>

/* The exit status of a usage error, in both tools. */
#define THR_EXIT_USAGE 2

/* Prints "PROG: <message>; USAGE" on stderr, as one line (usage is the
 * tool's or the verb's "usage: ..." text). Returns THR_EXIT_USAGE. */
__attribute__((format(printf, 3, 4)))
int thr_options_usage_error(const char *prog, const char *usage,
                            const char *fmt, ...);

/* The usage error for what getopt_long() returned as c: ':' is an option
 * missing its argument, anything else an unknown option. The option is
 * named by optopt when it is a short one, else by arg (argv[optind - 1]).
 * Returns THR_EXIT_USAGE. */
int thr_options_bad_option(const char *prog, const char *usage, int c,
                           const char *arg);

/* Prints "PROG VERSION" on stdout. Returns EXIT_SUCCESS. */
int thr_options_version(const char *prog);

/* The help lines of -h, --help and --version, their descriptions from
 * column width (at least 18). */
void thr_options_help_lines(FILE *out, int width);

#endif
