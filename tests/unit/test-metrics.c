/* test-metrics.c - unit tests for tools/metrics.c, the output of `throttlectl
 * metrics`: exact Prometheus text for hand-made snapshots, the histogram's
 * cumulative buckets, exact bounds and sum, label escaping, the dead kept
 * out of the live gauges, and a failed write reported. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "metrics.h"
#include "snapshots.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

static char *capture(const struct thr_pool_snapshot *s, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(thr_metrics_write(f, s, n), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* Does text have line (given without its newline) as a whole line? */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

static int count_prefix(const char *text, const char *prefix)
{
	int n = 0;
	for (const char *p = text; *p;) {
		n += strncmp(p, prefix, strlen(prefix)) == 0;
		const char *nl = strchr(p, '\n');
		if (!nl)
			break;
		p = nl + 1;
	}
	return n;
}

/* ---- gauges and counters ---- */

static void test_metrics_gauges_and_counters_exact(void **state)
{
	struct thr_pool_snapshot s = snap_pool("db", 3, 2, 1);
	s.peak = 3;
	s.granted = 10;
	s.timeouts = 2;
	s.refused = 3;
	s.over = 4;
	s.reclaimed = 5;
	s.interrupted = 6;
	char *out = capture(&s, 1);
	const char *want =
		"# HELP throttle_pool_limit Slots the pool grants at once at most.\n"
		"# TYPE throttle_pool_limit gauge\n"
		"throttle_pool_limit{pool=\"db\"} 3\n"
		"# HELP throttle_pool_in_use Slots held by live processes (and by "
		"ones that cannot be judged); slots only dead processes hold are in "
		"throttle_pool_dead_in_use.\n"
		"# TYPE throttle_pool_in_use gauge\n"
		"throttle_pool_in_use{pool=\"db\"} 2\n"
		"# HELP throttle_pool_waiting Live processes queued for a slot.\n"
		"# TYPE throttle_pool_waiting gauge\n"
		"throttle_pool_waiting{pool=\"db\"} 1\n"
		"# HELP throttle_pool_dead_in_use Slots held only by dead processes, "
		"until the next reclaim.\n"
		"# TYPE throttle_pool_dead_in_use gauge\n"
		"throttle_pool_dead_in_use{pool=\"db\"} 0\n"
		"# HELP throttle_pool_dead_waiting Queue places of dead processes, "
		"until the next reclaim.\n"
		"# TYPE throttle_pool_dead_waiting gauge\n"
		"throttle_pool_dead_waiting{pool=\"db\"} 0\n"
		"# HELP throttle_pool_peak Most slots held at once since the pool was "
		"created.\n"
		"# TYPE throttle_pool_peak gauge\n"
		"throttle_pool_peak{pool=\"db\"} 3\n"
		"# HELP throttle_pool_granted_total Slots granted, at once or after a "
		"wait.\n"
		"# TYPE throttle_pool_granted_total counter\n"
		"throttle_pool_granted_total{pool=\"db\"} 10\n"
		"# HELP throttle_pool_timeouts_total Waits that reached their deadline "
		"without a slot.\n"
		"# TYPE throttle_pool_timeouts_total counter\n"
		"throttle_pool_timeouts_total{pool=\"db\"} 2\n"
		"# HELP throttle_pool_refused_total Try-acquires that found the pool "
		"full.\n"
		"# TYPE throttle_pool_refused_total counter\n"
		"throttle_pool_refused_total{pool=\"db\"} 3\n"
		"# HELP throttle_pool_over_total Observe-mode calls that found the "
		"pool full (and went on).\n"
		"# TYPE throttle_pool_over_total counter\n"
		"throttle_pool_over_total{pool=\"db\"} 4\n"
		"# HELP throttle_pool_reclaimed_total Slots taken back from dead "
		"processes.\n"
		"# TYPE throttle_pool_reclaimed_total counter\n"
		"throttle_pool_reclaimed_total{pool=\"db\"} 5\n"
		"# HELP throttle_pool_interrupted_total Waits ended by a signal.\n"
		"# TYPE throttle_pool_interrupted_total counter\n"
		"throttle_pool_interrupted_total{pool=\"db\"} 6\n"
		"# HELP throttle_pool_wait_seconds Time each grant waited for its slot "
		"(0 for one granted at once); timed-out and interrupted waits are not "
		"in it.\n"
		"# TYPE throttle_pool_wait_seconds histogram\n";
	assert_int_equal(strncmp(out, want, strlen(want)), 0);
	free(out);
}

static void test_metrics_no_pools_only_headers(void **state)
{
	char *out = capture(NULL, 0);
	assert_int_equal(count_prefix(out, "# HELP "), 13);
	assert_int_equal(count_prefix(out, "# TYPE "), 13);
	assert_int_equal(count_prefix(out, "throttle_"), 0);
	free(out);
}

