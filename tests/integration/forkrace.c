/* forkrace.c - threads that open and close a gated file while another
 * thread forks, and each child keeps what it inherited for 20 ms:
 *     forkrace PATH SECONDS THREADS
 * The witness is the kernel's own: each open takes an OFD write lock on
 * byte 0 of PATH, which stays with the open file description (every copy
 * of it, in any process) until the last copy is closed. So with a pool of
 * 1 on PATH, a lock that cannot be taken means two descriptions of the
 * file were open at once: counted as over. Prints
 *     race opens=N over=M forks=F errors=E
 * and exits 0. */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static uint64_t until_ms;
static unsigned long opens, over, forks, errors;

static void *opener(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	while (probe_now_ms() < until_ms) {
		int fd = open(path, O_RDWR);
		if (fd < 0) {
			__atomic_add_fetch(&errors, 1, __ATOMIC_RELAXED);
			continue;
		}
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
		                    .l_start = 0, .l_len = 1 };
		if (fcntl(fd, F_OFD_SETLK, &fl) < 0)
			__atomic_add_fetch(&over, 1, __ATOMIC_RELAXED);
		__atomic_add_fetch(&opens, 1, __ATOMIC_RELAXED);
		usleep(rand_r(&seed) % 200);
		close(fd);
	}
	return NULL;
}

static void *forker(void *arg)
{
	while (probe_now_ms() < until_ms) {
		pid_t pid = fork();
		if (pid == 0) {
			usleep(20 * 1000);
			_exit(0);
		}
		if (pid > 0) {
			forks++;
			waitpid(pid, NULL, 0);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		probe_emit("usage: forkrace PATH SECONDS THREADS");
		return 2;
	}
	path = argv[1];
	until_ms = probe_now_ms() + (uint64_t)atoi(argv[2]) * 1000;
	int n = atoi(argv[3]);
	pthread_t t[64], f;
	if (n < 1 || n > 64)
		return 2;
	for (int i = 0; i < n; i++)
		pthread_create(&t[i], NULL, opener, (void *)(uintptr_t)(i + 1));
	pthread_create(&f, NULL, forker, NULL);
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	pthread_join(f, NULL);
	probe_emit("race opens=%lu over=%lu forks=%lu errors=%lu", opens, over,
	           forks, errors);
	return 0;
}
