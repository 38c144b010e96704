/* top.h - one frame of `throttlectl top`: per pool the limit, what is in use
 * (a number and a bar), what waits, and over the last interval the grants
 * and timeouts per second and the median and 99th percentile wait. Pure
 * formatting, plain text lines with no control sequences, so that tests can
 * check it byte for byte; the terminal is ctl-top.c's business. */
#ifndef THR_TOP_H
#define THR_TOP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pool.h"

#define THR_TOP_BAR 10 /* cells of the in-use bar, between [ and ] */

struct thr_top_frame {
	const struct thr_pool_snapshot *now; /* sorted by name */
	size_t n;
	const struct thr_pool_snapshot *before; /* the frame before, matched
	                           by name; NULL (or a pool not in it, or one
	                           whose counters went back: made anew) gives
	                           "-" for the rates and percentiles */
	size_t nbefore;
	double elapsed;         /* seconds between before and now */
	double every;           /* the interval asked for, for the header */
	const char *clock;      /* the time of now, for the header */
	int width;              /* lines are cut to this many bytes; 0: not */
};

/* Writes the frame: a header line "throttlectl top  CLOCK  every Ns  N
 * pool(s)  q quits", the column names, then one row per pool:
 *   NAME LIMIT IN_USE [###.......] WAITING DEAD GRANTS/S TIMEOUTS/S
 *   WAIT_P50 WAIT_P99
 * IN_USE and WAITING count live processes, as `throttlectl status` does;
 * DEAD the slots only dead processes hold. The bar has THR_TOP_BAR cells,
 * in use over limit rounded up (any use shows), all full when over the
 * limit. Rates have one decimal. A percentile is "-" without grants in the
 * interval, "0" when it fell in bucket 0 (granted without a wait), else
 * "<" and the bound of its log2 bucket ("<524ms"), or ">1073s" in the
 * last. Every line ends in '\n'. Returns 0, -ENOMEM, or -EIO if out
 * failed. */
int thr_top_write(FILE *out, const struct thr_top_frame *f);

/* The bucket of a histogram delta d (32 log2 buckets) that quantile q
 * (0 < q <= 1) of its waits falls in, or -1 when d counts none. */
int thr_top_quantile_bucket(const uint64_t d[THR_POOL_HIST_BUCKETS],
                            double q);

/* Writes bucket b's text as a percentile ("0", "<512us", "<1.0ms",
 * "<524ms", "<2.1s", ">1073s") into buf, len bytes. */
void thr_top_bucket_text(int b, char *buf, size_t len);

#endif
