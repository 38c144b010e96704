/* test-gate.c - the gate on its own: routing, every policy, take/finish and
 * a descriptor's names, driven as the hooks drive it, over real pools in
 * shared memory and a libc table of the test's own (thr_gate_use()). The
 * shim's sources are built with THR_TEST_HOOKS; nothing is preloaded, so
 * the test's own open() and close() are libc's, and the helpers below play
 * the hooks' part. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "fdtable.h"
#include "flight.h"
#include "freeze.h"
#include "gate.h"
#include "hooks.h"
#include "init.h"
#include "pool.h"
#include "real.h"
#include "track.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Each case's pools have names of their own, and its files a folder. */
static struct {
	char dir[64];
	char name[3][64];
	char conf[4096];
	struct thr_config *cfg;
	struct thr_init_state st;
} fx;

/* The fake libc: libc's own functions, counted, with a close_range that
 * can be made to fail or to be missing. */
static struct thr_real fake;
static int close_range_calls, close_range_errno, fcntl_calls;

static int fake_close_range(unsigned first, unsigned last, int flags)
{
	close_range_calls++;
	if (close_range_errno) {
		errno = close_range_errno;
		return -1;
	}
	return (int)syscall(SYS_close_range, first, last, flags);
}

static int fake_fcntl(int fd, int cmd, ...)
{
	fcntl_calls++;
	if (cmd == F_GETFD || cmd == F_GETFL)
		return fcntl(fd, cmd);
	va_list ap;
	va_start(ap, cmd);
	long arg = va_arg(ap, long);
	va_end(ap);
	return fcntl(fd, cmd, arg);
}

static int setup(void **state)
{
	static unsigned n;
	for (int k = 0; k < 3; k++)
		snprintf(fx.name[k], sizeof(fx.name[k]), "test-gate-%d-%u-%c",
		         (int)getpid(), n, 'a' + k);
	n++;
	snprintf(fx.dir, sizeof(fx.dir), "/tmp/test-gate-XXXXXX");
	assert_non_null(mkdtemp(fx.dir));
	fx.conf[0] = '\0';
	fake = *thr_real_get();
	fake.close = close;
	fake.fcntl = fake_fcntl;
	fake.close_range = fake_close_range;
	close_range_calls = close_range_errno = fcntl_calls = 0;
	return 0;
}

