/* test-procfd.c - finding a process's descriptor for an open file
 * description, listing a thread's children, and telling whether two
 * descriptors, in one process or two, are one open file description. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "procfd.h"

/* Our own descriptors are their own twins, dup or none; once closed (the
 * walk's own descriptor may take the number) nothing is. */
static void test_procfd_twin_self(void **state)
{
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(a >= 0 && other >= 0);
	errno = 1234;
	assert_int_equal(thr_procfd_twin(0, a, 0), a);
	int copy = dup(a);
	assert_int_equal(thr_procfd_twin(0, a, getpid()), a);
	close(a);
	/* The walk's own descriptor may take the number just closed: it is
	 * nobody's twin. */
	assert_int_equal(thr_procfd_twin(0, a, 0), -ENODATA);
	assert_int_equal(errno, 1234);
	close(copy);
	close(other);
}

static void test_procfd_twin_gone_process(void **state)
{
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0)
		_exit(0);
	assert_int_equal(waitpid(kid, NULL, 0), kid);
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno = 1234;
	assert_int_equal(thr_procfd_twin(0, a, kid), -ESRCH);
	assert_int_equal(errno, 1234);
	close(a);
}

static void test_procfd_same_description(void **state)
{
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int copy = dup(a);
	int other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	errno = 1234;
	assert_int_equal(thr_procfd_same(0, a, 0, copy), 1);
	/* The same file opened twice is two descriptions. */
	assert_int_equal(thr_procfd_same(0, a, 0, other), 0);
	assert_int_equal(thr_procfd_same(0, a, getpid(), a), 1);
	close(copy);
	assert_int_equal(thr_procfd_same(0, a, 0, copy), -EBADF);
	assert_int_equal(errno, 1234);
	close(a);
	close(other);
}

/* A child that moved our description to its descriptor target, above
 * many others, has it there; a description it never had, it has not. */
static void moved_to(int target, int others)
{
	int go[2], ready[2];
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(ready), 0);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		char c;
		for (int i = 0; i < others; i++)
			if (open("/dev/null", O_RDONLY) < 0)
				_exit(3);
		if (dup2(a, target) != target)
			_exit(1);
		close(a);
		close(go[1]);
		if (write(ready[1], "r", 1) != 1)
			_exit(4);
		_exit(read(go[0], &c, 1) == 0 ? 0 : 2);
	}
	close(go[0]);
	close(ready[1]);
	char c;
	assert_int_equal(read(ready[0], &c, 1), 1);
	int fresh = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(thr_procfd_twin(0, a, kid), target);
	assert_int_equal(thr_procfd_twin(kid, target, 0), a);
	assert_int_equal(thr_procfd_twin(0, fresh, kid), -ENODATA);
	close(go[1]);
	int st;
	assert_int_equal(waitpid(kid, &st, 0), kid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(a);
	close(fresh);
	close(ready[0]);
}

static void test_procfd_follows_moved_descriptor(void **state)
{
	moved_to(9, 0);
}

/* No number of descriptors is too many to look through (there was a list
 * of 512). */
static void test_procfd_twin_past_many_descriptors(void **state)
{
	moved_to(900, 850);
}

/* Forks n children that live until go's write end closes. */
static void fork_waiting(pid_t *kids, int n, int go[2])
{
	for (int i = 0; i < n; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			char c;
			close(go[1]);
			_exit(read(go[0], &c, 1) == 0 ? 0 : 1);
		}
	}
}

static void reap(const pid_t *kids, int n, int go[2])
{
	close(go[1]);
	close(go[0]);
	for (int i = 0; i < n; i++)
		assert_int_equal(waitpid(kids[i], NULL, 0), kids[i]);
}

static bool has_pid(const pid_t *pids, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* Enough children that the file is read in several pieces, numbers cut
 * between them. */
static void test_procfd_children_all_listed(void **state)
{
	enum { KIDS = 150 };
	pid_t kids[KIDS], got[KIDS + 8];
	int go[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(thr_procfd_children(got, KIDS + 8), 0);
	fork_waiting(kids, KIDS, go);
	errno = 1234;
	int n = thr_procfd_children(got, KIDS + 8);
	assert_int_equal(errno, 1234);
	assert_int_equal(n, KIDS);
	for (int i = 0; i < KIDS; i++)
		assert_true(has_pid(got, n, kids[i]));
	assert_int_equal(thr_procfd_children(got, 2), 2);
	reap(kids, KIDS, go);
}

/* A thread that forks a child and lives until the main thread has looked:
 * a thread's children go to another thread when it ends. */
struct forker {
	int go[2];
	pid_t kid;
	pthread_barrier_t forked, looked;
};

static void *fork_one(void *arg)
{
	struct forker *f = arg;
	fork_waiting(&f->kid, 1, f->go);
	pthread_barrier_wait(&f->forked);
	pthread_barrier_wait(&f->looked);
	return NULL;
}

/* Another thread's child is that thread's, not ours. */
static void test_procfd_children_of_this_thread(void **state)
{
	struct forker f;
	pid_t got[8];
	pthread_t t;
	assert_int_equal(pipe(f.go), 0);
	pthread_barrier_init(&f.forked, NULL, 2);
	pthread_barrier_init(&f.looked, NULL, 2);
	assert_int_equal(pthread_create(&t, NULL, fork_one, &f), 0);
	pthread_barrier_wait(&f.forked);
	int n = thr_procfd_children(got, 8);
	pthread_barrier_wait(&f.looked);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(n, 0);
	reap(&f.kid, 1, f.go);
	pthread_barrier_destroy(&f.forked);
	pthread_barrier_destroy(&f.looked);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_procfd_twin_self),
		cmocka_unit_test(test_procfd_twin_gone_process),
		cmocka_unit_test(test_procfd_same_description),
		cmocka_unit_test(test_procfd_follows_moved_descriptor),
		cmocka_unit_test(test_procfd_twin_past_many_descriptors),
		cmocka_unit_test(test_procfd_children_all_listed),
		cmocka_unit_test(test_procfd_children_of_this_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
