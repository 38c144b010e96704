/* test-stress.c - 64 processes cycle through a pool of limit 4 while the
 * parent SIGKILLs random holders, waiters and owners of the pool lock; a
 * witness outside the engine (OFD byte locks, dropped by the kernel at exit)
 * checks that at most 4 ever hold at once. */
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "layout.h"
#include "clock.h"
#include "pool.h"
#include "testutil.h"

#define LIMIT 4u
#define WORKERS 64u
#define CYCLES 300u             /* per worker; a replacement does the rest */
#define KILLS 60u               /* holder, waiter, lock owner in turn */
#define MAX_WORKERS (WORKERS + KILLS)
#define HOLD_MAX_US 2000u
#define KILL_GAP_MIN_MS 10u
#define KILL_GAP_MAX_MS 40u
#define LOCK_WATCH_MS 150u      /* how long to look for a lock owner */
#define RUN_LIMIT_S 200u        /* give up (and fail) after this */

enum worker_state { W_IDLE = 0, W_WAITING = 1, W_HOLDING = 2 };
enum kill_kind { K_HOLDER, K_WAITER, K_LOCKER, K_KINDS };

/* Shared between the parent and all workers (MAP_SHARED | MAP_ANONYMOUS). */
struct board {
	uint32_t witness_max;           /* most holders the witness confirmed */
	uint32_t naive_max;             /* most seen by one unconfirmed scan */
	uint32_t started;               /* worker numbers handed out so far */
	uint32_t state[MAX_WORKERS];    /* enum worker_state, for the killer */
	uint32_t done[MAX_WORKERS];     /* cycles each worker completed */
	uint32_t gen[MAX_WORKERS];      /* bumped before each witness lock */
};

struct child {
	pid_t pid;
	unsigned cycles;                /* cycles it was started for */
	bool killed;                    /* we sent it SIGKILL */
	int status;                     /* from waitpid, once reaped */
	bool reaped;
};

