/* probe.h - the shared command line, output and hold logic of the probe
 * programs, small unmodified-looking binaries that each make one intercepted
 * libc call so the integration tests can watch the shim from outside.
 *
 * Every probe takes
 *     probe-<call> [options] TARGET COUNT HOLD [LINGER]
 * makes COUNT calls on TARGET keeping every result, prints one line per call,
 * holds the results for HOLD, gives them back with its release call, prints
 * "released", stays alive for LINGER (so a test can tell a release at the
 * call from one at exit), prints "done" and exits 0. HOLD and LINGER are
 * milliseconds, or @FILE: wait until FILE exists. Output goes to stdout with
 * plain write(2) calls, one whole line each, never through stdio:
 *     ok fd=N ms=T            a call succeeded (T: how long it took)
 *     err errno=NAME ms=T     a call failed
 * plus a few probe-specific event lines documented in each probe. Exit 2 is a
 * usage error; anything else the test judges from the lines.
 *
 * Files the probe needs for itself (the witness counter) are opened with raw
 * syscalls so that they never go through the shim. */
#ifndef THR_PROBE_H
#define THR_PROBE_H

#include <stdbool.h>
#include <stdio.h>
#include <stdint.h>

#define PROBE_MAX 256           /* most calls one probe makes */

/* One result held by a probe. */
struct probe_held {
	int fd;                 /* the descriptor, -1 if the call failed */
	FILE *f;                /* the stream, for the stdio probes */
};

/* The parsed command line. */
struct probe {
	const char *prog;       /* argv[0] */
	const char *target;     /* path, host:port or unix:path */
	int count;              /* calls to make, 1..PROBE_MAX */
	const char *hold;       /* "N" ms or "@file" */
	const char *linger;     /* "N" ms or "@file"; "0" by default */
	int flags;              /* -f: open flags, O_RDONLY by default */
	const char *mode;       /* -m: fopen mode, "r" by default */
	const char *dir;        /* -d: directory for the *at calls */
	const char *variant;    /* -e: which of several ways to do the call */
	bool alt;               /* -x: the probe's alternative behaviour */
	bool nonblock;          /* -n: non-blocking connect */
	bool sigusr1;           /* -s: SIGUSR1 handler without SA_RESTART */
	bool sa_restart;        /* -S: the same handler, with SA_RESTART */
	const char *witness;    /* -w: shared counter file (see below) */
	struct probe_held held[PROBE_MAX];
	int nheld;              /* results kept, successes and failures */
};

/* How a probe makes one call and gives one result back. take() fills h and
 * returns 0, or 1 when it has printed the result line itself, or -1 with
 * errno set. give() releases one successful result and
 * returns 0, or -1 with errno set. give_all(), when set, replaces the give()
 * loop (close_range, closefrom, fcloseall). */
struct probe_ops {
	const char *usage;      /* extra usage text, one line */
	int (*take)(struct probe *p, int i, struct probe_held *h);
	int (*give)(struct probe *p, struct probe_held *h);
	int (*give_all)(struct probe *p);
};

/* Parses argv into p, or prints usage and exits 2. */
void probe_parse(struct probe *p, int argc, char **argv, const char *usage);

/* The whole take/hold/give/linger run described at the top. */
int probe_run(int argc, char **argv, const struct probe_ops *ops);

/* Prints one line (a newline is added), with a single write(2). */
void probe_emit(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reports a call that returned fd (>= 0) or failed with err, timed from t0
 * (probe_now_ms()). */
void probe_report(int fd, int err, uint64_t t0);

uint64_t probe_now_ms(void);

/* A system call straight to the kernel, with syscall()'s contract (-1 and
 * errno): for what the probe does for itself, which the shim must not see.
 * Not syscall(), which the shim hooks as libuv's closes need it to. */
long probe_raw(long number, long a, long b, long c, long d);

/* A socket of type (SOCK_STREAM, with SOCK_NONBLOCK or not) connect()ed
 * to target, IPV4-ADDRESS:PORT (exit 2 on anything else). Returns it, or
 * -1 with errno from connect(), the socket closed; in progress counts as
 * connected for a non-blocking one. */
int probe_connect4(const char *target, int type);

/* Waits as spec says: "N" milliseconds, or "@file" until file exists. */
void probe_wait(const char *spec);

/* Parses "rdonly|creat|cloexec..." into open flags; -1 if unknown. */
int probe_parse_flags(const char *s);

/* Does open() need its mode argument with these flags? */
bool probe_needs_mode(int flags);

/* A descriptor on /dev/null made without the shim, for dup2 targets. */
int probe_devnull(void);

/* The witness counter: with -w FILE, every probe sharing FILE counts how
 * many results are held at once (incremented after a successful call,
 * decremented before its release), and the largest count seen. */
void probe_witness_take(struct probe *p);
void probe_witness_give(struct probe *p);

/* Opens the target COUNT times with open() (the mode too if the flags need
 * it), reporting each and keeping it in p->held, and writes the
 * descriptors as "3,4,..." into fds (len bytes): for probes that hand them
 * to ./holder. */
void probe_open_list(struct probe *p, char *fds, size_t len);

/* The argument vector that starts ./holder with the descriptors of
 * probe_open_list() (fds) and the probe's HOLD and LINGER. Static storage. */
char **probe_holder_argv(const struct probe *p, char *fds);

/* Closes every descriptor in p->held, printing "relerr" for a failure. */
void probe_close_held(struct probe *p);

/* The path of a program next to this one (for exec targets). */
const char *probe_sibling(const char *name);

/* Default release: close(h->fd). */
int probe_give_close(struct probe *p, struct probe_held *h);

/* Default release for streams: fclose(h->f). */
int probe_give_fclose(struct probe *p, struct probe_held *h);

#endif
