/* probe.c - the shared part of the probe programs: command line, output
 * lines, holding and the witness counter (see probe.h). Built once per build
 * variant with the probes, but it only calls functions the shim does not
 * intercept, or raw syscalls, so it never disturbs what a probe measures. */
#define _GNU_SOURCE
#include "probe.h"

#include "sys.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* The shared counter behind -w; one page of the witness file. */
struct witness {
	int cur;                /* results held right now, all probes */
	int max;                /* the most ever held at once */
	int total;              /* successful calls */
};

static struct witness *witness;

uint64_t probe_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void probe_emit(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n, saved = errno;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	/* One write per line: lines from several processes sharing stdout
	 * never interleave mid-line. */
	if (probe_raw(SYS_write, 1, (long)line, (long)n, 0) < 0) {
		/* nothing to do: the test sees the line missing */
	}
	errno = saved;
}

static const char *errname(int err)
{
	const char *s = strerrorname_np(err);

	return s ? s : "unknown";
}

void probe_report(int fd, int err, uint64_t t0)
{
	uint64_t ms = probe_now_ms() - t0;

	if (fd >= 0)
		probe_emit("ok fd=%d ms=%llu", fd, (unsigned long long)ms);
	else
		probe_emit("err errno=%s ms=%llu", errname(err),
		           (unsigned long long)ms);
}

static void sleep_ms(uint64_t ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

void probe_wait(const char *spec)
{
	if (spec[0] == '@') {
		struct stat st;

		while (stat(spec + 1, &st) < 0)
			sleep_ms(1);
		return;
	}
	sleep_ms(strtoull(spec, NULL, 10));
}

static const struct {
	const char *name;
	int flag;
} flag_names[] = {
	{ "rdonly", O_RDONLY }, { "wronly", O_WRONLY }, { "rdwr", O_RDWR },
	{ "creat", O_CREAT }, { "excl", O_EXCL }, { "trunc", O_TRUNC },
	{ "append", O_APPEND }, { "cloexec", O_CLOEXEC },
	{ "nonblock", O_NONBLOCK }, { "directory", O_DIRECTORY },
	{ "path", O_PATH }, { "tmpfile", O_TMPFILE }, { "noctty", O_NOCTTY },
};

int probe_parse_flags(const char *s)
{
	char buf[256], *save = NULL, *tok;
	int flags = 0;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	for (tok = strtok_r(buf, "|,", &save); tok;
	     tok = strtok_r(NULL, "|,", &save)) {
		size_t i;

		for (i = 0; i < sizeof(flag_names) / sizeof(flag_names[0]); i++)
			if (strcmp(tok, flag_names[i].name) == 0)
				break;
		if (i == sizeof(flag_names) / sizeof(flag_names[0]))
			return -1;
		flags |= flag_names[i].flag;
	}
	return flags;
}

bool probe_needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

long probe_raw(long number, long a, long b, long c, long d)
{
	long r = thr_sys6(number, a, b, c, d, 0, 0);
	if (r < 0 && r > -4096) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

int probe_connect4(const char *target, int type)
{
	char host[64];
	const char *colon = strrchr(target, ':');
	struct sockaddr_in in = { .sin_family = AF_INET };
	if (!colon || (size_t)(colon - target) >= sizeof(host))
		exit(2);
	memcpy(host, target, (size_t)(colon - target));
	host[colon - target] = '\0';
	in.sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &in.sin_addr) != 1)
		exit(2);
	int fd = socket(AF_INET, type, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&in, sizeof(in)) == 0 ||
	    ((type & SOCK_NONBLOCK) && errno == EINPROGRESS))
		return fd;
	int e = errno;
	close(fd);
	errno = e;
	return -1;
}

int probe_devnull(void)
{
	return (int)probe_raw(SYS_openat, AT_FDCWD, (long)"/dev/null",
	                      O_RDWR | O_CLOEXEC, 0);
}

