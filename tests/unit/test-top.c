/* test-top.c - unit tests for tools/top.c, a frame of `throttlectl top`:
 * the exact first frame, rates and percentiles from two snapshots, a pool
 * made anew between them, the bar, percentile texts and lines cut to the
 * terminal's width. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "top.h"
#include "snapshots.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static char *capture(const struct thr_top_frame *f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_non_null(out);
	assert_int_equal(thr_top_write(out, f), 0);
	assert_int_equal(fclose(out), 0);
	return buf;
}

/* The row of pool name in a frame's text, up to its newline; free it. */
static char *row_of(const char *text, const char *name)
{
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		assert_non_null(nl);
		if (strncmp(p, name, strlen(name)) == 0 && p[strlen(name)] == ' ')
			return strndup(p, (size_t)(nl - p));
		p = nl + 1;
	}
	fail_msg("no row for %s in:\n%s", name, text);
	return NULL;
}

/* ---- frames ---- */

static void test_top_first_frame_exact(void **state)
{
	struct thr_pool_snapshot s[] = {
		snap_pool("api", 3, 2, 1), snap_pool("database", 1000, 1, 0),
	};
	s[0].dead_in_use = 0;
	struct thr_top_frame f = { .now = s, .n = 2, .every = 0.5,
	                           .clock = "12:34:56" };
	char *out = capture(&f);
	assert_string_equal(out,
		"throttlectl top  12:34:56  every 0.5s  2 pools  q quits\n"
		"POOL      LIMIT  IN_USE           USE  WAITING  DEAD  GRANTS/S"
		"  TIMEOUTS/S  WAIT_P50  WAIT_P99\n"
		"api           3       2  [#######...]        1     0         -"
		"           -         -         -\n"
		"database   1000       1  [#.........]        0     0         -"
		"           -         -         -\n");
	free(out);
}

static void test_top_rates_and_percentiles(void **state)
{
	struct thr_pool_snapshot before = snap_pool("p", 4, 1, 0);
	struct thr_pool_snapshot now = before;
	before.granted = 100;
	before.timeouts = 7;
	before.wait_hist[0] = 100;
	now.granted = 200;          /* 100 more in 2 s */
	now.timeouts = 8;           /* 1 more */
	now.wait_hist[0] = 150;     /* 50 at once */
	now.wait_hist[10] = 48;     /* 48 below 1.024 ms */
	now.wait_hist[19] = 2;      /* 2 below 524 ms: the 99th is one */
	struct thr_top_frame f = { .now = &now, .n = 1, .before = &before,
	                           .nbefore = 1, .elapsed = 2.0, .every = 2,
	                           .clock = "x" };
	char *out = capture(&f);
	char *row = row_of(out, "p");
	assert_string_equal(row, "p         4       1  [###.......]        0"
	                         "     0      50.0         0.5         0"
	                         "    <524ms");
	free(row);
	free(out);
}

static void test_top_no_grants_no_percentiles(void **state)
{
	struct thr_pool_snapshot now = snap_pool("idle", 2, 0, 0);
	now.granted = 5;
	now.wait_hist[0] = 5;
	struct thr_pool_snapshot before = now;
	struct thr_top_frame f = { .now = &now, .n = 1, .before = &before,
	                           .nbefore = 1, .elapsed = 1.0, .every = 1,
	                           .clock = "x" };
	char *out = capture(&f);
	char *row = row_of(out, "idle");
	assert_non_null(strstr(row, "  0.0         0.0         -         -"));
	free(row);
	free(out);
}

static void test_top_pool_made_anew_has_no_rates(void **state)
{
	struct thr_pool_snapshot before = snap_pool("p", 1, 0, 0);
	struct thr_pool_snapshot now = before, other = snap_pool("q", 1, 0, 0);
	before.granted = 50;
	before.wait_hist[0] = 50;
	now.granted = 3;            /* went back: removed and made again */
	now.wait_hist[0] = 3;
	other.granted = 9;
	struct thr_pool_snapshot both[] = { now, other };
	struct thr_top_frame f = { .now = both, .n = 2, .before = &before,
	                           .nbefore = 1, .elapsed = 1.0, .every = 1,
	                           .clock = "x" };
	char *out = capture(&f);
	for (int i = 0; i < 2; i++) {
		char *row = row_of(out, i ? "q" : "p");
		/* Rates and percentiles all "-": the last four cells. */
		size_t n = strlen(row);
		assert_true(n > 40);
		assert_non_null(strstr(row, "   -           -         -         -"));
		free(row);
	}
	free(out);
}

