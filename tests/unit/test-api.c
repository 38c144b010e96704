/* test-api.c - the public C API (throttle.h) over real pools in shared
 * memory: opening and its errors, the three ways to acquire, release and
 * its EPERM, counters, the limit, signals, fork children, and the gate's
 * own handle shared with the API. The shim's sources are built with
 * THR_TEST_HOOKS and nothing is preloaded: the gate's state is the test's
 * own (thr_gate_use()). */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "apiint.h"
#include "gate.h"
#include "init.h"
#include "pool.h"
#include "real.h"
#include "throttle.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Each case's pools have names of their own. */
static char name[2][64];

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The gate's state, inert unless a case loads a config: the API then opens
 * handles of its own. */
static int group_setup(void **state)
{
	static struct thr_init_state inert;
	thr_gate_use(&inert, thr_real_get());
	return 0;
}

static int setup(void **state)
{
	static unsigned n;
	for (int k = 0; k < 2; k++)
		snprintf(name[k], sizeof(name[k]), "test-api-%d-%u-%c",
		         (int)getpid(), n, 'a' + k);
	n++;
	return 0;
}

static int teardown(void **state)
{
	for (int k = 0; k < 2; k++)
		thr_pool_unlink(name[k], NULL);
	return 0;
}

static throttle_pool *open_new(int k, unsigned limit)
{
	throttle_pool *p = throttle_open(name[k], limit, THROTTLE_CREATE);
	assert_non_null(p);
	return p;
}

static struct throttle_info info_of(throttle_pool *p)
{
	struct throttle_info info;
	assert_int_equal(throttle_info(p, &info), 0);
	return info;
}

static void expect_errno(int r, int err)
{
	assert_int_equal(r, -1);
	assert_int_equal(errno, err);
}

/* A child that holds a slot of pool k until told: fork, acquire, say so
 * on the pipe, then wait for the parent to close its end. Returns its pid
 * and the parent's end in *release. */
static pid_t child_holding(int k, int *release)
{
	int ready[2], go[2];
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		throttle_pool *p = throttle_open(name[k], 0, 0);
		char c = p && throttle_try_acquire(p) == 0 ? 'y' : 'n';
		close(go[1]);
		if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) < 0)
			_exit(3);
		_exit(0);
	}
	close(ready[1]);
	close(go[0]);
	char c = 0;
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(c, 'y');
	close(ready[0]);
	*release = go[1];
	return pid;
}

static void test_api_open_creates_and_attaches(void **state)
{
	throttle_pool *p = open_new(0, 3);
	assert_int_equal(info_of(p).limit, 3);
	/* An existing pool keeps its limit; without THROTTLE_CREATE the
	 * limit is not looked at. */
	throttle_pool *q = throttle_open(name[0], 7, THROTTLE_CREATE);
	throttle_pool *r = throttle_open(name[0], 0, 0);
	assert_non_null(q);
	assert_non_null(r);
	assert_int_equal(info_of(q).limit, 3);
	assert_int_equal(info_of(r).limit, 3);
	assert_int_equal(throttle_try_acquire(q), 0);
	assert_int_equal(info_of(r).in_use, 1);
	assert_int_equal(throttle_release(q), 0);
	throttle_close(p);
	throttle_close(q);
	throttle_close(r);
	throttle_close(NULL);
	assert_string_equal(throttle_version(), THR_VERSION);
}

static void test_api_open_refuses(void **state)
{
	char long_name[THROTTLE_NAME_MAX + 2];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	const char *bad[] = { "", "a/b", "..", ".", "sp ace", long_name };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		assert_null(throttle_open(bad[i], 1, THROTTLE_CREATE));
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_null(throttle_open(NULL, 1, THROTTLE_CREATE));
	assert_int_equal(errno, EINVAL);
	assert_null(throttle_open(name[0], 0, THROTTLE_CREATE));
	assert_int_equal(errno, EINVAL);
	assert_null(throttle_open(name[0], THROTTLE_LIMIT_MAX + 1,
	                          THROTTLE_CREATE));
	assert_int_equal(errno, EINVAL);
	assert_null(throttle_open(name[0], 1, 2));
	assert_int_equal(errno, EINVAL);
	assert_null(throttle_open(name[0], 1, 0));
	assert_int_equal(errno, ENOENT);
	/* The largest limit is a limit. */
	throttle_pool *p = open_new(0, THROTTLE_LIMIT_MAX);
	assert_int_equal(info_of(p).limit, THROTTLE_LIMIT_MAX);
	throttle_close(p);
}

