/* probe-threads.c - many threads opening and closing at once, so descriptor
 * numbers are reused under the shim's feet.
 *     probe-threads DIR THREADS ITERS HOLD_US [LINGER]
 * Each thread makes ITERS rounds of: take a file DIR/t<thread>.<round>
 * (created), hold it HOLD_US microseconds, give it back. Threads take turns
 * at three ways: open()/close(), fopen()/fclose(), and open()+dup()+close()
 * of the original, then close() of the copy. The probe counts itself how
 * many files are held at once (counted after a successful take, uncounted
 * before the give), then prints
 *     err errno=NAME           for each failed take (the first 20)
 *     threads max=N takes=M errors=E
 * waits LINGER (ms or @file, as in probe.h; still alive so that leaked slots
 * would still be held) and prints "done". */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *dir;
static int iters, hold_us;
static int cur, max, takes, errors;

static void count_in(void)
{
	int c = __atomic_add_fetch(&cur, 1, __ATOMIC_SEQ_CST);
	int m = __atomic_load_n(&max, __ATOMIC_SEQ_CST);

	while (c > m && !__atomic_compare_exchange_n(&max, &m, c, false,
	        __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
	__atomic_add_fetch(&takes, 1, __ATOMIC_SEQ_CST);
}

static void count_out(void)
{
	__atomic_sub_fetch(&cur, 1, __ATOMIC_SEQ_CST);
}

static void failed(int err)
{
	if (__atomic_add_fetch(&errors, 1, __ATOMIC_SEQ_CST) <= 20)
		probe_emit("err errno=%s", strerrorname_np(err));
}

static void pause_us(int us)
{
	struct timespec ts = { 0, (long)us * 1000 };

	nanosleep(&ts, NULL);
}

static void *run(void *arg)
{
	int id = (int)(long)arg;
	char path[4096];

	for (int i = 0; i < iters; i++) {
		int way = (id + i) % 3;

		snprintf(path, sizeof(path), "%s/t%d.%d", dir, id, i);
		if (way == 1) {
			FILE *f = fopen(path, "w");

			if (!f) {
				failed(errno);
				continue;
			}
			count_in();
			pause_us(hold_us);
			count_out();
			fclose(f);
		} else {
			int fd = open(path, O_WRONLY | O_CREAT, 0600);

			if (fd < 0) {
				failed(errno);
				continue;
			}
			if (way == 2) {
				int copy = dup(fd);

				close(fd);
				fd = copy;
				if (fd < 0) {
					failed(errno);
					continue;
				}
			}
			count_in();
			pause_us(hold_us);
			count_out();
			close(fd);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t tids[256];
	int n;

	if (argc < 5 || argc > 6) {
		probe_emit("usage: probe-threads DIR THREADS ITERS HOLD_US "
		           "[LINGER]");
		return 2;
	}
	dir = argv[1];
	n = atoi(argv[2]);
	iters = atoi(argv[3]);
	hold_us = atoi(argv[4]);
	if (n < 1 || n > 256 || iters < 1)
		return 2;
	for (int i = 0; i < n; i++)
		pthread_create(&tids[i], NULL, run, (void *)(long)i);
	for (int i = 0; i < n; i++)
		pthread_join(tids[i], NULL);
	probe_emit("threads max=%d takes=%d errors=%d", max, takes, errors);
	probe_wait(argc == 6 ? argv[5] : "0");
	probe_emit("done");
	return 0;
}
