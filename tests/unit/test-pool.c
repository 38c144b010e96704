/* test-pool.c - the pool engine, point by point, in one process and across
 * forked processes that hold, wait, release and get killed at chosen steps.
 * Behaviour is checked from outside where it can be: pipes report who got a
 * slot and when, waitpid tells how children ended. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "clock.h"
#include "layout.h"
#include "pool.h"
#include "poolint.h"
#include "proc.h"

#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char name[64];

static uint64_t now_ms(void)
{
	return thr_clock_ns(CLOCK_MONOTONIC) / 1000000;
}

static int setup(void **state)
{
	static unsigned n;
	snprintf(name, sizeof(name), "test-pool-%d-%u", (int)getpid(), n++);
	return 0;
}

/* Handles opened during the current case. A forked child that exits with
 * _exit never closes the handles it copied, and once the compiler drops the
 * case's local pointer valgrind would call them lost in the child; kept
 * here they stay reachable there. Cleared after each case, so a handle the
 * parent itself forgets to close is still reported. */
static struct thr_pool *opened_in_case[16];
static unsigned opened_count;

static void remember_opened(struct thr_pool *p)
{
	opened_in_case[opened_count++ % 16] = p;
}

static int teardown(void **state)
{
	thr_pool_unlink(name, NULL);
	memset(opened_in_case, 0, sizeof(opened_in_case));
	opened_count = 0;
	return 0;
}

/* Whether memcheck runs this program: it preloads its own library. */
static bool under_valgrind(void)
{
	const char *pre = getenv("LD_PRELOAD");
	return pre && strstr(pre, "vgpreload");
}

static struct thr_pool *open_limit(uint32_t limit)
{
	struct thr_pool_opts o = { .limit = limit, .create = true };
	struct thr_pool *p = NULL;
	char err[THR_POOL_ERR_LEN];
	int r = thr_pool_open(name, &o, &p, err);
	if (r < 0)
		fail_msg("open %s: %s", name, err);
	remember_opened(p);
	return p;
}

/* In a forked child: a handle of its own on the test's pool, or exit 1. */
static struct thr_pool *child_open(void)
{
	struct thr_pool_opts o = { .limit = 1 };
	struct thr_pool *q;
	if (thr_pool_open(name, &o, &q, NULL) < 0)
		_exit(1);
	remember_opened(q);
	return q;
}

static struct thr_pool_req req_of(enum thr_pool_mode mode, int fd,
                                  const char *target)
{
	struct thr_pool_req r = { .mode = mode, .fd = fd, .target = target };
	return r;
}

static int try_take(struct thr_pool *p, uint32_t *hold)
{
	struct thr_pool_req r = req_of(THR_POOL_TRY, -1, "try");
	return thr_pool_acquire(p, &r, hold);
}

static int wait_take(struct thr_pool *p, uint32_t *hold)
{
	struct thr_pool_req r = req_of(THR_POOL_WAIT, -1, "wait");
	return thr_pool_acquire(p, &r, hold);
}

static struct thr_pool_snapshot snap_of(struct thr_pool *p)
{
	struct thr_pool_snapshot s;
	assert_int_equal(thr_pool_snapshot(p, &s), 0);
	return s;
}

static uint32_t in_use(struct thr_pool *p)
{
	struct thr_pool_snapshot s = snap_of(p);
	thr_pool_snapshot_free(&s);
	return s.in_use;
}

/* Waits (up to 5 s) until the pool has n waiters queued. */
static void await_waiting(struct thr_pool *p, uint32_t n)
{
	uint64_t until = now_ms() + 5000;
	for (;;) {
		struct thr_pool_snapshot s = snap_of(p);
		thr_pool_snapshot_free(&s);
		if (s.waiting == n)
			return;
		if (now_ms() > until)
			fail_msg("expected %u waiters, have %u", n, s.waiting);
		usleep(1000);
	}
}

static int exit_code(pid_t pid)
{
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Forks a child that opens the pool, waits for a slot, writes its tag to
 * fd, holds for hold_ms, releases and exits 0. */
static pid_t spawn_waiter(int fd, char tag, int hold_ms)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid)
		return pid;
	struct thr_pool *p = child_open();
	uint32_t h;
	if (wait_take(p, &h) < 0)
		_exit(1);
	if (write(fd, &tag, 1) != 1)
		_exit(2);
	usleep((useconds_t)hold_ms * 1000);
	_exit(thr_pool_release(p, h) == 0 ? 0 : 3);
}

/* Forks a child that takes a slot, says so on a pipe, then sleeps. */
static pid_t spawn_holder(void)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct thr_pool *p = child_open();
		uint32_t h;
		if (wait_take(p, &h) < 0)
			_exit(1);
		if (write(fds[1], "h", 1) != 1)
			_exit(2);
		pause();
		_exit(0);
	}
	char c;
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	return pid;
}

/* ---- 1. named pools, race-free creation, refusal of bad segments ---- */

static void test_pool_name_is_checked(void **state)
{
	assert_true(thr_pool_name_is_valid("db"));
	assert_true(thr_pool_name_is_valid("A-z_0.9"));
	assert_false(thr_pool_name_is_valid(""));
	assert_false(thr_pool_name_is_valid("."));
	assert_false(thr_pool_name_is_valid(".."));
	assert_false(thr_pool_name_is_valid("a/b"));
	assert_false(thr_pool_name_is_valid("sp ace"));
	char longname[70];
	memset(longname, 'a', 65);
	longname[65] = '\0';
	assert_false(thr_pool_name_is_valid(longname));
	longname[64] = '\0';
	assert_true(thr_pool_name_is_valid(longname));

	struct thr_pool_opts o = { .limit = 1, .create = true };
	struct thr_pool *p;
	char err[THR_POOL_ERR_LEN];
	assert_int_equal(thr_pool_open("a/b", &o, &p, err), -EINVAL);
	assert_non_null(strstr(err, "name"));
	o.limit = 0;
	assert_int_equal(thr_pool_open(name, &o, &p, err), -EINVAL);
	assert_non_null(strstr(err, "limit"));
}

static void test_pool_segment_is_private_by_default(void **state)
{
	struct thr_pool *p = open_limit(3);
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "/dev/shm/throttle.%s", name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(st.st_size, sizeof(struct thr_shm_pool));
	thr_pool_close(p);
}

static void test_pool_segment_mode_and_group(void **state)
{
	mode_t old = umask(077);
	struct thr_pool_opts o = { .limit = 1, .create = true, .mode = 0660,
	                           .has_gid = true, .gid = getegid() };
	struct thr_pool *p;
	assert_int_equal(thr_pool_open(name, &o, &p, NULL), 0);
	umask(old);
	char path[128];
	struct stat st;
	snprintf(path, sizeof(path), "/dev/shm/throttle.%s", name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0660);
	assert_int_equal(st.st_gid, getegid());
	thr_pool_close(p);
}

static void test_pool_open_without_create_fails(void **state)
{
	struct thr_pool_opts o = { .limit = 1 };
	struct thr_pool *p;
	char err[THR_POOL_ERR_LEN];
	assert_int_equal(thr_pool_open(name, &o, &p, err), -ENOENT);
	assert_non_null(strstr(err, name));
}

static void test_pool_creation_race_gives_one_segment(void **state)
{
	enum { N = 16 };
	pid_t kids[N];
	for (int i = 0; i < N; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			struct thr_pool_opts o = { .limit = 4, .create = true };
			struct thr_pool *p;
			_exit(thr_pool_open(name, &o, &p, NULL) == 0 ? 0 : 1);
		}
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(exit_code(kids[i]), 0);
	/* No temporary left behind, and the one segment is whole. */
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "ls -a /dev/shm | grep -q '^\\.throttle\\.%s\\.'",
	         name);
	assert_int_not_equal(system(cmd), 0);
	struct thr_pool *p = open_limit(4);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.limit, 4);
	thr_pool_snapshot_free(&s);
	thr_pool_close(p);
}

/* Maps the segment raw, as a hostile or buggy process could. */
static struct thr_shm_pool *raw_map(void)
{
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/throttle.%s", name);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	void *m = mmap(NULL, sizeof(struct thr_shm_pool), PROT_READ | PROT_WRITE,
	               MAP_SHARED, fd, 0);
	close(fd);
	assert_true(m != MAP_FAILED);
	return m;
}

static int reopen(char *err)
{
	struct thr_pool_opts o = { .limit = 1 };
	struct thr_pool *p = NULL;
	int r = thr_pool_open(name, &o, &p, err);
	thr_pool_close(p);
	return r;
}

static void test_pool_refuses_other_layout_version(void **state)
{
	thr_pool_close(open_limit(1));
	struct thr_shm_pool *m = raw_map();
	m->version = 99;
	char err[THR_POOL_ERR_LEN];
	assert_int_equal(reopen(err), -EPROTO);
	assert_non_null(strstr(err, "layout version 99"));
	munmap(m, sizeof(*m));
	/* Another version's capacities give it another size, too: still
	 * the version is what the message names. */
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/throttle.%s", name);
	assert_int_equal(truncate(path, 4096), 0);
	assert_int_equal(reopen(err), -EPROTO);
	assert_non_null(strstr(err, "layout version 99"));
}

static void test_pool_refuses_bad_magic(void **state)
{
	thr_pool_close(open_limit(1));
	struct thr_shm_pool *m = raw_map();
	m->magic = 42;
	char err[THR_POOL_ERR_LEN];
	assert_int_equal(reopen(err), -EBADMSG);
	assert_non_null(strstr(err, "magic"));
	munmap(m, sizeof(*m));
}

static void test_pool_refuses_truncated_segment(void **state)
{
	thr_pool_close(open_limit(1));
	char path[128], err[THR_POOL_ERR_LEN];
	snprintf(path, sizeof(path), "/dev/shm/throttle.%s", name);
	assert_int_equal(truncate(path, 100), 0);
	assert_int_equal(reopen(err), -EBADMSG);
	assert_non_null(strstr(err, "truncated"));
}

static void test_pool_refuses_foreign_owner(void **state)
{
	char path[128], err[THR_POOL_ERR_LEN];
	snprintf(path, sizeof(path), "/dev/shm/throttle.%s", name);
	/* Another user pre-creates the name, world-writable, to capture us. */
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0666);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, sizeof(struct thr_shm_pool)), 0);
	if (geteuid() == 0) {
		assert_int_equal(fchown(fd, 4242, 4242), 0);
	}
	close(fd);
	struct thr_pool_opts o = { .limit = 1, .create = true };
	if (geteuid() != 0) {
		o.has_owner = true; /* the same check, seen from a non-root run */
		o.owner = geteuid() + 1;
	}
	struct thr_pool *p;
	assert_int_equal(thr_pool_open(name, &o, &p, err), -EPERM);
	assert_non_null(strstr(err, "owned by uid"));
}

static void test_pool_refuses_writable_segment(void **state)
{
	struct thr_pool_opts o = { .limit = 1, .create = true };
	struct thr_pool *p;
	char path[128], err[THR_POOL_ERR_LEN];
	assert_int_equal(thr_pool_open(name, &o, &p, NULL), 0);
	thr_pool_close(p);
	snprintf(path, sizeof(path), "/dev/shm/throttle.%s", name);
	/* Somebody widened a private segment: anyone could now forge holders. */
	assert_int_equal(chmod(path, 0666), 0);
	assert_int_equal(thr_pool_open(name, &o, &p, err), -EPERM);
	assert_non_null(strstr(err, "lets others write it"));
	/* A config that asks for a shared segment accepts it. */
	o.mode = 0666;
	assert_int_equal(thr_pool_open(name, &o, &p, NULL), 0);
	thr_pool_close(p);
}

static void test_pool_creation_leaves_no_temporary_file(void **state)
{
	struct thr_pool_opts o = { .limit = 1, .create = true };
	struct thr_pool *p;
	assert_int_equal(thr_pool_open(name, &o, &p, NULL), 0);
	thr_pool_close(p);
	DIR *d = opendir("/dev/shm");
	assert_non_null(d);
	struct dirent *e;
	char prefix[128];
	snprintf(prefix, sizeof(prefix), ".throttle.%s.", name);
	while ((e = readdir(d)))
		assert_true(strncmp(e->d_name, prefix, strlen(prefix)) != 0);
	closedir(d);
}

