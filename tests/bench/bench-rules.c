/* bench-rules.c - what the number of rules in a config costs: an open() no
 * pool wants, and a connect() no pool wants, under configs of 1 to 60,000
 * open patterns or connect destinations, as ns per call pair and as ratios
 * to the raw calls in the same process; and the time a process takes to
 * start with such a config. The shim is measured twice in the same run:
 * as built, and built never to index its globs (the loop over every glob
 * that the index replaced), so the gain is a ratio of this run.
 * Usage: bench-rules LIBTHROTTLE.so LIBTHROTTLE-LOOP.so [TABLES [COUNTS]]:
 * TABLES a comma-separated choice of open, wild, flat, connect and pools (all by
 * default), COUNTS of rule counts (1,10,100,1000,10000,60000). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define PER_POOL 1000           /* rules per pool, one pool per file: a
                                   config file is at most 1 MiB */
#define ROUNDS 40               /* rounds per process, best kept */
#define PROCS 3                 /* processes per row, median kept */
#define ROUND_NS 2e6            /* aim for rounds this long */

#define MAX_COUNTS 16
static size_t counts[MAX_COUNTS] = { 1, 10, 100, 1000, 10000, 60000 };
static size_t ncounts = 6;

/* ---- the child: one process under one library and config ---- */

struct libc_calls {
	int (*open)(const char *, int, ...);
	int (*close)(int);
	int (*connect)(int, const struct sockaddr *, socklen_t);
};

static int libc_calls(struct libc_calls *c)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	void *fn[3] = { libc ? dlsym(libc, "open64") : NULL,
	                libc ? dlsym(libc, "close") : NULL,
	                libc ? dlsym(libc, "connect") : NULL };
	if (!fn[0] || !fn[1] || !fn[2])
		return -1;
	/* Copied, as ISO C has no cast from object to function pointer. */
	memcpy(&c->open, &fn[0], sizeof(fn[0]));
	memcpy(&c->close, &fn[1], sizeof(fn[1]));
	memcpy(&c->connect, &fn[2], sizeof(fn[2]));
	return 0;
}

static struct sockaddr_in listener;

static int listen_loopback(void)
{
	static int ls;
	ls = socket(AF_INET, SOCK_STREAM, 0);
	listener = (struct sockaddr_in){ .sin_family = AF_INET };
	listener.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(listener);
	pthread_t t;
	if (bind(ls, (void *)&listener, sizeof(listener)) < 0 ||
	    listen(ls, 4096) < 0 ||
	    getsockname(ls, (void *)&listener, &len) < 0 ||
	    pthread_create(&t, NULL, acceptor, &ls) != 0)
		return -1;
	return 0;
}

/* ns per pair of n calls of op (open+close or socket+connect+close),
 * through libc's own functions (raw) or the names the program links. */
static double pairs(const struct libc_calls *libc, bool raw, bool conn,
                    int n, const char *path)
{
	double t0 = now_ns();
	for (int i = 0; i < n; i++) {
		int fd, r = 0;
		if (conn) {
			fd = socket(AF_INET, SOCK_STREAM, 0);
			r = raw ? libc->connect(fd, (void *)&listener,
			                        sizeof(listener))
			        : connect(fd, (void *)&listener, sizeof(listener));
		} else {
			fd = raw ? libc->open(path, O_RDONLY) : open(path, O_RDONLY);
		}
		if (fd < 0 || r < 0)
			return -1;
		if (raw)
			libc->close(fd);
		else
			close(fd);
	}
	return (now_ns() - t0) / n;
}

/* Rounds of n raw pairs then n hooked ones, n chosen so that a round
 * takes about ROUND_NS; prints the best of each. */
