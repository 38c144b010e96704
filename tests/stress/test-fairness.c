/* test-fairness.c - 32 processes contend for a pool of limit 1 for 2 s.
 * First-come-first-served must give every process nearly the same number of
 * grants, and each hand-off must cost one wake, not a herd of them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "pool.h"
#include "testutil.h"

#define WORKERS 32u
#define RUN_MS 2000u
#define HOLD_MIN_NS 50000u
#define HOLD_MAX_NS 100000u
#define MAX_RATIO 1.2
/* Voluntary context switches allowed per grant. A waiter sleeps at most once
 * per grant when woken only for its own hand-off; the rest is slack for the
 * pool lock, which may make a process sleep briefly too. Waking every waiter
 * per release would cost about WORKERS - 1 per grant. */
#define MAX_SLEEPS_PER_GRANT 1.5

/* Shared between the parent and the workers (MAP_SHARED | MAP_ANONYMOUS). */
struct board {
	uint32_t ready;                 /* workers attached and warmed up */
	uint64_t deadline_ns;           /* CLOCK_MONOTONIC end of the run */
	uint64_t grants[WORKERS];
	uint64_t sleeps[WORKERS];       /* ru_nvcsw during the loop */
	uint64_t worst_wait_ns[WORKERS];
};

static uint64_t nvcsw(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (uint64_t)ru.ru_nvcsw;
}

static int worker(struct board *b, const char *name, int go_fd, unsigned me)
{
	struct thr_pool *pool;
	struct thr_pool_opts opts = { .limit = 1 };
	if (thr_pool_open(name, &opts, &pool, NULL) < 0)
		return 2;
	/* A crash must kill the worker, not run cmocka's handler in it. */
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	struct thr_pool_req req = { .mode = THR_POOL_WAIT, .fd = -1,
	                            .target = "fairness" };
	uint32_t hold;
	/* Warm up (registration, page faults) before the parent's baseline. */
	if (thr_pool_acquire(pool, &req, &hold) < 0 ||
	    thr_pool_release(pool, hold) < 0)
		return 3;
	__atomic_add_fetch(&b->ready, 1, __ATOMIC_SEQ_CST);
	char c;
	if (read(go_fd, &c, 1) != 0) /* EOF is the start signal */
		return 4;
	uint64_t seed = ((uint64_t)getpid() << 32) ^ thr_clock_ns(CLOCK_MONOTONIC) ^ 0x9e3779b97f4a7c15ull;
	uint64_t deadline = __atomic_load_n(&b->deadline_ns, __ATOMIC_SEQ_CST);
	uint64_t grants = 0, worst = 0, sleeps0 = nvcsw();
	for (uint64_t now = thr_clock_ns(CLOCK_MONOTONIC); now < deadline; now = thr_clock_ns(CLOCK_MONOTONIC)) {
		int r = thr_pool_acquire(pool, &req, &hold);
		if (r < 0) {
			fprintf(stderr, "worker %u: acquire: %s\n", me, strerror(-r));
			return 5;
		}
		uint64_t t = thr_clock_ns(CLOCK_MONOTONIC);
		if (t - now > worst)
			worst = t - now;
		grants++;
		uint64_t until = t + HOLD_MIN_NS +
		                 rnd(&seed) % (HOLD_MAX_NS - HOLD_MIN_NS + 1);
		while (thr_clock_ns(CLOCK_MONOTONIC) < until)
			;
		if ((r = thr_pool_release(pool, hold)) < 0) {
			fprintf(stderr, "worker %u: release: %s\n", me, strerror(-r));
			return 6;
		}
	}
	b->sleeps[me] = nvcsw() - sleeps0;
	b->grants[me] = grants;
	b->worst_wait_ns[me] = worst;
	return 0;
}

