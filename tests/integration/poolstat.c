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
 * or exits 1 with a message when the pool does not exist. */
#define _GNU_SOURCE
#include "pool.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
	struct thr_pool_opts opts;
	struct thr_pool_snapshot s;
	struct thr_pool *pool;
	char err[THR_POOL_ERR_LEN];
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: poolstat NAME\n");
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
