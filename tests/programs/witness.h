/* witness.h - what the programs suite's witnesses (holders.c,
 * redis-clients.c) share: their state file, their clock and their stop
 * signal. A witness never runs under the shim. */
#ifndef THR_WITNESS_H
#define THR_WITNESS_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* Set by SIGTERM or SIGINT once witness_catch_stop() has run. */
extern volatile sig_atomic_t witness_stop;

/* Catches SIGTERM and SIGINT into witness_stop; with restart, a system call
 * they interrupt is restarted (SA_RESTART), else it fails with EINTR. */
void witness_catch_stop(int restart);

/* Rewrites the file at path with one line made from fmt, atomically (a
 * temporary file renamed over it), so a reader never sees half a line.
 * Exits 1, with a message naming prog, when it cannot. */
void witness_save(const char *prog, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* CLOCK_MONOTONIC in milliseconds. */
int64_t witness_ms(void);

/* Runs a witness until witness_stop: sample() every gap, and save() when
 * sample() returns true (a most grew), after the first sample, every 100
 * ms, and a last time at the end. Returns 0, for main. */
int witness_run(bool (*sample)(void), void (*save)(void), struct timespec gap);

#endif /* THR_WITNESS_H */
