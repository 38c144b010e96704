/* watch.c - the outside witness for open(): samples /proc about every
 * millisecond and counts how many files under a path are open at once, in
 * any process. It never runs under the shim.
 *     watch [-i USEC] [-p] PREFIX STATEFILE
 * Counts open file descriptions whose /proc/PID/fd/N link starts with PREFIX:
 * descriptors that share one (dup, fork, an inherited descriptor) count once,
 * told apart with kcmp(KCMP_FILE) where the kernel has it. With -p it
 * counts processes instead (for pools of hold = process): all of one
 * process's count once, and processes sharing a description (a fork child
 * and its parent) once together. STATEFILE is
 * rewritten (atomically, by rename) after the first sweep, whenever max
 * grows, and every 100 ms:
 *     cur=C max=M samples=S kcmp=0|1
 * SIGTERM writes it a last time and exits 0.
 *
 * A sweep is not instantaneous, so a count larger than the max so far is
 * only believed after a second look finds every one of those descriptors
 * still open on the same path: each was then open from its first look,
 * before the sweep ended, to its second, after the sweep ended, so all were
 * open together at the moment in between. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAXHIT 4096

struct hit {
	pid_t pid;
	int fd;
	char link[256];
};

static struct hit hits[MAXHIT];
static int nhits;
static const char *prefix, *state_path;
static size_t prefix_len;
static int cur, max;
static unsigned long samples;
static int kcmp_works = -1;     /* -1 unknown, 0 no, 1 yes */
static bool by_process;         /* -p */
static volatile sig_atomic_t stop;

static void write_state(void)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", state_path);
	f = fopen(tmp, "w");
	if (!f) {
		perror("watch: state file");
		exit(1);
	}
	fprintf(f, "cur=%d max=%d samples=%lu kcmp=%d\n", cur, max, samples,
	        kcmp_works == 1);
	fclose(f);
	if (rename(tmp, state_path) < 0) {
		perror("watch: rename");
		exit(1);
	}
}

static bool link_of(pid_t pid, int fd, char *out, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	n = readlink(path, out, len - 1);
	if (n < 0)
		return false;
	out[n] = '\0';
	return true;
}

/* Do hits a and b share one open file description? */
static bool same_file(const struct hit *a, const struct hit *b)
{
	long r;

	if (kcmp_works == 0)
		return a->pid == b->pid && a->fd == b->fd;
	r = syscall(SYS_kcmp, a->pid, b->pid, KCMP_FILE, a->fd, b->fd);
	if (r < 0 && errno == ENOSYS) {
		kcmp_works = 0;
		return a->pid == b->pid && a->fd == b->fd;
	}
	if (r >= 0)
		kcmp_works = 1;
	return r == 0;
}

static void sweep(void)
{
	DIR *proc = opendir("/proc");
	struct dirent *de;
	pid_t self = getpid();

	nhits = 0;
	if (!proc)
		return;
	while ((de = readdir(proc)) && nhits < MAXHIT) {
		char path[64];
		pid_t pid = (pid_t)atoi(de->d_name);
		DIR *fds;
		struct dirent *fe;

		if (pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds)) && nhits < MAXHIT) {
			struct hit *h = &hits[nhits];

			if (fe->d_name[0] == '.')
				continue;
			h->pid = pid;
			h->fd = atoi(fe->d_name);
			if (link_of(pid, h->fd, h->link, sizeof(h->link)) &&
			    strncmp(h->link, prefix, prefix_len) == 0)
				nhits++;
		}
		closedir(fds);
	}
	closedir(proc);
}

/* Counts distinct open file descriptions among hits[0..n) marked in keep. */
static int distinct(const bool *keep)
{
	int n = 0;

	for (int i = 0; i < nhits; i++) {
		bool dup = false;

		if (!keep[i])
			continue;
		for (int j = 0; j < i && !dup; j++)
			dup = keep[j] &&
			      ((by_process && hits[i].pid == hits[j].pid) ||
			       same_file(&hits[i], &hits[j]));
		n += !dup;
	}
	return n;
}

static void on_term(int sig)
{
	stop = 1;
}

int main(int argc, char **argv)
{
	static bool keep[MAXHIT];
	struct timespec gap = { 0, 1000000 };
	struct timespec last_write = { 0, 0 };
	struct sigaction sa;
	int c;

	while ((c = getopt(argc, argv, "i:p")) != -1) {
		if (c == 'p') {
			by_process = true;
		} else if (c == 'i') {
			long us = atol(optarg);

			gap.tv_sec = us / 1000000;
			gap.tv_nsec = (us % 1000000) * 1000;
		} else {
			fprintf(stderr, "usage: watch [-i USEC] [-p] PREFIX STATEFILE\n");
			return 2;
		}
	}
	if (optind + 2 != argc) {
		fprintf(stderr, "usage: watch [-i USEC] [-p] PREFIX STATEFILE\n");
		return 2;
	}
	prefix = argv[optind];
	prefix_len = strlen(prefix);
	state_path = argv[optind + 1];
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	while (!stop) {
		struct timespec now;
		int n;

		sweep();
		samples++;
		for (int i = 0; i < nhits; i++)
			keep[i] = true;
		n = distinct(keep);
		cur = n;
		if (n > max) {
			/* The second look (see the top). */
			for (int i = 0; i < nhits; i++) {
				char again[256];

				keep[i] = link_of(hits[i].pid, hits[i].fd, again,
				                  sizeof(again)) &&
				          strcmp(again, hits[i].link) == 0;
			}
			n = distinct(keep);
			if (n > max) {
				max = n;
				write_state();
			}
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (samples == 1 || now.tv_sec * 1000 + now.tv_nsec / 1000000 -
		    (last_write.tv_sec * 1000 + last_write.tv_nsec / 1000000) >= 100) {
			write_state();
			last_write = now;
		}
		nanosleep(&gap, NULL);
	}
	write_state();
	return 0;
}