/* ---- 2. acquire, try, deadline, signals ---- */

static void test_pool_try_fails_when_full(void **state)
{
	struct thr_pool *p = open_limit(2);
	uint32_t a, b, c;
	assert_int_equal(try_take(p, &a), 0);
	assert_int_equal(try_take(p, &b), 0);
	assert_int_equal(try_take(p, &c), -EAGAIN);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.in_use, 2);
	assert_int_equal(s.refused, 1);
	assert_int_equal(s.granted, 2);
	thr_pool_snapshot_free(&s);
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(try_take(p, &c), 0);
	assert_int_equal(thr_pool_release(p, b), 0);
	assert_int_equal(thr_pool_release(p, c), 0);
	assert_int_equal(in_use(p), 0);
	thr_pool_close(p);
}

static void test_pool_observe_counts_over(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, b;
	struct thr_pool_req r = req_of(THR_POOL_OBSERVE, -1, NULL);
	assert_int_equal(thr_pool_acquire(p, &r, &a), 0);
	assert_int_equal(thr_pool_acquire(p, &r, &b), -EAGAIN);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.over, 1);
	assert_int_equal(s.refused, 0);
	thr_pool_snapshot_free(&s);
	thr_pool_close(p);
}

/* A DEADLINE request for ms from now. */
static struct thr_pool_req deadline_in(long ms)
{
	struct thr_pool_req r = req_of(THR_POOL_DEADLINE, -1, NULL);
	clock_gettime(CLOCK_MONOTONIC, &r.deadline);
	r.deadline.tv_sec += ms / 1000;
	r.deadline.tv_nsec += ms % 1000 * 1000000L;
	if (r.deadline.tv_nsec >= 1000000000L) {
		r.deadline.tv_sec++;
		r.deadline.tv_nsec -= 1000000000L;
	}
	return r;
}

static void test_pool_deadline_times_out(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, b;
	assert_int_equal(try_take(p, &a), 0);
	struct thr_pool_req r = deadline_in(150);
	uint64_t t0 = now_ms();
	assert_int_equal(thr_pool_acquire(p, &r, &b), -ETIMEDOUT);
	uint64_t took = now_ms() - t0;
	assert_true(took >= 149 && took < 2000);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.timeouts, 1);
	assert_int_equal(s.waiting, 0);
	assert_int_equal(s.in_use, 1);
	thr_pool_snapshot_free(&s);
	thr_pool_close(p);
}

static void on_alarm(int sig)
{
}

/* The wait was counted as interrupted once and left the queue. */
static void assert_left_interrupted(struct thr_pool *p)
{
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.interrupted, 1);
	assert_int_equal(s.waiting, 0);
	thr_pool_snapshot_free(&s);
}

static void test_pool_signal_interrupts_wait(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, b;
	assert_int_equal(try_take(p, &a), 0);
	/* SA_RESTART too: a wait is not restarted behind the caller's back. */
	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	alarm(1);
	assert_int_equal(wait_take(p, &b), -EINTR);
	assert_left_interrupted(p);
	signal(SIGALRM, SIG_DFL);
	thr_pool_close(p);
}

/* Counted atomically: a process-directed signal may run the handler on
 * any thread of the test, not only the one that waits. */
static int alarms;

static void count_alarm(int sig)
{
	__atomic_fetch_add(&alarms, 1, __ATOMIC_SEQ_CST);
}

/* The set of SIGUSR1 alone. */
static sigset_t usr1_only(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	return set;
}

static int queued_signal;

/* Sends queued_signal once, while the wait is awake between naps. */
static void signal_when_queued(const char *step)
{
	if (queued_signal && strcmp(step, "wait.queued") == 0) {
		raise(queued_signal);
		queued_signal = 0;
	}
}

/* On a full pool: what a wait of ms returns when sig comes while it is
 * awake, not napping; the caller's signal mask must be as it was after. */
static int wait_signalled_awake(struct thr_pool *p, int sig, bool restart,
                                long ms)
{
	sigset_t before, after;
	uint32_t b;
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	struct thr_pool_req r = deadline_in(ms);
	r.restart = restart;
	queued_signal = sig;
	thr_pool_test_step = signal_when_queued;
	int got = thr_pool_acquire(p, &r, &b);
	thr_pool_test_step = NULL;
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	for (int s = 1; s < NSIG; s++)
		assert_int_equal(sigismember(&before, s), sigismember(&after, s));
	if (got == 0)
		thr_pool_release(p, b);
	return got;
}

/* sig, with a counting handler installed with flags, comes while a wait
 * of ms is awake: its handler runs once, and the wait times out. */
static void assert_handled_unseen(struct thr_pool *p, int sig, int flags,
                                  bool restart, long ms)
{
	struct sigaction sa = { .sa_handler = count_alarm, .sa_flags = flags };
	sigaction(sig, &sa, NULL);
	__atomic_store_n(&alarms, 0, __ATOMIC_SEQ_CST);
	assert_int_equal(wait_signalled_awake(p, sig, restart, ms), -ETIMEDOUT);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 1);
}

/* A handler that runs while the wait is awake (queued, or between two naps)
 * ends it as one during a nap does: before, it ran there and the wait slept
 * on to its deadline (once for ever, when an alarm met a tick). */
static void test_pool_signal_while_awake_interrupts_wait(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a;
	assert_int_equal(try_take(p, &a), 0);
	struct sigaction sa = { .sa_handler = count_alarm,
	                        .sa_flags = SA_RESTART };
	sigaction(SIGUSR1, &sa, NULL);
	__atomic_store_n(&alarms, 0, __ATOMIC_SEQ_CST);
	assert_int_equal(wait_signalled_awake(p, SIGUSR1, false, 3000), -EINTR);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 1);
	assert_left_interrupted(p);
	signal(SIGUSR1, SIG_DFL);
	thr_pool_close(p);
}

/* What would not end a kernel wait does not end this one either: an
 * ignored signal, and with restart a handler with SA_RESTART (which runs,
 * once). A signal the caller blocks stays pending, unseen. */
static void test_pool_signal_while_awake_may_not_interrupt(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a;
	assert_int_equal(try_take(p, &a), 0);
	signal(SIGUSR1, SIG_IGN);
	assert_int_equal(wait_signalled_awake(p, SIGUSR1, false, 200),
	                 -ETIMEDOUT);
	assert_handled_unseen(p, SIGUSR1, SA_RESTART, true, 200);
	sigset_t usr1 = usr1_only(), old;
	pthread_sigmask(SIG_BLOCK, &usr1, &old);
	assert_int_equal(wait_signalled_awake(p, SIGUSR1, false, 200),
	                 -ETIMEDOUT);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 1);
	pthread_sigmask(SIG_SETMASK, &old, NULL); /* now it runs */
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 2);
	signal(SIGUSR1, SIG_DFL);
	thr_pool_close(p);
}

/* A pool of one slot, taken (into *held), with fn installed for sig with
 * flags and the handler count at 0: where a wait for the next slot can
 * meet a signal. */
static struct thr_pool *full_with_handler(uint32_t *held, int sig,
                                          void (*fn)(int), int flags)
{
	struct thr_pool *p = open_limit(1);
	assert_int_equal(try_take(p, held), 0);
	struct sigaction sa = { .sa_handler = fn, .sa_flags = flags };
	sigaction(sig, &sa, NULL);
	__atomic_store_n(&alarms, 0, __ATOMIC_SEQ_CST);
	return p;
}

/* A handler that uninstalls itself (SA_RESETHAND) as it cuts a nap short
 * ends the wait too, with restart as the shim asks: that it ran is known,
 * though its flags are gone. */
static void test_pool_one_shot_handler_interrupts_wait(void **state)
{
	uint32_t a, b;
	struct thr_pool *p = full_with_handler(&a, SIGALRM, count_alarm,
	                                       SA_RESETHAND);
	struct itimerval it = { .it_value = { 0, 120 * 1000 } }; /* mid-nap */
	setitimer(ITIMER_REAL, &it, NULL);
	struct thr_pool_req r = deadline_in(2000);
	r.restart = true;
	assert_int_equal(thr_pool_acquire(p, &r, &b), -EINTR);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 1);
	signal(SIGALRM, SIG_DFL);
	thr_pool_close(p);
}

static struct thr_pool *pair_pool;
static int pair_awake;

/* Each of two waiting threads, once queued and awake (all signals blocked),
 * waits for the other; the second sends the process one SIGUSR1 first, so
 * that both find it pending. */