static int child(const char *op, const char *path)
{
	struct libc_calls libc;
	bool conn = strcmp(op, "connect") == 0;
	if (libc_calls(&libc) < 0 || (conn && listen_loopback() < 0))
		return 1;
	double one = pairs(&libc, false, conn, 3, path);
	int n = one > 0 ? (int)(ROUND_NS / one) : 1;
	n = n < 5 ? 5 : n > 2000 ? 2000 : n;
	double best[2] = { 1e18, 1e18 };
	for (int round = 0; round < ROUNDS; round++)
		for (int hooked = 0; hooked < 2; hooked++) {
			double ns = pairs(&libc, !hooked, conn, n, path);
			if (ns < 0)
				return 1;
			if (ns < best[hooked])
				best[hooked] = ns;
		}
	printf("%.1f %.1f\n", best[0], best[1]);
	return 0;
}

/* ---- the parent ---- */

static char dir[] = "/tmp/bench-rules-XXXXXX";

enum shape { OPEN, OPEN_WILD, OPEN_FLAT, CONNECT, POOLS };

/* Rule i of a config of open patterns: four shapes in turn, all in folders
 * beside the one the measured path is in, so that a lookup walks down to
 * that folder and only then misses. OPEN_WILD: every rule starts with a
 * wildcard, and has a folder with none after it (indexed by that folder);
 * OPEN_FLAT: every rule starts with a wildcard and has no such folder
 * (what the index cannot help). */
static void open_rule(FILE *f, size_t i, enum shape shape)
{
	if (shape == OPEN_WILD) {
		fprintf(f, "\"/*/u%zu/**\"", i);
		return;
	}
	if (shape == OPEN_FLAT) {
		fprintf(f, "\"/*-u%zu/*\"", i);
		return;
	}
	switch (i % 4) {
	case 0:
		fprintf(f, "\"%s/data/u%zu/*\"", dir, i);
		break;
	case 1:
		fprintf(f, "\"%s/logs/app%zu-*.log\"", dir, i);
		break;
	case 2:
		fprintf(f, "\"%s/lib/svc%zu/**\"", dir, i);
		break;
	default:
		fprintf(f, "\"%s/exact/file%zu\"", dir, i);
	}
}

/* Connect rule i: an address or a network, a port or a range; none is
 * loopback. */
static void connect_rule(FILE *f, size_t i)
{
	unsigned a = (unsigned)(i >> 16) & 255, b = (unsigned)(i >> 8) & 255,
	         c = (unsigned)i & 255;
	switch (i % 3) {
	case 0:
		fprintf(f, "\"10.%u.%u.%u:5432\"", a, b, c);
		break;
	case 1:
		fprintf(f, "\"10.%u.%u.0/24:8000-8100\"", a + 64, b);
		break;
	default:
		fprintf(f, "\"[2001:db8::%x]:443\"", (unsigned)i);
	}
}

/* Writes the config for n rules of a shape into dir/tag.conf, one pool per
 * PER_POOL rules, each pool in its own file; POOLS: n pools of one open
 * pattern each, all in one file. Returns the config's path. */
static const char *write_config(const char *tag, enum shape shape, size_t n)
{
	static char main_path[256];
	char file[256];
	snprintf(main_path, sizeof(main_path), "%s/%s.conf", dir, tag);
	FILE *m = fopen(main_path, "w");
	size_t per = shape == POOLS ? 1 : PER_POOL;
	FILE *f = m;
	for (size_t p = 0; p * per < n; p++) {
		if (shape != POOLS) {
			snprintf(file, sizeof(file), "%s/%s-%zu.conf", dir, tag, p);
			fprintf(m, "include \"%s\"\n", file);
			f = fopen(file, "w");
		}
		fprintf(f, "pool br%d-%s-%zu {\n  limit = 4\n  %s = {\n",
		        (int)getpid(), tag, p,
		        shape == CONNECT ? "connect" : "open");
		for (size_t i = p * per; i < n && i < (p + 1) * per; i++) {
			if (shape == CONNECT)
				connect_rule(f, i);
			else
				open_rule(f, i, shape);
			fprintf(f, i + 1 < n && i + 1 < (p + 1) * per ? ",\n" : "\n");
		}
		fprintf(f, "  }\n}\n");
		if (f != m)
			fclose(f);
	}
	fclose(m);
	return main_path;
}

