/* bench-shim.c - what the preload shim costs on the calls it watches, as
 * ratios against the same calls made raw in the same run. Each variant runs
 * in a child process (with or without LD_PRELOAD and a config); rounds are
 * interleaved, all on one CPU, and the best round of each is kept, since
 * noise only adds. A second table pairs the calls inside each preloaded
 * process (libc's own function against the hooked one), which cancels what
 * differs between processes: where each lands in memory moves a ratio
 * between runs by more than a change to the shim often does. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench-util.h"

#define ROUNDS 15

static const char *ops[] = { "open", "dup", "connect" };
static const int iters[] = { 20000, 50000, 10000 };

struct variant {
	const char *name;
	const char *config;     /* NULL: no config at all */
	bool preload;
	const char *guard;      /* a floor: "sem" or "atomic" around the raw
	                           calls, no shim; NULL for none */
};

/* The floors: what any semaphore shared between processes costs around the
 * same calls, with no hooks, paths or records at all. One slot is taken
 * before each call and given back after its close, as the shim does. */
#define GUARD_LIMIT 1000
static sem_t *guard_sem;
static unsigned *guard_count;

static int guard_init(const char *guard)
{
	void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
	                  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return -1;
	if (strcmp(guard, "sem") == 0) {
		guard_sem = page;
		return sem_init(guard_sem, 1, GUARD_LIMIT);
	}
	guard_count = page;
	return 0;
}

static inline __attribute__((always_inline)) bool guard_take(void)
{
	if (guard_sem)
		return sem_trywait(guard_sem) == 0;
	if (__atomic_add_fetch(guard_count, 1, __ATOMIC_ACQUIRE) <= GUARD_LIMIT)
		return true;
	__atomic_sub_fetch(guard_count, 1, __ATOMIC_RELEASE);
	return false;
}

static inline __attribute__((always_inline)) void guard_give(void)
{
	if (guard_sem)
		sem_post(guard_sem);
	else
		__atomic_sub_fetch(guard_count, 1, __ATOMIC_RELEASE);
}

static double run_connect(int n, bool guarded)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET };
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t len = sizeof(a);
	if (bind(ls, (void *)&a, sizeof(a)) < 0 || listen(ls, 4096) < 0 ||
	    getsockname(ls, (void *)&a, &len) < 0)
		return -1;
	pthread_t t;
	pthread_create(&t, NULL, acceptor, &ls);
	double t0 = now_ns();
	for (int i = 0; i < n; i++) {
		int s = socket(AF_INET, SOCK_STREAM, 0);
		if ((guarded && !guard_take()) ||
		    connect(s, (void *)&a, sizeof(a)) < 0)
			return -1;
		close(s);
		if (guarded)
			guard_give();
	}
	return (now_ns() - t0) / n;
}

/* arg copied to a fixed alignment: where the environment leaves argv must
 * not change what is measured (the shim reads paths in blocks). */
static const char *aligned_path(const char *arg)
{
	static char path[4096] __attribute__((aligned(64)));
	snprintf(path, sizeof(path), "%s", arg);
	return path;
}

static double run(const char *op, int n, const char *arg)
{
	const char *path = aligned_path(arg);
	const char *guard = getenv("BENCH_GUARD");
	bool guarded = guard != NULL;
	if (guarded && guard_init(guard) < 0)
		return -1;
	if (strcmp(op, "connect") == 0)
		return run_connect(n, guarded);
	int base = open(path, O_RDONLY);
	bool open_op = strcmp(op, "open") == 0;
	double t0 = now_ns();
	for (int i = 0; i < n; i++) {
		if (guarded && !guard_take())
			return -1;
		int fd = open_op ? open(path, O_RDONLY) : dup(base);
		if (fd < 0)
			return -1;
		close(fd);
		if (guarded)
			guard_give();
	}
	return (now_ns() - t0) / n;
}

/* libc's own functions, past the preloaded hooks. */
struct libc_calls {
	int (*open)(const char *, int, ...);
	int (*dup)(int);
	int (*close)(int);
};