static void test_api_acquire_try_timeout_release(void **state)
{
	throttle_pool *p = open_new(0, 2);
	assert_int_equal(throttle_acquire(p), 0);
	assert_int_equal(throttle_acquire_timeout(p, 1000), 0);
	expect_errno(throttle_try_acquire(p), EAGAIN);
	uint64_t t0 = now_ms();
	expect_errno(throttle_acquire_timeout(p, 150), ETIMEDOUT);
	uint64_t waited = now_ms() - t0;
	assert_true(waited >= 150 && waited < 5000);
	expect_errno(throttle_acquire_timeout(p, 0), ETIMEDOUT);
	struct throttle_info i = info_of(p);
	assert_int_equal(i.in_use, 2);
	assert_int_equal(i.peak, 2);
	assert_int_equal(i.granted, 2);
	assert_int_equal(i.refused, 1);
	assert_int_equal(i.timeouts, 2);
	assert_int_equal(i.waiting, 0);
	assert_int_equal(throttle_release(p), 0);
	assert_int_equal(info_of(p).in_use, 1);
	assert_int_equal(throttle_release(p), 0);
	assert_int_equal(info_of(p).in_use, 0);
	expect_errno(throttle_release(p), EPERM);
	expect_errno(throttle_acquire(NULL), EINVAL);
	expect_errno(throttle_release(NULL), EINVAL);
	expect_errno(throttle_info(p, NULL), EINVAL);
	throttle_close(p);
}

/* A slot is given back through the handle that took it. */
static void test_api_release_other_handle(void **state)
{
	throttle_pool *p = open_new(0, 1);
	throttle_pool *q = throttle_open(name[0], 0, 0);
	assert_non_null(q);
	assert_int_equal(throttle_try_acquire(p), 0);
	expect_errno(throttle_release(q), EPERM);
	assert_int_equal(info_of(q).in_use, 1);
	assert_int_equal(throttle_release(p), 0);
	throttle_close(p);
	throttle_close(q);
}

struct waiter {
	throttle_pool *pool;
	int r, err;
};

static void *wait_for_slot(void *arg)
{
	struct waiter *w = arg;
	w->r = throttle_acquire(w->pool);
	w->err = errno;
	return NULL;
}

static void wait_until_waiting(throttle_pool *p, unsigned n)
{
	for (int i = 0; i < 500 && info_of(p).waiting < n; i++)
		usleep(10000);
	assert_int_equal(info_of(p).waiting, n);
}

static void test_api_set_limit_wakes_waiter(void **state)
{
	throttle_pool *p = open_new(0, 1);
	assert_int_equal(throttle_acquire(p), 0);
	struct waiter w = { p, -2, 0 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, wait_for_slot, &w), 0);
	wait_until_waiting(p, 1);
	assert_int_equal(__atomic_load_n(&w.r, __ATOMIC_RELAXED), -2);
	expect_errno(throttle_set_limit(p, 0), EINVAL);
	expect_errno(throttle_set_limit(p, THROTTLE_LIMIT_MAX + 1), EINVAL);
	assert_int_equal(throttle_set_limit(p, 2), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(w.r, 0);
	struct throttle_info i = info_of(p);
	assert_int_equal(i.limit, 2);
	assert_int_equal(i.in_use, 2);
	/* The waiter's slot is the process's: this thread gives it back. */
	assert_int_equal(throttle_release(p), 0);
	assert_int_equal(throttle_release(p), 0);
	expect_errno(throttle_release(p), EPERM);
	throttle_close(p);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* A handler that runs ends the wait with EINTR, SA_RESTART or not, and
 * the wait's place in the queue goes with it. */
static void test_api_signal_ends_wait(void **state)
{
	throttle_pool *p = open_new(0, 1);
	int release;
	pid_t holder = child_holding(0, &release);
	struct sigaction sa = { .sa_handler = on_alarm,
	                        .sa_flags = SA_RESTART }, old;
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGALRM, &sa, &old), 0);
	struct itimerval it = { .it_value = { 0, 200000 } };
	assert_int_equal(setitimer(ITIMER_REAL, &it, NULL), 0);
	uint64_t t0 = now_ms();
	expect_errno(throttle_acquire(p), EINTR);
	assert_true(now_ms() - t0 >= 150);
	assert_int_equal(sigaction(SIGALRM, &old, NULL), 0);
	assert_int_equal(info_of(p).waiting, 0);
	expect_errno(throttle_release(p), EPERM);
	close(release);
	int status;
	assert_int_equal(waitpid(holder, &status, 0), holder);
	assert_int_equal(throttle_acquire_timeout(p, 5000), 0);
	assert_int_equal(throttle_release(p), 0);
	throttle_close(p);
}

/* A child that dies holding (even killed, even after closing its handle)
 * gives its slot back, which the parent's next wait takes. */
static void test_api_dead_child_gives_back(void **state)
{
	throttle_pool *p = open_new(0, 1);
	int release;
	pid_t holder = child_holding(0, &release);
	assert_int_equal(info_of(p).in_use, 1);
	expect_errno(throttle_try_acquire(p), EAGAIN);
	kill(holder, SIGKILL);
	int status;
	assert_int_equal(waitpid(holder, &status, 0), holder);
	assert_true(WIFSIGNALED(status));
	close(release);
	assert_int_equal(throttle_acquire_timeout(p, 5000), 0);
	assert_int_equal(throttle_release(p), 0);
	throttle_close(p);
}

/* Runs body in a child with one thread, and returns its exit status (which
 * valgrind turns into 99 if the child leaks: bodies free what they
 * allocate). */
static int in_child(int (*body)(void))
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(body());
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

