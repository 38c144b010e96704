/* holders.c - the outside witness of the programs suite: samples /proc about
 * every millisecond and counts what takes a slot, in any process, both as
 * open files (what a pool with hold = descriptor counts) and as holders (what
 * one with hold = process counts). It never runs under the shim.
 *     holders [-i USEC] [-D] -f PREFIX STATEFILE
 *     holders [-i USEC] -t PORT STATEFILE
 * -f: descriptors open under PREFIX, as a pool's folders = no counts them:
 * files, and folders not opened with O_DIRECTORY (with -D, as folders = yes
 * does: every folder); never O_PATH ones, which take no slot (the flags
 * are the kernel's, from /proc/PID/fdinfo). -t: TCP sockets, connected
 * or connecting, to PORT on 127.0.0.1 or ::1 (from /proc/net/tcp and tcp6,
 * by inode). STATEFILE is rewritten (atomically, by rename) after the first
 * sweep, whenever a most grows, and every 100 ms:
 *     cur=C max=M procs=P maxprocs=Q most=K samples=S
 * C and M: open file descriptions now and at most at once (descriptors that
 * share one, by dup, fork or inheritance, count once: kcmp(KCMP_FILE));
 * P and Q: holders now and at most at once, a holder being a process with
 * any, joined with every process it shares one of them with (a fork child
 * working under its parent's slot); K: the most one holder had at once.
 * Each time a most grows, the descriptors behind it go to stderr.
 *
 * A sweep is not instantaneous, so counts above the most so far are only
 * believed after a second look finds each descriptor behind them still open
 * on the same file: all were then open together at the moment between the
 * end of the sweep and the start of the second look. */
#define _GNU_SOURCE
#include "witness.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/kcmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define MAXHIT 2048
#define MAXINO 4096

struct hit {
	pid_t pid;
	int fd;
	char link[256];
	int group;      /* union-find parent, an index into hits */
	bool first;     /* the first hit of its open file description */
	bool gone;      /* not there at the second look */
};

struct counts {
	int files;      /* distinct open file descriptions */
	int procs;      /* holders */
	int most;       /* descriptions of the largest holder */
};

static struct hit hits[MAXHIT];
static int nhits;
static unsigned long inodes[MAXINO];
static int ninodes;
static const char *prefix, *state_path;
static size_t prefix_len;
static bool folders;
static int port = -1;
static struct counts now, top;
static unsigned long samples;

static void save(void)
{
	witness_save("holders", state_path,
	             "cur=%d max=%d procs=%d maxprocs=%d most=%d samples=%lu",
	             now.files, top.files, now.procs, top.procs, top.most,
	             samples);
}

static int by_value(const void *a, const void *b)
{
	unsigned long x = *(const unsigned long *)a;
	unsigned long y = *(const unsigned long *)b;

	return (x > y) - (x < y);
}

/* Is the remote end ADDR (hex, as /proc/net/tcp writes it) loopback? */
static bool loopback(const char *addr)
{
	return strcmp(addr, "0100007F") == 0 ||
	       strcmp(addr, "00000000000000000000000001000000") == 0 ||
	       strcmp(addr, "0000000000000000FFFF00000100007F") == 0;
}

static void read_sockets(const char *path)
{
	char line[512], rem[64];
	unsigned long inode;
	unsigned int rport, st;
	FILE *f = fopen(path, "r");

	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && ninodes < MAXINO) {
		/* sl local rem st tx:rx tr:when retr uid timeout inode */
		if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%*x %63[0-9A-Fa-f]:%x %x "
		           "%*x:%*x %*x:%*x %*x %*u %*u %lu", rem, &rport, &st,
		           &inode) != 4)
			continue;
		if ((int)rport == port && loopback(rem) && inode != 0)
			inodes[ninodes++] = inode;
	}
	fclose(f);
}

/* The sockets connected to the port, as inodes, sorted. */
static void load_sockets(void)
{
	ninodes = 0;
	read_sockets("/proc/net/tcp");
	read_sockets("/proc/net/tcp6");
	qsort(inodes, (size_t)ninodes, sizeof(inodes[0]), by_value);
}

/* The link of pid's descriptor fd; dir, when not -1, is pid's fd folder
 * open. */
static bool read_link(int dir, pid_t pid, int fd, char *out, size_t len)
{
	char path[64];
	ssize_t n;

	if (dir < 0) {
		snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
		n = readlink(path, out, len - 1);
	} else {
		snprintf(path, sizeof(path), "%d", fd);
		n = readlinkat(dir, path, out, len - 1);
	}
	if (n < 0)
		return false;
	out[n] = '\0';
	return true;
}

