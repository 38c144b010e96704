/* test-procfd.c - listing a process's descriptors and a thread's children,
 * and telling whether two descriptors, in one process or two, are one open
 * file description. */
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

static bool listed(const int *fds, int n, int fd)
{
	for (int i = 0; i < n; i++)
		if (fds[i] == fd)
			return true;
	return false;
}

static void test_procfd_list_self(void **state)
{
	int fds[512];
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	int n = thr_procfd_list(0, fds, 512);
	assert_true(n >= 1);
	assert_true(listed(fds, n, fd));
	assert_true(listed(fds, n, 0) == (fcntl(0, F_GETFD) >= 0));
	close(fd);
	/* The listing's own descriptor takes the number just closed: it is
	 * not one of ours, so it is not listed. */
	n = thr_procfd_list(0, fds, 512);
	assert_false(listed(fds, n, fd));
}

static void test_procfd_list_cut_to_max(void **state)
{
	int fds[2] = { -1, -1 };
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int b = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int c = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(thr_procfd_list(0, fds, 1) == 1);
	assert_int_equal(fds[1], -1);
	close(a);
	close(b);
	close(c);
}

static void test_procfd_list_gone_process(void **state)
{
	int fds[8];
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0)
		_exit(0);
	assert_int_equal(waitpid(kid, NULL, 0), kid);
	errno = 1234;
	assert_int_equal(thr_procfd_list(kid, fds, 8), -ENOENT);
	assert_int_equal(errno, 1234);
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

/* A child that moved our description to its descriptor 9 has it there. */
static void test_procfd_follows_moved_descriptor(void **state)
{
	int fds[512], go[2];
	int a = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int other = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_int_equal(pipe(go), 0);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		char c;
		if (dup2(a, 9) != 9)
			_exit(1);
		close(a);
		close(go[1]);
		_exit(read(go[0], &c, 1) == 0 ? 0 : 2);
	}
	close(go[0]);
	/* The child has moved it once 9 shows and a is gone. */
	int n = 0;
	for (int tries = 0; tries < 500; tries++) {
		n = thr_procfd_list(kid, fds, 512);
		if (listed(fds, n, 9) && !listed(fds, n, a))
			break;
		usleep(2000);
	}
	assert_true(listed(fds, n, 9));
	assert_int_equal(thr_procfd_same(0, a, kid, 9), 1);
	assert_int_equal(thr_procfd_same(0, other, kid, 9), 0);
	assert_int_equal(thr_procfd_same(kid, 9, 0, a), 1);
	close(go[1]);
	int st;
	assert_int_equal(waitpid(kid, &st, 0), kid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(a);
	close(other);
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
		cmocka_unit_test(test_procfd_list_self),
		cmocka_unit_test(test_procfd_list_cut_to_max),
		cmocka_unit_test(test_procfd_list_gone_process),
		cmocka_unit_test(test_procfd_same_description),
		cmocka_unit_test(test_procfd_follows_moved_descriptor),
		cmocka_unit_test(test_procfd_children_all_listed),
		cmocka_unit_test(test_procfd_children_of_this_thread),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