static void both_awake_then_signal(const char *step)
{
	if (strcmp(step, "wait.queued") != 0)
		return;
	int seen = 0;
	if (!__atomic_compare_exchange_n(&pair_awake, &seen, 1, false,
	                                 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
		kill(getpid(), SIGUSR1);
		__atomic_store_n(&pair_awake, 2, __ATOMIC_RELEASE);
	}
	uint64_t until = now_ms() + 2000;
	while (__atomic_load_n(&pair_awake, __ATOMIC_ACQUIRE) < 2 &&
	       now_ms() < until)
		sched_yield();
}

static void *pair_waiter(void *arg)
{
	sigset_t usr1 = usr1_only();
	pthread_sigmask(SIG_UNBLOCK, &usr1, NULL); /* the creator blocks it */
	struct thr_pool_req r = deadline_in(600);
	uint32_t h;
	int got = thr_pool_acquire(pair_pool, &r, &h);
	*(int *)arg = got;
	return NULL;
}

/* A signal sent to the process while two threads wait, both awake, ends
 * one wait, not both: only one thread runs its handler. */
static void test_pool_process_signal_ends_one_wait(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a;
	assert_int_equal(try_take(p, &a), 0);
	struct sigaction sa = { .sa_handler = count_alarm };
	sigaction(SIGUSR1, &sa, NULL);
	sigset_t usr1 = usr1_only(), old;
	pthread_sigmask(SIG_BLOCK, &usr1, &old); /* only the waiters take it */
	__atomic_store_n(&alarms, 0, __ATOMIC_SEQ_CST);
	pair_pool = p;
	pair_awake = 0;
	thr_pool_test_step = both_awake_then_signal;
	pthread_t t[2];
	int got[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(pthread_create(&t[i], NULL, pair_waiter,
		                                &got[i]), 0);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	thr_pool_test_step = NULL;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	assert_int_equal(pair_awake, 2);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 1);
	assert_int_equal((got[0] == -EINTR) + (got[1] == -EINTR), 1);
	assert_int_equal((got[0] == -ETIMEDOUT) + (got[1] == -ETIMEDOUT), 1);
	signal(SIGUSR1, SIG_DFL);
	thr_pool_close(p);
}

struct late_release {
	struct thr_pool *p;
	uint32_t hold;
	int ms;                 /* 0 means 1500 */
};

static void *release_late(void *arg)
{
	struct late_release *l = arg;
	usleep((useconds_t)(l->ms ? l->ms : 1500) * 1000);
	thr_pool_release(l->p, l->hold);
	return NULL;
}

/* On a full pool whose slot l->hold comes free after 300 ms: what a wait
 * until the deadline sec, nsec returns, and *took, its ms. */
static int wait_until(struct late_release *l, time_t sec, long nsec,
                      uint64_t *took)
{
	pthread_t t;
	l->ms = 300;
	assert_int_equal(try_take(l->p, &l->hold), 0);
	assert_int_equal(pthread_create(&t, NULL, release_late, l), 0);
	struct thr_pool_req r = req_of(THR_POOL_DEADLINE, -1, NULL);
	r.deadline.tv_sec = sec;
	r.deadline.tv_nsec = nsec;
	uint32_t b;
	uint64_t t0 = now_ms();
	int got = thr_pool_acquire(l->p, &r, &b);
	*took = now_ms() - t0;
	pthread_join(t, NULL);
	if (got == 0)
		thr_pool_release(l->p, b);
	return got;
}

/* A deadline already past (before the epoch, even) fails at once; one past
 * what 64 bits of nanoseconds reach waits as if there were none; a bad
 * tv_nsec is EINVAL, but only when the call would wait. */
static void test_pool_deadline_out_of_range(void **state)
{
	struct thr_pool *p = open_limit(1);
	struct late_release l = { .p = p };
	uint64_t took;
	assert_int_equal(wait_until(&l, -1, 0, &took), -ETIMEDOUT);
	assert_true(took < 250);
	assert_int_equal(wait_until(&l, (time_t)1 << 62, 0, &took), 0);
	assert_true(took >= 250);
	assert_int_equal(wait_until(&l, 18446744074, 0, &took), 0);
	assert_int_equal(wait_until(&l, 1, -1, &took), -EINVAL);
	assert_int_equal(wait_until(&l, 1, 1000000000L, &took), -EINVAL);
	struct thr_pool_req r = req_of(THR_POOL_DEADLINE, -1, NULL);
	r.deadline.tv_nsec = -1;
	uint32_t b;
	assert_int_equal(thr_pool_acquire(p, &r, &b), 0);
	thr_pool_close(p);
}

static void *kill_later(void *arg)
{
	pid_t pid = *(pid_t *)arg;
	usleep(200 * 1000);
	kill(pid, SIGKILL);
	exit_code(pid);
	return NULL;
}

/* A waiter whose naps signals keep cutting short (SA_RESTART handlers, a
 * profiling timer say) still looks for dead holders on time: here the
 * holder dies after the waiter queued. */
static void test_pool_tick_survives_restarted_signals(void **state)
{
	struct thr_pool *p = open_limit(1);
	pid_t holder = spawn_holder();
	pthread_t t;
	struct sigaction sa = { .sa_handler = count_alarm,
	                        .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	sigset_t alrm;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &alrm, NULL); /* the alarms are the waiter's */
	assert_int_equal(pthread_create(&t, NULL, kill_later, &holder), 0);
	pthread_sigmask(SIG_UNBLOCK, &alrm, NULL);
	struct itimerval every = { { 0, 50000 }, { 0, 50000 } }, off = { 0 };
	setitimer(ITIMER_REAL, &every, NULL);
	struct thr_pool_req r = req_of(THR_POOL_DEADLINE, -1, NULL);
	r.restart = true;
	clock_gettime(CLOCK_MONOTONIC, &r.deadline);
	r.deadline.tv_sec += 3;
	uint32_t b;
	uint64_t t0 = now_ms();
	int got = thr_pool_acquire(p, &r, &b);
	uint64_t took = now_ms() - t0;
	setitimer(ITIMER_REAL, &off, NULL);
	signal(SIGALRM, SIG_DFL);
	pthread_join(t, NULL);
	assert_int_equal(got, 0);
	assert_true(took < 1500);
	thr_pool_close(p);
}

/* With req->restart, a handler with SA_RESTART does not end the wait (the
 * release 0.5 s after the alarm does); the signal that came is known, so
 * only its own handler's flags count: another handler without SA_RESTART
 * does not end the wait, the alarm's own without it does. */
static void test_pool_restart_follows_sa_restart(void **state)
{
	struct thr_pool *p = open_limit(1);
	struct late_release l = { .p = p };
	uint32_t b;
	assert_int_equal(try_take(p, &l.hold), 0);
	struct sigaction sa = { .sa_handler = count_alarm,
	                        .sa_flags = SA_RESTART };
	sigaction(SIGALRM, &sa, NULL);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, release_late, &l), 0);
	struct thr_pool_req r = req_of(THR_POOL_WAIT, -1, "restart");
	r.restart = true;
	__atomic_store_n(&alarms, 0, __ATOMIC_SEQ_CST);
	alarm(1);
	assert_int_equal(thr_pool_acquire(p, &r, &b), 0);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 1);
	pthread_join(t, NULL);

	struct sigaction plain = { .sa_handler = count_alarm };
	sigaction(SIGUSR2, &plain, NULL);
	l.hold = b;
	assert_int_equal(pthread_create(&t, NULL, release_late, &l), 0);
	alarm(1);
	assert_int_equal(thr_pool_acquire(p, &r, &b), 0);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 2);
	pthread_join(t, NULL);
	sigaction(SIGALRM, &plain, NULL);
	alarm(1);
	assert_int_equal(thr_pool_acquire(p, &r, &l.hold), -EINTR);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 3);
	signal(SIGUSR2, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	thr_pool_close(p);
}

static sigjmp_buf jump_out;

static void jump_on_alarm(int sig)
{
	__atomic_fetch_add(&alarms, 1, __ATOMIC_SEQ_CST);
	siglongjmp(jump_out, 1);
}

/* A handler that leaves a wait by siglongjmp (the alarm() timeout of wget
 * and many older programs) leaves nothing behind: no place in the queue,
 * and the slot released next goes to nobody, since nobody waits. Before,
 * the handler ran during a nap and the abandoned place was granted the
 * slot, which stayed held until the process exited. */
static void test_pool_longjmp_out_of_wait_leaves_no_place(void **state)
{
	uint32_t a, b;
	struct thr_pool *p = full_with_handler(&a, SIGALRM, jump_on_alarm,
	                                       SA_RESTART);
	struct itimerval it = { .it_value = { 0, 150 * 1000 } };
	if (sigsetjmp(jump_out, 1) == 0) {
		setitimer(ITIMER_REAL, &it, NULL);
		wait_take(p, &b);
		fail_msg("the wait returned");
	}
	signal(SIGALRM, SIG_DFL);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 1);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.waiting, 0);
	assert_int_equal(s.nwaiters, 0);
	thr_pool_snapshot_free(&s);
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(in_use(p), 0);
	assert_int_equal(try_take(p, &b), 0);
	thr_pool_close(p);
}

/* With req->interrupt the handler runs only when the caller lets it in:
 * the wait returns -EINTR with its place given up and the signal still
 * blocked, and thr_pool_interrupt_deliver() runs the handler and says
 * whether to go on; req->resume then queues at the same place. */
static void test_pool_interrupt_left_to_caller(void **state)
{
	uint32_t a, b;
	struct thr_pool *p = full_with_handler(&a, SIGALRM, count_alarm,
	                                       SA_RESTART);
	struct thr_pool_interrupt intr;
	struct thr_pool_req r = deadline_in(3000);
	r.restart = true;
	r.interrupt = &intr;
	struct itimerval it = { .it_value = { 0, 150 * 1000 } };
	setitimer(ITIMER_REAL, &it, NULL);
	assert_int_equal(thr_pool_acquire(p, &r, &b), -EINTR);
	assert_true(intr.pending);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 0);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.waiting, 0);
	assert_int_equal(s.interrupted, 0); /* it resumes: not counted */
	thr_pool_snapshot_free(&s);
	assert_true(thr_pool_interrupt_deliver(&intr));
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 1);
	r.resume = &intr;
	r.interrupt = NULL;
	r.deadline.tv_sec -= 2; /* about 1 s left */
	assert_int_equal(thr_pool_acquire(p, &r, &b), -ETIMEDOUT);
	signal(SIGALRM, SIG_DFL);
	thr_pool_close(p);
}

static void *usr1_later(void *arg)
{
	usleep(300 * 1000);
	pthread_kill(*(pthread_t *)arg, SIGUSR1);
	return NULL;
}

/* A wait that a handler with SA_RESTART interrupts gives its place up
 * while the handler runs, and takes the same place back after: a waiter
 * that queued behind it is still behind it. */
static void test_pool_restart_keeps_place_in_queue(void **state)
{
	uint32_t a, b;
	struct thr_pool *p = full_with_handler(&a, SIGUSR1, count_alarm,
	                                       SA_RESTART);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t second = fork(); /* queues 100 ms after us */
	assert_true(second >= 0);
	if (second == 0) {
		usleep(100 * 1000);
		struct thr_pool *q = child_open();
		uint32_t h;
		if (wait_take(q, &h) < 0 || write(fds[1], "B", 1) != 1)
			_exit(1);
		_exit(thr_pool_release(q, h) == 0 ? 0 : 2);
	}
	struct late_release l = { .p = p, .hold = a, .ms = 600 };
	pthread_t self = pthread_self(), signaller, releaser;
	assert_int_equal(pthread_create(&signaller, NULL, usr1_later, &self), 0);
	assert_int_equal(pthread_create(&releaser, NULL, release_late, &l), 0);
	struct thr_pool_req r = deadline_in(5000);
	r.restart = true;
	assert_int_equal(thr_pool_acquire(p, &r, &b), 0);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 1);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.waiting, 1); /* the second is still behind us */
	thr_pool_snapshot_free(&s);
	assert_int_equal(thr_pool_release(p, b), 0);
	char c;
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(exit_code(second), 0);
	pthread_join(signaller, NULL);
	pthread_join(releaser, NULL);
	close(fds[0]);
	close(fds[1]);
	signal(SIGUSR1, SIG_DFL);
	thr_pool_close(p);
}

static void test_pool_keeps_errno(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, b;
	errno = 1234;
	assert_int_equal(try_take(p, &a), 0);
	assert_int_equal(try_take(p, &b), -EAGAIN);
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(thr_pool_release(p, a), -ESTALE);
	/* Registered by now: the inline first pass and the inline release. */
	assert_int_equal(wait_take(p, &b), 0);
	assert_int_equal(thr_pool_release(p, b), 0);
	assert_int_equal(errno, 1234);
	thr_pool_close(p);
}

static void test_pool_release_rejects_stale_records(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a;
	assert_int_equal(thr_pool_release(p, 7), -ESTALE);
	assert_int_equal(thr_pool_release(p, THR_HOLDERS + 5), -ESTALE);
	assert_int_equal(try_take(p, &a), 0);
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(thr_pool_release(p, a), -ESTALE);
	thr_pool_close(p);
}

/* ---- 3. first come, first served, one wake per hand-off ---- */

static void test_pool_serves_in_arrival_order(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(try_take(p, &a), 0);
	pid_t kids[4];
	for (int i = 0; i < 4; i++) {
		kids[i] = spawn_waiter(fds[1], (char)('1' + i), 20);
		await_waiting(p, (uint32_t)i + 1);
	}
	struct thr_pool_snapshot before = snap_of(p);
	thr_pool_snapshot_free(&before);
	assert_int_equal(thr_pool_release(p, a), 0);
	char order[5] = { 0 };
	for (int i = 0; i < 4; i++)
		assert_int_equal(read(fds[0], &order[i], 1), 1);
	assert_string_equal(order, "1234");
	for (int i = 0; i < 4; i++)
		assert_int_equal(exit_code(kids[i]), 0);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.handoffs - before.handoffs, 4);
	assert_int_equal(s.wakes - before.wakes, 4);
	assert_int_equal(s.in_use, 0);
	thr_pool_snapshot_free(&s);
	close(fds[0]);
	close(fds[1]);
	thr_pool_close(p);
}

static void test_pool_nobody_barges_past_a_waiter(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, b;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(try_take(p, &a), 0);
	pid_t kid = spawn_waiter(fds[1], 'w', 100);
	await_waiting(p, 1);
	assert_int_equal(thr_pool_release(p, a), 0);
	/* The slot went to the queued child, not to us, though we are running. */
	assert_int_equal(try_take(p, &b), -EAGAIN);
	assert_int_equal(exit_code(kid), 0);
	assert_int_equal(try_take(p, &b), 0);
	close(fds[0]);
	close(fds[1]);
	thr_pool_close(p);
}

/* ---- 4. holder records and co-holders ---- */

static void test_pool_records_holders_and_waiters(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a;
	struct thr_pool_req r = req_of(THR_POOL_WAIT, 7, "10.0.0.5:5432");
	assert_int_equal(thr_pool_acquire(p, &r, &a), 0);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t kid = spawn_waiter(fds[1], 'w', 0);
	await_waiting(p, 1);
	usleep(30000);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.nholders, 1);
	assert_int_equal(s.holders[0].pid, getpid());
	assert_int_equal(s.holders[0].fd, 7);
	assert_string_equal(s.holders[0].target, "10.0.0.5:5432");
	assert_true(s.holders[0].held_ms >= 20 && s.holders[0].held_ms < 5000);
	assert_int_equal(s.nwaiters, 1);
	assert_int_equal(s.waiters[0].pid, kid);
	assert_string_equal(s.waiters[0].target, "wait");
	assert_true(s.waiters[0].waited_ms >= 20);
	assert_string_equal(s.name, name);
	thr_pool_snapshot_free(&s);
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(exit_code(kid), 0);
	close(fds[0]);
	close(fds[1]);
	thr_pool_close(p);
}

