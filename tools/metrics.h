/* metrics.h - the output of `throttlectl metrics`: pool snapshots in the
 * Prometheus text exposition format, version 0.0.4. Pure formatting, no I/O
 * but the FILE given, so that tests can check it byte for byte; never opens
 * a pool or judges a process itself. */
#ifndef THR_METRICS_H
#define THR_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pool.h"

/* Writes every family, in a fixed order, as "# HELP", "# TYPE" and then
 * one sample per pool labelled pool="NAME", pools in the order given:
 *   gauges   throttle_pool_limit, _in_use, _waiting (live processes, as in
 *            `throttlectl status`), _dead_in_use, _dead_waiting (what dead
 *            processes still have until the next reclaim), _peak;
 *   counters throttle_pool_granted_total, _timeouts_total, _refused_total,
 *            _over_total, _reclaimed_total, _interrupted_total;
 *   histogram throttle_pool_wait_seconds: _bucket{pool,le} cumulative for
 *            le = 2^b microseconds in seconds (b = 0..30, "0.000001" to
 *            "1073.741824"), then le="+Inf", _sum (the engine's wait_ns in
 *            seconds, exact) and _count (every grant: a grant without a
 *            wait counts as 0 s).
 * The families are written even without pools, with no samples. Returns
 * 0, or -EIO if out failed. Never blocks but on out. */
int thr_metrics_write(FILE *out, const struct thr_pool_snapshot *snaps,
                      size_t n);

/* Writes s as a label value, without the quotes: \ as \\, " as \" and a
 * newline as \n; every other byte as it is. */
void thr_metrics_label_value(FILE *out, const char *s);

/* Writes 2^b microseconds in seconds as an exact decimal with no trailing
 * zeros ("0.000001", "0.524288", "1073.741824") into buf, len bytes.
 * b is at most 62. */
void thr_metrics_bound(unsigned b, char *buf, size_t len);

#endif
