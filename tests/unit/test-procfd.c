/* test-procfd.c - listing a process's descriptors and telling whether two
 * descriptors, in one process or two, are one open file description. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_procfd_list_self),
		cmocka_unit_test(test_procfd_list_cut_to_max),
		cmocka_unit_test(test_procfd_list_gone_process),
		cmocka_unit_test(test_procfd_same_description),
		cmocka_unit_test(test_procfd_follows_moved_descriptor),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