/* A pool of 1 whose slot this process holds (*ret_hold), then a fork; go
 * and done are pipes for the two sides to step each other. Returns what
 * fork() returned. */
static pid_t fork_holding(struct thr_pool **ret_pool, uint32_t *ret_hold,
                          int go[2], int done[2])
{
	*ret_pool = open_limit(1);
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(done), 0);
	assert_int_equal(try_take(*ret_pool, ret_hold), 0);
	pid_t kid = fork();
	assert_true(kid >= 0);
	return kid;
}

static void test_pool_fork_child_co_holds(void **state)
{
	struct thr_pool *p;
	uint32_t a, b;
	int go[2], done[2];
	pid_t kid = fork_holding(&p, &a, go, done);
	if (kid == 0) {
		char c;
		uint32_t mine, again;
		if (read(go[0], &c, 1) != 1)
			_exit(1);
		/* A fork child cannot release its parent's record, only its own. */
		if (thr_pool_release(p, a) != -ESTALE)
			_exit(2);
		if (thr_pool_adopt(p, a, -1, &mine) < 0 ||
		    thr_pool_adopt(p, a, -1, &again) < 0 || mine != again)
			_exit(3);
		if (write(done[1], "a", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(4);
		_exit(thr_pool_release(p, mine) == 0 ? 0 : 5);
	}
	close(go[0]);
	close(done[1]);
	uint32_t c1, c2, held;
	int fd;
	assert_int_equal(thr_pool_cohold(p, a, kid, 7, &c1), 0);
	assert_int_equal(thr_pool_cohold(p, a, kid, 9, &c2), 0);
	assert_int_equal(c1, c2);
	/* The child's record names the child's descriptor, the first one given. */
	assert_int_equal(thr_pool_held_by(p, kid, &held, &fd, 1), 1);
	assert_int_equal(held, c1);
	assert_int_equal(fd, 7);
	/* The parent lets go first: the child still holds the slot. */
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(in_use(p), 1);
	assert_int_equal(try_take(p, &b), -EAGAIN);
	char ch;
	assert_int_equal(write(go[1], "g", 1), 1);
	if (read(done[0], &ch, 1) != 1)
		fail_msg("child ended with %d", exit_code(kid));
	assert_int_equal(in_use(p), 1);
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(exit_code(kid), 0);
	assert_int_equal(in_use(p), 0);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.nholders, 0);
	thr_pool_snapshot_free(&s);
	thr_pool_close(p);
}

/* A fork child that let its copy go before the parent's co-hold landed:
 * the parent takes back the record it made too late, and the slot frees
 * with the parent's own release; a record the child still has is kept. */
static void test_pool_uncohold_late_record(void **state)
{
	struct thr_pool *p;
	uint32_t a, c, b;
	int go[2], done[2];
	pid_t kid = fork_holding(&p, &a, go, done);
	if (kid == 0) {
		char ch;
		uint32_t mine;
		/* Adopt and let go at once, before the parent co-holds. */
		if (thr_pool_adopt(p, a, 3, &mine) < 0 ||
		    thr_pool_release(p, mine) < 0)
			_exit(1);
		if (write(done[1], "d", 1) != 1)
			_exit(2);
		_exit(read(go[0], &ch, 1) == 1 ? 0 : 3);
	}
	char ch;
	assert_int_equal(read(done[0], &ch, 1), 1);
	/* The late co-hold makes a record the child will never release. */
	assert_int_equal(thr_pool_cohold(p, a, kid, 3, &c), 0);
	assert_int_equal(thr_pool_uncohold(p, c, kid), 0);
	assert_int_equal(thr_pool_uncohold(p, c, kid), -ESTALE);
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(try_take(p, &b), 0);
	/* Only kid's own records: not the parent's. */
	assert_int_equal(thr_pool_uncohold(p, b, kid), -ESTALE);
	assert_int_equal(in_use(p), 1);
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(exit_code(kid), 0);
	assert_int_equal(thr_pool_release(p, b), 0);
	thr_pool_close(p);
}

static void test_pool_co_holder_death_frees_slot(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, c, b;
	assert_int_equal(try_take(p, &a), 0);
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		char ch;
		_exit(read(go[0], &ch, 1) == 1 ? 0 : 1);
	}
	assert_int_equal(thr_pool_cohold(p, a, kid, -1, &c), 0);
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(in_use(p), 1);
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(exit_code(kid), 0);
	/* The last holder died without releasing: the next try takes it back. */
	assert_int_equal(try_take(p, &b), 0);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.reclaimed, 1);
	thr_pool_snapshot_free(&s);
	thr_pool_close(p);
}

/* ---- 5. crash safety ---- */

static void test_pool_reclaims_killed_holder(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t b;
	pid_t kid = spawn_holder();
	assert_int_equal(try_take(p, &b), -EAGAIN);
	kill(kid, SIGKILL);
	assert_int_equal(exit_code(kid), 128 + SIGKILL);
	assert_int_equal(try_take(p, &b), 0);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.reclaimed, 1);
	assert_int_equal(s.in_use, 1);
	thr_pool_snapshot_free(&s);
	thr_pool_close(p);
}

/* Whether /proc shows pid as a zombie (state Z) with at most max_threads
 * threads: 1 for a process that is truly dead but not reaped (a dying
 * process shows Z while its other threads, a sanitizer's helper say, still
 * exit), more for one whose main thread alone has gone. */
static bool shows_zombie(pid_t pid, long max_threads)
{
	char path[64], buf[256];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	char state;
	long threads;
	return p && sscanf(p + 1, " %c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
	                   "%*s %*s %*s %*s %*s %*s %ld", &state, &threads) == 2 &&
	       state == 'Z' && threads <= max_threads;
}

static void test_pool_zombie_holder_is_dead(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t b;
	pid_t kid = spawn_holder();
	kill(kid, SIGKILL);
	uint64_t until = now_ms() + 5000;
	while (!shows_zombie(kid, 1) && now_ms() < until)
		usleep(1000);
	assert_true(shows_zombie(kid, 1)); /* not reaped: kill(pid, 0) still finds it */
	assert_int_equal(kill(kid, 0), 0);
	assert_int_equal(try_take(p, &b), 0);
	assert_int_equal(exit_code(kid), 128 + SIGKILL);
	thr_pool_close(p);
}

static void *sleep_forever(void *arg)
{
	for (;;)
		pause();
	return arg;
}

/* A holder whose main thread has exited shows as a zombie while its other
 * threads run on: it is alive, and its slot stays its own. */
static void test_pool_holder_without_main_thread_is_alive(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t b;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		struct thr_pool *q = child_open();
		uint32_t h;
		pthread_t t;
		if (try_take(q, &h) < 0 ||
		    pthread_create(&t, NULL, sleep_forever, NULL) != 0 ||
		    write(fds[1], "h", 1) != 1)
			_exit(1);
		pthread_exit(NULL);
	}
	char c;
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	close(fds[0]);
	uint64_t until = now_ms() + 5000;
	while (!shows_zombie(kid, LONG_MAX) && now_ms() < until)
		usleep(1000);
	bool zombie = shows_zombie(kid, LONG_MAX); /* its main thread is gone */
	int r = try_take(p, &b);
	kill(kid, SIGKILL);
	assert_int_equal(exit_code(kid), 128 + SIGKILL);
	assert_true(zombie);
	assert_int_equal(r, -EAGAIN);
	assert_int_equal(try_take(p, &b), 0);
	thr_pool_close(p);
}

static void test_pool_waiter_notices_dead_holder(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t b;
	pid_t holder = spawn_holder();
	uint64_t *killed_at = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(killed_at != MAP_FAILED);
	pid_t killer = fork();
	assert_true(killer >= 0);
	if (killer == 0) {
		usleep(300000);
		*killed_at = now_ms();
		kill(holder, SIGKILL); /* not ours to reap: it stays a zombie */
		_exit(0);
	}
	assert_int_equal(wait_take(p, &b), 0);
	uint64_t lag = now_ms() - *killed_at;
	assert_int_equal(exit_code(killer), 0);
	assert_true(lag <= 250);
	assert_int_equal(exit_code(holder), 128 + SIGKILL);
	munmap(killed_at, 4096);
	thr_pool_close(p);
}

static void test_pool_killed_waiter_leaves_no_trace(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, b;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(try_take(p, &a), 0);
	pid_t kid = spawn_waiter(fds[1], 'w', 0);
	await_waiting(p, 1);
	kill(kid, SIGKILL);
	assert_int_equal(exit_code(kid), 128 + SIGKILL);
	assert_int_equal(thr_pool_release(p, a), 0);
	/* Whether the slot went to the dead waiter or not, it comes back. */
	assert_int_equal(try_take(p, &b), 0);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.in_use, 1);
	assert_int_equal(s.waiting, 0);
	assert_int_equal(s.nwaiters, 0);
	thr_pool_snapshot_free(&s);
	close(fds[0]);
	close(fds[1]);
	thr_pool_close(p);
}

/* A process killed while it holds the only slot and waits for another:
 * its slot must not go to its own queued place, which dies with it. */
static void test_pool_killed_holder_and_waiter_frees_slot(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t b;
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		struct thr_pool *q = child_open();
		uint32_t h1, h2;
		if (try_take(q, &h1) < 0)
			_exit(1);
		wait_take(q, &h2); /* queues behind itself until killed */
		_exit(2);
	}
	await_waiting(p, 1);
	kill(kid, SIGKILL);
	assert_int_equal(exit_code(kid), 128 + SIGKILL);
	assert_int_equal(try_take(p, &b), 0);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.in_use, 1);
	assert_int_equal(s.waiting, 0);
	assert_int_equal(s.nwaiters, 0);
	assert_int_equal(s.nholders, 1);
	assert_int_equal(s.holders[0].pid, getpid());
	thr_pool_snapshot_free(&s);
	thr_pool_close(p);
}

static const char *stop_at;

/* The step hook: the process stops (SIGSTOP) the first time it reaches
 * stop_at, and runs on past it once continued. */
static void stop_here(const char *step)
{
	if (stop_at && strcmp(step, stop_at) == 0) {
		stop_at = NULL;
		raise(SIGSTOP);
	}
}

/* In a child: stop at step, inside acquire or release. */
static void stop_in(const char *step)
{
	stop_at = step;
	thr_pool_test_step = stop_here;
}

/* A fork child whose parent died inside the pool lock takes the lock over
 * as anybody else would: the parent's entry, which its copied handle
 * names, is not its own. */
static void test_pool_fork_child_repairs_parents_lock(void **state)
{
	struct thr_pool *p = open_limit(1);
	int go[2], said[2];
	assert_int_equal(pipe(go), 0);
	assert_int_equal(pipe(said), 0);
	pid_t parent = fork();
	assert_true(parent >= 0);
	if (parent == 0) {
		struct thr_pool *q = child_open();
		uint32_t h;
		if (try_take(q, &h) < 0 || thr_pool_release(q, h) < 0)
			_exit(1);
		if (fork() == 0) {
			char c;
			if (read(go[0], &c, 1) != 1)
				_exit(1);
			uint64_t t0 = now_ms();
			int r = try_take(q, &h);
			uint64_t ms = now_ms() - t0;
			char line[64];
			int n = snprintf(line, sizeof(line), "%d %llu", r,
			                 (unsigned long long)ms);
			_exit(write(said[1], line, (size_t)n) == n ? 0 : 1);
		}
		stop_in("acquire.locked");
		try_take(q, &h);
		_exit(0);
	}
	int st;
	assert_int_equal(waitpid(parent, &st, WUNTRACED), parent);
	assert_true(WIFSTOPPED(st));
	kill(parent, SIGKILL);
	assert_int_equal(exit_code(parent), 128 + SIGKILL);
	assert_int_equal(write(go[1], "g", 1), 1);
	char line[64] = { 0 };
	assert_true(read(said[0], line, sizeof(line) - 1) > 0);
	int r;
	unsigned long long ms;
	assert_int_equal(sscanf(line, "%d %llu", &r, &ms), 2);
	assert_int_equal(r, 0);
	assert_true(ms < 1000);
	close(go[0]);
	close(go[1]);
	close(said[0]);
	close(said[1]);
	thr_pool_close(p);
}

/* Forks a child that stops at step, inside acquire (TRY, on a full pool)
 * or, with release, inside the release of a slot it took first; then it
 * stops once before, holding the slot. */