/* Closing a handle keeps its slots held; the parent's handle in a fork
 * child gives back none of the parent's slots. */
static throttle_pool *parents;

static int close_and_reopen(void)
{
	if (throttle_try_acquire(parents) < 0)
		return 1;
	throttle_close(parents);
	throttle_pool *p = throttle_open(name[0], 0, 0);
	struct throttle_info i;
	int r = 0;
	if (!p || throttle_info(p, &i) < 0 || i.in_use != 2)
		r = 2;
	else if (throttle_release(p) == 0 || errno != EPERM)
		r = 3;
	throttle_close(p);
	return r;
}

static int release_parents(void)
{
	if (throttle_release(parents) == 0 || errno != EPERM)
		return 1;
	/* Its own slot it may give back through the same handle. */
	if (throttle_try_acquire(parents) < 0 ||
	    throttle_release(parents) < 0)
		return 2;
	return throttle_release(parents) < 0 && errno == EPERM ? 0 : 3;
}

static void test_api_close_and_fork(void **state)
{
	parents = open_new(0, 3);
	assert_int_equal(throttle_acquire(parents), 0);
	assert_int_equal(in_child(release_parents), 0);
	assert_int_equal(info_of(parents).in_use, 1);
	assert_int_equal(in_child(close_and_reopen), 0);
	/* The child is gone: its slot comes back with the next look. */
	assert_int_equal(throttle_acquire_timeout(parents, 5000), 0);
	assert_int_equal(throttle_acquire_timeout(parents, 5000), 0);
	assert_int_equal(info_of(parents).in_use, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(throttle_release(parents), 0);
	throttle_close(parents);
}

/* A process with one thread that holds every slot would wait for ever. */
static int wait_on_own(void)
{
	throttle_pool *p = throttle_open(name[0], 0, 0);
	int r = 0;
	if (!p || throttle_acquire(p) < 0)
		r = 1;
	else if (throttle_acquire(p) == 0 || errno != EDEADLK)
		r = 2;
	else if (throttle_acquire_timeout(p, 100) == 0 || errno != ETIMEDOUT)
		r = 3;
	throttle_close(p);
	return r;
}

static void test_api_refuses_endless_wait(void **state)
{
	/* Under a sanitizer with a helper thread (TSan's), no process here
	 * has one thread, and a second thread might let go: the wait is left
	 * to wait, as it should be. */
	if (!thr_proc_sole_thread())
		skip();
	throttle_pool *p = open_new(0, 1);
	assert_int_equal(in_child(wait_on_own), 0);
	throttle_close(p);
}

/* Where the gate has the pool open, the API uses the gate's handle (one
 * engine handle a pool in the process), and closing the API's leaves the
 * gate's open; a pool the gate does not have gets a handle of its own. */
static void test_api_shares_gate_handle(void **state)
{
	char text[256], err[256];
	snprintf(text, sizeof(text),
	         "pool %s {\n limit = 2\n open = \"/nowhere/*\"\n}\n", name[0]);
	struct thr_config *cfg;
	assert_int_equal(thr_config_parse_buf(text, NULL, &cfg, err,
	                                      sizeof(err)), 0);
	struct thr_init_state st = { 0 };
	assert_int_equal(thr_gate_build(cfg, &st), 0);
	thr_gate_attach(&st);
	st.mode = THR_MODE_ACTIVE;
	thr_gate_use(&st, thr_real_get());
	struct thr_pool *gates = st.pools[0].pool;
	assert_non_null(gates);

	throttle_pool *p = throttle_open(name[0], 5, THROTTLE_CREATE);
	throttle_pool *other = open_new(1, 1);
	assert_non_null(p);
	assert_ptr_equal(thr_api_engine(p), gates);
	assert_ptr_not_equal(thr_api_engine(other), gates);
	assert_int_equal(info_of(p).limit, 2); /* the config's */
	assert_int_equal(throttle_acquire(p), 0);
	throttle_close(p);
	/* Still the gate's, still mapped: it sees the slot held. */
	struct thr_pool_snapshot snap;
	assert_int_equal(thr_pool_snapshot(gates, &snap), 0);
	assert_int_equal(snap.in_use, 1);
	assert_int_equal(snap.holders[0].fd, THR_POOL_FD_PROCESS);
	thr_pool_snapshot_free(&snap);
	throttle_close(other);

	static struct thr_init_state inert;
	thr_gate_use(&inert, thr_real_get());
	thr_pool_close(gates);
	free(st.pools);
	free(st.globs);
	free(st.glob_pool);
	thr_globindex_free(st.globindex);
	thr_destindex_free(st.destindex);
	thr_config_free(cfg);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_api_open_creates_and_attaches),
		T(test_api_open_refuses),
		T(test_api_acquire_try_timeout_release),
		T(test_api_release_other_handle),
		T(test_api_set_limit_wakes_waiter),
		T(test_api_signal_ends_wait),
		T(test_api_dead_child_gives_back),
		T(test_api_close_and_fork),
		T(test_api_refuses_endless_wait),
		T(test_api_shares_gate_handle),
	};
	return cmocka_run_group_tests(tests, group_setup, NULL);
}