static int libc_calls(struct libc_calls *c)
{
	void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
	if (!libc)
		return -1;
	/* Copied, as ISO C has no cast from object to function pointer. */
	void *fn[3] = { dlsym(libc, "open64"), dlsym(libc, "dup"),
	                dlsym(libc, "close") };
	if (!fn[0] || !fn[1] || !fn[2])
		return -1;
	memcpy(&c->open, &fn[0], sizeof(fn[0]));
	memcpy(&c->dup, &fn[1], sizeof(fn[1]));
	memcpy(&c->close, &fn[2], sizeof(fn[2]));
	return 0;
}

/* ns per call pair of n pairs of op, through libc's own functions (raw) or
 * the names the program links (hooked, when preloaded); guarded: a floor's
 * slot around each pair. */
static double pairs(const struct libc_calls *libc, bool raw, bool guarded,
                    const char *op, int n, const char *path, int base)
{
	bool open_op = strcmp(op, "open") == 0;
	double t0 = now_ns();
	for (int i = 0; i < n; i++) {
		int fd;
		if (guarded && !guard_take())
			return -1;
		if (raw)
			fd = open_op ? libc->open(path, O_RDONLY) : libc->dup(base);
		else
			fd = open_op ? open(path, O_RDONLY) : dup(base);
		if (fd < 0)
			return -1;
		if (raw)
			libc->close(fd);
		else
			close(fd);
		if (guarded)
			guard_give();
	}
	return (now_ns() - t0) / n;
}

/* The paired child: rounds of n raw pairs then n hooked ones (a floor's:
 * raw ones with its slot around each), so that both see the same process
 * and the same moment; prints the best of each. */
static int run_paired(const char *op, int n, const char *arg)
{
	const char *path = aligned_path(arg);
	struct libc_calls libc;
	const char *guard = getenv("BENCH_GUARD");
	if (libc_calls(&libc) < 0 || (guard && guard_init(guard) < 0))
		return 1;
	int base = open(path, O_RDONLY);
	double best[2] = { 1e18, 1e18 };
	for (int round = 0; round < 100; round++)
		for (int hooked = 0; hooked < 2; hooked++) {
			double ns = pairs(&libc, !hooked || guard,
			                  hooked && guard, op, n, path, base);
			if (ns < 0)
				return 1;
			if (ns < best[hooked])
				best[hooked] = ns;
		}
	printf("%.2f %.2f\n", best[0], best[1]);
	return 0;
}

/* Runs one variant's op in a child in mode (--child or --paired), and reads
 * the numbers it prints into ret[0..nret). Returns how many it read. */
static int measure(const char *self, const struct variant *v,
                   const char *mode, const char *op, int n, const char *lib,
                   const char *path, double *ret, int nret)
{
	int fds[2];
	if (pipe(fds) < 0)
		return 0;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		unsetenv("LD_PRELOAD");
		unsetenv("THROTTLE_CONFIG");
		unsetenv("BENCH_GUARD");
		if (v->guard)
			setenv("BENCH_GUARD", v->guard, 1);
		if (v->preload)
			setenv("LD_PRELOAD", lib, 1);
		if (v->config)
			setenv("THROTTLE_CONFIG", v->config, 1);
		char nbuf[16];
		snprintf(nbuf, sizeof(nbuf), "%d", n);
		execl(self, self, mode, op, nbuf, path, (char *)NULL);
		_exit(127);
	}
	char buf[64];
	int st;
	ssize_t r = read_child(fds, pid, buf, sizeof(buf), &st);
	int got = 0;
	char *p = buf, *end;
	while (r > 0 && got < nret) {
		ret[got] = strtod(p, &end);
		if (end == p)
			break;
		got++;
		p = end;
	}
	return got;
}

/* The paired table: for each preloaded variant and op, the median, least
 * and greatest hooked/raw ratio over PAIRED_RUNS processes. */