static pid_t spawn_stuck(const char *step, bool release)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid)
		return pid;
	struct thr_pool *q = child_open();
	uint32_t h;
	if (release && wait_take(q, &h) < 0)
		_exit(1);
	if (release)
		raise(SIGSTOP); /* holding: the caller queues a waiter now */
	stop_in(step);
	if (release)
		thr_pool_release(q, h);
	else
		try_take(q, &h);
	_exit(0);
}

/* A release that cannot get the lock (its owner stopped inside for longer
 * than the lock's patience) is not lost: the owner, once it goes on, drops
 * it on its way out. */
static void test_pool_release_outlives_stuck_lock(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, b;
	assert_int_equal(try_take(p, &a), 0);
	pid_t kid = spawn_stuck("acquire.locked", false);
	int st;
	assert_int_equal(waitpid(kid, &st, WUNTRACED), kid);
	assert_true(WIFSTOPPED(st));
	int r = thr_pool_release(p, a); /* gives up on the lock after ~2 s */
	kill(kid, SIGCONT);
	assert_int_equal(exit_code(kid), 0);
	assert_int_equal(r, 0);
	assert_int_equal(try_take(p, &b), 0);
	assert_int_equal(in_use(p), 1);
	thr_pool_close(p);
}

/* A waiter, its deadline 300 ms away: it reports what its acquire
 * returned and how long it took on said, then stays alive until a byte
 * comes on go (no reclaim of the dead may tidy up after it). */
static pid_t spawn_late_waiter(int said, int go)
{
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid)
		return pid;
	alarm(20); /* should the test fail before it says go */
	struct thr_pool *q = child_open();
	struct thr_pool_req r = req_of(THR_POOL_DEADLINE, -1, "late");
	clock_gettime(CLOCK_MONOTONIC, &r.deadline);
	r.deadline.tv_nsec += 300 * 1000000L;
	r.deadline.tv_sec += r.deadline.tv_nsec / 1000000000L;
	r.deadline.tv_nsec %= 1000000000L;
	uint32_t h;
	uint64_t t0 = now_ms();
	int res[2] = { thr_pool_acquire(q, &r, &h), 0 };
	res[1] = (int)(now_ms() - t0);
	char c;
	if (write(said, res, sizeof(res)) != sizeof(res) || read(go, &c, 1) < 0)
		_exit(2);
	_exit(0);
}

/* A waiter whose deadline passes while the lock's owner is stopped leaves
 * the queue all the same (after the lock's 2 s patience): its call fails
 * with ETIMEDOUT, and the slot the holder lets go later stays free instead
 * of going to its empty place. */
static void test_pool_cancel_outlives_stuck_lock(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, b;
	assert_int_equal(try_take(p, &a), 0);
	int said[2], go[2], res[2];
	assert_int_equal(pipe(said), 0);
	assert_int_equal(pipe(go), 0);
	pid_t waiter = spawn_late_waiter(said[1], go[0]);
	await_waiting(p, 1);
	pid_t stuck = spawn_stuck("acquire.locked", false);
	int st;
	assert_int_equal(waitpid(stuck, &st, WUNTRACED), stuck);
	assert_true(WIFSTOPPED(st));
	assert_int_equal(read(said[0], res, sizeof(res)), sizeof(res));
	kill(stuck, SIGCONT);
	assert_int_equal(exit_code(stuck), 0);
	assert_int_equal(res[0], -ETIMEDOUT);
	assert_true(res[1] >= 2000); /* it did meet the stuck lock */
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(try_take(p, &b), 0);
	struct thr_pool_snapshot sn = snap_of(p);
	assert_int_equal(sn.waiting, 0);
	assert_int_equal(sn.timeouts, 1);
	thr_pool_snapshot_free(&sn);
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(exit_code(waiter), 0);
	thr_pool_close(p);
}

static void *stuck_waiter(void *arg)
{
	struct thr_pool_req r = deadline_in(12000);
	r.restart = true;
	uint32_t h;
	*(int *)arg = thr_pool_acquire(pair_pool, &r, &h);
	return NULL;
}

/* A signal that comes while every tick of a wait is spent on a stuck lock
 * (its owner stopped inside) still ends the wait, once the tick gives up
 * on the lock, not at its deadline 12 s away. */
static void test_pool_signal_ends_wait_on_stuck_lock(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a;
	assert_int_equal(try_take(p, &a), 0);
	struct sigaction sa = { .sa_handler = count_alarm };
	sigaction(SIGUSR1, &sa, NULL);
	__atomic_store_n(&alarms, 0, __ATOMIC_SEQ_CST);
	pair_pool = p;
	pthread_t t;
	int got = 1;
	assert_int_equal(pthread_create(&t, NULL, stuck_waiter, &got), 0);
	await_waiting(p, 1);
	pid_t stuck = spawn_stuck("acquire.locked", false);
	int st;
	assert_int_equal(waitpid(stuck, &st, WUNTRACED), stuck);
	assert_true(WIFSTOPPED(st));
	usleep(300 * 1000); /* the waiter's tick is on the lock by now */
	uint64_t t0 = now_ms();
	pthread_kill(t, SIGUSR1);
	pthread_join(t, NULL);
	uint64_t took = now_ms() - t0;
	kill(stuck, SIGCONT);
	assert_int_equal(exit_code(stuck), 0);
	assert_int_equal(got, -EINTR);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 1);
	assert_true(took < 10000);
	signal(SIGUSR1, SIG_DFL);
	thr_pool_close(p);
}

static void exit_on_fault(int sig)
{
	_exit(sig == SIGBUS ? 42 : 43);
}

/* A fault while waiting (here: the segment truncated under the wait) is
 * the program's to handle. Blocked, it would kill the process past its
 * handler, so the wait must never block a fault's signal. */
static void test_pool_fault_while_waiting_reaches_handler(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t h;
	assert_int_equal(try_take(p, &h), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		signal(SIGBUS, exit_on_fault);
		struct thr_pool *q = child_open();
		uint32_t hq;
		wait_take(q, &hq);
		_exit(1);
	}
	await_waiting(p, 1);
	char path[128];
	snprintf(path, sizeof(path), "/dev/shm/throttle.%s", name);
	assert_int_equal(truncate(path, 0), 0);
	assert_int_equal(exit_code(pid), 42);
	thr_pool_close(p); /* unmaps only: the segment is not read */
}

/* Sends SIGBUS to the thread at arg 200 ms on, when its wait naps. */
static void *fault_signal_later(void *arg)
{
	usleep(200 * 1000);
	pthread_kill(*(pthread_t *)arg, SIGBUS);
	return NULL;
}

/* A fault signal is never blocked (above), so one sent by kill() has its
 * handler run at once, while the wait is awake or during a nap, and the
 * wait goes on to its deadline, unaware: the gap the README describes. */
static void test_pool_fault_signal_by_kill(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, b;
	assert_int_equal(try_take(p, &a), 0);
	assert_handled_unseen(p, SIGBUS, 0, false, 300);
	pthread_t self = pthread_self(), t;
	assert_int_equal(pthread_create(&t, NULL, fault_signal_later, &self), 0);
	struct thr_pool_req r = deadline_in(500);
	assert_int_equal(thr_pool_acquire(p, &r, &b), -ETIMEDOUT);
	pthread_join(t, NULL);
	assert_int_equal(__atomic_load_n(&alarms, __ATOMIC_SEQ_CST), 2);
	signal(SIGBUS, SIG_DFL);
	thr_pool_close(p);
}

/* The holder is killed inside a hand-off to a waiter that has left
 * meanwhile: the repair drops the record made for it, since its call
 * failed and knows nothing of it. */
static void test_pool_repair_drops_grant_to_left_waiter(void **state)
{
	struct thr_pool *p = open_limit(1);
	int said[2], go[2], res[2];
	assert_int_equal(pipe(said), 0);
	assert_int_equal(pipe(go), 0);
	pid_t stuck = spawn_stuck("handoff.live", true);
	int st;
	assert_int_equal(waitpid(stuck, &st, WUNTRACED), stuck);
	assert_true(WIFSTOPPED(st));
	pid_t waiter = spawn_late_waiter(said[1], go[0]);
	await_waiting(p, 1);
	kill(stuck, SIGCONT);
	assert_int_equal(waitpid(stuck, &st, WUNTRACED), stuck);
	assert_true(WIFSTOPPED(st));
	assert_int_equal(read(said[0], res, sizeof(res)), sizeof(res));
	assert_int_equal(res[0], -ETIMEDOUT);
	kill(stuck, SIGKILL);
	assert_int_equal(exit_code(stuck), 128 + SIGKILL);
	uint32_t b;
	assert_int_equal(try_take(p, &b), 0);
	struct thr_pool_snapshot sn = snap_of(p);
	assert_int_equal(sn.in_use, 1);
	assert_int_equal(sn.nholders, 1);
	assert_int_equal(sn.holders[0].pid, getpid());
	assert_int_equal(sn.waiting, 0);
	thr_pool_snapshot_free(&sn);
	assert_int_equal(write(go[1], "x", 1), 1);
	assert_int_equal(exit_code(waiter), 0);
	thr_pool_close(p);
}

/* Stops a child at step (inside acquire or release, the pool lock held
 * for most steps), kills it there, and checks that the pool recovers:
 * the lock comes back, nothing leaks, and the limit of 1 still holds. */
static void kill_at(const char *step, bool during_release, bool with_waiter)
{
	struct thr_pool *p = open_limit(1);
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t waiter = -1;
	uint32_t a = THR_NONE;
	if (with_waiter) {
		assert_int_equal(try_take(p, &a), 0);
	}
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		uint32_t h;
		struct thr_pool *q = child_open();
		if (during_release) {
			if (wait_take(q, &h) < 0)
				_exit(2);
			stop_in(step);
			thr_pool_release(q, h);
		} else {
			stop_in(step);
			wait_take(q, &h);
		}
		_exit(0);
	}
	if (with_waiter) {
		await_waiting(p, 1);
		waiter = spawn_waiter(fds[1], 'w', 0);
		await_waiting(p, 2);
		assert_int_equal(thr_pool_release(p, a), 0);
	}
	int st;
	assert_int_equal(waitpid(kid, &st, WUNTRACED), kid);
	assert_true(WIFSTOPPED(st));
	kill(kid, SIGKILL);
	assert_int_equal(exit_code(kid), 128 + SIGKILL);
	if (waiter > 0)
		assert_int_equal(exit_code(waiter), 0);
	uint32_t b, c;
	uint64_t t0 = now_ms();
	struct thr_pool_req r = req_of(THR_POOL_DEADLINE, -1, NULL);
	clock_gettime(CLOCK_MONOTONIC, &r.deadline);
	r.deadline.tv_sec += 3;
	assert_int_equal(thr_pool_acquire(p, &r, &b), 0);
	assert_true(now_ms() - t0 < 2000);
	assert_int_equal(try_take(p, &c), -EAGAIN);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.in_use, 1);
	assert_int_equal(s.nholders, 1);
	assert_int_equal(s.holders[0].pid, getpid());
	assert_int_equal(s.waiting, 0);
	/* Every grant counted once, with its wait and, if handed, one wake. */
	uint64_t waits = 0;
	for (int i = 0; i < 32; i++)
		waits += s.wait_hist[i];
	assert_int_equal(waits, s.granted);
	assert_int_equal(s.wakes, s.handoffs);
	thr_pool_snapshot_free(&s);
	assert_int_equal(thr_pool_release(p, b), 0);
	assert_int_equal(in_use(p), 0);
	close(fds[0]);
	close(fds[1]);
	thr_pool_close(p);
}

static void test_pool_survives_kill_after_acquire_lock(void **state)
{
	kill_at("acquire.locked", false, false);
}

static void test_pool_survives_kill_mid_acquire_holder(void **state)
{
	kill_at("acquire.holder", false, false);
}

static void test_pool_survives_kill_mid_acquire_slot(void **state)
{
	kill_at("acquire.slot", false, false);
}

static void test_pool_survives_kill_while_queued(void **state)
{
	kill_at("wait.queued", false, true);
}

static void test_pool_survives_kill_after_release_lock(void **state)
{
	kill_at("release.locked", true, false);
}

static void test_pool_survives_kill_mid_release(void **state)
{
	kill_at("release.holder", true, false);
}