static void sleep_us(uint64_t us)
{
	struct timespec ts = { (time_t)(us / 1000000), (long)(us % 1000000) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void atomic_max(uint32_t *p, uint32_t v)
{
	uint32_t old = __atomic_load_n(p, __ATOMIC_RELAXED);
	while (old < v && !__atomic_compare_exchange_n(p, &old, v, false,
	       __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
}

/* ---- the witness ------------------------------------------------------- */

static int witness_set(int fd, unsigned byte, short type)
{
	struct flock fl = { .l_type = type, .l_whence = SEEK_SET,
	                    .l_start = byte, .l_len = 1 };
	return fcntl(fd, F_OFD_SETLK, &fl) < 0 ? -errno : 0;
}

/* Marks in locked[] the bytes in [lo, hi) that other open file descriptions
 * lock. F_OFD_GETLK reports one conflicting lock, not necessarily the lowest,
 * so both sides of it are searched again. Returns 0 or -errno. */
static int witness_scan(int fd, unsigned lo, unsigned hi, bool *locked)
{
	if (lo >= hi)
		return 0;
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
	                    .l_start = lo, .l_len = hi - lo };
	if (fcntl(fd, F_OFD_GETLK, &fl) < 0)
		return -errno;
	if (fl.l_type == F_UNLCK)
		return 0;
	if (fl.l_start < lo || fl.l_start >= hi || fl.l_len != 1)
		return -EPROTO;
	unsigned b = (unsigned)fl.l_start;
	locked[b] = true;
	int r = witness_scan(fd, lo, b, locked);
	return r < 0 ? r : witness_scan(fd, b + 1, hi, locked);
}

/* How many workers hold a slot now, counting ourselves (worker me). One scan
 * is not a snapshot: a scan preempted midway could count a holder that left
 * and one that arrived later. So count only workers locked in two scans with
 * an unchanged gen in between: each of those held its lock throughout, so
 * all of them held at the moment between the scans. */
static int witness_count(struct board *b, int fd, unsigned me,
                         unsigned *ret_naive)
{
	unsigned n = __atomic_load_n(&b->started, __ATOMIC_SEQ_CST);
	uint32_t g1[MAX_WORKERS], g2[MAX_WORKERS];
	bool l1[MAX_WORKERS] = { false }, l2[MAX_WORKERS] = { false };
	for (unsigned a = 0; a < n; a++)
		g1[a] = __atomic_load_n(&b->gen[a], __ATOMIC_SEQ_CST);
	int r = witness_scan(fd, 0, n, l1);
	if (r == 0)
		r = witness_scan(fd, 0, n, l2);
	if (r < 0)
		return r;
	for (unsigned a = 0; a < n; a++)
		g2[a] = __atomic_load_n(&b->gen[a], __ATOMIC_SEQ_CST);
	unsigned naive = 1, sure = 1;
	for (unsigned a = 0; a < n; a++) {
		if (a == me)
			continue;
		naive += l1[a];
		sure += l1[a] && l2[a] && g1[a] == g2[a];
	}
	*ret_naive = naive;
	return (int)sure;
}

/* ---- a worker ------------------------------------------------------------ */

static int worker(struct board *b, const char *pool_name, const char *wpath,
                  unsigned me, unsigned cycles)
{
	int fd = open(wpath, O_RDWR | O_CLOEXEC); /* our own description */
	if (fd < 0)
		return 2;
	struct thr_pool *pool;
	struct thr_pool_opts opts = { .limit = 1 }; /* the parent's stays */
	if (thr_pool_open(pool_name, &opts, &pool, NULL) < 0)
		return 3;
	/* A crash must kill the worker, not run cmocka's handler in it. */
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	signal(SIGILL, SIG_DFL);
	signal(SIGFPE, SIG_DFL);
	uint64_t seed = ((uint64_t)getpid() << 32) ^ thr_clock_ns(CLOCK_MONOTONIC) ^ 0x9e3779b97f4a7c15ull;
	struct thr_pool_req req = { .mode = THR_POOL_WAIT, .fd = -1,
	                            .target = "stress" };
	for (unsigned c = 0; c < cycles; c++) {
		uint32_t hold;
		__atomic_store_n(&b->state[me], W_WAITING, __ATOMIC_SEQ_CST);
		int r = thr_pool_acquire(pool, &req, &hold);
		if (r < 0) {
			fprintf(stderr, "worker %u: acquire: %s\n", me, strerror(-r));
			return 4;
		}
		__atomic_add_fetch(&b->gen[me], 1, __ATOMIC_SEQ_CST);
		if ((r = witness_set(fd, me, F_WRLCK)) < 0)
			return 5;
		__atomic_store_n(&b->state[me], W_HOLDING, __ATOMIC_SEQ_CST);
		unsigned naive;
		int n = witness_count(b, fd, me, &naive);
		if (n < 0)
			return 6;
		atomic_max(&b->witness_max, (uint32_t)n);
		atomic_max(&b->naive_max, naive);
		sleep_us(rnd(&seed) % (HOLD_MAX_US + 1));
		if (witness_set(fd, me, F_UNLCK) < 0)
			return 5;
		__atomic_store_n(&b->state[me], W_IDLE, __ATOMIC_SEQ_CST);
		if ((r = thr_pool_release(pool, hold)) < 0) {
			fprintf(stderr, "worker %u: release: %s\n", me, strerror(-r));
			return 7;
		}
		__atomic_add_fetch(&b->done[me], 1, __ATOMIC_SEQ_CST);
	}
	return 0;
}

/* ---- the parent ---------------------------------------------------------- */

struct run {
	unsigned limit, workers, cycles, kills; /* what to do */
	struct board *b;
	struct thr_pool *pool;          /* the parent's handle */
	char pool_name[THR_POOL_NAME_MAX + 1];
	char wpath[64];
	int wfd;
	const struct thr_shm_pool *shm; /* read-only view, to find lock owners */
	struct child kids[MAX_WORKERS];
	unsigned nkids;
	unsigned kill_tries[K_KINDS];
	unsigned killed;                /* died of our SIGKILL */
	unsigned missed;                /* finished before the signal landed */
	unsigned bad;                   /* workers that failed */
	bool timed_out;
	double secs;
};

/* What is left to check once the run is over and cleaned up. */
struct outcome {
	uint64_t cycles;
	uint32_t witness_max, naive_max;
	int reclaim_r, snap_r;
	struct thr_pool_snapshot snap;
};

static int spawn(struct run *run, unsigned cycles)
{
	unsigned me = run->nkids;
	if (me >= MAX_WORKERS)
		return -ENOSPC;
	__atomic_store_n(&run->b->started, me + 1, __ATOMIC_SEQ_CST);
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0)
		_exit(worker(run->b, run->pool_name, run->wpath, me, cycles));
	run->kids[me] = (struct child){ .pid = pid, .cycles = cycles };
	run->nkids++;
	return 0;
}

static void judge(struct run *run, unsigned w, int status)
{
	struct child *k = &run->kids[w];
	k->reaped = true;
	k->status = status;
	bool ok_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (k->killed && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		run->killed++;
	else if (k->killed && ok_exit)
		run->missed++;
	else if (!ok_exit) {
		run->bad++;
		fprintf(stderr, "worker %u (pid %d): status 0x%x\n", w,
		        (int)k->pid, status);
	}
}

static unsigned live_count(const struct run *run)
{
	unsigned n = 0;
	for (unsigned w = 0; w < run->nkids; w++)
		n += !run->kids[w].reaped;
	return n;
}

static void reap(struct run *run, bool block)
{
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, block ? 0 : WNOHANG);
		if (pid <= 0)
			return;
		for (unsigned w = 0; w < run->nkids; w++)
			if (run->kids[w].pid == pid && !run->kids[w].reaped)
				judge(run, w, status);
		if (block)
			return;
	}
}

/* SIGKILLs worker w, waits for it, and starts a replacement for the cycles
 * it had left. */
static void kill_worker(struct run *run, unsigned w, enum kill_kind kind)
{
	struct child *k = &run->kids[w];
	kill(k->pid, SIGKILL);
	kill(k->pid, SIGCONT); /* in case it was stopped */
	k->killed = true;
	run->kill_tries[kind]++;
	int status;
	if (waitpid(k->pid, &status, 0) == k->pid)
		judge(run, w, status);
	unsigned left = k->cycles - __atomic_load_n(&run->b->done[w], __ATOMIC_SEQ_CST);
	if (left > 0 && spawn(run, left) < 0)
		run->bad++;
}

static bool killable(const struct run *run, unsigned w)
{
	return !run->kids[w].reaped && !run->kids[w].killed;
}

/* Kills a random worker in state want. Returns false if none was found. */
static bool kill_in_state(struct run *run, enum worker_state want,
                          enum kill_kind kind, uint64_t *seed)
{
	unsigned cand[MAX_WORKERS], n = 0;
	for (unsigned w = 0; w < run->nkids; w++)
		if (killable(run, w) &&
		    __atomic_load_n(&run->b->state[w], __ATOMIC_SEQ_CST) == want)
			cand[n++] = w;
	if (n == 0)
		return false;
	kill_worker(run, cand[rnd(seed) % n], kind);
	return true;
}

static uint32_t lock_owner_pid(const struct thr_shm_pool *shm)
{
	uint32_t owner = __atomic_load_n(&shm->lock, __ATOMIC_ACQUIRE) &
	                 THR_LOCK_OWNER;
	if (owner == 0 || owner > THR_PROCS)
		return 0;
	return __atomic_load_n(&shm->procs[owner - 1].pid, __ATOMIC_ACQUIRE);
}

/* Watches the pool's lock word (layout.h: a process entry index + 1), stops
 * the worker that owns it, and kills it if it still owns the lock once
 * stopped, so it dies inside a critical section; otherwise lets it go on.
 * Returns false if no owner was caught within LOCK_WATCH_MS. */
static bool kill_lock_owner(struct run *run)
{
	uint64_t until = thr_clock_ns(CLOCK_MONOTONIC) + LOCK_WATCH_MS * 1000000ull;
	while (thr_clock_ns(CLOCK_MONOTONIC) < until) {
		uint32_t pid = lock_owner_pid(run->shm);
		unsigned w = 0;
		while (pid && w < run->nkids &&
		       (run->kids[w].pid != (pid_t)pid || !killable(run, w)))
			w++;
		if (!pid || w == run->nkids)
			continue;
		int status;
		kill((pid_t)pid, SIGSTOP);
		if (waitpid((pid_t)pid, &status, WUNTRACED) != (pid_t)pid)
			continue;
		if (!WIFSTOPPED(status)) {
			judge(run, w, status);
			continue;
		}
		if (lock_owner_pid(run->shm) == pid) {
			kill_worker(run, w, K_LOCKER);
			return true;
		}
		kill((pid_t)pid, SIGCONT);
	}
	return false;
}

static void kill_all(struct run *run)
{
	for (unsigned w = 0; w < run->nkids; w++)
		if (!run->kids[w].reaped)
			kill(run->kids[w].pid, SIGKILL);
	while (live_count(run))
		reap(run, true);
}

static void drive(struct run *run)
{
	uint64_t seed = thr_clock_ns(CLOCK_MONOTONIC) | 1, start = thr_clock_ns(CLOCK_MONOTONIC);
	uint64_t next_kill = start + 100 * 1000000ull;
	unsigned tries = 0;
	for (unsigned i = 0; i < run->workers; i++)
		if (spawn(run, run->cycles) < 0)
			run->bad++;
	while (live_count(run)) {
		reap(run, false);
		uint64_t now = thr_clock_ns(CLOCK_MONOTONIC);
		if (now - start > RUN_LIMIT_S * 1000000000ull) {
			run->timed_out = true;
			kill_all(run);
			return;
		}
		if (tries < run->kills && now >= next_kill) {
			enum kill_kind kind = (enum kill_kind)(tries % K_KINDS);
			bool done = kind == K_HOLDER ?
			            kill_in_state(run, W_HOLDING, kind, &seed) :
			            kind == K_LOCKER && kill_lock_owner(run);
			/* Lock owners are hard to catch: else a waiter dies. */
			if (kind != K_HOLDER && !done)
				done = kill_in_state(run, W_WAITING, K_WAITER, &seed);
			if (done) {
				tries++;
				uint64_t gap = KILL_GAP_MIN_MS +
				    rnd(&seed) % (KILL_GAP_MAX_MS - KILL_GAP_MIN_MS + 1);
				next_kill = now + gap * 1000000ull;
			}
		}
		sleep_us(tries < run->kills ? 200 : 5000);
	}
}

/* Creates the pool, the witness file and the board for run. */
static void run_open(struct run *run, const char *tag)
{
	snprintf(run->pool_name, sizeof(run->pool_name), "%s-%d", tag,
	         (int)getpid());
	snprintf(run->wpath, sizeof(run->wpath), "/tmp/thr-witness-XXXXXX");
	run->wfd = mkstemp(run->wpath);
	assert_true(run->wfd >= 0);
	assert_int_equal(ftruncate(run->wfd, MAX_WORKERS), 0);
	run->b = mmap(NULL, sizeof(struct board), PROT_READ | PROT_WRITE,
	              MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	assert_true(run->b != MAP_FAILED);
	char err[THR_POOL_ERR_LEN];
	struct thr_pool_opts opts = { .limit = run->limit, .from_config = true,
	                              .create = true };
	if (thr_pool_open(run->pool_name, &opts, &run->pool, err) < 0)
		fail_msg("%s", err);
	char spath[128];
	snprintf(spath, sizeof(spath), "/dev/shm/throttle.%s", run->pool_name);
	int sfd = open(spath, O_RDONLY | O_CLOEXEC);
	assert_true(sfd >= 0);
	run->shm = mmap(NULL, sizeof(*run->shm), PROT_READ, MAP_SHARED, sfd, 0);
	assert_true(run->shm != MAP_FAILED);
	close(sfd);
}

/* Runs the workers (and the killer), reclaims, takes the final snapshot,
 * prints a summary and removes everything, so a failed check leaves
 * nothing behind. */
static void run_all(struct run *run, struct outcome *out)
{
	uint64_t t0 = thr_clock_ns(CLOCK_MONOTONIC);
	drive(run);
	run->secs = (double)(thr_clock_ns(CLOCK_MONOTONIC) - t0) / 1e9;
	out->reclaim_r = thr_pool_reclaim(run->pool);
	out->snap_r = thr_pool_snapshot(run->pool, &out->snap);
	for (unsigned w = 0; w < run->nkids; w++)
		out->cycles += run->b->done[w];
	out->witness_max = run->b->witness_max;
	out->naive_max = run->b->naive_max;
	const struct thr_pool_snapshot *sn = &out->snap;
	bool ok = out->snap_r == 0;
	printf("%s: limit %u, %.1f s, %u workers started, %llu cycles, %u "
	       "kills (%u holders, %u waiters, %u lock owners targeted; %u "
	       "finished first), witness max %u (single-scan max %u), "
	       "reclaimed %llu (%d at the end), repairs %llu, engine peak %u, "
	       "handoffs %llu, wakes %llu\n", run->pool_name, run->limit,
	       run->secs, run->nkids, (unsigned long long)out->cycles,
	       run->killed, run->kill_tries[K_HOLDER], run->kill_tries[K_WAITER],
	       run->kill_tries[K_LOCKER], run->missed, out->witness_max,
	       out->naive_max, ok ? (unsigned long long)sn->reclaimed : 0ull,
	       out->reclaim_r, ok ? (unsigned long long)sn->repairs : 0ull,
	       ok ? sn->peak : 0, ok ? (unsigned long long)sn->handoffs : 0ull,
	       ok ? (unsigned long long)sn->wakes : 0ull);
	fflush(stdout);
	thr_pool_close(run->pool);
	munmap((void *)run->shm, sizeof(*run->shm));
	assert_int_equal(thr_pool_unlink(run->pool_name, NULL), 0);
	close(run->wfd);
	unlink(run->wpath);
	munmap(run->b, sizeof(struct board));
}

static void test_stress_kills_never_exceed_limit(void **state)
{
	struct run *run = calloc(1, sizeof(*run));
	assert_non_null(run);
	*run = (struct run){ .limit = LIMIT, .workers = WORKERS,
	                     .cycles = CYCLES, .kills = KILLS };
	struct outcome out = { 0 };
	run_open(run, "stress");
	run_all(run, &out);

	assert_false(run->timed_out);
	assert_int_equal(run->bad, 0);
	assert_true(run->killed >= KILLS / 2);
	assert_int_equal(out.cycles, (uint64_t)WORKERS * CYCLES);
	assert_true(out.witness_max <= LIMIT);
	assert_true(out.witness_max >= 2);
	assert_true(out.reclaim_r >= 0);
	assert_int_equal(out.snap_r, 0);
	assert_int_equal(out.snap.in_use, 0);
	assert_int_equal(out.snap.waiting, 0);
	assert_int_equal(out.snap.nholders, 0);
	assert_int_equal(out.snap.nwaiters, 0);
	assert_true(out.snap.peak <= LIMIT);
	thr_pool_snapshot_free(&out.snap);
	free(run);
}

/* The control: the same witness on a pool of limit 6 must see more than 4,
 * so the check above could fail. */
static void test_stress_witness_sees_more_than_four(void **state)
{
	struct run *run = calloc(1, sizeof(*run));
	assert_non_null(run);
	*run = (struct run){ .limit = LIMIT + 2, .workers = 24, .cycles = 60 };
	struct outcome out = { 0 };
	run_open(run, "stress-control");
	run_all(run, &out);

	assert_false(run->timed_out);
	assert_int_equal(run->bad, 0);
	assert_true(out.witness_max > LIMIT);
	assert_true(out.witness_max <= LIMIT + 2);
	thr_pool_snapshot_free(&out.snap);
	free(run);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stress_witness_sees_more_than_four),
		cmocka_unit_test(test_stress_kills_never_exceed_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
