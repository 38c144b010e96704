/* pool-hold.c - holds slots of a pool until killed, for the tests of
 * throttlectl: `pool-hold [-w] NAME LIMIT TARGET...` creates the pool if
 * needed and takes one slot per TARGET, each with an fd of its own. It prints
 * "ready" once it holds them all; with -w it prints "waiting" and then waits
 * for its slots, so that it shows up as a waiter of a full pool. */
#include "pool.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	struct thr_pool_opts opts = { .create = true };
	struct thr_pool *pool;
	char err[THR_POOL_ERR_LEN];
	bool wait = argc > 1 && strcmp(argv[1], "-w") == 0;
	int first = wait ? 2 : 1, r;
	uint32_t hold;

	if (argc < first + 3) {
		fprintf(stderr, "usage: pool-hold [-w] NAME LIMIT TARGET...\n");
		return 2;
	}
	opts.limit = (uint32_t)strtoul(argv[first + 1], NULL, 10);
	r = thr_pool_open(argv[first], &opts, &pool, err);
	if (r < 0) {
		fprintf(stderr, "pool-hold: %s\n", err);
		return EXIT_FAILURE;
	}
	if (wait) {
		puts("waiting");
		fflush(stdout);
	}
	for (int i = first + 2; i < argc; i++) {
		struct thr_pool_req req = {
			.mode = wait ? THR_POOL_WAIT : THR_POOL_TRY,
			.fd = open("/dev/null", O_RDONLY),
			.target = argv[i],
		};
		r = thr_pool_acquire(pool, &req, &hold);
		if (r < 0) {
			fprintf(stderr, "pool-hold: acquire for %s: %s\n", argv[i],
			        strerror(-r));
			return EXIT_FAILURE;
		}
	}
	puts("ready");
	fflush(stdout);
	for (;;)
		pause();
}