static void test_pool_survives_kill_mid_handoff(void **state)
{
	kill_at("handoff.holder", true, true);
}

static void test_pool_survives_kill_before_handoff(void **state)
{
	kill_at("release.handoff", true, true);
}

/* The waiter's record is live, but it is not yet told: the repair rolls the
 * hand-off forward and counts it. */
static void test_pool_survives_kill_mid_handoff_live(void **state)
{
	kill_at("handoff.live", true, true);
}

/* ---- 6. live resize ---- */

static void test_pool_grow_hands_slots_to_waiters(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(try_take(p, &a), 0);
	pid_t k1 = spawn_waiter(fds[1], '1', 300);
	await_waiting(p, 1);
	pid_t k2 = spawn_waiter(fds[1], '2', 300);
	await_waiting(p, 2);
	uint64_t t0 = now_ms();
	assert_int_equal(thr_pool_set_limit(p, 3), 0);
	char c;
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_true(now_ms() - t0 < 200);
	assert_int_equal(in_use(p), 3);
	assert_int_equal(exit_code(k1), 0);
	assert_int_equal(exit_code(k2), 0);
	close(fds[0]);
	close(fds[1]);
	thr_pool_close(p);
}

static void test_pool_shrink_drains_without_revoking(void **state)
{
	struct thr_pool *p = open_limit(3);
	uint32_t h[3], x;
	for (int i = 0; i < 3; i++)
		assert_int_equal(try_take(p, &h[i]), 0);
	assert_int_equal(thr_pool_set_limit(p, 1), 0);
	assert_int_equal(in_use(p), 3); /* nothing revoked */
	assert_int_equal(thr_pool_release(p, h[0]), 0);
	assert_int_equal(try_take(p, &x), -EAGAIN);
	assert_int_equal(thr_pool_release(p, h[1]), 0);
	assert_int_equal(try_take(p, &x), -EAGAIN);
	assert_int_equal(thr_pool_release(p, h[2]), 0);
	assert_int_equal(try_take(p, &x), 0);
	assert_int_equal(try_take(p, &h[0]), -EAGAIN);
	assert_int_equal(thr_pool_set_limit(p, 0), -EINVAL);
	assert_int_equal(thr_pool_set_limit(p, THR_SLOTS + 1), -EINVAL);
	thr_pool_close(p);
}

static void test_pool_observer_reads_without_writing(void **state)
{
	struct thr_pool *p = open_limit(2);
	uint32_t a;
	assert_int_equal(try_take(p, &a), 0);
	struct thr_pool_opts o = { .readonly = true };
	struct thr_pool *ro;
	assert_int_equal(thr_pool_open(name, &o, &ro, NULL), 0);
	struct thr_pool_snapshot s = snap_of(ro);
	assert_int_equal(s.in_use, 1);
	assert_int_equal(s.limit, 2);
	thr_pool_snapshot_free(&s);
	thr_pool_close(ro);
	thr_pool_close(p);
	struct thr_pool_opts missing = { .readonly = true, .create = true };
	assert_int_equal(thr_pool_open("no-such-pool-here", &missing, &ro, NULL),
	                 -ENOENT);
}

static void test_pool_set_limit_on_open(void **state)
{
	thr_pool_close(open_limit(2));
	struct thr_pool_opts o = { .limit = 5, .create = true };
	struct thr_pool *p;
	assert_int_equal(thr_pool_open(name, &o, &p, NULL), 0);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.limit, 2); /* an existing pool keeps its limit */
	thr_pool_snapshot_free(&s);
	thr_pool_close(p);
	o.from_config = true;
	assert_int_equal(thr_pool_open(name, &o, &p, NULL), 0);
	s = snap_of(p);
	assert_int_equal(s.limit, 5);
	thr_pool_snapshot_free(&s);
	thr_pool_close(p);
}

/* ---- 7. counters ---- */

static void test_pool_counts_peak_and_wait_histogram(void **state)
{
	struct thr_pool *p = open_limit(2);
	uint32_t a, b, c;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(try_take(p, &a), 0);
	assert_int_equal(try_take(p, &b), 0);
	pid_t kid = spawn_waiter(fds[1], 'w', 0);
	await_waiting(p, 1);
	usleep(20000);
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(exit_code(kid), 0);
	assert_int_equal(thr_pool_release(p, b), 0);
	assert_int_equal(try_take(p, &c), 0);
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.peak, 2);
	assert_int_equal(s.granted, 4);
	uint64_t total = 0, slow = 0;
	for (int i = 0; i < 32; i++) {
		total += s.wait_hist[i];
		if (i >= 15) /* 2^14 us = 16 ms */
			slow += s.wait_hist[i];
	}
	assert_int_equal(total, 4);
	assert_int_equal(slow, 1);
	/* The one wait (over 20 ms) is the whole sum: grants on the fast
	 * path add nothing. */
	assert_true(s.wait_ns >= 20000000u);
	assert_true(s.wait_ns < 10000000000u);
	thr_pool_snapshot_free(&s);
	close(fds[0]);
	close(fds[1]);
	thr_pool_close(p);
}

/* ---- 8. hostile memory ---- */

static void test_pool_recovers_scribbled_lock_word(void **state)
{
	struct thr_pool *p = open_limit(1);
	struct thr_shm_pool *m = raw_map();
	m->lock = 0x7ffffff0; /* an owner no process could be */
	uint32_t a;
	uint64_t t0 = now_ms();
	assert_int_equal(try_take(p, &a), 0);
	assert_true(now_ms() - t0 < 1000);
	m->lock = 0x40000000 | 999999; /* a pid that does not exist */
	assert_int_equal(thr_pool_release(p, a), 0);
	munmap(m, sizeof(*m));
	thr_pool_close(p);
}

/* A lock naming a registering process by a pid we cannot find may be one
 * in another pid namespace, still inside: it is taken over only after a
 * second, which no registration takes (it was 10 ms). */
static void test_pool_registrant_lock_waits_a_second(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a;
	assert_int_equal(try_take(p, &a), 0); /* registered: no lock by pid */
	assert_int_equal(thr_pool_release(p, a), 0);
	pid_t gone = fork(); /* a pid that exists no more */
	assert_true(gone >= 0);
	if (gone == 0)
		_exit(0);
	assert_int_equal(exit_code(gone), 0);
	struct thr_shm_pool *m = raw_map();
	m->lock = 0x40000000 | (uint32_t)gone;
	uint64_t t0 = now_ms();
	assert_int_equal(try_take(p, &a), 0);
	assert_true(now_ms() - t0 >= 1000);
	struct thr_pool_snapshot sn = snap_of(p);
	assert_int_equal(sn.repairs, 1);
	thr_pool_snapshot_free(&sn);
	munmap(m, sizeof(*m));
	thr_pool_close(p);
}

/* Writes a live entry at idx for a process with our pid and start time but
 * another pid namespace: two containers' pid 1s started in one tick. */
static void fake_twin(struct thr_shm_pool *m, uint32_t idx)
{
	struct thr_proc_id me;
	assert_int_equal(thr_proc_self(&me), 0);
	m->procs[idx].pid = (uint32_t)me.pid;
	m->procs[idx].start = me.start;
	m->procs[idx].pidns = me.pidns + 1;
	m->procs[idx].image = thr_proc_image() + 1;
	m->procs[idx].state = THR_PROC_LIVE;
}

/* A process in another pid namespace with our pid and start time is not
 * us: we register an entry of our own, and its lock, which looks like an
 * image of ours before an exec, is never taken from it. */
static void test_pool_other_namespace_twin_is_not_us(void **state)
{
	struct thr_pool *p = open_limit(1);
	struct thr_shm_pool *m = raw_map();
	fake_twin(m, 7);
	uint32_t a;
	assert_int_equal(try_take(p, &a), 0);
	assert_int_not_equal(m->holders[a & 0xfff].proc, 7);
	assert_int_equal(thr_pool_release(p, a), 0);
	thr_pool_close(p);
	p = open_limit(1); /* a handle that has not registered */
	m->lock = 7 + 1;
	uint64_t t0 = now_ms();
	assert_int_equal(try_take(p, &a), -ENOLCK);
	assert_true(now_ms() - t0 >= 1900);
	m->lock = 0;
	m->procs[7].state = THR_PROC_FREE;
	munmap(m, sizeof(*m));
	thr_pool_close(p);
}

/* Image 2 of test_pool_exec_takes_over_own_lock: the lock was held by a
 * thread of image 1 at the exec. Exits 0 if the pool works within the
 * second a suspected owner is given (the lock's own patience is two). */
static int after_exec(const char *pool_name)
{
	struct thr_pool_opts o = { .limit = 1 };
	struct thr_pool *q;
	uint32_t h;
	if (thr_pool_open(pool_name, &o, &q, NULL) < 0)
		return 1;
	uint64_t t0 = now_ms();
	int r = try_take(q, &h) < 0 ? 2 : 0;
	if (r == 0 && (now_ms() - t0 >= 1900 || thr_pool_release(q, h) < 0))
		r = 3;
	thr_pool_close(q);
	return r;
}

/* In a child: registers with the pool, then execs prog with up to two
 * arguments while inside the pool lock, as another thread of it would be. */
static _Noreturn void lock_and_exec(const char *prog, const char *argv0,
                                    const char *arg1, const char *arg2)
{
	struct thr_pool *q = child_open();
	uint32_t h;
	if (try_take(q, &h) < 0 || thr_pool_release(q, h) < 0 ||
	    thr_pool__lock(q) < 0)
		_exit(10);
	execl(prog, argv0, arg1, arg2, (char *)NULL);
	_exit(11);
}

/* An exec while another thread is inside the pool lock kills that thread
 * there, and the lock names this process's entry, which outlives the exec
 * (same pid, same start time). The image after the exec takes the lock
 * over after a second rather than waiting two for itself and failing. */
static void test_pool_exec_takes_over_own_lock(void **state)
{
	if (under_valgrind())
		skip(); /* valgrind cannot follow an exec of /proc/self/exe */
	struct thr_pool *p = open_limit(1);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0)
		lock_and_exec("/proc/self/exe", "test-pool", "--after-exec", name);
	assert_int_equal(exit_code(kid), 0);
	struct thr_pool_snapshot sn = snap_of(p);
	assert_int_equal(sn.repairs, 1);
	assert_int_equal(sn.in_use, 0);
	thr_pool_snapshot_free(&sn);
	thr_pool_close(p);
}

/* What another process reads of an image from /proc is what the image
 * computes of itself, a fork child's included; a zombie has none. */
static void test_pool_image_read_from_proc(void **state)
{
	uint32_t v = 0;
	assert_int_equal(thr_proc_image_of(getpid(), &v), 0);
	assert_int_equal(v, thr_proc_image());
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		pause();
		_exit(0);
	}
	v = 0;
	assert_int_equal(thr_proc_image_of(kid, &v), 0);
	assert_int_equal(v, thr_proc_image());
	kill(kid, SIGKILL);
	siginfo_t si;
	assert_int_equal(waitid(P_PID, (id_t)kid, &si, WEXITED | WNOWAIT), 0);
	assert_int_not_equal(thr_proc_image_of(kid, &v), 0); /* a zombie */
	exit_code(kid);
	assert_int_equal(thr_proc_image_of(kid, &v), -ESRCH);
}

/* Pid 1 of a new pid namespace under its parent's /proc: exits 0 if it
 * cannot take a slot under another process's identity, which nobody would
 * ever judge dead (here, the host's init). */
static _Noreturn void in_new_pid_namespace(void)
{
	struct thr_proc_id me;
	if (thr_proc_self(&me) != -ENOTSUP)
		_exit(1);
	struct thr_pool *q = child_open();
	uint32_t h;
	_exit(try_take(q, &h) < 0 ? 0 : 2);
}

/* Where /proc shows another process under our pid, the engine refuses to
 * register rather than hold slots as that process: they would never come
 * back after we exit. Needs root (unshare); skipped without. */
