/* test-fdtable.c - the descriptor table behind close() and dup(): entries,
 * shared descriptions, direct holds and their promotion, the last
 * reference, and bounds. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fdtable.h"

#include <pthread.h>
#include <string.h>

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

/* Threads that open, dup and close at once, while pairs race a close
 * against a dup's promotion on one shared number: every hold is given back
 * exactly once, whoever wins, and nothing is left behind. Run under
 * ThreadSanitizer too (tools/test), which checks the atomics' ordering. */
enum { RACE_ROUNDS = 20000, RACE_WORKERS = 3 };

struct race {
	int fd;                         /* the shared number, raced for */
	bool opened;                    /* the opener's rounds are over */
	uint8_t released[RACE_ROUNDS];  /* times each round's hold came back */
};

static void release_hold(struct race *r, uint32_t hold)
{
	__atomic_add_fetch(&r->released[hold], 1, __ATOMIC_RELAXED);
}

/* Gives back what a close took: a direct hold at once, a description's
 * when its last reference goes. */
static void close_entry(struct race *r, uint32_t e)
{
	if (thr_fdtable_is_direct(e)) {
		release_hold(r, thr_fdtable_direct_hold(e));
	} else if (thr_fdtable_unref(e)) {
		release_hold(r, thr_fdtable_desc(e)->hold[0]);
		thr_fdtable_free(e);
	}
}

/* Opens round i's file on the shared number, then dups it. */
static void *race_opener(void *arg)
{
	struct race *r = arg;
	for (uint32_t i = 0; i < RACE_ROUNDS; i++) {
		uint32_t e = thr_fdtable_direct(1, i);
		while (thr_fdtable_get(r->fd))
			sched_yield(); /* the number is still taken */
		assert_true(thr_fdtable_attach(r->fd, e));
		uint32_t d = thr_fdtable_promote(r->fd, e);
		if (d)
			close_entry(r, d); /* the copy's own close */
	}
	__atomic_store_n(&r->opened, true, __ATOMIC_RELEASE);
	return NULL;
}

/* Closes the shared number whenever it names something. */
static void *race_closer(void *arg)
{
	struct race *r = arg;
	while (!__atomic_load_n(&r->opened, __ATOMIC_ACQUIRE) ||
	       thr_fdtable_get(r->fd)) {
		uint32_t e = thr_fdtable_detach(r->fd);
		if (e)
			close_entry(r, e);
		else
			sched_yield();
	}
	return NULL;
}

/* Each worker opens, dups and closes on numbers of its own. */
static void *race_worker(void *arg)
{
	int base = 100 + 2 * (int)(intptr_t)arg;
	for (int i = 0; i < RACE_ROUNDS; i++) {
		uint32_t d = thr_fdtable_new(pools, holds, 2, false, false);
		assert_int_not_equal(d, 0);
		assert_true(thr_fdtable_attach(base, d));
		thr_fdtable_ref(d);
		assert_true(thr_fdtable_attach(base + 1, d));
		assert_int_equal(thr_fdtable_desc(d)->hold[1], 4242);
		assert_false(thr_fdtable_unref(thr_fdtable_detach(base)));
		assert_true(thr_fdtable_unref(thr_fdtable_detach(base + 1)));
		thr_fdtable_free(d);
	}
	return NULL;
}

static void test_fdtable_threads_give_every_hold_back_once(void **state)
{
	static struct race r = { .fd = 40 };
	pthread_t opener, closer, workers[RACE_WORKERS];
	memset(r.released, 0, sizeof(r.released));
	r.opened = false;
	assert_int_equal(pthread_create(&opener, NULL, race_opener, &r), 0);
	assert_int_equal(pthread_create(&closer, NULL, race_closer, &r), 0);
	for (intptr_t i = 0; i < RACE_WORKERS; i++)
		assert_int_equal(pthread_create(&workers[i], NULL, race_worker,
		                                (void *)i), 0);
	pthread_join(opener, NULL);
	pthread_join(closer, NULL);
	for (int i = 0; i < RACE_WORKERS; i++)
		pthread_join(workers[i], NULL);
	for (int i = 0; i < RACE_ROUNDS; i++)
		assert_int_equal(r.released[i], 1);
	int n = 0;
	thr_fdtable_each(count, &n);
	assert_int_equal(n, 0);
	assert_int_equal(thr_fdtable_get(r.fd), 0);
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
		cmocka_unit_test_setup(test_fdtable_threads_give_every_hold_back_once, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
