/* poolstat.c - prints one pool's counters as the engine records them, for
 * tests that check what outside behaviour cannot show (the "over" count of
 * an observe pool, waiters queued, slots still in use). Attaches read-only;
 * never runs under the shim.
 *     poolstat NAME
 * prints one line:
 *     limit=L in_use=U waiting=W peak=P granted=G timeouts=T refused=R
 *     over=O reclaimed=C interrupted=I holders=H
 * then one line per holder record:
 *     holder pid=P fd=F target=T
 * or exits 1 with a message when the pool does not exist.
 *     poolstat --lock NAME MS
 * takes the pool's lock, says "locked", and keeps it MS ms, as a live
 * process stopped inside it would. */
#define _GNU_SOURCE
#include "poolint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int keep_locked(const char *name, int ms)
{
	struct thr_pool_opts opts = { .limit = 1 }; /* attaches; never creates */
	struct thr_pool *pool;
	char err[THR_POOL_ERR_LEN];
	struct thr_wakes wakes = { 0 };
	/* reclaim registers us, so that the lock names our entry */
	if (thr_pool_open(name, &opts, &pool, err) < 0 ||
	    thr_pool_reclaim(pool) < 0 || thr_pool__lock(pool) < 0) {
		fprintf(stderr, "poolstat: cannot lock %s\n", name);
		return 1;
	}
	printf("locked\n");
	fflush(stdout);
	usleep((useconds_t)ms * 1000);
	thr_pool__unlock(pool, &wakes);
	thr_pool_close(pool);
	return 0;
}

int main(int argc, char **argv)
{
	struct thr_pool_opts opts;
	struct thr_pool_snapshot s;
	struct thr_pool *pool;
	char err[THR_POOL_ERR_LEN];
	int r;

	if (argc == 4 && strcmp(argv[1], "--lock") == 0)
		return keep_locked(argv[2], atoi(argv[3]));
	if (argc != 2) {
		fprintf(stderr, "usage: poolstat NAME | poolstat --lock NAME MS\n");
		return 2;
	}
	memset(&opts, 0, sizeof(opts));
	opts.readonly = true;
	r = thr_pool_open(argv[1], &opts, &pool, err);
	if (r < 0) {
		fprintf(stderr, "poolstat: %s\n", err);
		return 1;
	}
	r = thr_pool_snapshot(pool, &s);
	if (r < 0) {
		fprintf(stderr, "poolstat: snapshot: %s\n", strerror(-r));
		return 1;
	}
	printf("limit=%u in_use=%u waiting=%u peak=%u granted=%llu "
	       "timeouts=%llu refused=%llu over=%llu reclaimed=%llu "
	       "interrupted=%llu holders=%zu\n",
	       s.limit, s.in_use, s.waiting, s.peak,
	       (unsigned long long)s.granted, (unsigned long long)s.timeouts,
	       (unsigned long long)s.refused, (unsigned long long)s.over,
	       (unsigned long long)s.reclaimed,
	       (unsigned long long)s.interrupted, s.nholders);
	for (size_t i = 0; i < s.nholders; i++)
		printf("holder pid=%d fd=%d target=%s\n", (int)s.holders[i].pid,
		       s.holders[i].fd, s.holders[i].target);
	thr_pool_snapshot_free(&s);
	thr_pool_close(pool);
	return 0;
}