static void test_pool_refuses_borrowed_identity(void **state)
{
	struct thr_pool *p = open_limit(1);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		if (unshare(CLONE_NEWPID) < 0)
			_exit(77);
		pid_t grandkid = fork();
		if (grandkid == 0)
			in_new_pid_namespace();
		_exit(grandkid > 0 ? exit_code(grandkid) : 3);
	}
	int code = exit_code(kid);
	if (code == 77) {
		thr_pool_close(p);
		skip();
	}
	assert_int_equal(code, 0);
	assert_int_equal(in_use(p), 0);
	thr_pool_close(p);
}

/* Where /proc hides other users' processes (hidepid), a live one that
 * kill() finds but /proc does not show is not dead, nor gone: a checker
 * that took it for either would reclaim its slots, or take its lock over
 * from inside (also the lock it names by pid while it registers).
 * Run as nobody under a /proc of its own mounted with hidepid=2, looking
 * at its root parent; needs root, skipped without. */
static void test_pool_hidden_process_is_not_dead(void **state)
{
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		struct thr_proc_id parent;
		if (thr_proc_identify(getppid(), &parent) < 0)
			_exit(2);
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("proc", "/proc", "proc", 0, "hidepid=2") < 0)
			_exit(77);
		if (setgid(65534) < 0 || setuid(65534) < 0)
			_exit(77);
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d", (int)parent.pid);
		if (access(path, F_OK) == 0)
			_exit(77); /* not hidden after all */
		struct thr_proc_id seen;
		if (thr_proc_identify(parent.pid, &seen) != -EACCES)
			_exit(3); /* -ESRCH: gone, for the lock named by pid */
		_exit(thr_proc_is_dead(&parent) ? 1 : 0);
	}
	int code = exit_code(kid);
	if (code == 77)
		skip();
	assert_int_equal(code, 0);
}

/* Child of test_pool_image_same_through_loader: prints its image number,
 * then waits to be killed. */
static int print_image(void)
{
	printf("%u\n", thr_proc_image());
	fflush(stdout);
	pause();
	return 0;
}

/* dl_iterate_phdr's callback: copies the first object's (the program's)
 * interpreter into the buffer at arg, and stops. */
static int copy_interp(struct dl_phdr_info *info, size_t size, void *arg)
{
	for (int i = 0; i < info->dlpi_phnum; i++)
		if (info->dlpi_phdr[i].p_type == PT_INTERP)
			snprintf(arg, 4096, "%s", (const char *)(info->dlpi_addr +
			         info->dlpi_phdr[i].p_vaddr));
	return 1;
}

/* Run by the dynamic loader as a command (as `ld.so --preload` does), a
 * program's own auxiliary vector says other things than the kernel's copy
 * that others read: its number must not depend on that, or another
 * process would take its live lock for one left by an exec. */
static void test_pool_image_same_through_loader(void **state)
{
	char ldso[4096] = { 0 }; /* this program's own loader */
	dl_iterate_phdr(copy_interp, ldso);
	if (!ldso[0] || access(ldso, X_OK) != 0)
		skip();
	char self[4096] = { 0 };
	assert_true(readlink("/proc/self/exe", self, sizeof(self) - 1) > 0);
	int out[2];
	assert_int_equal(pipe(out), 0);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		dup2(out[1], 1);
		execl(ldso, ldso, self, "--print-image", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	char buf[32] = { 0 };
	ssize_t n = read(out[0], buf, sizeof(buf) - 1);
	close(out[0]);
	uint32_t v = 0;
	int r = thr_proc_image_of(kid, &v);
	kill(kid, SIGKILL);
	exit_code(kid);
	assert_true(n > 0);
	assert_int_equal(r, 0);
	assert_int_equal(v, (uint32_t)strtoul(buf, NULL, 10));
	assert_int_not_equal(v, thr_proc_image()); /* another exec */
}

/* The same exec, into a program that never opens the pool (sleep): the
 * process lives on, so only its image tells that the lock's thread is
 * gone. Another process reads that from /proc and takes the lock over
 * after a second, rather than failing with ENOLCK until sleep exits. */
static void test_pool_exec_elsewhere_frees_lock(void **state)
{
	struct thr_pool *p = open_limit(1);
	int gate[2];
	assert_int_equal(pipe(gate), 0);
	assert_int_equal(fcntl(gate[1], F_SETFD, FD_CLOEXEC), 0);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0)
		lock_and_exec("/bin/sleep", "sleep", "10", NULL);
	close(gate[1]);
	char c;
	assert_int_equal(read(gate[0], &c, 1), 0); /* closed by the exec */
	close(gate[0]);
	uint64_t t0 = now_ms();
	uint32_t h;
	int r = try_take(p, &h);
	uint64_t took = now_ms() - t0;
	kill(kid, SIGKILL);
	exit_code(kid);
	assert_int_equal(r, 0);
	assert_true(took < 1900);
	struct thr_pool_snapshot sn = snap_of(p);
	assert_int_equal(sn.repairs, 1);
	assert_int_equal(sn.in_use, 1);
	thr_pool_snapshot_free(&sn);
	assert_int_equal(thr_pool_release(p, h), 0);
	thr_pool_close(p);
}

static void test_pool_heals_scribbled_counts(void **state)
{
	struct thr_pool *p = open_limit(2);
	struct thr_shm_pool *m = raw_map();
	m->waiting = 0xffffffff;
	m->in_use = 77;
	uint32_t a;
	struct thr_pool_req r = req_of(THR_POOL_DEADLINE, -1, NULL);
	clock_gettime(CLOCK_MONOTONIC, &r.deadline);
	r.deadline.tv_sec += 3;
	assert_int_equal(thr_pool_acquire(p, &r, &a), 0);
	assert_int_equal(in_use(p), 1);
	m->limit = 0;
	uint32_t b;
	assert_int_equal(try_take(p, &b), -EBADMSG);
	/* A record whose slot was scribbled is no longer recognised as ours. */
	m->limit = 2;
	m->holders[a & (THR_HOLDERS - 1)].slot = 0xfffffff0;
	assert_int_equal(thr_pool_release(p, a), -ESTALE);
	assert_int_equal(try_take(p, &b), 0);
	munmap(m, sizeof(*m));
	thr_pool_close(p);
}

/* Fills procs[] but p's own entry with entries of a live process (pid
 * 1's identity) that use nothing here, as idle workers of a prefork server
 * would. */
static void fill_procs_with_idle(struct thr_shm_pool *m, struct thr_pool *p)
{
	struct thr_proc_id init;
	assert_int_equal(thr_proc_identify(1, &init), 0);
	for (uint32_t i = 0; i < THR_PROCS; i++) {
		if (i == p->me)
			continue;
		m->procs[i].pid = (uint32_t)init.pid;
		m->procs[i].start = init.start;
		m->procs[i].pidns = init.pidns;
		__atomic_store_n(&m->procs[i].state, THR_PROC_LIVE,
		                 __ATOMIC_RELEASE);
	}
}

/* The process table full of live processes that hold and wait for nothing
 * here: a newcomer still gets in, on the entry of one of them, which
 * registers again when it next comes. Before, it got ENOSPC and the shim
 * ran it unthrottled. */
static void test_pool_idle_entries_make_room(void **state)
{
	struct thr_pool *p = open_limit(1);
	struct thr_shm_pool *m = raw_map();
	fill_procs_with_idle(m, p);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct thr_pool *q = child_open();
		uint32_t h;
		_exit(try_take(q, &h) == 0 ? 0 : 1);
	}
	assert_int_equal(exit_code(pid), 0);
	uint32_t a;
	assert_int_equal(try_take(p, &a), 0); /* registered again */
	munmap(m, sizeof(*m));
	thr_pool_close(p);
}

/* Every waiter place taken (here by entries of a live process): a wait
 * waits for a place in naps, rather than fail or go through; a try is
 * refused as by a full pool; and once places come free, the wait queues
 * and is granted. */
static void test_pool_full_queue_waits_for_room(void **state)
{
	struct thr_pool *p = open_limit(1);
	struct thr_shm_pool *m = raw_map();
	uint32_t a, b;
	assert_int_equal(try_take(p, &a), 0);
	fill_procs_with_idle(m, p);
	for (uint32_t i = 0; i < THR_WAITERS; i++) {
		m->waiters[i].proc = p->me == 0 ? 1 : 0;
		m->waiters[i].ticket = i;
		__atomic_store_n(&m->waiters[i].state, THR_WAITER_WAITING,
		                 __ATOMIC_RELEASE);
	}
	m->waiting = THR_WAITERS;
	m->next_ticket = THR_WAITERS;
	assert_int_equal(try_take(p, &b), -EAGAIN);
	struct thr_pool_interrupt intr = { .no_room = false };
	struct thr_pool_req r = deadline_in(150);
	r.interrupt = &intr;
	assert_int_equal(thr_pool_acquire(p, &r, &b), -ETIMEDOUT);
	assert_true(intr.no_room);
	for (uint32_t i = 0; i < THR_WAITERS; i++)
		__atomic_store_n(&m->waiters[i].state, THR_WAITER_FREE,
		                 __ATOMIC_RELEASE);
	m->waiting = 0;
	struct late_release l = { .p = p, .hold = a, .ms = 300 };
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, release_late, &l), 0);
	r = deadline_in(3000);
	assert_int_equal(thr_pool_acquire(p, &r, &b), 0);
	pthread_join(t, NULL);
	munmap(m, sizeof(*m));
	thr_pool_close(p);
}

/* Random bytes over the tables (the header left intact, as attach checks
 * it), then every call: none may crash or hang; a child runs them under a
 * watchdog alarm so that a hang shows as SIGALRM. */
static void test_pool_survives_random_scribbles(void **state)
{
	thr_pool_close(open_limit(4));
	for (unsigned seed = 1; seed <= 20; seed++) {
		struct thr_shm_pool *m = raw_map();
		srand(seed);
		uint8_t *lo = (uint8_t *)&m->lock, *hi = (uint8_t *)(m + 1);
		for (int i = 0; i < 4000; i++)
			lo[(size_t)rand() % (size_t)(hi - lo)] = (uint8_t)rand();
		if (seed % 2)
			m->lock = 0;
		munmap(m, sizeof(*m));
		pid_t kid = fork();
		assert_true(kid >= 0);
		if (kid == 0) {
			alarm(10);
			struct thr_pool_opts o = { .limit = 4 };
			struct thr_pool *q;
			struct thr_pool_snapshot s;
			uint32_t h;
			if (thr_pool_open(name, &o, &q, NULL) < 0)
				_exit(0);
			struct thr_pool_req r = req_of(THR_POOL_DEADLINE, 3, "x");
			clock_gettime(CLOCK_MONOTONIC, &r.deadline);
			r.deadline.tv_sec += 1;
			for (int i = 0; i < 8; i++)
				if (thr_pool_acquire(q, &r, &h) == 0)
					thr_pool_release(q, h);
			try_take(q, &h);
			thr_pool_reclaim(q);
			thr_pool_set_limit(q, 3);
			if (thr_pool_snapshot(q, &s) == 0)
				thr_pool_snapshot_free(&s);
			_exit(0);
		}
		assert_int_equal(exit_code(kid), 0);
	}
}

/* ---- 10. release where it will be called ---- */

static struct thr_pool *nested_pool;
static uint32_t nested_hold;
static int nested_result = 1;

/* Stands in for a signal handler that runs close() while its thread is
 * inside the pool lock. */
static void release_from_inside(const char *step)
{
	if (strcmp(step, "acquire.holder") == 0 && nested_result == 1)
		nested_result = thr_pool_release(nested_pool, nested_hold);
}

static void test_pool_release_inside_own_critical_section(void **state)
{
	struct thr_pool *p = open_limit(2);
	uint32_t a, b, c;
	assert_int_equal(try_take(p, &a), 0);
	nested_pool = p;
	nested_hold = a;
	thr_pool_test_step = release_from_inside;
	assert_int_equal(try_take(p, &b), 0);
	thr_pool_test_step = NULL;
	assert_int_equal(nested_result, 0);
	/* The deferred release was carried out when the lock was let go. */
	assert_int_equal(in_use(p), 1);
	assert_int_equal(try_take(p, &c), 0);
	assert_int_equal(thr_pool_release(p, b), 0);
	assert_int_equal(thr_pool_release(p, c), 0);
	assert_int_equal(in_use(p), 0);
	thr_pool_close(p);
}

static int nested_acquired = 1;

/* Stands in for a signal handler that runs open() of a gated path, and
 * then close() of a gated descriptor, while its thread is inside the pool
 * lock. */