/* Runs self in a child under lib and config (either may be NULL) with
 * args, and reads the two numbers it prints. Returns the child's run time
 * in ns, or -1. */
static double spawn(const char *self, const char *lib, const char *config,
                    char *const args[], double ret[2])
{
	int fds[2];
	if (pipe(fds) < 0)
		return -1;
	double t0 = now_ns();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		unsetenv("LD_PRELOAD");
		unsetenv("THROTTLE_CONFIG");
		if (lib)
			setenv("LD_PRELOAD", lib, 1);
		if (config)
			setenv("THROTTLE_CONFIG", config, 1);
		setenv("THROTTLE_QUIET", "1", 1);
		execv(self, args);
		_exit(127);
	}
	char buf[64];
	int st;
	ssize_t r = read_child(fds, pid, buf, sizeof(buf), &st);
	double took = now_ns() - t0;
	if (ret && (r <= 0 || sscanf(buf, "%lf %lf", &ret[0], &ret[1]) != 2))
		return -1;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? took : -1;
}

/* The median over PROCS processes of raw and hooked ns per pair. */
static void pair_cost(const char *self, const char *lib, const char *config,
                      const char *op, const char *path, double out[2])
{
	double raw[PROCS], hooked[PROCS], got[2];
	int k = 0;
	char *args[] = { (char *)self, "--child", (char *)op, (char *)path,
	                 NULL };
	for (int i = 0; i < PROCS; i++)
		if (spawn(self, lib, config, args, got) >= 0) {
			raw[k] = got[0];
			hooked[k++] = got[1];
		}
	if (!k) {
		out[0] = out[1] = -1;
		return;
	}
	qsort(raw, (size_t)k, sizeof(raw[0]), cmp_double);
	qsort(hooked, (size_t)k, sizeof(hooked[0]), cmp_double);
	out[0] = raw[k / 2];
	out[1] = hooked[k / 2];
}

/* The least wall time, in ms, of three starts of a process that does
 * nothing, under lib and config (whose pools exist by then). */
static double startup_ms(const char *self, const char *lib,
                         const char *config)
{
	char *args[] = { (char *)self, "--noop", NULL };
	double best = 1e18;
	for (int i = 0; i < 3; i++) {
		double t = spawn(self, lib, config, args, NULL);
		if (t >= 0 && t < best)
			best = t;
	}
	return best / 1e6;
}

/* One table: for each count, the shim as built against the loop. */
static void table(const char *self, const char *const libs[2],
                  enum shape shape, const char *op, const char *path)
{
	static const char *const titles[] = {
		[OPEN] = "open patterns", [OPEN_WILD] = "open patterns, each "
		"'/*/u<i>/**'", [OPEN_FLAT] = "open patterns, each '/*-u<i>/*' "
		"(not indexable)", [CONNECT] = "connect destinations",
	};
	double base = startup_ms(self, libs[0], NULL);
	printf("\n| %s | raw ns | indexed ns | ratio | loop ns | ratio | "
	       "start-up ms, indexed | start-up ms, loop |\n"
	       "|---:|---:|---:|---:|---:|---:|---:|---:|\n", titles[shape]);
	for (size_t c = 0; c < ncounts; c++) {
		char tag[32];
		snprintf(tag, sizeof(tag), "%s%zu", op, counts[c]);
		const char *config = write_config(tag, shape, counts[c]);
		double cost[2][2], start[2];
		for (int l = 0; l < 2; l++) {
			pair_cost(self, libs[l], config, op, path, cost[l]);
			start[l] = startup_ms(self, libs[l], config) - base;
		}
		printf("| %zu | %.0f | %.0f | %.3f | %.0f | %.3f | %.1f | %.1f |\n",
		       counts[c], cost[0][0], cost[0][1],
		       cost[0][1] / cost[0][0], cost[1][1],
		       cost[1][1] / cost[1][0], start[0], start[1]);
		fflush(stdout);
	}
}

