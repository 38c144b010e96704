/* log.h - the shim's only output: one line on stderr per problem, prefixed
 * "throttle: ", silenced by THROTTLE_QUIET=1. Never stdout; keeps errno. */
#ifndef THR_LOG_H
#define THR_LOG_H

#include <stdbool.h>

/* Writes "throttle: <msg>\n" to fd 2 with one write(2). */
void thr_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Silences thr_log() (THROTTLE_QUIET). */
void thr_log_quiet(bool quiet);

#endif
