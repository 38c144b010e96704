/* ctl-top.c - `throttlectl top`: the pools' live view, redrawn in place every
 * interval with plain ANSI sequences, frames formatted by top.c. Reads pools
 * only. Whatever ends it (q, -n, a signal, an error), the terminal is left
 * as it was found: modes, cursor and screen. */
#define _GNU_SOURCE
#include "ctl.h"
#include "options.h"
#include "status.h"
#include "top.h"

#include <errno.h>
#include <limits.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static const char top_help[] =
	"\nA live view of every pool you can read (or the named ones), redrawn\n"
	"in place every interval: LIMIT, IN_USE (with a bar of the limit),\n"
	"WAITING, DEAD (slots only dead processes hold, until a reclaim), then\n"
	"over the last interval GRANTS/S, TIMEOUTS/S and WAIT_P50, WAIT_P99:\n"
	"the median and 99th percentile wait of the grants in it, as the bound\n"
	"of the engine's log2 bucket they fall in ('<524ms'; '0' for no wait;\n"
	"'-' when nothing was granted). The first frame has no interval yet.\n"
	"Keys: q quits. A pool made while top runs shows up (unless pools are\n"
	"named); one removed goes. Ctrl-Z gives the terminal back while top is\n"
	"stopped.\n"
	"\n  -d SECS   the interval, 0.05 to 86400, decimals allowed (default 1)\n"
	"  -n COUNT  draw COUNT frames, then exit\n"
	"\nWithout a terminal on stdout it prints one frame, over one interval,\n"
	"with no control sequences, and exits. Exit status: 0 (q, -n, or the\n"
	"one frame), 1 a named pool is missing or unreadable, 2 usage; ended by\n"
	"SIGINT, SIGQUIT, SIGTERM or SIGHUP, it restores the terminal and dies\n"
	"of that signal.\n";

static int run_top(int argc, char **argv);

const struct thr_ctl_verb thr_ctl_top = {
	"top", "[-d SECS] [-n COUNT] [POOL...]",
	"a live view of the pools: use, waits, grants and timeouts per "
	"second, wait percentiles", run_top, false,
};

struct top_opts {
	double every;           /* seconds between frames */
	long count;             /* frames to draw; 0: until q */
	char **names;           /* the pools named, or none: all */
	int nnames;
};

/* ---- options ------------------------------------------------------------ */

static int parse_every(const char *arg, double *every)
{
	if (!thr_ctl_parse_seconds(arg, 0.05, 86400, every))
		return thr_ctl_usage_error(&thr_ctl_top, "-d '%s': the interval is "
		                           "0.05 to 86400 seconds", arg);
	return -1;
}

static int parse_count(const char *arg, long *count)
{
	unsigned long long n;
	if (!thr_ctl_parse_whole(arg, 1, LONG_MAX, &n))
		return thr_ctl_usage_error(&thr_ctl_top, "-n '%s': the count is a "
		                           "whole number from 1", arg);
	*count = (long)n;
	return -1;
}

/* Returns -1 to go on with o filled, else the exit status. */
static int top_options(int argc, char **argv, struct top_opts *o)
{
	const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, r = -1;

	*o = (struct top_opts){ .every = 1.0 };
	opterr = 0;
	optind = 1;
	while (r < 0 && (c = getopt_long(argc, argv, "hd:n:", longopts,
	                                 NULL)) != -1) {
		if (c == 'h')
			r = thr_ctl_help(&thr_ctl_top, top_help);
		else if (c == 'd')
			r = parse_every(optarg, &o->every);
		else if (c == 'n')
			r = parse_count(optarg, &o->count);
		else
			r = thr_ctl_bad_option(&thr_ctl_top, c, argv[optind - 1]);
	}
	o->names = argv + optind;
	o->nnames = argc - optind;
	return r;
}

/* ---- reading the pools -------------------------------------------------- */

/* The pools as they are now: the named ones still there (each once), or
 * every readable one. Quietly: what was wrong at the start was said then,
 * before the screen was taken, and a pool removed meanwhile just goes. */
