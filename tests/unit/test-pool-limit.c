/* test-pool-limit.c - where a pool's limit comes from: a config's open
 * (from_config) imposes its limit only when the config's own limit
 * changed, so that thr_pool_set_limit(), an operator's, holds against
 * processes that load the same config; snapshots say which it is and what
 * the config asked for. Unlinks every pool it makes. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "pool.h"

#include <stdio.h>
#include <unistd.h>

static char name[THR_POOL_NAME_MAX + 1];

static int setup(void **state)
{
	static int n;
	snprintf(name, sizeof(name), "limit-test-%d-%d", (int)getpid(), ++n);
	return 0;
}

static int teardown(void **state)
{
	thr_pool_unlink(name, NULL);
	return 0;
}

/* Opens the pool asking for limit, as a config would (or not), and
 * closes it again: one process starting and loading its config. */
static void open_once(uint32_t limit, bool from_config)
{
	struct thr_pool_opts o = { .limit = limit, .create = true,
	                           .from_config = from_config };
	struct thr_pool *p;
	char err[THR_POOL_ERR_LEN];
	if (thr_pool_open(name, &o, &p, err) < 0)
		fail_msg("%s", err);
	thr_pool_close(p);
}

static void set_limit(uint32_t limit)
{
	struct thr_pool_opts o = { .limit = 1 };
	struct thr_pool *p;
	assert_int_equal(thr_pool_open(name, &o, &p, NULL), 0);
	assert_int_equal(thr_pool_set_limit(p, limit), 0);
	thr_pool_close(p);
}

/* The pool's limit, its source and the config's limit now. */
static void check(uint32_t limit, enum thr_pool_limit_source src,
                  uint32_t config_limit)
{
	struct thr_pool_opts o = { .readonly = true };
	struct thr_pool *p;
	struct thr_pool_snapshot s;
	assert_int_equal(thr_pool_open(name, &o, &p, NULL), 0);
	assert_int_equal(thr_pool_snapshot(p, &s), 0);
	assert_int_equal(s.limit, limit);
	assert_int_equal(s.limit_source, src);
	assert_int_equal(s.config_limit, config_limit);
	thr_pool_snapshot_free(&s);
	thr_pool_close(p);
}

static void test_pool_limit_config_creates_and_records(void **state)
{
	open_once(3, true);
	check(3, THR_POOL_LIMIT_CONFIG, 3);
}

static void test_pool_limit_set_holds_until_config_changes(void **state)
{
	open_once(3, true);
	set_limit(5);
	check(5, THR_POOL_LIMIT_SET, 3);
	open_once(3, true); /* the same config, loaded again */
	check(5, THR_POOL_LIMIT_SET, 3);
	open_once(4, true); /* the config was edited */
	check(4, THR_POOL_LIMIT_CONFIG, 4);
	open_once(9, false); /* not a config: an existing pool is kept */
	check(4, THR_POOL_LIMIT_CONFIG, 4);
}

static void test_pool_limit_creator_gives_way_to_config(void **state)
{
	open_once(2, false);
	check(2, THR_POOL_LIMIT_CREATED, 0);
	open_once(3, true);
	check(3, THR_POOL_LIMIT_CONFIG, 3);
}

/* An operator's limit set before any config spoke is newer than the
 * config: the first config is recorded, not imposed; its next change is. */
static void test_pool_limit_set_before_any_config_holds(void **state)
{
	open_once(2, false);
	set_limit(6);
	check(6, THR_POOL_LIMIT_SET, 0);
	open_once(3, true);
	check(6, THR_POOL_LIMIT_SET, 3);
	open_once(4, true);
	check(4, THR_POOL_LIMIT_CONFIG, 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
		T(test_pool_limit_config_creates_and_records),
		T(test_pool_limit_set_holds_until_config_changes),
		T(test_pool_limit_creator_gives_way_to_config),
		T(test_pool_limit_set_before_any_config_holds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