/* The start-up of a config of n pools, one open pattern each. */
static void pools_startup(const char *self, const char *lib)
{
	static const size_t pools[] = { 1, 256, 1000, 10000 };
	double base = startup_ms(self, lib, NULL);
	printf("\n| pools (1 pattern each) | start-up ms, first start | "
	       "start-up ms, later starts |\n|---:|---:|---:|\n");
	for (size_t i = 0; i < sizeof(pools) / sizeof(pools[0]); i++) {
		char tag[32];
		snprintf(tag, sizeof(tag), "pools%zu", pools[i]);
		const char *config = write_config(tag, POOLS, pools[i]);
		char *args[] = { (char *)self, "--noop", NULL };
		double first = spawn(self, lib, config, args, NULL) / 1e6;
		printf("| %zu | %.1f | %.1f |\n", pools[i], first - base,
		       startup_ms(self, lib, config) - base);
		fflush(stdout);
	}
}

/* Reads a comma-separated list of counts into counts[]. */
static int parse_counts(const char *list)
{
	char *end;
	ncounts = 0;
	for (const char *p = list; *p && ncounts < MAX_COUNTS; p = end) {
		counts[ncounts] = strtoul(p, &end, 10);
		if (end == p || counts[ncounts] == 0)
			return -1;
		ncounts++;
		if (*end == ',')
			end++;
	}
	return ncounts ? 0 : -1;
}

static bool wanted(const char *tables, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = tables; p; p = strchr(p, ','), p = p ? p + 1 : p)
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return child(argv[2], argv[3]);
	if (argc == 2 && strcmp(argv[1], "--noop") == 0)
		return 0;
	if (argc < 3 || argc > 5 || (argc == 5 && parse_counts(argv[4]) < 0)) {
		fprintf(stderr, "usage: bench-rules LIBTHROTTLE.so "
		        "LIBTHROTTLE-LOOP.so [open,wild,flat,connect,pools "
		        "[COUNT,...]]\n");
		return 2;
	}
	const char *libs[2] = { argv[1], argv[2] };
	const char *tables = argc > 3 ? argv[3]
	                              : "open,wild,flat,connect,pools";
	char sub[128], path[128], cmd[256];
	if (!mkdtemp(dir))
		return 1;
	snprintf(sub, sizeof(sub), "%s/data", dir);
	snprintf(path, sizeof(path), "%s/data/file", dir);
	if (mkdir(sub, 0700) < 0 || close(open(path, O_CREAT | O_WRONLY,
	                                         0600)) < 0)
		return 1;
	pin_to_one_cpu();
	if (wanted(tables, "open"))
		table(argv[0], libs, OPEN, "open", path);
	if (wanted(tables, "wild"))
		table(argv[0], libs, OPEN_WILD, "wild", path);
	if (wanted(tables, "flat"))
		table(argv[0], libs, OPEN_FLAT, "flat", path);
	if (wanted(tables, "connect"))
		table(argv[0], libs, CONNECT, "connect", path);
	printf("\nns per call pair (open+close of %s, or socket+connect+close "
	       "to a loopback listener), none wanted by any pool: the median "
	       "over %d processes of the best of %d rounds, each round raw "
	       "calls (libc's own functions) then hooked ones in the same "
	       "process. 'indexed' is the shim as built; 'loop' the same shim "
	       "built never to index its globs or connect rules (what came "
	       "before). Start-up: "
	       "a process that does nothing, least of three, over the same "
	       "with no config.\n", path, PROCS, ROUNDS);
	if (wanted(tables, "pools"))
		pools_startup(argv[0], libs[0]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s /dev/shm/throttle.br%d-*", dir,
	         (int)getpid());
	return system(cmd) == 0 ? 0 : 1;
}