static void test_top_bar_rounds_up_and_caps(void **state)
{
	struct thr_pool_snapshot s[] = {
		snap_pool("a", 3, 0, 0), snap_pool("b", 1000, 1, 0),
		snap_pool("c", 3, 5, 0), snap_pool("d", 4, 4, 0),
	};
	s[2].dead_in_use = 0;
	struct thr_top_frame f = { .now = s, .n = 4, .every = 1, .clock = "x" };
	char *out = capture(&f);
	const char *want[] = { "[..........]", "[#.........]", "[##########]",
	                       "[##########]" };
	for (int i = 0; i < 4; i++) {
		char *row = row_of(out, s[i].name);
		assert_non_null(strstr(row, want[i]));
		free(row);
	}
	free(out);
}

static void test_top_lines_cut_to_width(void **state)
{
	struct thr_pool_snapshot s[] = {
		snap_pool("a-rather-long-pool-name", 3, 1, 0),
	};
	struct thr_top_frame f = { .now = s, .n = 1, .every = 1, .clock = "x",
	                           .width = 20 };
	char *out = capture(&f);
	int lines = 0;
	for (char *p = out, *nl; (nl = strchr(p, '\n')); p = nl + 1, lines++)
		assert_int_equal(nl - p, 20);
	assert_int_equal(lines, 3);
	assert_non_null(strstr(out, "a-rather-long-pool-n\n"));
	free(out);
}

/* ---- percentiles ---- */

static void test_top_quantile_bucket(void **state)
{
	uint64_t d[32] = { 0 };
	assert_int_equal(thr_top_quantile_bucket(d, 0.5), -1);
	d[5] = 1;
	assert_int_equal(thr_top_quantile_bucket(d, 0.5), 5);
	assert_int_equal(thr_top_quantile_bucket(d, 0.99), 5);
	d[0] = 1;                   /* 2 waits: the median is the first */
	assert_int_equal(thr_top_quantile_bucket(d, 0.5), 0);
	assert_int_equal(thr_top_quantile_bucket(d, 0.99), 5);
	d[0] = 99;                  /* 100: the 99th is still at once */
	assert_int_equal(thr_top_quantile_bucket(d, 0.99), 0);
	d[31] = 2;                  /* 102: the 99th falls in the last */
	assert_int_equal(thr_top_quantile_bucket(d, 0.99), 31);
}

static void check_text(int b, const char *want)
{
	char buf[32];
	thr_top_bucket_text(b, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_top_bucket_texts(void **state)
{
	check_text(0, "0");
	check_text(1, "<2us");
	check_text(9, "<512us");
	check_text(10, "<1.0ms");
	check_text(14, "<16ms");
	check_text(19, "<524ms");
	check_text(21, "<2.1s");
	check_text(30, "<1074s");
	check_text(31, ">1073s");
}

static void test_top_write_error_is_reported(void **state)
{
	struct thr_pool_snapshot s[] = { snap_pool("p", 1, 0, 0) };
	struct thr_top_frame f = { .now = s, .n = 1, .every = 1, .clock = "x" };
	FILE *out = fopen("/dev/null", "r");
	assert_non_null(out);
	assert_int_equal(thr_top_write(out, &f), -EIO);
	fclose(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_top_first_frame_exact),
		cmocka_unit_test(test_top_rates_and_percentiles),
		cmocka_unit_test(test_top_no_grants_no_percentiles),
		cmocka_unit_test(test_top_pool_made_anew_has_no_rates),
		cmocka_unit_test(test_top_bar_rounds_up_and_caps),
		cmocka_unit_test(test_top_lines_cut_to_width),
		cmocka_unit_test(test_top_quantile_bucket),
		cmocka_unit_test(test_top_bucket_texts),
		cmocka_unit_test(test_top_write_error_is_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