static void read_pools(const struct top_opts *o, struct thr_ctl_pools *l)
{
	if (o->nnames == 0)
		thr_ctl_pools_scan(l, false);
	else
		thr_ctl_pools_named(l, o->names, o->nnames, false);
	thr_status_sort(l->v, l->n);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* s >= 0 seconds as a timespec. */
static struct timespec timespec_of(double s)
{
	time_t whole = (time_t)s;
	return (struct timespec){ whole, (long)((s - (double)whole) * 1e9) };
}

/* Two readings of the pools, the later one's time and how far apart. */
struct readings {
	struct thr_ctl_pools before, now;
	double at, elapsed;
	bool have_before;
};

static void read_next(const struct top_opts *o, struct readings *rd)
{
	thr_ctl_pools_free(&rd->before);
	rd->before = rd->now;
	rd->have_before = rd->at > 0;
	rd->now = (struct thr_ctl_pools){ 0 };
	read_pools(o, &rd->now);
	double t = now_s();
	rd->elapsed = rd->have_before ? t - rd->at : 0;
	rd->at = t;
}

/* Writes the frame of rd, cut to width (0: not), into out. */
static int write_frame(FILE *out, const struct top_opts *o,
                       const struct readings *rd, int width)
{
	char clock[16] = "--:--:--";
	time_t t = time(NULL);
	struct tm tm;
	if (localtime_r(&t, &tm))
		strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	struct thr_top_frame f = {
		.now = rd->now.v, .n = rd->now.n,
		.before = rd->have_before ? rd->before.v : NULL,
		.nbefore = rd->have_before ? rd->before.n : 0,
		.elapsed = rd->elapsed, .every = o->every, .clock = clock,
		.width = width,
	};
	return thr_top_write(out, &f);
}

/* ---- without a terminal: one frame -------------------------------------- */

static int one_frame(const struct top_opts *o)
{
	struct readings rd = { 0 };
	read_next(o, &rd);
	struct timespec nap = timespec_of(o->every);
	while (nanosleep(&nap, &nap) < 0 && errno == EINTR)
		;
	read_next(o, &rd);
	int r = write_frame(stdout, o, &rd, 0);
	thr_ctl_pools_free(&rd.before);
	thr_ctl_pools_free(&rd.now);
	return thr_ctl_output_done(r);
}

/* ---- the terminal ------------------------------------------------------- */

static volatile sig_atomic_t ending_signal, resized, stopping;

static void on_end(int sig) { ending_signal = sig; }
static void on_winch(int sig) { (void)sig; resized = 1; }
static void on_stop(int sig) { (void)sig; stopping = 1; }

struct screen {
	bool keys;              /* stdin is a terminal we read keys from */
	struct termios saved;   /* its modes, to restore */
	sigset_t wait_mask;     /* the mask while waiting: signals let in */
	sigset_t saved_mask;
	int rows, cols;
};

static void screen_size(struct screen *sc)
{
	struct winsize ws;
	sc->rows = 24;
	sc->cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 &&
	    ws.ws_col > 0) {
		sc->rows = ws.ws_row;
		sc->cols = ws.ws_col;
	}
}

/* Signals stay blocked but while waiting (ppoll), so that none comes
 * between the look at the flags and the wait. */
static void catch_signals(struct screen *sc)
{
	struct sigaction sa = { 0 };
	sigset_t block;
	sigemptyset(&block);
	sa.sa_handler = on_end;
	/* SIGQUIT (Ctrl-\) too: dying of it is no reason to leave the
	 * terminal raw, its cursor hidden. */
	const int ends[] = { SIGINT, SIGQUIT, SIGTERM, SIGHUP };
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++) {
		sigaction(ends[i], &sa, NULL);
		sigaddset(&block, ends[i]);
	}
	sa.sa_handler = on_winch;
	sigaction(SIGWINCH, &sa, NULL);
	sigaddset(&block, SIGWINCH);
	sa.sa_handler = on_stop;
	sigaction(SIGTSTP, &sa, NULL);
	sigaddset(&block, SIGTSTP);
	sigprocmask(SIG_BLOCK, &block, &sc->saved_mask);
	sc->wait_mask = sc->saved_mask;
	for (size_t i = 0; i < sizeof(ends) / sizeof(ends[0]); i++)
		sigdelset(&sc->wait_mask, ends[i]);
	sigdelset(&sc->wait_mask, SIGWINCH);
	sigdelset(&sc->wait_mask, SIGTSTP);
}

/* Keys without Enter and without echo; the alternate screen, cursor
 * hidden. */
static void screen_open(struct screen *sc)
{
	sc->keys = isatty(STDIN_FILENO) &&
	           tcgetattr(STDIN_FILENO, &sc->saved) == 0;
	if (sc->keys) {
		struct termios raw = sc->saved;
		raw.c_lflag &= (tcflag_t)~(ICANON | ECHO);
		raw.c_cc[VMIN] = 0;
		raw.c_cc[VTIME] = 0;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &raw);
	}
	fputs("\033[?1049h\033[?25l", stdout);
	screen_size(sc);
}