static int teardown(void **state)
{
	for (size_t i = 0; i < fx.st.npools; i++)
		if (fx.st.pools[i].pool)
			thr_pool_close(fx.st.pools[i].pool);
	free(fx.st.pools);
	free(fx.st.globs);
	free(fx.st.glob_pool);
	thr_globindex_free(fx.st.globindex);
	thr_destindex_free(fx.st.destindex);
	thr_config_free(fx.cfg);
	memset(&fx.st, 0, sizeof(fx.st));
	fx.cfg = NULL;
	for (int k = 0; k < 3; k++)
		thr_pool_unlink(fx.name[k], NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx.dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* Adds pool k of limit to the config, with lines (one option a line),
 * where every @ stands for the case's folder. */
static void add_pool(int k, unsigned limit, const char *lines)
{
	char *o = fx.conf + strlen(fx.conf);
	char *end = fx.conf + sizeof(fx.conf) - 1;
	o += snprintf(o, (size_t)(end - o), "pool %s {\n limit = %u\n",
	              fx.name[k], limit);
	for (const char *c = lines; *c && o < end - 64; c++)
		if (*c == '@')
			o += snprintf(o, (size_t)(end - o), "%s", fx.dir);
		else
			*o++ = *c;
	snprintf(o, (size_t)(end - o), "\n}\n");
}

/* Builds the gate from the config made so far and hands it over. */
static void use_config(const char *top)
{
	char text[4200], err[512];
	snprintf(text, sizeof(text), "%s\n%s", top ? top : "", fx.conf);
	int r = thr_config_parse_buf(text, NULL, &fx.cfg, err, sizeof(err));
	if (r < 0)
		fail_msg("config: %s\n%s", err, text);
	assert_int_equal(thr_gate_build(fx.cfg, &fx.st), 0);
	thr_gate_attach(&fx.st);
	fx.st.mode = THR_MODE_ACTIVE;
	thr_gate_use(&fx.st, &fake);
}

static struct thr_pool *pool_of(int k)
{
	for (size_t i = 0; i < thr_init_state_.npools; i++)
		if (strcmp(thr_init_state_.pools[i].conf->name, fx.name[k]) == 0)
			return thr_init_state_.pools[i].pool;
	fail_msg("no pool %s", fx.name[k]);
	return NULL;
}

/* Slots in use in pool k, as the segment counts them. */
static uint32_t in_use(int k)
{
	struct thr_pool_snapshot snap;
	assert_int_equal(thr_pool_snapshot(pool_of(k), &snap), 0);
	uint32_t n = snap.in_use;
	thr_pool_snapshot_free(&snap);
	return n;
}

static const char *file(const char *name)
{
	static char path[4][PATH_MAX];
	static int turn;
	char *p = path[turn++ % 4];
	snprintf(p, PATH_MAX, "%s/%s", fx.dir, name);
	return p;
}

/* The hooks' parts, as hooks.c plays them. */
static __attribute__((noinline)) int gated_openat(int dirfd, const char *path,
                                                  int flags)
{
	struct thr_gate_ticket *t;
	struct thr_gate_route route = thr_gate_route_open(path, flags,
	                                                  thr_flight_sp());
	if (!route.glob)
		return openat(dirfd, path, flags, 0600);
	int r = thr_gate_open_begin(dirfd, path, route, thr_flight_sp(), &t);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	int fd = openat(dirfd, path, flags, 0600);
	if (r > 0)
		thr_gate_finish(t, fd, fd >= 0);
	return fd;
}

static int gated_open(const char *path)
{
	return gated_openat(AT_FDCWD, path, O_RDWR | O_CREAT);
}

/* The close hook's own body (hooks.h), over libc's close. */
static __attribute__((noinline)) int gated_close(int fd)
{
	return thr_hooks_close_via(close, fd, thr_flight_sp());
}

static __attribute__((noinline)) int gated_dup(int oldfd)
{
	uint32_t d = thr_track_dup_begin(oldfd);
	int fd = dup(oldfd);
	thr_track_dup_end(d, fd, false);
	return fd;
}

static __attribute__((noinline)) int gated_dup2(int oldfd, int newfd)
{
	uint32_t d, victim;
	bool closing = thr_fdtable_get(newfd) != 0;
	if (closing)
		thr_gate_closing();
	thr_track_dup2_begin(oldfd, newfd, &d, &victim);
	int fd = dup2(oldfd, newfd);
	if (closing)
		thr_gate_closed();
	thr_track_dup2_end(d, victim, newfd, fd >= 0, false);
	return fd;
}

static __attribute__((noinline)) int gated_connect(int fd, in_port_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
	                          .sin_port = htons(port),
	                          .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct thr_gate_ticket *t;
	int r = thr_gate_connect_begin(fd, (struct sockaddr *)&sa, sizeof(sa),
	                               thr_flight_sp(), &t);
	if (r < 0)
		return r;
	if (r > 0)
		thr_gate_finish(t, fd, true); /* as a connect that went ahead */
	return r;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Another process takes a slot of pool k and keeps it for ms, then lets
 * go; returns once it holds it. */
static pid_t hold_elsewhere(int k, unsigned ms)
{
	int p[2];
	char c;
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		/* The parent's mapping, inherited: the engine knows this
		 * process for another by its own atfork handler. */
		struct thr_pool *pool = pool_of(k);
		struct thr_pool_req req = { .mode = THR_POOL_TRY, .fd = -1 };
		uint32_t hold;
		if (thr_pool_acquire(pool, &req, &hold) < 0)
			_exit(1);
		(void)!write(p[1], "x", 1);
		usleep(ms * 1000);
		thr_pool_release(pool, hold);
		_exit(0);
	}
	close(p[1]);
	assert_int_equal(read(p[0], &c, 1), 1);
	close(p[0]);
	return pid;
}

static void reap(pid_t pid)
{
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static int tcp_socket(bool nonblocking)
{
	int fd = socket(AF_INET, SOCK_STREAM | (nonblocking ? SOCK_NONBLOCK : 0),
	                0);
	assert_true(fd >= 0);
	return fd;
}

/* Routing. */

static void test_gate_route_unmatched_path_passes(void **state)
{
	add_pool(0, 1, "open = {\"@/a/*\"}");
	use_config(NULL);
	struct thr_gate_route r = thr_gate_route_open("/elsewhere/x", O_RDONLY,
	                                              thr_flight_sp());
	assert_int_equal(r.glob, 0);
}

static void test_gate_route_matched_path_names_its_glob(void **state)
{
	add_pool(0, 1, "open = {\"@/a/*\"}");
	use_config(NULL);
	const char *path = file("a/x");
	struct thr_gate_route r = thr_gate_route_open(path, O_RDONLY,
	                                              thr_flight_sp());
	assert_int_equal(r.glob, 1);
	assert_int_equal(r.n, strlen(path));
}

static void test_gate_route_relative_path_goes_to_gate(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}");
	use_config(NULL);
	struct thr_gate_route r = thr_gate_route_open("x/../y", O_RDONLY,
	                                              thr_flight_sp());
	assert_int_equal(r.glob, THR_GATE_ROUTE_FULL);
}

static void test_gate_route_o_path_not_gated(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}");
	use_config(NULL);
	struct thr_gate_route r = thr_gate_route_open(file("x"), O_PATH,
	                                              thr_flight_sp());
	assert_int_equal(r.glob, 0);
	int fd = gated_openat(AT_FDCWD, fx.dir, O_PATH);
	assert_true(fd >= 0);
	assert_int_equal(in_use(0), 0);
	close(fd);
}

static void test_gate_route_folder_skipped_without_folders(void **state)
{
	add_pool(0, 1, "open = {\"@*\"}");
	use_config(NULL);
	struct thr_gate_route r = thr_gate_route_open(fx.dir, O_DIRECTORY,
	                                              thr_flight_sp());
	assert_int_equal(r.glob, 0);
	assert_int_equal(thr_gate_dir_begin(fx.dir, thr_flight_sp(), NULL), 0);
}

static void test_gate_folder_takes_slot_only_where_folders(void **state)
{
	add_pool(0, 2, "open = {\"@*\"}");
	add_pool(1, 2, "open = {\"@*\"}\nfolders = yes");
	use_config(NULL);
	struct thr_gate_route r = thr_gate_route_open(fx.dir, O_DIRECTORY,
	                                              thr_flight_sp());
	assert_int_equal(r.glob, THR_GATE_ROUTE_FOLDER);
	int fd = gated_openat(AT_FDCWD, fx.dir, O_RDONLY | O_DIRECTORY);
	assert_true(fd >= 0);
	assert_int_equal(in_use(0), 0);
	assert_int_equal(in_use(1), 1);
	gated_close(fd);
	assert_int_equal(in_use(1), 0);
}

static void test_gate_open_relative_to_dirfd_is_normalised(void **state)
{
	add_pool(0, 1, "open = {\"@/sub/*\"}\non-full = fail");
	use_config(NULL);
	assert_int_equal(mkdir(file("sub"), 0700), 0);
	int dir = open(fx.dir, O_RDONLY | O_DIRECTORY);
	int fd = gated_openat(dir, "./sub/../sub/f", O_RDWR | O_CREAT);
	assert_true(fd >= 0);
	assert_int_equal(in_use(0), 1);
	gated_close(fd);
	assert_int_equal(in_use(0), 0);
	close(dir);
}

static void test_gate_several_pools_take_all_or_nothing(void **state)
{
	add_pool(0, 2, "open = {\"@/*\"}");
	add_pool(1, 1, "open = {\"@/*\"}\non-full = fail");
	use_config(NULL);
	int a = gated_open(file("a"));
	assert_true(a >= 0);
	assert_int_equal(in_use(0), 1);
	assert_int_equal(in_use(1), 1);
	assert_int_equal(gated_open(file("b")), -1);
	assert_int_equal(errno, ENFILE);
	assert_int_equal(in_use(0), 1); /* the first pool's slot went back */
	gated_close(a);
	assert_int_equal(in_use(0), 0);
	assert_int_equal(in_use(1), 0);
}

static void test_gate_connect_matching_destination(void **state)
{
	add_pool(0, 1, "connect = {\"127.0.0.1:9\"}");
	use_config(NULL);
	int s = tcp_socket(false);
	assert_int_equal(gated_connect(s, 9), 1);
	assert_int_equal(in_use(0), 1);
	assert_int_not_equal(thr_fdtable_get(s), 0);
	gated_close(s);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_connect_other_destination_passes(void **state)
{
	add_pool(0, 1, "connect = {\"127.0.0.1:9\"}");
	use_config(NULL);
	int s = tcp_socket(false);
	assert_int_equal(gated_connect(s, 10), 0);
	assert_int_equal(in_use(0), 0);
	assert_int_equal(thr_fdtable_get(s), 0);
	close(s);
}

static void test_gate_connect_in_progress_let_through(void **state)
{
	add_pool(0, 1, "connect = {\"127.0.0.1:9\"}\non-full = fail");
	use_config(NULL);
	int s = tcp_socket(true);
	assert_int_equal(gated_connect(s, 9), 1);
	/* The same socket again (EINPROGRESS, then connect once more). */
	assert_int_equal(gated_connect(s, 9), 0);
	assert_int_equal(in_use(0), 1);
	gated_close(s);
	assert_int_equal(in_use(0), 0);
}

/* Policies. */

static void test_gate_fail_refuses_open_with_enfile(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\non-full = fail");
	use_config(NULL);
	int a = gated_open(file("a"));
	assert_true(a >= 0);
	assert_int_equal(gated_open(file("b")), -1);
	assert_int_equal(errno, ENFILE);
	gated_close(a);
	int b = gated_open(file("b"));
	assert_true(b >= 0);
	gated_close(b);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_fail_errno_option(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\non-full = fail\nerrno = EMFILE");
	use_config(NULL);
	int a = gated_open(file("a"));
	assert_int_equal(gated_open(file("b")), -1);
	assert_int_equal(errno, EMFILE);
	gated_close(a);
}

static void test_gate_fail_refuses_connect_with_econnrefused(void **state)
{
	add_pool(0, 1, "connect = {\"127.0.0.1:9\"}\non-full = fail");
	use_config(NULL);
	pid_t pid = hold_elsewhere(0, 300);
	int s = tcp_socket(false);
	assert_int_equal(gated_connect(s, 9), -ECONNREFUSED);
	assert_int_equal(thr_fdtable_get(s), 0);
	close(s);
	reap(pid);
}

static void test_gate_wait_waits_for_release(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}");
	use_config(NULL);
	pid_t pid = hold_elsewhere(0, 200);
	uint64_t t0 = now_ms();
	int a = gated_open(file("a"));
	assert_true(a >= 0);
	assert_true(now_ms() - t0 >= 100);
	reap(pid);
	gated_close(a);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_wait_on_own_slots_is_refused(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}");
	use_config(NULL);
	int a = gated_open(file("a"));
	assert_true(a >= 0);
	/* Waiting for a slot only this process could give back would never
	 * end: refused, as by a full pool. */
	assert_int_equal(gated_open(file("b")), -1);
	assert_int_equal(errno, ENFILE);
	gated_close(a);
}

static void test_gate_timeout_refuses_after_deadline(void **state)
{
	add_pool(0, 1, "connect = {\"127.0.0.1:9\"}\ntimeout = \"150ms\"");
	use_config(NULL);
	pid_t pid = hold_elsewhere(0, 1000);
	int s = tcp_socket(false);
	uint64_t t0 = now_ms();
	assert_int_equal(gated_connect(s, 9), -ETIMEDOUT);
	uint64_t took = now_ms() - t0;
	assert_true(took >= 140);
	assert_true(took < 900);
	close(s);
	reap(pid);
}

static void test_gate_timeout_open_refused_with_enfile(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\ntimeout = \"100ms\"");
	use_config(NULL);
	pid_t pid = hold_elsewhere(0, 800);
	assert_int_equal(gated_open(file("a")), -1);
	assert_int_equal(errno, ENFILE);
	reap(pid);
}

static void test_gate_nonblocking_fail_refuses_at_once(void **state)
{
	add_pool(0, 1, "connect = {\"127.0.0.1:9\"}\nnonblocking = fail");
	use_config(NULL);
	pid_t pid = hold_elsewhere(0, 1000);
	int s = tcp_socket(true);
	uint64_t t0 = now_ms();
	assert_int_equal(gated_connect(s, 9), -ECONNREFUSED);
	assert_true(now_ms() - t0 < 500);
	assert_true(fcntl_calls > 0); /* asked the fake libc for O_NONBLOCK */
	close(s);
	reap(pid);
}

static void test_gate_nonblocking_wait_waits(void **state)
{
	add_pool(0, 1, "connect = {\"127.0.0.1:9\"}\nnonblocking = wait");
	use_config(NULL);
	pid_t pid = hold_elsewhere(0, 200);
	int s = tcp_socket(true);
	uint64_t t0 = now_ms();
	assert_int_equal(gated_connect(s, 9), 1);
	assert_true(now_ms() - t0 >= 100);
	reap(pid);
	gated_close(s);
	assert_int_equal(in_use(0), 0);
}

/* A pool whose segment was refused, as thr_gate_attach() leaves it. */
static void break_pool(int k)
{
	for (size_t i = 0; i < thr_init_state_.npools; i++)
		if (strcmp(thr_init_state_.pools[i].conf->name, fx.name[k]) == 0) {
			thr_pool_close(thr_init_state_.pools[i].pool);
			thr_init_state_.pools[i].pool = NULL;
			thr_init_state_.pools[i].reported = 1;
			fx.st.pools[i].pool = NULL;
		}
}

static void test_gate_on_error_open_lets_through(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\non-full = fail");
	use_config(NULL);
	break_pool(0);
	int a = gated_open(file("a")), b = gated_open(file("b"));
	assert_true(a >= 0 && b >= 0);
	gated_close(a);
	gated_close(b);
}

static void test_gate_on_error_closed_refuses_with_eacces(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\non-full = fail");
	use_config("on-error = closed");
	break_pool(0);
	assert_int_equal(gated_open(file("a")), -1);
	assert_int_equal(errno, EACCES);
}

static void test_gate_deny_all_refuses_everything(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}");
	use_config(NULL);
	thr_init_state_.mode = THR_MODE_DENY_ALL;
	thr_gate_publish(&thr_init_state_);
	assert_int_equal(gated_open("/elsewhere/x"), -1);
	assert_int_equal(errno, EACCES);
	thr_init_state_.mode = THR_MODE_ACTIVE;
}

