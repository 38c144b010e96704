/* test-fdtable.c - the descriptor table behind close() and dup(): entries,
 * shared descriptions, direct holds and their promotion, the last
 * reference, and bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fdtable.h"

static const uint16_t pools[2] = { 0, 3 };
static const uint32_t holds[2] = { 17, 4242 };

static int setup(void **state)
{
	static bool done;
	if (!done)
		assert_int_equal(thr_fdtable_init(), 0);
	done = true;
	return 0;
}

static void test_fdtable_untracked_reads_zero(void **state)
{
	assert_int_equal(thr_fdtable_get(5), 0);
	assert_int_equal(thr_fdtable_detach(5), 0);
	assert_int_equal(thr_fdtable_get(-1), 0);
	assert_int_equal(thr_fdtable_get(1 << 30), 0);
	assert_int_equal(thr_fdtable_detach(-7), 0);
}

static void test_fdtable_attach_get_detach(void **state)
{
	uint32_t d = thr_fdtable_new(pools, holds, 2, true, false);
	assert_int_not_equal(d, 0);
	assert_false(thr_fdtable_desc(d)->stream);
	struct thr_fd_desc *desc = thr_fdtable_desc(d);
	assert_non_null(desc);
	assert_int_equal(desc->n, 2);
	assert_true(desc->socket);
	assert_int_equal(desc->hold[1], 4242);
	assert_true(thr_fdtable_attach(9, d));
	assert_int_equal(thr_fdtable_get(9), d);
	assert_true(thr_fdtable_high() >= 10);
	assert_int_equal(thr_fdtable_detach(9), d);
	assert_int_equal(thr_fdtable_get(9), 0);
	assert_false(thr_fdtable_attach(-1, d));
	assert_true(thr_fdtable_unref(d));
	thr_fdtable_free(d);
}

/* Dups share one description: only the last unref says "release". */
static void test_fdtable_last_reference_releases(void **state)
{
	uint32_t d = thr_fdtable_new(pools, holds, 1, false, false);
	thr_fdtable_ref(d);
	thr_fdtable_ref(d);
	assert_false(thr_fdtable_unref(d));
	assert_false(thr_fdtable_unref(d));
	assert_true(thr_fdtable_unref(d));
	/* While dying, it is neither handed out nor released twice. */
	assert_false(thr_fdtable_unref(d));
	uint32_t other = thr_fdtable_new(pools, holds, 1, false, false);
	assert_int_not_equal(other, d);
	thr_fdtable_free(d);
	assert_true(thr_fdtable_unref(other));
	thr_fdtable_free(other);
	assert_int_equal(thr_fdtable_new(pools, holds, 1, false, false), d);
	assert_true(thr_fdtable_unref(d));
	thr_fdtable_free(d);
}

static void count(uint32_t d, void *ctx)
{
	(*(int *)ctx)++;
}

static void test_fdtable_each_sees_live_descriptions(void **state)
{
	int n = 0;
	thr_fdtable_each(count, &n);
	assert_int_equal(n, 0);
	uint32_t a = thr_fdtable_new(pools, holds, 1, false, false);
	uint32_t b = thr_fdtable_new(pools, holds, 2, true, false);
	thr_fdtable_each(count, &n);
	assert_int_equal(n, 2);
	assert_true(thr_fdtable_unref(a));
	n = 0;
	thr_fdtable_each(count, &n); /* a dying one is not forked over */
	assert_int_equal(n, 1);
	thr_fdtable_free(a);
	assert_true(thr_fdtable_unref(b));
	thr_fdtable_free(b);
}

/* Reserved before its call returns, a description is filled but stays out
 * of sight (fork, unref) until published. */
static void test_fdtable_reserve_then_publish(void **state)
{
	int n = 0;
	uint32_t d = thr_fdtable_reserve(pools, holds, 2, false, true);
	assert_int_not_equal(d, 0);
	assert_int_equal(thr_fdtable_desc(d)->n, 2);
	assert_true(thr_fdtable_desc(d)->stream);
	assert_int_equal(thr_fdtable_desc(d)->hold[1], 4242);
	thr_fdtable_each(count, &n);
	assert_int_equal(n, 0);
	assert_false(thr_fdtable_unref(d));
	uint32_t other = thr_fdtable_new(pools, holds, 1, false, false);
	assert_int_not_equal(other, d); /* nor handed out again */
	assert_true(thr_fdtable_unref(other));
	thr_fdtable_free(other);
	thr_fdtable_publish(d);
	thr_fdtable_each(count, &n);
	assert_int_equal(n, 1);
	assert_true(thr_fdtable_attach(7, d));
	assert_int_equal(thr_fdtable_detach(7), d);
	assert_true(thr_fdtable_unref(d));
	thr_fdtable_free(d);
	/* Given back unpublished, it is free again. */
	d = thr_fdtable_reserve(pools, holds, 1, false, false);
	thr_fdtable_free(d);
	assert_int_equal(thr_fdtable_new(pools, holds, 1, false, false), d);
	assert_true(thr_fdtable_unref(d));
	thr_fdtable_free(d);
}

