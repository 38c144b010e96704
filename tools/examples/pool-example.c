/* pool-example.c - how a program uses libthrottle's C API: open a pool
 * (creating it with a limit), take a slot with a timeout, do the work,
 * give the slot back, and print the pool's counters. A model to copy, so
 * it stays short and plain; it must never leave with a slot held.
 *
 * Build: cc pool-example.c $(pkg-config --cflags --libs throttle)
 * Usage: pool-example POOL LIMIT [FILE]
 * The work is counting the bytes of FILE while the slot is held. Exits 0
 * when it did the work, 1 when it could not, 2 on a usage error. */
#include <throttle.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TIMEOUT_MS 5000 /* how long to wait for a slot */

static void print_info(throttle_pool *pool, const char *when)
{
	struct throttle_info info;
	if (throttle_info(pool, &info) < 0) {
		fprintf(stderr, "pool-example: cannot read the pool: %s\n",
		        strerror(errno));
		return;
	}
	printf("%s: limit %u, in use %u, waiting %u, peak %u, granted %llu, "
	       "timeouts %llu, refused %llu\n", when, info.limit, info.in_use,
	       info.waiting, info.peak, info.granted, info.timeouts,
	       info.refused);
}

/* The work done while holding the slot: counts the bytes of path. Under
 * the preloaded shim, whose config may gate this open() through the same
 * pool, the pool's counters while the file is open show both slots. */
static int count_bytes(throttle_pool *pool, const char *path)
{
	char buf[4096];
	long long total = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY);
	if (fd < 0) {
		fprintf(stderr, "pool-example: cannot open %s: %s\n", path,
		        strerror(errno));
		return -1;
	}
	print_info(pool, "reading");
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		total += n;
	close(fd);
	printf("read %lld bytes of %s\n", total, path);
	return n < 0 ? -1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 3 || argc > 4) {
		fprintf(stderr, "usage: pool-example POOL LIMIT [FILE]\n");
		return 2;
	}
	unsigned limit = (unsigned)strtoul(argv[2], NULL, 10);
	throttle_pool *pool = throttle_open(argv[1], limit, THROTTLE_CREATE);
	if (!pool) {
		fprintf(stderr, "pool-example: cannot open pool %s: %s\n",
		        argv[1], strerror(errno));
		return errno == EINVAL ? 2 : 1;
	}
	printf("libthrottle %s, pool %s\n", throttle_version(), argv[1]);
	if (throttle_acquire_timeout(pool, TIMEOUT_MS) < 0) {
		fprintf(stderr, "pool-example: no slot of %s: %s\n", argv[1],
		        errno == ETIMEDOUT ? "none free within 5 s"
		                           : strerror(errno));
		throttle_close(pool);
		return 1;
	}
	print_info(pool, "holding a slot");
	int r = argc == 4 ? count_bytes(pool, argv[3]) : 0;
	throttle_release(pool);
	print_info(pool, "released");
	throttle_close(pool);
	return r < 0 ? 1 : 0;
}