static void test_gate_hold_process_counts_the_process(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\non-full = fail\nhold = process");
	use_config(NULL);
	int a = gated_open(file("a")), b = gated_open(file("b"));
	assert_true(a >= 0 && b >= 0);
	assert_int_equal(in_use(0), 1);
	gated_close(a);
	assert_int_equal(in_use(0), 1);
	gated_close(b);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_hold_descriptor_keeps_slot_on_fd(void **state)
{
	add_pool(0, 2, "open = {\"@/*\"}");
	use_config(NULL);
	int a = gated_open(file("a"));
	assert_int_equal(in_use(0), 1);
	assert_int_not_equal(thr_fdtable_get(a), 0);
	gated_close(a);
	assert_int_equal(in_use(0), 0);
	assert_int_equal(thr_fdtable_get(a), 0);
}

static void test_gate_hold_call_gives_back_after_call(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\non-full = fail\nhold = call");
	use_config(NULL);
	int a = gated_open(file("a"));
	assert_true(a >= 0);
	assert_int_equal(in_use(0), 0);
	assert_int_equal(thr_fdtable_get(a), 0);
	close(a);
}

/* take/finish. */

static void test_gate_failed_open_gives_slot_back(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\non-full = fail");
	use_config(NULL);
	/* No such folder: the real open fails after the gate took a slot. */
	assert_int_equal(gated_openat(AT_FDCWD, file("none/x"), O_RDONLY), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(in_use(0), 0);
	int a = gated_open(file("a"));
	assert_true(a >= 0);
	gated_close(a);
}

static void test_gate_freopen_hands_last_name_slot_over(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\non-full = fail");
	use_config(NULL);
	int a = gated_open(file("a"));
	struct thr_gate_ticket *t;
	uint32_t old = thr_track_detach(a);
	assert_true(thr_track_is_only_name(old));
	int r = thr_gate_freopen_begin(file("b"), &old, thr_flight_sp(), &t);
	assert_int_equal(r, 1); /* not refused: the old file's slot passed */
	close(a);
	int b = open(file("b"), O_RDWR | O_CREAT, 0600);
	t->donor = 0;
	thr_gate_drop(old, a); /* what of the old file is left */
	thr_gate_finish(t, b, true);
	assert_int_equal(in_use(0), 1);
	gated_close(b);
	assert_int_equal(in_use(0), 0);
}

/* A descriptor's names. */

static void test_gate_dup_keeps_slot_until_last_close(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\non-full = fail");
	use_config(NULL);
	int a = gated_open(file("a"));
	int b = gated_dup(a);
	assert_true(b >= 0);
	assert_int_equal(thr_fdtable_get(a), thr_fdtable_get(b));
	gated_close(a);
	assert_int_equal(in_use(0), 1);
	gated_close(b);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_dup2_onto_tracked_releases_it(void **state)
{
	add_pool(0, 2, "open = {\"@/*\"}\non-full = fail");
	use_config(NULL);
	int a = gated_open(file("a")), b = gated_open(file("b"));
	assert_int_equal(in_use(0), 2);
	assert_int_equal(gated_dup2(a, b), b);
	assert_int_equal(in_use(0), 1); /* b's file went with its last name */
	gated_close(a);
	assert_int_equal(in_use(0), 1);
	gated_close(b);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_dup2_failure_leaves_victim_tracked(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}\non-full = fail");
	use_config(NULL);
	int a = gated_open(file("a"));
	uint32_t e = thr_fdtable_get(a);
	uint32_t d, victim;
	thr_track_dup2_begin(-1, a, &d, &victim);
	assert_int_equal(d, 0);
	assert_int_equal(victim, e);
	thr_track_dup2_end(d, victim, a, false, false);
	assert_int_equal(thr_fdtable_get(a), e);
	assert_int_equal(in_use(0), 1);
	gated_close(a);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_close_range_releases_each_once(void **state)
{
	add_pool(0, 4, "open = {\"@/*\"}\non-full = fail");
	use_config(NULL);
	pid_t pid = hold_elsewhere(0, 400);
	int a = gated_open(file("a")), b = gated_dup(a);
	int c = gated_open(file("c"));
	assert_int_equal(in_use(0), 3);
	int lo = a < c ? a : c, hi = b > c ? b : c;
	assert_int_equal(thr_track_close_range((unsigned)lo, (unsigned)hi, 0), 0);
	assert_true(close_range_calls >= 1);
	assert_int_equal(in_use(0), 1); /* the other process's slot only */
	assert_int_equal(thr_fdtable_get(a), 0);
	assert_int_equal(thr_fdtable_get(c), 0);
	assert_int_equal(fcntl(a, F_GETFD), -1);
	reap(pid);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_close_range_failure_keeps_tracked(void **state)
{
	add_pool(0, 2, "open = {\"@/*\"}");
	use_config(NULL);
	int a = gated_open(file("a"));
	uint32_t e = thr_fdtable_get(a);
	close_range_errno = EINVAL;
	assert_int_equal(thr_track_close_range((unsigned)a, (unsigned)a, 0), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(thr_fdtable_get(a), e);
	assert_int_equal(in_use(0), 1);
	close_range_errno = 0;
	gated_close(a);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_close_range_without_libc_is_enosys(void **state)
{
	fake.close_range = NULL;
	add_pool(0, 2, "open = {\"@/*\"}");
	use_config(NULL);
	int a = gated_open(file("a"));
	assert_int_equal(thr_track_close_range((unsigned)a, (unsigned)a, 0), -1);
	assert_int_equal(errno, ENOSYS);
	assert_int_not_equal(thr_fdtable_get(a), 0);
	gated_close(a);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_cloexec_range_keeps_slots(void **state)
{
	add_pool(0, 2, "open = {\"@/*\"}");
	use_config(NULL);
	int a = gated_open(file("a"));
	assert_int_equal(thr_track_cloexec_range((unsigned)a, (unsigned)a,
	                                         CLOSE_RANGE_CLOEXEC), 0);
	assert_true(fcntl(a, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(in_use(0), 1);
	gated_close(a);
	assert_int_equal(in_use(0), 0);
}

static void test_gate_sweep_releases_unseen_close(void **state)
{
	add_pool(0, 2, "open = {\"@/*\"}");
	use_config(NULL);
	int a = gated_open(file("a")), b = gated_open(file("b"));
	close(a); /* behind the gate's back */
	thr_track_sweep(false);
	assert_int_equal(thr_fdtable_get(a), 0);
	assert_int_not_equal(thr_fdtable_get(b), 0);
	assert_int_equal(in_use(0), 1);
	gated_close(b);
	assert_int_equal(in_use(0), 0);
}

/* Forks by other threads while an open waits for its slot, as many as the
 * children remembered for late co-holds and more. */
struct forks_meanwhile {
	pid_t other;    /* a process that shares nothing with the test */
	int n;
};

static void *fork_meanwhile(void *arg)
{
	struct forks_meanwhile *m = arg;
	usleep(50 * 1000); /* the open is waiting by now */
	for (int i = 0; i < m->n; i++)
		thr_freeze_note_child(m->other);
	return NULL;
}

/* A fork between an open's real call and its entry in the table copies
 * the descriptor before the table names it: the child becomes co-holder
 * late, whatever number of forks went by while the open waited for its
 * slot. Before, counting from the call's start, a wait through more than
 * eight forks hid that child, and the slot went free while it still had
 * the file open (over the limit: seen once in freeze-threaded-fork). */
static void test_gate_fork_after_long_wait_co_holds_late(void **state)
{
	add_pool(0, 1, "open = {\"@/*\"}");
	use_config(NULL);
	pid_t other = hold_elsewhere(0, 500);
	struct forks_meanwhile m = { other, THR_FREEZE_REMEMBERED + 4 };
	pthread_t forker;
	assert_int_equal(pthread_create(&forker, NULL, fork_meanwhile, &m), 0);
	struct thr_gate_ticket *t;
	const char *path = file("f");
	int r = thr_gate_open_begin(AT_FDCWD, path,
	                            thr_gate_route_open(path, O_RDWR | O_CREAT,
	                                                thr_flight_sp()),
	                            thr_flight_sp(), &t);
	assert_int_equal(pthread_join(forker, NULL), 0);
	assert_true(r > 0);
	int fd = open(path, O_RDWR | O_CREAT, 0600);
	assert_true(fd >= 0);
	int go[2];
	assert_int_equal(pipe(go), 0);
	pid_t kid = fork(); /* copies fd before the table names it */
	assert_true(kid >= 0);
	if (kid == 0) {
		char c;
		close(go[1]);
		_exit(read(go[0], &c, 1) == 0 ? 0 : 1);
	}
	close(go[0]);
	thr_freeze_note_child(kid);
	thr_gate_finish(t, fd, true);
	gated_close(fd);
	assert_int_equal(in_use(0), 1); /* the child's copy holds it */
	close(go[1]);
	reap(kid);
	reap(other);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_gate_route_unmatched_path_passes),
		T(test_gate_route_matched_path_names_its_glob),
		T(test_gate_route_relative_path_goes_to_gate),
		T(test_gate_route_o_path_not_gated),
		T(test_gate_route_folder_skipped_without_folders),
		T(test_gate_folder_takes_slot_only_where_folders),
		T(test_gate_open_relative_to_dirfd_is_normalised),
		T(test_gate_several_pools_take_all_or_nothing),
		T(test_gate_connect_matching_destination),
		T(test_gate_connect_other_destination_passes),
		T(test_gate_connect_in_progress_let_through),
		T(test_gate_fail_refuses_open_with_enfile),
		T(test_gate_fail_errno_option),
		T(test_gate_fail_refuses_connect_with_econnrefused),
		T(test_gate_wait_waits_for_release),
		T(test_gate_wait_on_own_slots_is_refused),
		T(test_gate_timeout_refuses_after_deadline),
		T(test_gate_timeout_open_refused_with_enfile),
		T(test_gate_nonblocking_fail_refuses_at_once),
		T(test_gate_nonblocking_wait_waits),
		T(test_gate_on_error_open_lets_through),
		T(test_gate_on_error_closed_refuses_with_eacces),
		T(test_gate_deny_all_refuses_everything),
		T(test_gate_hold_process_counts_the_process),
		T(test_gate_hold_descriptor_keeps_slot_on_fd),
		T(test_gate_hold_call_gives_back_after_call),
		T(test_gate_failed_open_gives_slot_back),
		T(test_gate_freopen_hands_last_name_slot_over),
		T(test_gate_dup_keeps_slot_until_last_close),
		T(test_gate_dup2_onto_tracked_releases_it),
		T(test_gate_dup2_failure_leaves_victim_tracked),
		T(test_gate_close_range_releases_each_once),
		T(test_gate_close_range_failure_keeps_tracked),
		T(test_gate_close_range_without_libc_is_enosys),
		T(test_gate_cloexec_range_keeps_slots),
		T(test_gate_sweep_releases_unseen_close),
		T(test_gate_fork_after_long_wait_co_holds_late),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