static void test_fdtable_fills_up_cleanly(void **state)
{
	uint32_t got = 0;
	while (thr_fdtable_new(pools, holds, 1, false, true))
		got++;
	assert_true(thr_fdtable_desc(1)->stream);
	assert_int_equal(got, THR_FD_DESCS);
	assert_null(thr_fdtable_desc(0));
	assert_null(thr_fdtable_desc(THR_FD_DESCS + 1));
	for (uint32_t d = 1; d <= THR_FD_DESCS; d++) {
		assert_true(thr_fdtable_unref(d));
		thr_fdtable_free(d);
	}
}

/* A descriptor with one slot and no copies is its hold, with no
 * description; every field survives the packing. */
static void test_fdtable_direct_round_trip(void **state)
{
	uint32_t top = (1u << THR_FD_HOLD_BITS) - 1;
	uint32_t e = thr_fdtable_direct(255, top);
	assert_true(thr_fdtable_is_direct(e));
	assert_int_equal(thr_fdtable_direct_pool(e), 255);
	assert_int_equal(thr_fdtable_direct_hold(e), top);
	assert_null(thr_fdtable_desc(e));
	e = thr_fdtable_direct(0, 0);
	assert_true(thr_fdtable_is_direct(e));
	assert_int_equal(thr_fdtable_direct_hold(e), 0);
	assert_false(thr_fdtable_is_direct(1));
	assert_true(thr_fdtable_attach(11, e));
	assert_int_equal(thr_fdtable_get(11), e);
	assert_int_equal(thr_fdtable_detach(11), e);
	assert_int_equal(thr_fdtable_get(11), 0);
}

/* A dup turns the direct entry into a description shared by two names,
 * the original's and the copy's, naming the original. */
static void test_fdtable_promote_shares(void **state)
{
	uint32_t e = thr_fdtable_direct(3, 4242);
	int n = 0;
	assert_true(thr_fdtable_attach(12, e));
	uint32_t d = thr_fdtable_promote(12, e);
	assert_int_not_equal(d, 0);
	assert_int_equal(thr_fdtable_get(12), d);
	struct thr_fd_desc *desc = thr_fdtable_desc(d);
	assert_int_equal(desc->n, 1);
	assert_int_equal(desc->pool[0], 3);
	assert_int_equal(desc->hold[0], 4242);
	assert_int_equal(desc->fd, 12);
	thr_fdtable_each(count, &n);
	assert_int_equal(n, 1);
	assert_false(thr_fdtable_unref(d)); /* the copy's name goes */
	assert_true(thr_fdtable_unref(d));  /* then the original's: last */
	thr_fdtable_free(d);
	assert_int_equal(thr_fdtable_detach(12), d);
}

/* Closed before the promotion landed: nothing is made, nothing leaks, and
 * the entry the close took is left to it. */
static void test_fdtable_promote_lost_to_close(void **state)
{
	uint32_t e = thr_fdtable_direct(1, 77);
	int n = 0;
	assert_true(thr_fdtable_attach(13, e));
	assert_int_equal(thr_fdtable_detach(13), e);
	assert_int_equal(thr_fdtable_promote(13, e), 0);
	assert_int_equal(thr_fdtable_get(13), 0);
	/* Replaced by another file's entry: not promoted either. */
	assert_true(thr_fdtable_attach(13, thr_fdtable_direct(1, 78)));
	assert_int_equal(thr_fdtable_promote(13, e), 0);
	assert_int_equal(thr_fdtable_detach(13), thr_fdtable_direct(1, 78));
	thr_fdtable_each(count, &n);
	assert_int_equal(n, 0);
	assert_int_equal(thr_fdtable_promote(-1, e), 0);
	thr_fdtable_each(count, &n);
	assert_int_equal(n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_fdtable_untracked_reads_zero, setup),
		cmocka_unit_test_setup(test_fdtable_attach_get_detach, setup),
		cmocka_unit_test_setup(test_fdtable_last_reference_releases, setup),
		cmocka_unit_test_setup(test_fdtable_each_sees_live_descriptions, setup),
		cmocka_unit_test_setup(test_fdtable_reserve_then_publish, setup),
		cmocka_unit_test_setup(test_fdtable_fills_up_cleanly, setup),
		cmocka_unit_test_setup(test_fdtable_direct_round_trip, setup),
		cmocka_unit_test_setup(test_fdtable_promote_shares, setup),
		cmocka_unit_test_setup(test_fdtable_promote_lost_to_close, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