static void screen_close(struct screen *sc)
{
	fputs("\033[?25h\033[?1049l", stdout);
	fflush(stdout);
	if (sc->keys)
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &sc->saved);
}

/* Draws the frame from the top left, each line cut to the width and
 * cleared to its end, as many as fit, and clears what is below. */
static void draw(const struct top_opts *o, const struct readings *rd,
                 const struct screen *sc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = open_memstream(&buf, &len);
	if (!mem)
		return;
	write_frame(mem, o, rd, sc->cols);
	fclose(mem);
	fputs("\033[H", stdout);
	int row = 0;
	for (char *line = buf, *nl; row < sc->rows && (nl = strchr(line, '\n'));
	     line = nl + 1, row++) {
		if (row > 0)
			fputs("\r\n", stdout);
		fwrite(line, 1, (size_t)(nl - line), stdout);
		fputs("\033[K", stdout);
	}
	fputs("\033[J", stdout);
	fflush(stdout);
	free(buf);
}

/* Ctrl-Z: gives the terminal back as it was, stops as if SIGTSTP had not
 * been caught, and once continued takes it again (its modes read anew: the
 * shell may have changed them meanwhile) and redraws. */
static void suspend(const struct top_opts *o, const struct readings *rd,
                    struct screen *sc)
{
	sigset_t tstp;
	stopping = 0;
	screen_close(sc);
	signal(SIGTSTP, SIG_DFL);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	sigprocmask(SIG_UNBLOCK, &tstp, NULL);
	raise(SIGTSTP);
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	struct sigaction sa = { .sa_handler = on_stop };
	sigaction(SIGTSTP, &sa, NULL);
	screen_open(sc);
	draw(o, rd, sc);
}

/* Did the keys read now ask to quit? */
static bool quit_key(void)
{
	char keys[64];
	ssize_t n = read(STDIN_FILENO, keys, sizeof(keys));
	for (ssize_t i = 0; i < n; i++)
		if (keys[i] == 'q' || keys[i] == 'Q')
			return true;
	return false;
}

/* Waits until the next frame is due at `due`, redrawing on a resize and
 * stopping on Ctrl-Z. Returns false when q was pressed or a signal asks
 * to end. */
static bool wait_frame(const struct top_opts *o, const struct readings *rd,
                       struct screen *sc, double due)
{
	for (;;) {
		if (ending_signal)
			return false;
		if (stopping)
			suspend(o, rd, sc);
		if (resized) {
			resized = 0;
			screen_size(sc);
			draw(o, rd, sc);
		}
		double left = due - now_s();
		if (left <= 0)
			return true;
		struct timespec ts = timespec_of(left);
		struct pollfd pfd = { STDIN_FILENO, POLLIN, 0 };
		int r = ppoll(&pfd, sc->keys ? 1 : 0, &ts, &sc->wait_mask);
		if (r > 0 && (pfd.revents & POLLIN) && quit_key())
			return false;
		if (r > 0 && (pfd.revents & (POLLHUP | POLLERR)))
			sc->keys = false;
	}
}

static int live_view(const struct top_opts *o)
{
	struct screen sc;
	struct readings rd = { 0 };
	catch_signals(&sc);
	screen_open(&sc);
	for (long frame = 0; o->count == 0 || frame < o->count; frame++) {
		if (frame > 0 && !wait_frame(o, &rd, &sc, rd.at + o->every))
			break;
		read_next(o, &rd);
		draw(o, &rd, &sc);
	}
	screen_close(&sc);
	thr_ctl_pools_free(&rd.before);
	thr_ctl_pools_free(&rd.now);
	if (ending_signal) {
		/* Dies of it, as if never caught, now that the terminal is
		 * back: the caller sees how it ended. */
		signal(ending_signal, SIG_DFL);
		sigprocmask(SIG_SETMASK, &sc.wait_mask, NULL);
		raise(ending_signal);
	}
	sigprocmask(SIG_SETMASK, &sc.saved_mask, NULL);
	return 0;
}

static int run_top(int argc, char **argv)
{
	struct top_opts o;
	struct thr_ctl_pools l = { 0 };
	int status = top_options(argc, argv, &o);
	if (status >= 0)
		return status;
	/* The named pools must be there at the start, said on stderr before
	 * the screen is taken. */
	status = thr_ctl_pools_read(&thr_ctl_top, o.names, o.nnames, &l);
	thr_ctl_pools_free(&l);
	if (status != 0)
		return status;
	return isatty(STDOUT_FILENO) ? live_view(&o) : one_frame(&o);
}