static void test_fairness_fifo_even_grants_one_wake_each(void **state)
{
	char name[THR_POOL_NAME_MAX + 1], err[THR_POOL_ERR_LEN];
	snprintf(name, sizeof(name), "fairness-%d", (int)getpid());
	struct board *b = mmap(NULL, sizeof(*b), PROT_READ | PROT_WRITE,
	                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(b != MAP_FAILED);
	struct thr_pool *pool;
	struct thr_pool_opts opts = { .limit = 1, .from_config = true,
	                              .create = true };
	int r = thr_pool_open(name, &opts, &pool, err);
	if (r < 0)
		fail_msg("%s", err);
	int go[2];
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);

	pid_t pids[WORKERS];
	unsigned started = 0;
	for (; started < WORKERS; started++) {
		pid_t pid = fork();
		if (pid == 0) {
			close(go[1]);
			_exit(worker(b, name, go[0], started));
		}
		if (pid < 0)
			break;
		pids[started] = pid;
	}
	close(go[0]);
	uint64_t wait_until = thr_clock_ns(CLOCK_MONOTONIC) + 30 * 1000000000ull;
	while (__atomic_load_n(&b->ready, __ATOMIC_SEQ_CST) < started &&
	       thr_clock_ns(CLOCK_MONOTONIC) < wait_until)
		usleep(1000);
	struct thr_pool_snapshot s0, s1;
	int r0 = thr_pool_snapshot(pool, &s0);
	__atomic_store_n(&b->deadline_ns, thr_clock_ns(CLOCK_MONOTONIC) + RUN_MS * 1000000ull,
	                 __ATOMIC_SEQ_CST);
	close(go[1]); /* everybody starts */
	unsigned bad = 0;
	for (unsigned i = 0; i < started; i++) {
		int status;
		if (waitpid(pids[i], &status, 0) != pids[i] ||
		    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
			fprintf(stderr, "worker %u: status 0x%x\n", i, status);
			bad++;
		}
	}
	int r1 = thr_pool_snapshot(pool, &s1);
	thr_pool_close(pool);
	assert_int_equal(thr_pool_unlink(name, NULL), 0);

	uint64_t total = 0, sleeps = 0, lo = UINT64_MAX, hi = 0, worst = 0;
	for (unsigned i = 0; i < started; i++) {
		total += b->grants[i];
		sleeps += b->sleeps[i];
		lo = b->grants[i] < lo ? b->grants[i] : lo;
		hi = b->grants[i] > hi ? b->grants[i] : hi;
		worst = b->worst_wait_ns[i] > worst ? b->worst_wait_ns[i] : worst;
	}
	assert_int_equal(r0, 0);
	assert_int_equal(r1, 0);
	uint64_t granted = s1.granted - s0.granted;
	uint64_t handoffs = s1.handoffs - s0.handoffs;
	uint64_t wakes = s1.wakes - s0.wakes;
	double ratio = lo ? (double)hi / (double)lo : 0.0;
	double per_grant = total ? (double)sleeps / (double)total : 0.0;
	printf("fairness: %u processes, %llu grants in %u ms, per process "
	       "min %llu max %llu (ratio %.3f), worst wait %.2f ms; engine: "
	       "granted %llu, handoffs %llu, wakes %llu; voluntary context "
	       "switches %llu (%.3f per grant)\n", started,
	       (unsigned long long)total, RUN_MS, (unsigned long long)lo,
	       (unsigned long long)hi, ratio, (double)worst / 1e6,
	       (unsigned long long)granted, (unsigned long long)handoffs,
	       (unsigned long long)wakes, (unsigned long long)sleeps, per_grant);
	fflush(stdout);
	thr_pool_snapshot_free(&s0);
	thr_pool_snapshot_free(&s1);
	munmap(b, sizeof(*b));

	assert_int_equal(started, WORKERS);
	assert_int_equal(bad, 0);
	assert_true(lo > 0);
	assert_true(ratio <= MAX_RATIO);
	/* The engine counted exactly the grants the workers saw. */
	assert_int_equal(granted, total);
	assert_true(handoffs > 0);
	/* While anyone waits nobody takes a free slot: a slot goes free only
	 * in the rare moment when every other worker is between its first
	 * look and joining the queue, so nearly every grant is a hand-off (a
	 * barging semaphore hands off almost none). */
	assert_true((granted - handoffs) * 100 <= granted);
	assert_int_equal(wakes, handoffs);
	assert_true(per_grant <= MAX_SLEEPS_PER_GRANT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fairness_fifo_even_grants_one_wake_each),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