static void test_metrics_families_grouped_over_pools(void **state)
{
	struct thr_pool_snapshot s[] = { snap_pool("a", 1, 0, 0),
	                                 snap_pool("b", 2, 1, 0) };
	char *out = capture(s, 2);
	assert_non_null(strstr(out, "throttle_pool_limit{pool=\"a\"} 1\n"
	                            "throttle_pool_limit{pool=\"b\"} 2\n"
	                            "# HELP throttle_pool_in_use "));
	/* Each pool's histogram whole: buckets, +Inf, _sum, _count. */
	assert_non_null(strstr(out, "throttle_pool_wait_seconds_count"
	                            "{pool=\"a\"} 0\n"
	                            "throttle_pool_wait_seconds_bucket"
	                            "{pool=\"b\",le=\"0.000001\"} 0\n"));
	assert_int_equal(count_prefix(out, "throttle_pool_wait_seconds_bucket"),
	                 64);
	free(out);
}

static void test_metrics_dead_kept_out_of_live(void **state)
{
	struct thr_pool_snapshot s[] = { snap_pool("d", 4, 3, 2),
	                                 snap_pool("t", 4, 1, 0) };
	s[0].dead_in_use = 1;
	s[0].dead_waiting = 2;
	s[1].dead_in_use = 3; /* a torn copy: more dead than all */
	char *out = capture(s, 2);
	assert_true(has_line(out, "throttle_pool_in_use{pool=\"d\"} 2"));
	assert_true(has_line(out, "throttle_pool_waiting{pool=\"d\"} 0"));
	assert_true(has_line(out, "throttle_pool_dead_in_use{pool=\"d\"} 1"));
	assert_true(has_line(out, "throttle_pool_dead_waiting{pool=\"d\"} 2"));
	assert_true(has_line(out, "throttle_pool_in_use{pool=\"t\"} 0"));
	free(out);
}

/* ---- the histogram ---- */

static void test_metrics_histogram_cumulative(void **state)
{
	struct thr_pool_snapshot s = snap_pool("h", 2, 0, 0);
	s.wait_hist[0] = 3;
	s.wait_hist[19] = 1;  /* a wait of 262144..524287 us */
	s.wait_hist[30] = 1;
	s.wait_hist[31] = 2;  /* longer than 2^30 us: only in +Inf */
	s.wait_ns = UINT64_C(1234567890123);
	char *out = capture(&s, 1);
	const char *name = "throttle_pool_wait_seconds";
	char line[128];
	struct { const char *le; int n; } want[] = {
		{ "0.000001", 3 }, { "0.000002", 3 }, { "0.262144", 3 },
		{ "0.524288", 4 }, { "536.870912", 4 }, { "1073.741824", 5 },
		{ "+Inf", 7 },
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		snprintf(line, sizeof(line), "%s_bucket{pool=\"h\",le=\"%s\"} %d",
		         name, want[i].le, want[i].n);
		assert_true(has_line(out, line));
	}
	snprintf(line, sizeof(line), "%s_sum{pool=\"h\"} 1234.567890123", name);
	assert_true(has_line(out, line));
	snprintf(line, sizeof(line), "%s_count{pool=\"h\"} 7", name);
	assert_true(has_line(out, line));
	assert_int_equal(count_prefix(out, "throttle_pool_wait_seconds_bucket"),
	                 32);
	/* +Inf, then _sum and _count, and nothing after. */
	assert_non_null(strstr(out, "le=\"+Inf\"} 7\n"
	                            "throttle_pool_wait_seconds_sum{pool=\"h\"} "
	                            "1234.567890123\n"
	                            "throttle_pool_wait_seconds_count{pool=\"h\"} "
	                            "7\n"));
	assert_string_equal(out + strlen(out) - 2, "7\n");
	free(out);
}

static void check_bound(unsigned b, const char *want)
{
	char buf[32];
	thr_metrics_bound(b, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_metrics_bounds_exact(void **state)
{
	check_bound(0, "0.000001");
	check_bound(1, "0.000002");
	check_bound(10, "0.001024");
	check_bound(19, "0.524288");
	check_bound(20, "1.048576");
	check_bound(30, "1073.741824");
}

/* ---- escaping and errors ---- */

static void test_metrics_label_value_escapes(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	thr_metrics_label_value(f, "a\\b\"c\nd\te\xc3\xa9");
	assert_int_equal(fclose(f), 0);
	assert_string_equal(buf, "a\\\\b\\\"c\\nd\te\xc3\xa9");
	free(buf);

	struct thr_pool_snapshot s = snap_pool("q\"x", 1, 0, 0);
	char *out = capture(&s, 1);
	assert_true(has_line(out, "throttle_pool_limit{pool=\"q\\\"x\"} 1"));
	free(out);
}

static void test_metrics_write_error_is_reported(void **state)
{
	struct thr_pool_snapshot s[] = { snap_pool("p", 1, 0, 0) };
	FILE *f = fopen("/dev/null", "r");
	assert_non_null(f);
	assert_int_equal(thr_metrics_write(f, s, 1), -EIO);
	fclose(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_metrics_gauges_and_counters_exact),
		cmocka_unit_test(test_metrics_no_pools_only_headers),
		cmocka_unit_test(test_metrics_families_grouped_over_pools),
		cmocka_unit_test(test_metrics_dead_kept_out_of_live),
		cmocka_unit_test(test_metrics_histogram_cumulative),
		cmocka_unit_test(test_metrics_bounds_exact),
		cmocka_unit_test(test_metrics_label_value_escapes),
		cmocka_unit_test(test_metrics_write_error_is_reported),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