static void acquire_from_inside(const char *step)
{
	if (strcmp(step, "acquire.locked") == 0 && nested_acquired == 1) {
		uint32_t h;
		struct thr_pool_req r = req_of(THR_POOL_WAIT, -1, "inner");
		nested_acquired = thr_pool_acquire(nested_pool, &r, &h);
	}
	release_from_inside(step);
}

/* The handler's acquire returns at once, taking nothing: the lock is its
 * own thread's. Its release after that still defers (the mark that says
 * so survived the acquire) rather than waiting seconds for that lock. */
static void test_pool_acquire_inside_own_critical_section(void **state)
{
	struct thr_pool *p = open_limit(3);
	uint32_t a, b;
	assert_int_equal(try_take(p, &a), 0);
	nested_pool = p;
	nested_hold = a;
	nested_acquired = 1;
	nested_result = 1;
	thr_pool_test_step = acquire_from_inside;
	uint64_t t0 = now_ms();
	assert_int_equal(try_take(p, &b), 0);
	uint64_t took = now_ms() - t0;
	thr_pool_test_step = NULL;
	assert_int_equal(nested_acquired, -EALREADY);
	assert_int_equal(nested_result, 0);
	assert_true(took < 1000);
	assert_int_equal(in_use(p), 1);
	assert_int_equal(thr_pool_release(p, b), 0);
	assert_int_equal(in_use(p), 0);
	thr_pool_close(p);
}

static struct thr_pool *other_pool;
static uint32_t other_hold;
static int other_result = 1;

/* Two handlers in a row inside pool A's lock: one releases on pool B, the
 * next on A itself, which must still be deferred, not wait on A's lock. */
static void release_other_then_own(const char *step)
{
	if (strcmp(step, "acquire.holder") != 0 || nested_result != 1)
		return;
	other_result = thr_pool_release(other_pool, other_hold);
	nested_result = thr_pool_release(nested_pool, nested_hold);
}

static void test_pool_nested_release_on_two_pools(void **state)
{
	struct thr_pool *p = open_limit(2);
	char other_name[80];
	snprintf(other_name, sizeof(other_name), "%s-b", name);
	struct thr_pool_opts o = { .limit = 1, .create = true };
	assert_int_equal(thr_pool_open(other_name, &o, &other_pool, NULL), 0);
	uint32_t a, b, x;
	assert_int_equal(try_take(p, &a), 0);
	assert_int_equal(try_take(other_pool, &other_hold), 0);
	nested_pool = p;
	nested_hold = a;
	nested_result = other_result = 1;
	thr_pool_test_step = release_other_then_own;
	uint64_t t0 = now_ms();
	assert_int_equal(try_take(p, &b), 0);
	thr_pool_test_step = NULL;
	assert_true(now_ms() - t0 < 1000);
	assert_int_equal(other_result, 0);
	assert_int_equal(nested_result, 0);
	assert_int_equal(in_use(p), 1);
	assert_int_equal(try_take(other_pool, &x), 0);
	thr_pool_close(other_pool);
	thr_pool_unlink(other_name, NULL);
	thr_pool_close(p);
}

static void test_pool_release_after_fork_before_exec(void **state)
{
	struct thr_pool *p = open_limit(1);
	uint32_t a, b;
	assert_int_equal(try_take(p, &a), 0);
	pid_t kid = fork();
	assert_true(kid >= 0);
	if (kid == 0) {
		uint32_t mine;
		/* As the shim does: adopt in the child, release, exec. */
		if (thr_pool_adopt(p, a, -1, &mine) < 0 ||
		    thr_pool_release(p, mine) < 0)
			_exit(1);
		execl("/bin/true", "true", (char *)NULL);
		_exit(2);
	}
	assert_int_equal(exit_code(kid), 0);
	assert_int_equal(thr_pool_release(p, a), 0);
	assert_int_equal(try_take(p, &b), 0);
	assert_int_equal(in_use(p), 1);
	thr_pool_close(p);
}

/* ---- 11. snapshots judge processes as reclaim does ---- */

static enum thr_proc_verdict holder_verdict(const struct thr_pool_snapshot *s,
                                            pid_t pid)
{
	size_t i = 0;
	while (i < s->nholders && s->holders[i].pid != pid)
		i++;
	assert_true(i < s->nholders);
	return s->holders[i].process;
}

/* A killed holder (reaped), a zombie one and a killed waiter show as dead,
 * still counted, before anything reclaims them; live ones show alive. */
static void test_pool_snapshot_judges_dead_processes(void **state)
{
	struct thr_pool *p = open_limit(3);
	uint32_t mine;
	int fds[2];
	assert_int_equal(try_take(p, &mine), 0);
	pid_t killed = spawn_holder(), zombie = spawn_holder();
	assert_int_equal(pipe(fds), 0);
	pid_t waiter = spawn_waiter(fds[1], 'w', 0);
	await_waiting(p, 1);
	kill(waiter, SIGKILL); /* first: its ticks would reclaim the others */
	assert_int_equal(exit_code(waiter), 128 + SIGKILL);
	kill(killed, SIGKILL);
	assert_int_equal(exit_code(killed), 128 + SIGKILL);
	kill(zombie, SIGKILL);
	siginfo_t si;
	assert_int_equal(waitid(P_PID, (id_t)zombie, &si, WEXITED | WNOWAIT), 0);
	struct thr_pool_snapshot s = snap_of(p);
	exit_code(zombie);
	assert_int_equal(s.in_use, 3);
	assert_int_equal(s.dead_in_use, 2);
	assert_int_equal(s.waiting, 1);
	assert_int_equal(s.dead_waiting, 1);
	assert_int_equal(s.nholders, 3);
	assert_int_equal(holder_verdict(&s, getpid()), THR_PROC_JUDGED_ALIVE);
	assert_int_equal(holder_verdict(&s, killed), THR_PROC_JUDGED_DEAD);
	assert_int_equal(holder_verdict(&s, zombie), THR_PROC_JUDGED_DEAD);
	assert_int_equal(s.nwaiters, 1);
	assert_int_equal(s.waiters[0].pid, waiter);
	assert_int_equal(s.waiters[0].process, THR_PROC_JUDGED_DEAD);
	thr_pool_snapshot_free(&s);
	close(fds[0]);
	close(fds[1]);
	thr_pool_close(p);
}

/* A record of our pid with another start time is a reused pid's: dead; one
 * of another pid namespace's process cannot be judged, and its slot counts
 * as live, as reclaim keeps it. */
static void test_pool_snapshot_judges_reused_and_foreign_pids(void **state)
{
	struct thr_pool *p = open_limit(3);
	uint32_t a, b;
	assert_int_equal(try_take(p, &a), 0);
	assert_int_equal(try_take(p, &b), 0);
	struct thr_shm_pool *m = raw_map();
	fake_twin(m, 7);
	fake_twin(m, 8);
	m->procs[8].pidns = m->procs[7].pidns - 1; /* ours */
	m->procs[8].start--;
	m->holders[a & (THR_HOLDERS - 1)].proc = 7;
	m->holders[b & (THR_HOLDERS - 1)].proc = 8;
	uint32_t foreign = m->holders[a & (THR_HOLDERS - 1)].slot;
	struct thr_pool_snapshot s = snap_of(p);
	assert_int_equal(s.nholders, 2);
	assert_int_equal(s.in_use, 2);
	assert_int_equal(s.dead_in_use, 1);
	for (size_t i = 0; i < s.nholders; i++)
		assert_int_equal(s.holders[i].process,
		                 s.holders[i].slot == foreign ?
		                 THR_PROC_CANNOT_JUDGE : THR_PROC_JUDGED_DEAD);
	thr_pool_snapshot_free(&s);
	munmap(m, sizeof(*m));
	thr_pool_close(p);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--after-exec") == 0)
		return after_exec(argv[2]);
	if (argc == 2 && strcmp(argv[1], "--print-image") == 0)
		return print_image();
	if (argc == 2) /* one case, or a glob of cases, by name */
		cmocka_set_test_filter(argv[1]);
	const struct CMUnitTest tests[] = {
		T(test_pool_name_is_checked),
		T(test_pool_segment_is_private_by_default),
		T(test_pool_segment_mode_and_group),
		T(test_pool_open_without_create_fails),
		T(test_pool_creation_race_gives_one_segment),
		T(test_pool_refuses_other_layout_version),
		T(test_pool_refuses_bad_magic),
		T(test_pool_refuses_truncated_segment),
		T(test_pool_refuses_foreign_owner),
		T(test_pool_refuses_writable_segment),
		T(test_pool_creation_leaves_no_temporary_file),
		T(test_pool_try_fails_when_full),
		T(test_pool_observe_counts_over),
		T(test_pool_deadline_times_out),
		T(test_pool_signal_interrupts_wait),
		T(test_pool_signal_while_awake_interrupts_wait),
		T(test_pool_signal_while_awake_may_not_interrupt),
		T(test_pool_one_shot_handler_interrupts_wait),
		T(test_pool_process_signal_ends_one_wait),
		T(test_pool_restart_follows_sa_restart),
		T(test_pool_deadline_out_of_range),
		T(test_pool_tick_survives_restarted_signals),
		T(test_pool_longjmp_out_of_wait_leaves_no_place),
		T(test_pool_interrupt_left_to_caller),
		T(test_pool_restart_keeps_place_in_queue),
		T(test_pool_keeps_errno),
		T(test_pool_release_rejects_stale_records),
		T(test_pool_serves_in_arrival_order),
		T(test_pool_nobody_barges_past_a_waiter),
		T(test_pool_records_holders_and_waiters),
		T(test_pool_fork_child_co_holds),
		T(test_pool_co_holder_death_frees_slot),
		T(test_pool_uncohold_late_record),
		T(test_pool_reclaims_killed_holder),
		T(test_pool_zombie_holder_is_dead),
		T(test_pool_waiter_notices_dead_holder),
		T(test_pool_killed_waiter_leaves_no_trace),
		T(test_pool_killed_holder_and_waiter_frees_slot),
		T(test_pool_holder_without_main_thread_is_alive),
		T(test_pool_fork_child_repairs_parents_lock),
		T(test_pool_release_outlives_stuck_lock),
		T(test_pool_cancel_outlives_stuck_lock),
		T(test_pool_signal_ends_wait_on_stuck_lock),
		T(test_pool_fault_while_waiting_reaches_handler),
		T(test_pool_fault_signal_by_kill),
		T(test_pool_repair_drops_grant_to_left_waiter),
		T(test_pool_survives_kill_after_acquire_lock),
		T(test_pool_survives_kill_mid_acquire_holder),
		T(test_pool_survives_kill_mid_acquire_slot),
		T(test_pool_survives_kill_while_queued),
		T(test_pool_survives_kill_after_release_lock),
		T(test_pool_survives_kill_mid_release),
		T(test_pool_survives_kill_mid_handoff),
		T(test_pool_survives_kill_mid_handoff_live),
		T(test_pool_survives_kill_before_handoff),
		T(test_pool_grow_hands_slots_to_waiters),
		T(test_pool_shrink_drains_without_revoking),
		T(test_pool_observer_reads_without_writing),
		T(test_pool_set_limit_on_open),
		T(test_pool_counts_peak_and_wait_histogram),
		T(test_pool_recovers_scribbled_lock_word),
		T(test_pool_registrant_lock_waits_a_second),
		T(test_pool_exec_takes_over_own_lock),
		T(test_pool_exec_elsewhere_frees_lock),
		T(test_pool_image_read_from_proc),
		T(test_pool_image_same_through_loader),
		T(test_pool_refuses_borrowed_identity),
		T(test_pool_hidden_process_is_not_dead),
		T(test_pool_other_namespace_twin_is_not_us),
		T(test_pool_heals_scribbled_counts),
		T(test_pool_idle_entries_make_room),
		T(test_pool_full_queue_waits_for_room),
		T(test_pool_survives_random_scribbles),
		T(test_pool_release_inside_own_critical_section),
		T(test_pool_acquire_inside_own_critical_section),
		T(test_pool_nested_release_on_two_pools),
		T(test_pool_release_after_fork_before_exec),
		T(test_pool_snapshot_judges_dead_processes),
		T(test_pool_snapshot_judges_reused_and_foreign_pids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