const char *probe_sibling(const char *name)
{
	static char path[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
	char *slash;

	if (n < 0)
		return name;
	path[n] = '\0';
	slash = strrchr(path, '/');
	if (!slash || (size_t)(slash + 1 - path) + strlen(name) >= sizeof(path))
		return name;
	strcpy(slash + 1, name);
	return path;
}

static void witness_attach(const char *file)
{
	int fd = (int)probe_raw(SYS_openat, AT_FDCWD, (long)file,
	                        O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0 || ftruncate(fd, 4096) < 0) {
		probe_emit("witness-error errno=%s", errname(errno));
		exit(2);
	}
	witness = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	probe_raw(SYS_close, fd, 0, 0, 0);
	if (witness == MAP_FAILED) {
		probe_emit("witness-error errno=%s", errname(errno));
		exit(2);
	}
}

void probe_witness_take(struct probe *p)
{
	int cur, max;

	if (!witness)
		return;
	cur = __atomic_add_fetch(&witness->cur, 1, __ATOMIC_SEQ_CST);
	__atomic_add_fetch(&witness->total, 1, __ATOMIC_SEQ_CST);
	max = __atomic_load_n(&witness->max, __ATOMIC_SEQ_CST);
	while (cur > max && !__atomic_compare_exchange_n(&witness->max, &max,
	        cur, false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		;
}

void probe_witness_give(struct probe *p)
{
	if (witness)
		__atomic_sub_fetch(&witness->cur, 1, __ATOMIC_SEQ_CST);
}

static void on_sigusr1(int sig)
{
	static const char line[] = "signal\n";

	if (probe_raw(SYS_write, 1, (long)line, sizeof(line) - 1, 0) < 0) {
		/* the test notices the missing line */
	}
}

static void usage(const char *prog, const char *extra)
{
	fprintf(stderr,
	        "usage: %s [-f FLAGS] [-m MODE] [-d DIR] [-e VARIANT] [-x] [-n] "
	        "[-s|-S] [-w FILE] TARGET COUNT HOLD [LINGER]\n"
	        "  HOLD, LINGER: milliseconds, or @FILE to wait for FILE\n"
	        "  %s\n", prog, extra ? extra : "");
	exit(2);
}

void probe_parse(struct probe *p, int argc, char **argv, const char *extra)
{
	int c;

	memset(p, 0, sizeof(*p));
	p->prog = argv[0];
	p->flags = O_RDONLY;
	p->mode = "r";
	p->linger = "0";
	while ((c = getopt(argc, argv, "+f:m:d:e:xnsSw:")) != -1) {
		switch (c) {
		case 'f':
			p->flags = probe_parse_flags(optarg);
			if (p->flags < 0)
				usage(argv[0], extra);
			break;
		case 'm': p->mode = optarg; break;
		case 'd': p->dir = optarg; break;
		case 'e': p->variant = optarg; break;
		case 'x': p->alt = true; break;
		case 'n': p->nonblock = true; break;
		case 's': p->sigusr1 = true; break;
		case 'S': p->sigusr1 = p->sa_restart = true; break;
		case 'w': p->witness = optarg; break;
		default: usage(argv[0], extra);
		}
	}
	if (argc - optind < 3 || argc - optind > 4)
		usage(argv[0], extra);
	p->target = argv[optind];
	p->count = atoi(argv[optind + 1]);
	p->hold = argv[optind + 2];
	if (argc - optind == 4)
		p->linger = argv[optind + 3];
	if (p->count < 1 || p->count > PROBE_MAX)
		usage(argv[0], extra);
	if (p->witness)
		witness_attach(p->witness);
	if (p->sigusr1) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_sigusr1;
		sigemptyset(&sa.sa_mask);
		/* Without SA_RESTART a wait must see EINTR; with it (-S), a
		 * blocked call is restarted, and so is the wait. */
		sa.sa_flags = p->sa_restart ? SA_RESTART : 0;
		sigaction(SIGUSR1, &sa, NULL);
	}
}

int probe_give_close(struct probe *p, struct probe_held *h)
{
	return close(h->fd);
}

int probe_give_fclose(struct probe *p, struct probe_held *h)
{
	return fclose(h->f);
}

int probe_run(int argc, char **argv, const struct probe_ops *ops)
{
	static struct probe p;
	int i;

	probe_parse(&p, argc, argv, ops->usage);
	for (i = 0; i < p.count; i++) {
		struct probe_held *h = &p.held[p.nheld++];
		uint64_t t0 = probe_now_ms();
		int r;

		h->fd = -1;
		h->f = NULL;
		errno = 0;
		r = ops->take(&p, i, h);
		if (r <= 0)
			probe_report(r < 0 ? -1 : h->fd, errno, t0);
		if (r < 0)
			h->fd = -1;
		else
			probe_witness_take(&p);
	}
	probe_wait(p.hold);
	for (i = 0; i < p.nheld; i++)
		if (p.held[i].fd >= 0)
			probe_witness_give(&p);
	if (ops->give_all) {
		if (ops->give_all(&p) < 0)
			probe_emit("relerr errno=%s", errname(errno));
	} else {
		for (i = 0; i < p.nheld; i++) {
			struct probe_held *h = &p.held[i];

			if (h->fd < 0)
				continue;
			if (ops->give(&p, h) < 0)
				probe_emit("relerr fd=%d errno=%s", h->fd,
				           errname(errno));
		}
	}
	probe_emit("released");
	probe_wait(p.linger);
	probe_emit("done");
	return 0;
}

void probe_open_list(struct probe *p, char *fds, size_t len)
{
	size_t used = 0;

	fds[0] = '\0';
	for (int i = 0; i < p->count && p->nheld < PROBE_MAX; i++) {
		uint64_t t0 = probe_now_ms();
		int fd = probe_needs_mode(p->flags) ? open(p->target, p->flags, 0600)
		                                    : open(p->target, p->flags);

		probe_report(fd, errno, t0);
		p->held[p->nheld++].fd = fd;
		if (used < len)
			used += (size_t)snprintf(fds + used, len - used, "%s%d",
			                         used ? "," : "", fd);
	}
}

char **probe_holder_argv(const struct probe *p, char *fds)
{
	static char *argv[5];

	argv[0] = (char *)"holder";
	argv[1] = fds;
	argv[2] = (char *)p->hold;
	argv[3] = (char *)p->linger;
	argv[4] = NULL;
	return argv;
}

void probe_close_held(struct probe *p)
{
	for (int i = 0; i < p->nheld; i++)
		if (p->held[i].fd >= 0 && close(p->held[i].fd) < 0)
			probe_emit("relerr fd=%d errno=%s", p->held[i].fd,
			           strerrorname_np(errno));
}