#define PAIRED_RUNS 7
static void paired_table(const char *self, const struct variant *vs, int nv,
                         const char *lib, const char *path)
{
	static const char *pops[] = { "open", "dup" };
	static const int pn[] = { 500, 2000 };
	printf("\n| Variant, in one process | open+close ratio | range | "
	       "dup+close ratio | range |\n|---|---:|---:|---:|---:|\n");
	for (int v = 0; v < nv; v++) {
		if (!vs[v].preload && !vs[v].guard)
			continue;
		printf("| %s |", vs[v].name);
		for (int o = 0; o < 2; o++) {
			double r[PAIRED_RUNS], ns[2];
			int k = 0;
			for (int i = 0; i < PAIRED_RUNS; i++)
				if (measure(self, &vs[v], "--paired", pops[o], pn[o],
				            lib, path, ns, 2) == 2)
					r[k++] = ns[1] / ns[0];
			if (!k) {
				printf(" ? | ? |");
				continue;
			}
			qsort(r, (size_t)k, sizeof(r[0]), cmp_double);
			printf(" %.3f | %.3f-%.3f |", r[k / 2], r[0], r[k - 1]);
		}
		printf("\n");
	}
	printf("\nEach process: 100 rounds of %d (open) or %d (dup) pairs "
	       "through libc's own functions, then as many through the hooked "
	       "names (a floor: libc's own with its slot around each pair); "
	       "the ratio of the best rounds. Median of %d processes.\n",
	       pn[0], pn[1], PAIRED_RUNS);
}

static void write_config(const char *file, const char *pattern_open,
                         const char *pattern_connect)
{
	FILE *f = fopen(file, "w");
	fprintf(f, "pool bench-%d {\n  limit = 1000\n  open = {\"%s\"}\n"
	        "  connect = {\"%s\"}\n}\n", (int)getpid(), pattern_open,
	        pattern_connect);
	fclose(f);
}

int main(int argc, char **argv)
{
	if (argc == 5 && strcmp(argv[1], "--child") == 0) {
		printf("%.2f\n", run(argv[2], atoi(argv[3]), argv[4]));
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "--paired") == 0)
		return run_paired(argv[2], atoi(argv[3]), argv[4]);
	if (argc < 2) {
		fprintf(stderr, "usage: bench-shim LIBTHROTTLE.so\n");
		return 2;
	}
	char dir[] = "/tmp/bench-shim-XXXXXX", path[128], miss[160], hit[160];
	if (!mkdtemp(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/file", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	snprintf(miss, sizeof(miss), "%s/miss.conf", dir);
	snprintf(hit, sizeof(hit), "%s/hit.conf", dir);
	write_config(miss, "/nonexistent/**", "10.255.255.1:1");
	char glob[160];
	snprintf(glob, sizeof(glob), "%s/*", dir);
	write_config(hit, glob, "127.0.0.1:*");
	pin_to_one_cpu();
	const struct variant vs[] = {
		{ "raw", NULL, false, NULL },
		{ "shim, no config", NULL, true, NULL },
		{ "shim, no matching pool", miss, true, NULL },
		{ "shim, matching pool", hit, true, NULL },
		{ "floor: glibc sem_t, no shim", NULL, false, "sem" },
		{ "floor: one atomic each side, no shim", NULL, false, "atomic" },
	};
	enum { NV = sizeof(vs) / sizeof(vs[0]), NO = 3 };
	double best[NV][NO];
	for (int v = 0; v < NV; v++)
		for (int o = 0; o < NO; o++)
			best[v][o] = 1e18;
	for (int round = 0; round < ROUNDS; round++)
		for (int o = 0; o < NO; o++)
			for (int v = 0; v < NV; v++) {
				double ns = -1;
				measure(argv[0], &vs[v], "--child", ops[o], iters[o],
				        argv[1], path, &ns, 1);
				if (ns > 0 && ns < best[v][o])
					best[v][o] = ns;
			}
	printf("\n| Variant | open+close ns | ratio | dup+close ns | ratio | "
	       "loopback connect+close ns | ratio |\n|---|---:|---:|---:|---:|---:|---:|\n");
	for (int v = 0; v < NV; v++) {
		printf("| %s |", vs[v].name);
		for (int o = 0; o < NO; o++)
			printf(" %.0f | %.3f |", best[v][o], best[v][o] / best[0][o]);
		printf("\n");
	}
	printf("\nBest of %d interleaved rounds; %d/%d/%d calls per round. "
	       "dup+close measures close() of descriptors the shim never "
	       "tracked, except in the matching-pool row, where each copy "
	       "shares the tracked description of the file it dups. The floors "
	       "take a slot of a semaphore shared between processes before each "
	       "call and give it back after its close, with no shim: what any "
	       "such semaphore costs here, before paths, hooks or records.\n",
	       ROUNDS, iters[0], iters[1], iters[2]);
	paired_table(argv[0], vs, NV, argv[1], path);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s /dev/shm/throttle.bench-%d", dir,
	         (int)getpid());
	return system(cmd) == 0 ? 0 : 1;
}
