/* test-lock.c - the pool's internal lock on its own: how long a waiter
 * counts an owner's hold, and when it may take the lock over from an owner
 * it judged dead. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "lock.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <unistd.h>

/* The lock word and its progress word (the pool's seq), as in a segment. */
static uint32_t pair[2] __attribute__((aligned(8)));
#define lock_word pair[0]
#define lock_moves pair[1]

/* An owner that lets the lock go and takes it back before its waiters can
 * get in, twice: the word is stored as a new taker would leave it (the
 * sleepers' mark goes with the release), and one waiter woken, as a
 * release wakes one. */
/* Holds the lock ms more, then lets it go as an unlock does. */
static void let_go_after(int ms)
{
	usleep((useconds_t)ms * 1000);
	__atomic_add_fetch(&lock_moves, 2, __ATOMIC_RELEASE);
	thr_lock_release(&lock_word);
}

static void *relocking_owner(void *unused)
{
	for (int i = 0; i < 2; i++) {
		usleep(300 * 1000);
		__atomic_add_fetch(&lock_moves, 2, __ATOMIC_RELEASE);
		__atomic_store_n(&lock_word, 7, __ATOMIC_RELEASE);
		thr_lock_wake(&lock_word);
	}
	let_go_after(300);
	return NULL;
}

/* An owner seen holding for 500 ms counts as dead. */
static enum thr_lock_verdict held_half_a_second(void *ctx, uint32_t owner,
                                                uint64_t held_ns)
{
	return held_ns >= 500 * 1000 * 1000ull ? THR_LOCK_OWNER_DEAD
	                                        : THR_LOCK_OWNER_ALIVE;
}

/* Takes and lets go of the lock as owner 11; *arg gets what the take gave. */
static void *other_waiter(void *arg)
{
	int r = thr_lock_acquire(pair, 11, held_half_a_second, NULL);
	if (r >= 0)
		thr_lock_release(&lock_word);
	*(int *)arg = r;
	return NULL;
}

/* How long a waiter has seen an owner hold the lock restarts when the
 * owner lets it go, even if the same owner takes it back before the
 * waiter gets in, and whether or not this waiter was the one woken: three
 * holds of 300 ms are not one of 900, which would have an owner that is
 * stuck by that measure taken over while inside. */
static void test_lock_counts_one_hold(void **state)
{
	lock_word = 0;
	lock_moves = 0;
	assert_true(thr_lock_try(&lock_word, 7));
	pthread_t owner, other;
	int r2 = -1;
	assert_int_equal(pthread_create(&owner, NULL, relocking_owner, NULL), 0);
	assert_int_equal(pthread_create(&other, NULL, other_waiter, &r2), 0);
	int r = thr_lock_acquire(pair, 9, held_half_a_second, NULL);
	if (r >= 0)
		thr_lock_release(&lock_word);
	pthread_join(owner, NULL);
	pthread_join(other, NULL);
	assert_int_equal(r, 0); /* 1: taken over from a live owner */
	assert_int_equal(r2, 0);
}

static enum thr_lock_verdict always_dead(void *ctx, uint32_t owner,
                                         uint64_t held_ns)
{
	++*(int *)ctx;
	return THR_LOCK_OWNER_DEAD;
}

/* A dead owner's lock is taken over: marked as ours, its progress word
 * left for the taker to move. */
static void test_lock_takes_over_dead_owner(void **state)
{
	lock_word = 7 | THR_LOCK_SLEEPERS;
	lock_moves = 5; /* odd: it died inside */
	int judged = 0;
	assert_int_equal(thr_lock_acquire(pair, 9, always_dead, &judged), 1);
	assert_int_equal(judged, 1);
	assert_int_equal(lock_word, 9 | THR_LOCK_SLEEPERS);
	assert_int_equal(lock_moves, 5);
}

/* The verdict comes too late: while owner 7 was being judged dead, it was
 * taken over and its entry freed, and a new process in that entry took
 * the lock, id 7 again, with the sleepers' mark. Only the progress word
 * tells; then 7 is judged alive and lets go. */
static enum thr_lock_verdict dead_then_reused(void *ctx, uint32_t owner,
                                              uint64_t held_ns)
{
	int *judged = ctx;
	if (++*judged == 1) {
		__atomic_add_fetch(&lock_moves, 4, __ATOMIC_RELEASE);
		return THR_LOCK_OWNER_DEAD;
	}
	__atomic_add_fetch(&lock_moves, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
	return THR_LOCK_OWNER_ALIVE;
}

/* A takeover fails if the owner let go after it was judged dead, even
 * under the same id: a new owner in a freed entry is not taken over. */
static void test_lock_no_takeover_after_release(void **state)
{
	lock_word = 7 | THR_LOCK_SLEEPERS;
	lock_moves = 5;
	int judged = 0;
	assert_int_equal(thr_lock_acquire(pair, 9, dead_then_reused, &judged),
	                 0); /* 1: the new owner's lock taken from it */
	assert_int_equal(judged, 2);
	thr_lock_release(&lock_word);
	assert_int_equal(lock_word, 0);
}

/* Lets the lock go after 2.5 s, past a live owner's 2 s of patience. */
static void *slow_owner(void *unused)
{
	let_go_after(2500);
	return NULL;
}

static enum thr_lock_verdict judged_as(void *ctx, uint32_t owner,
                                       uint64_t held_ns)
{
	return *(enum thr_lock_verdict *)ctx;
}

/* An owner that holds 2.5 s is stuck (-ENOLCK at 2 s) if merely alive, but
 * waited for if it runs: on a machine loaded past its cores a runnable
 * owner may not get a CPU for seconds, and the pool must not be given up
 * then. */
static void test_lock_running_owner_is_waited_for(void **state)
{
	enum thr_lock_verdict v[] = { THR_LOCK_OWNER_ALIVE,
	                              THR_LOCK_OWNER_RUNNING };
	int want[] = { -ENOLCK, 0 };
	for (int i = 0; i < 2; i++) {
		pthread_t t;
		lock_word = 0;
		assert_true(thr_lock_try(&lock_word, 7));
		assert_int_equal(pthread_create(&t, NULL, slow_owner, NULL), 0);
		int r = thr_lock_acquire(pair, 9, judged_as, &v[i]);
		pthread_join(t, NULL);
		assert_int_equal(r, want[i]);
		if (r == 0)
			thr_lock_release(&lock_word);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_counts_one_hold),
		cmocka_unit_test(test_lock_takes_over_dead_owner),
		cmocka_unit_test(test_lock_no_takeover_after_release),
		cmocka_unit_test(test_lock_running_owner_is_waited_for),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
