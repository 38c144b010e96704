/* test-status.c - unit tests for tools/status.c, the output of `throttlectl
 * status`: exact table and JSON text for hand-made snapshots (where each
 * limit came from, holders and waiters with their command names), dead
 * holders and waiters kept out of the live figures, JSON string escaping
 * of every awkward byte, durations and sorting. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- helpers ---- */

/* Output of a formatter, captured in memory; free it. */
static char *capture(int (*fn)(FILE *, const struct thr_pool_snapshot *,
                               size_t),
                     const struct thr_pool_snapshot *s, size_t n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(fn(f, s, n), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static char *json_string(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	thr_status_json_string(f, s);
	assert_int_equal(fclose(f), 0);
	return buf;
}

static void check_json_string(const char *in, const char *want)
{
	char *got = json_string(in);
	assert_string_equal(got, want);
	free(got);
}

static struct thr_pool_snapshot pool(const char *name, uint32_t limit,
                                     uint32_t in_use, uint32_t waiting)
{
	struct thr_pool_snapshot s = { .limit = limit, .in_use = in_use,
	                               .waiting = waiting, .peak = limit };
	snprintf(s.name, sizeof(s.name), "%s", name);
	return s;
}

static struct thr_pool_holder_info holder(pid_t pid, int fd, uint64_t ms,
                                          const char *target)
{
	struct thr_pool_holder_info h = { .pid = pid, .fd = fd,
	                                  .held_ms = ms };
	snprintf(h.target, sizeof(h.target), "%s", target);
	return h;
}

static struct thr_pool_holder_info judged(struct thr_pool_holder_info h,
                                          enum thr_proc_verdict v)
{
	h.process = v;
	return h;
}

/* h with command name comm. */
static struct thr_pool_holder_info named(struct thr_pool_holder_info h,
                                         const char *comm)
{
	snprintf(h.comm, sizeof(h.comm), "%s", comm);
	return h;
}

static struct thr_pool_waiter_info waiter(pid_t pid, int fd, uint64_t ms,
                                          const char *target,
                                          enum thr_proc_verdict v)
{
	struct thr_pool_waiter_info w = { .pid = pid, .fd = fd,
	                                  .waited_ms = ms, .process = v };
	snprintf(w.target, sizeof(w.target), "%s", target);
	return w;
}

static struct thr_pool_waiter_info named_waiter(struct thr_pool_waiter_info w,
                                                const char *comm)
{
	snprintf(w.comm, sizeof(w.comm), "%s", comm);
	return w;
}

static void limit_from(struct thr_pool_snapshot *s,
                       enum thr_pool_limit_source src, uint32_t config)
{
	s->limit_source = src;
	s->config_limit = config;
}

/* ---- empty ---- */

static void test_status_table_empty_is_header(void **state)
{
	char *out = capture(thr_status_table, NULL, 0);
	assert_string_equal(out, "NAME  LIMIT  FROM  IN_USE  WAITING  PEAK  "
	                    "GRANTED  TIMEOUTS  REFUSED  OVER  RECLAIMED\n");
	free(out);
}

static void test_status_json_empty(void **state)
{
	char *out = capture(thr_status_json, NULL, 0);
	assert_string_equal(out, "{\"pools\":[]}\n");
	free(out);
}

/* ---- the table ---- */

/* Numbers right-aligned, FROM left-aligned and as wide as its widest
 * entry; holder and waiter lines aligned across pools, waiters after
 * holders, a command name unknown as "-". */
static void test_status_table_aligns_columns(void **state)
{
	struct thr_pool_holder_info h1[] = {
		named(holder(42, 5, 850, "127.0.0.1:8000"), "curl"),
		named(holder(1234567, 17, 125000, "[::1]:443"), "python3"),
	};
	struct thr_pool_holder_info h2[] = {
		holder(7, -1, 3, ""),
	};
	struct thr_pool_waiter_info w1[] = {
		named_waiter(waiter(99, -1, 1500, "127.0.0.1:8000",
		                    THR_PROC_JUDGED_ALIVE), "node"),
	};
	struct thr_pool_snapshot s[] = {
		pool("api", 3, 2, 11),
		pool("a-much-longer-pool.name", 1024, 1, 0),
	};
	limit_from(&s[0], THR_POOL_LIMIT_SET, 2);
	limit_from(&s[1], THR_POOL_LIMIT_CONFIG, 1024);
	s[0].waiters = w1;
	s[0].nwaiters = 1;
	s[0].granted = 12345678901ull;
	s[0].timeouts = 4;
	s[0].reclaimed = 1;
	s[0].holders = h1;
	s[0].nholders = 2;
	s[1].over = 100;
	s[1].refused = 7;
	s[1].holders = h2;
	s[1].nholders = 1;
	char *out = capture(thr_status_table, s, 2);
	assert_string_equal(out,
	"NAME                     LIMIT  FROM                  IN_USE  WAITING  "
	"PEAK      GRANTED  TIMEOUTS  REFUSED  OVER  RECLAIMED\n"
	"api                          3  set-limit (config 2)       2       11  "
	"   3  12345678901         4        0     0          1\n"
	"  pid      42  curl     fd  5  held 850ms  127.0.0.1:8000\n"
	"  pid 1234567  python3  fd 17  held 2m05s  [::1]:443\n"
	"  pid      99  node     fd  -  wait  1.5s  127.0.0.1:8000\n"
	"a-much-longer-pool.name   1024  config                     1        0  "
	"1024            0         0        7   100          0\n"
	"  pid       7  -        fd  -  held   3ms  -\n");
	free(out);
}

static void test_status_table_escapes_targets(void **state)
{
	struct thr_pool_holder_info h[] = {
		named(holder(1, 3, 0, "/srv/a\nb\tc\\d\x7f\x1b[2J"), "a\x1b\xc3\xa9"),
		named(holder(2, 4, 0, "/srv/\xc3\xa9t\xc3\xa9"), "sh"),
	};
	struct thr_pool_snapshot s[] = { pool("p", 2, 2, 0) };
	s[0].holders = h;
	s[0].nholders = 2;
	char *out = capture(thr_status_table, s, 1);
	const char *rows = strchr(strchr(out, '\n') + 1, '\n') + 1;
	assert_string_equal(rows,
	                    "  pid 1  a???  fd 3  held 0ms  "
	                    "/srv/a\\x0ab\\x09c\\\\d\\x7f\\x1b[2J\n"
	                    "  pid 2  sh    fd 4  held 0ms  "
	                    "/srv/\xc3\xa9t\xc3\xa9\n");
	free(out);
}

/* ---- JSON ---- */

static void test_status_json_exact(void **state)
{
	struct thr_pool_holder_info h[] = {
		named(holder(42, 5, 850, "127.0.0.1:8000"), "curl"),
		named(holder(43, -1, 18446744073709551615ull, "say \"hi\""),
		      "we\"ird"),
	};
	struct thr_pool_waiter_info w[] = {
		named_waiter(waiter(44, 6, 20, "127.0.0.1:8000",
		                    THR_PROC_JUDGED_ALIVE), "psql"),
	};
	struct thr_pool_snapshot s[] = { pool("api", 3, 2, 1),
	                                 pool("b", 1, 0, 0) };
	limit_from(&s[0], THR_POOL_LIMIT_SET, 2);
	limit_from(&s[1], THR_POOL_LIMIT_CONFIG, 1);
	s[0].waiters = w;
	s[0].nwaiters = 1;
	s[0].granted = 10;
	s[0].timeouts = 2;
	s[0].refused = 3;
	s[0].over = 4;
	s[0].reclaimed = 5;
	s[0].peak = 3;
	s[0].holders = h;
	s[0].nholders = 2;
	s[1].granted = 18446744073709551615ull;
	char *out = capture(thr_status_json, s, 2);
	assert_string_equal(out,
	"{\"pools\":["
	"{\"name\":\"api\",\"limit\":3,\"limit_source\":\"set-limit\","
	"\"config_limit\":2,\"in_use\":2,\"waiting\":1,"
	"\"dead_in_use\":0,\"dead_waiting\":0,\"peak\":3,"
	"\"granted\":10,\"timeouts\":2,\"refused\":3,\"over\":4,"
	"\"reclaimed\":5,\"holders\":["
	"{\"pid\":42,\"comm\":\"curl\",\"fd\":5,\"target\":\"127.0.0.1:8000\","
	"\"held_ms\":850,\"process\":\"alive\"},"
	"{\"pid\":43,\"comm\":\"we\\\"ird\",\"fd\":-1,"
	"\"target\":\"say \\\"hi\\\"\","
	"\"held_ms\":18446744073709551615,\"process\":\"alive\"}],"
	"\"waiters\":[{\"pid\":44,\"comm\":\"psql\",\"fd\":6,"
	"\"target\":\"127.0.0.1:8000\",\"waited_ms\":20,"
	"\"process\":\"alive\"}]},"
	"{\"name\":\"b\",\"limit\":1,\"limit_source\":\"config\","
	"\"config_limit\":1,\"in_use\":0,\"waiting\":0,"
	"\"dead_in_use\":0,\"dead_waiting\":0,\"peak\":1,"
	"\"granted\":18446744073709551615,\"timeouts\":0,\"refused\":0,"
	"\"over\":0,\"reclaimed\":0,\"holders\":[],\"waiters\":[]}"
	"]}\n");
	free(out);
}

/* ---- dead processes ---- */

/* One pool: limit 3, three slots in the segment of which one is held only
 * by a dead process, two waiters of which one is dead; holders alive,
 * dead and not judged. */
static void dead_pool(struct thr_pool_snapshot *s,
                      struct thr_pool_holder_info h[3],
                      struct thr_pool_waiter_info w[2])
{
	*s = pool("api", 3, 3, 2);
	h[0] = named(holder(42, 5, 850, "127.0.0.1:8000"), "curl");
	h[1] = judged(holder(4711, 6, 3000, "127.0.0.1:8000"),
	              THR_PROC_JUDGED_DEAD);
	h[2] = judged(holder(9, 7, 12, "127.0.0.1:8000"),
	              THR_PROC_CANNOT_JUDGE);
	w[0] = named_waiter(waiter(77, 8, 1200, "127.0.0.1:8000",
	                           THR_PROC_JUDGED_ALIVE), "psql");
	w[1] = waiter(4712, -1, 900, "/srv/y", THR_PROC_JUDGED_DEAD);
	s->dead_in_use = 1;
	s->dead_waiting = 1;
	s->holders = h;
	s->nholders = 3;
	s->waiters = w;
	s->nwaiters = 2;
}

/* IN_USE and WAITING count live processes only (and those that cannot be
 * judged, which the engine keeps); what dead ones still have is said on a
 * line of its own, and each holder line says how its process stands. */
static void test_status_table_dead_not_counted_live(void **state)
{
	struct thr_pool_holder_info h[3];
	struct thr_pool_waiter_info w[2];
	struct thr_pool_snapshot s[2];
	dead_pool(&s[0], h, w);
	s[1] = pool("b", 1, 1, 0);
	s[1].dead_in_use = 1;
	char *out = capture(thr_status_table, s, 2);
	assert_string_equal(out,
	"NAME  LIMIT  FROM     IN_USE  WAITING  PEAK  GRANTED  TIMEOUTS  "
	"REFUSED  OVER  RECLAIMED\n"
	"api       3  created       2        1     3        0         0  "
	"      0     0          0\n"
	"  dead: 1 slot held, 1 waiting; not in IN_USE or WAITING, freed by "
	"the next reclaim\n"
	"  pid   42  curl  fd 5  held 850ms  alive    127.0.0.1:8000\n"
	"  pid 4711  -     fd 6  held  3.0s  dead     127.0.0.1:8000\n"
	"  pid    9  -     fd 7  held  12ms  unknown  127.0.0.1:8000\n"
	"  pid   77  psql  fd 8  wait  1.2s  alive    127.0.0.1:8000\n"
	"  pid 4712  -     fd -  wait 900ms  dead     /srv/y\n"
	"b         1  created       0        0     1        0         0  "
	"      0     0          0\n"
	"  dead: 1 slot held; not in IN_USE, freed by the next reclaim\n");
	free(out);
}

/* Dead waiters alone, and a count of dead slots above in_use (a copy torn
 * by writers) never shows a negative or wrapped figure. */
static void test_status_table_dead_waiters_and_torn_counts(void **state)
{
	struct thr_pool_snapshot s[] = { pool("p", 2, 1, 3) };
	s[0].dead_in_use = 2;
	s[0].dead_waiting = 2;
	char *out = capture(thr_status_table, s, 1);
	const char *rows = strchr(out, '\n') + 1;
	assert_string_equal(rows,
	"p         2  created       0        1     2        0         0  "
	"      0     0          0\n"
	"  dead: 2 slots held, 2 waiting; not in IN_USE or WAITING, freed by "
	"the next reclaim\n");
	free(out);
	s[0].dead_in_use = 0;
	out = capture(thr_status_table, s, 1);
	assert_non_null(strstr(out, "\n  dead: 2 waiting; not in WAITING, "
	                       "freed by the next reclaim\n"));
	free(out);
}

static void test_status_json_marks_dead(void **state)
{
	struct thr_pool_holder_info h[3];
	struct thr_pool_waiter_info w[2];
	struct thr_pool_snapshot s[1];
	dead_pool(&s[0], h, w);
	char *out = capture(thr_status_json, s, 1);
	assert_string_equal(out,
	"{\"pools\":[{\"name\":\"api\",\"limit\":3,\"limit_source\":\"created\","
	"\"config_limit\":null,\"in_use\":2,\"waiting\":1,"
	"\"dead_in_use\":1,\"dead_waiting\":1,\"peak\":3,\"granted\":0,"
	"\"timeouts\":0,\"refused\":0,\"over\":0,\"reclaimed\":0,\"holders\":["
	"{\"pid\":42,\"comm\":\"curl\",\"fd\":5,\"target\":\"127.0.0.1:8000\","
	"\"held_ms\":850,\"process\":\"alive\"},"
	"{\"pid\":4711,\"comm\":\"\",\"fd\":6,\"target\":\"127.0.0.1:8000\","
	"\"held_ms\":3000,\"process\":\"dead\"},"
	"{\"pid\":9,\"comm\":\"\",\"fd\":7,\"target\":\"127.0.0.1:8000\","
	"\"held_ms\":12,\"process\":\"unknown\"}],\"waiters\":["
	"{\"pid\":77,\"comm\":\"psql\",\"fd\":8,\"target\":\"127.0.0.1:8000\","
	"\"waited_ms\":1200,\"process\":\"alive\"},"
	"{\"pid\":4712,\"comm\":\"\",\"fd\":-1,\"target\":\"/srv/y\","
	"\"waited_ms\":900,\"process\":\"dead\"}]}]}\n");
	free(out);
}

static void test_status_json_string_escapes(void **state)
{
	check_json_string("", "\"\"");
	check_json_string("plain /srv/x:1", "\"plain /srv/x:1\"");
	check_json_string("q\"b\\s/", "\"q\\\"b\\\\s/\"");
	check_json_string("\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\"");
	check_json_string("\x01\x1b\x1f\x7f", "\"\\u0001\\u001b\\u001f\\u007f\"");
	check_json_string(" ~", "\" ~\"");
}

static void check_text(const char *in, const char *want)
{
	char *got = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&got, &len);
	assert_non_null(f);
	thr_status_text(f, in);
	fclose(f);
	assert_string_equal(got, want);
	free(got);
}

/* What reaches a terminal cannot drive it: C0, DEL, C1 (as UTF-8) and bytes
 * outside valid UTF-8 come out as \xNN; valid text passes. */
static void test_status_text_escapes_controls(void **state)
{
	check_text("", "-");
	check_text("/srv/x \\ \xc3\xa9\xe2\x82\xac", "/srv/x \\\\ \xc3\xa9\xe2\x82\xac");
	check_text("\x1b[31m\x7f", "\\x1b[31m\\x7f");
	check_text("\xc2\x9b" "31m\xc2\x9d" "0;t\xc2\x9c", "\\xc2\\x9b31m\\xc2\\x9d0;t\\xc2\\x9c");
	check_text("\xc2\xa0ok", "\xc2\xa0ok");
	check_text("raw\x9b\xff cut\xe2\x82", "raw\\x9b\\xff cut\\xe2\\x82");
}

static void test_status_json_string_utf8(void **state)
{
	/* C1 controls are escaped too, whatever a terminal would make of them */
	check_json_string("\xc2\x80\xc2\x9f\xc2\xa0", "\"\\u0080\\u009f\xc2\xa0\"");
	/* valid sequences of 2, 3 and 4 bytes pass through */
	check_json_string("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
	                  "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"");
	/* a lone continuation byte, and a lead byte with nothing after */
	check_json_string("a\x80z", "\"a\\ufffdz\"");
	check_json_string("cut\xe2\x82", "\"cut\\ufffd\\ufffd\"");
	/* overlong, surrogate, beyond U+10FFFF, bytes never used */
	check_json_string("\xc0\xaf", "\"\\ufffd\\ufffd\"");
	check_json_string("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");
	check_json_string("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");
	check_json_string("\xf4\x90\x80\x80",
	                  "\"\\ufffd\\ufffd\\ufffd\\ufffd\"");
	check_json_string("\xff\xfe", "\"\\ufffd\\ufffd\"");
	/* a lead byte followed by ASCII keeps the ASCII */
	check_json_string("\xe2(x", "\"\\ufffd(x\"");
}

static void test_status_write_error_is_reported(void **state)
{
	struct thr_pool_snapshot s[] = { pool("p", 1, 0, 0) };
	FILE *f = fopen("/dev/null", "r");
	assert_non_null(f);
	assert_int_equal(thr_status_table(f, s, 1), -EIO);
	clearerr(f);
	assert_int_equal(thr_status_json(f, s, 1), -EIO);
	fclose(f);
}

/* ---- durations and sorting ---- */

static void check_duration(uint64_t ms, const char *want)
{
	char buf[32];
	thr_status_duration(ms, buf, sizeof(buf));
	assert_string_equal(buf, want);
}

static void test_status_duration_units(void **state)
{
	check_duration(0, "0ms");
	check_duration(999, "999ms");
	check_duration(1000, "1.0s");
	check_duration(12345, "12.3s");
	check_duration(59999, "59.9s");
	check_duration(60000, "1m00s");
	check_duration(3599999, "59m59s");
	check_duration(3600000, "1h00m");
	check_duration(86399999, "23h59m");
	check_duration(86400000, "1d00h");
	check_duration(90061000, "1d01h");
}

static void test_status_sort_pools_and_holders(void **state)
{
	struct thr_pool_holder_info h[] = {
		holder(30, 4, 0, "c"), holder(10, 9, 0, "b"),
		holder(30, -1, 0, "d"), holder(10, 2, 0, "a"),
	};
	struct thr_pool_snapshot s[] = {
		pool("web", 1, 0, 0), pool("Zeta", 1, 0, 0), pool("api", 1, 0, 0),
		pool("api.v2", 1, 0, 0),
	};
	struct thr_pool_waiter_info w[] = {
		waiter(8, 1, 0, "y", THR_PROC_JUDGED_ALIVE),
		waiter(3, 1, 0, "x", THR_PROC_JUDGED_DEAD),
	};
	s[0].holders = h;
	s[0].nholders = 4;
	s[0].waiters = w;
	s[0].nwaiters = 2;
	thr_status_sort(s, 4);
	assert_string_equal(s[0].name, "Zeta");
	assert_string_equal(s[1].name, "api");
	assert_string_equal(s[2].name, "api.v2");
	assert_string_equal(s[3].name, "web");
	assert_string_equal(s[3].holders[0].target, "a");
	assert_string_equal(s[3].holders[1].target, "b");
	assert_string_equal(s[3].holders[2].target, "d");
	assert_string_equal(s[3].holders[3].target, "c");
	assert_string_equal(s[3].waiters[0].target, "x");
	assert_string_equal(s[3].waiters[1].target, "y");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_status_table_empty_is_header),
		cmocka_unit_test(test_status_json_empty),
		cmocka_unit_test(test_status_table_aligns_columns),
		cmocka_unit_test(test_status_table_escapes_targets),
		cmocka_unit_test(test_status_json_exact),
		cmocka_unit_test(test_status_table_dead_not_counted_live),
		cmocka_unit_test(test_status_table_dead_waiters_and_torn_counts),
		cmocka_unit_test(test_status_json_marks_dead),
		cmocka_unit_test(test_status_json_string_escapes),
		cmocka_unit_test(test_status_text_escapes_controls),
		cmocka_unit_test(test_status_json_string_utf8),
		cmocka_unit_test(test_status_write_error_is_reported),
		cmocka_unit_test(test_status_duration_units),
		cmocka_unit_test(test_status_sort_pools_and_holders),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
