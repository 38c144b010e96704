/* pool-use.c - takes one slot of a pool, holds it a while and gives it back,
 * for the tests of throttlectl metrics and top: `pool-use NAME LIMIT WAIT_MS
 * HOLD_MS` creates the pool if needed, then asks for a slot: at once or
 * refused when WAIT_MS is 0, else waiting up to WAIT_MS. It prints "granted
 * after N ms" (N as it measured the wait), "refused" or "timeout", holds a
 * granted slot HOLD_MS and releases it. Exit status: 0 granted, 3 timeout,
 * 4 refused, 1 error. */
#include "clock.h"
#include "pool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint64_t ms_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: pool-use NAME LIMIT WAIT_MS HOLD_MS\n");
		return EXIT_FAILURE;
	}
	struct thr_pool_opts opts = { .create = true,
	                              .limit = (uint32_t)atoi(argv[2]) };
	long wait_ms = atol(argv[3]), hold_ms = atol(argv[4]);
	char err[THR_POOL_ERR_LEN];
	struct thr_pool *pool;
	if (thr_pool_open(argv[1], &opts, &pool, err) < 0) {
		fprintf(stderr, "pool-use: %s\n", err);
		return EXIT_FAILURE;
	}
	struct thr_pool_req req = { .mode = THR_POOL_TRY, .fd = -1,
	                            .target = "pool-use" };
	if (wait_ms > 0) {
		req.mode = THR_POOL_DEADLINE;
		req.deadline = thr_clock_deadline_ms((uint64_t)wait_ms);
	}
	uint64_t start = ms_now();
	uint32_t hold;
	int r = thr_pool_acquire(pool, &req, &hold);
	if (r == -EAGAIN || r == -ETIMEDOUT) {
		puts(r == -EAGAIN ? "refused" : "timeout");
		return r == -EAGAIN ? 4 : 3;
	}
	if (r < 0) {
		fprintf(stderr, "pool-use: acquire: %s\n", strerror(-r));
		return EXIT_FAILURE;
	}
	printf("granted after %llu ms\n", (unsigned long long)(ms_now() - start));
	fflush(stdout);
	usleep((useconds_t)hold_ms * 1000);
	thr_pool_release(pool, hold);
	thr_pool_close(pool);
	return 0;
}
