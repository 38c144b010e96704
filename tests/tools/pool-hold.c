/* pool-hold.c - holds slots of a pool until killed, for the tests of
 * throttlectl: `pool-hold [-w|-z] NAME LIMIT TARGET...` creates the pool if
 * needed and takes one slot per TARGET, each with an fd of its own. It prints
 * "ready" once it holds them all; with -w it prints "waiting" and then waits
 * for its slots, so that it shows up as a waiter of a full pool. With -z a
 * child takes the slots and exits without giving them back, and pool-hold
 * prints "kid PID" and "zombie" and never reaps it: a zombie holder. */
#include "pool.h"

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Takes a slot per target, waiting for each if wait. Returns 0 or 1. */
static int take_all(const char *name, uint32_t limit, bool wait,
                    char **targets, int n)
{
	struct thr_pool_opts opts = { .create = true, .limit = limit };
	struct thr_pool *pool;
	char err[THR_POOL_ERR_LEN];
	uint32_t hold;
	int r = thr_pool_open(name, &opts, &pool, err);

	if (r < 0) {
		fprintf(stderr, "pool-hold: %s\n", err);
		return EXIT_FAILURE;
	}
	if (wait) {
		puts("waiting");
		fflush(stdout);
	}
	for (int i = 0; i < n; i++) {
		struct thr_pool_req req = {
			.mode = wait ? THR_POOL_WAIT : THR_POOL_TRY,
			.fd = open("/dev/null", O_RDONLY),
			.target = targets[i],
		};
		r = thr_pool_acquire(pool, &req, &hold);
		if (r < 0) {
			fprintf(stderr, "pool-hold: acquire for %s: %s\n",
			        targets[i], strerror(-r));
			return EXIT_FAILURE;
		}
	}
	return 0;
}

/* -z: a child takes the slots and exits holding them; we wait for its exit
 * without reaping it (WNOWAIT), so it stays a zombie while we live. */
static int make_zombie(const char *name, uint32_t limit, char **targets,
                       int n)
{
	fflush(stdout);
	pid_t kid = fork();
	if (kid < 0)
		return EXIT_FAILURE;
	if (kid == 0)
		_exit(take_all(name, limit, false, targets, n));
	siginfo_t si;
	if (waitid(P_PID, (id_t)kid, &si, WEXITED | WNOWAIT) < 0 ||
	    si.si_code != CLD_EXITED || si.si_status != 0)
		return EXIT_FAILURE;
	printf("kid %d\nzombie\n", (int)kid);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	bool wait = argc > 1 && strcmp(argv[1], "-w") == 0;
	bool zombie = argc > 1 && strcmp(argv[1], "-z") == 0;
	int first = wait || zombie ? 2 : 1, r;

	if (argc < first + 3) {
		fprintf(stderr, "usage: pool-hold [-w|-z] NAME LIMIT TARGET...\n");
		return 2;
	}
	uint32_t limit = (uint32_t)strtoul(argv[first + 1], NULL, 10);
	char **targets = argv + first + 2;
	int n = argc - first - 2;
	if (zombie)
		r = make_zombie(argv[first], limit, targets, n);
	else
		r = take_all(argv[first], limit, wait, targets, n);
	if (r != 0)
		return r;
	if (!zombie) {
		puts("ready");
		fflush(stdout);
	}
	for (;;)
		pause();
}