/* Does descriptor fd of pid, whose link is link, take a slot here? */
static bool counts_here(pid_t pid, int fd, const char *link)
{
	char path[64], info[256];
	unsigned long inode, flags = 0;
	struct stat st;
	FILE *f;

	if (port >= 0) {
		if (sscanf(link, "socket:[%lu]", &inode) != 1)
			return false;
		return bsearch(&inode, inodes, (size_t)ninodes, sizeof(inode),
		               by_value) != NULL;
	}
	if (strncmp(link, prefix, prefix_len) != 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", (int)pid, fd);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(info, sizeof(info), f))
		if (sscanf(info, "flags: %lo", &flags) == 1)
			break;
	fclose(f);
	if (flags & O_PATH)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/fd/%d", (int)pid, fd);
	if (stat(path, &st) < 0)
		return false;
	return folders || !S_ISDIR(st.st_mode) || !(flags & O_DIRECTORY);
}

/* Adds pid's descriptors that count here to hits. */
static void collect(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *fds;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	fds = opendir(path);
	for (; fds && nhits < MAXHIT && (de = readdir(fds));) {
		struct hit *h = &hits[nhits];

		h->pid = pid;
		h->fd = atoi(de->d_name);
		nhits += de->d_name[0] != '.' &&
		         read_link(dirfd(fds), pid, h->fd, h->link,
		                   sizeof(h->link)) &&
		         counts_here(pid, h->fd, h->link);
	}
	if (fds)
		closedir(fds);
}

static void sweep(void)
{
	DIR *proc = opendir("/proc");
	pid_t self = getpid();
	struct dirent *de;

	nhits = 0;
	if (port >= 0)
		load_sockets();
	while (proc && nhits < MAXHIT && (de = readdir(proc))) {
		pid_t pid = (pid_t)atoi(de->d_name);

		if (pid > 0 && pid != self)
			collect(pid);
	}
	if (proc)
		closedir(proc);
}

static bool same_file(const struct hit *a, const struct hit *b)
{
	if (a->pid == b->pid && a->fd == b->fd)
		return true;
	return syscall(SYS_kcmp, a->pid, b->pid, KCMP_FILE, a->fd, b->fd) == 0;
}

static int root(int i)
{
	while (hits[i].group != i)
		i = hits[i].group = hits[hits[i].group].group;
	return i;
}

static void join(int i, int j)
{
	hits[root(i)].group = root(j);
}

/* Counts the hits not gone: descriptions, holders, the largest holder. */
static struct counts count(void)
{
	static int per[MAXHIT];
	struct counts c = { 0, 0, 0 };

	for (int i = 0; i < nhits; i++) {
		hits[i].group = i;
		hits[i].first = !hits[i].gone;
		per[i] = 0;
	}
	/* one holder per process; then each description to its first hit */
	for (int i = 0; i < nhits; i++)
		for (int j = 0; j < i && !hits[i].gone; j++)
			if (!hits[j].gone && hits[i].pid == hits[j].pid)
				join(i, j);
	for (int i = 0; i < nhits; i++)
		for (int j = 0; j < i && hits[i].first; j++)
			if (hits[j].first && same_file(&hits[i], &hits[j])) {
				hits[i].first = false;
				join(i, j);
			}
	for (int i = 0; i < nhits; i++) {
		if (!hits[i].first)
			continue;
		c.files++;
		if (per[root(i)]++ == 0)
			c.procs++;
	}
	for (int i = 0; i < nhits; i++)
		if (per[i] > c.most)
			c.most = per[i];
	return c;
}

static bool above(const struct counts *c)
{
	return c->files > top.files || c->procs > top.procs ||
	       c->most > top.most;
}

static void second_look(void)
{
	for (int i = 0; i < nhits; i++) {
		char again[256];

		hits[i].gone = !read_link(-1, hits[i].pid, hits[i].fd, again,
		                          sizeof(again)) ||
		               strcmp(again, hits[i].link) != 0;
	}
}

static void report(void)
{
	fprintf(stderr, "max=%d maxprocs=%d most=%d:", top.files, top.procs,
	        top.most);
	for (int i = 0; i < nhits; i++)
		if (!hits[i].gone)
			fprintf(stderr, " %d/%d:%s", (int)hits[i].pid, hits[i].fd,
			        hits[i].link);
	fputc('\n', stderr);
}

static void raise_top(const struct counts *c)
{
	if (c->files > top.files)
		top.files = c->files;
	if (c->procs > top.procs)
		top.procs = c->procs;
	if (c->most > top.most)
		top.most = c->most;
}

/* One sweep; true when a most grew (and was saved, with a report). */
static bool sample(void)
{
	struct counts seen;

	sweep();
	samples++;
	for (int i = 0; i < nhits; i++)
		hits[i].gone = false;
	now = count();
	if (!above(&now))
		return false;
	second_look();
	seen = count();
	if (!above(&seen))
		return false;
	raise_top(&seen);
	report();
	return true;
}

static int usage(void)
{
	fprintf(stderr, "usage: holders [-i USEC] [-D] -f PREFIX STATEFILE\n"
	        "       holders [-i USEC] -t PORT STATEFILE\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct timespec gap = { 0, 1000000 };
	long us;
	int c;

	while ((c = getopt(argc, argv, "i:Df:t:")) != -1) {
		switch (c) {
		case 'i':
			us = atol(optarg);
			gap.tv_sec = us / 1000000;
			gap.tv_nsec = (us % 1000000) * 1000;
			break;
		case 'D': folders = true; break;
		case 'f': prefix = optarg; break;
		case 't': port = atoi(optarg); break;
		default: return usage();
		}
	}
	if (optind + 1 != argc || !prefix == (port < 0))
		return usage();
	if (prefix)
		prefix_len = strlen(prefix);
	state_path = argv[optind];
	witness_catch_stop(0);
	return witness_run(sample, save, gap);
}
