/* ctl-run.c - `throttlectl run`: holds one slot of a pool while a command
 * runs, a system-wide, fair and crash-safe `sem` or flock loop. Never lets
 * the command start before it co-holds the slot itself, so that killing
 * either process never frees a slot the other still uses; never writes to
 * stdout, which is the command's. */
#define _GNU_SOURCE
#include "ctl.h"
#include "clock.h"
#include "layout.h"
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

/* Exit statuses of run's own, apart from the command's (see run_help). */
enum {
	RUN_EXIT_FULL = EX_TEMPFAIL,  /* 75: --fail found the pool full */
	RUN_EXIT_TIMEOUT = 124,       /* -t passed, as timeout(1) */
	RUN_EXIT_ERROR = 125,         /* run itself failed */
	RUN_EXIT_CANNOT_RUN = 126,    /* as env(1) */
	RUN_EXIT_NOT_FOUND = 127,
	RUN_EXIT_SIGNAL = 128,        /* plus the signal, as a shell says */
};

static const char run_help[] =
	"\nHolds one slot of POOL while COMMAND runs: at most the pool's limit\n"
	"of such commands run at once, system-wide, served first come, first\n"
	"served. The pool is created with limit N (--limit, default 1) if it\n"
	"does not exist; the limit of an existing pool is left as it is\n"
	"(throttlectl set-limit changes it). The slot is taken before COMMAND\n"
	"starts, and COMMAND holds it too: if run is killed, even with\n"
	"SIGKILL, the slot stays held until COMMAND ends; if either dies, the\n"
	"slot comes back by itself once both are gone.\n"
	"\n  --limit N           the limit of the pool if run creates it\n"
	"                      (1-1024)\n"
	"  -t, --timeout SECS  wait at most SECS (decimals allowed; 0 tries\n"
	"                      once)\n"
	"  --fail              do not wait: fail at once if the pool is full\n"
	"\nSignals sent to run (HUP INT QUIT TERM USR1 USR2 ALRM WINCH CONT)\n"
	"are passed on to COMMAND, and run then exits with COMMAND's status.\n"
	"COMMAND runs in run's process group, so a terminal's Ctrl-C or\n"
	"Ctrl-\\ reaches both; run does not pass on what the kernel sent to\n"
	"the whole group, so COMMAND gets it once. While run still waits for\n"
	"a slot, a signal that would end it (all of those but WINCH and CONT)\n"
	"ends the wait: run exits 128+N without running COMMAND, and leaves\n"
	"no place in the queue.\n"
	"\nExit status: COMMAND's own; 128+N if COMMAND was killed by signal N\n"
	"(for SIGINT, run ends itself by SIGINT, so that a shell loop stops\n"
	"on Ctrl-C); 124 -t passed before a slot was free; 75 --fail found the\n"
	"pool full; 125 run itself failed (a bad or unusable pool); 126\n"
	"COMMAND cannot be run; 127 COMMAND not found; 2 usage.\n";

static int run_run(int argc, char **argv);

const struct thr_ctl_verb thr_ctl_run = {
	"run", "POOL [--limit N] [-t SECS | --fail] [--] COMMAND [ARGS...]",
	"hold one slot of POOL while COMMAND runs: a system-wide, fair, "
	"crash-safe sem", run_run, true,
};

struct run_args {
	const char *pool;
	char **command;         /* NULL-terminated, as execvp takes it */
	uint32_t limit;
	bool has_timeout;
	double timeout;         /* seconds */
	bool fail;
};

/* ---- the command line ---------------------------------------------------- */

/* Options until the next operand, or past a "--". Returns -1 to go on,
 * else the exit status; *dashdash says a "--" ended them. */
static int read_options(int argc, char **argv, struct run_args *a,
                        bool *dashdash)
{
	static const struct option longopts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "limit", required_argument, NULL, 'l' },
		{ "timeout", required_argument, NULL, 't' },
		{ "fail", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const struct thr_ctl_verb *v = &thr_ctl_run;
	for (;;) {
		int before = optind;
		int c = getopt_long(argc, argv, "+:ht:", longopts, NULL);
		if (c == -1) {
			*dashdash = optind == before + 1 &&
			            strcmp(argv[before], "--") == 0;
			return -1;
		}
		if (c == 'h')
			return thr_ctl_help(v, run_help);
		if (c == 'f') {
			a->fail = true;
		} else if (c == 'l') {
			unsigned long long n;
			if (!thr_ctl_parse_whole(optarg, 1, THR_SLOTS, &n))
				return thr_ctl_usage_error(v, "--limit '%s' is not "
				                           "a number 1-%u", optarg,
				                           THR_SLOTS);
			a->limit = (uint32_t)n;
		} else if (c == 't') {
			/* seconds, decimals allowed, 0 and up */
			a->has_timeout = thr_ctl_parse_seconds(optarg, 0, 1e9,
			                                       &a->timeout);
			if (!a->has_timeout)
				return thr_ctl_usage_error(v, "-t '%s' is not a "
				                           "number of seconds, 0 "
				                           "or more", optarg);
		} else {
			return thr_ctl_bad_option(v, c, argv[optind - 1]);
		}
	}
}

/* POOL, then COMMAND, options before and between them. Returns -1 to go
 * on, else the exit status. */
static int read_args(int argc, char **argv, struct run_args *a)
{
	bool dashdash = false;
	opterr = 0;
	optind = 1;
	int r = read_options(argc, argv, a, &dashdash);
	if (r >= 0)
		return r;
	if (optind >= argc)
		return thr_ctl_usage_error(&thr_ctl_run, "no pool named");
	a->pool = argv[optind++];
	if (!dashdash && (r = read_options(argc, argv, a, &dashdash)) >= 0)
		return r;
	if (optind >= argc)
		return thr_ctl_usage_error(&thr_ctl_run, "no command given");
	if (a->fail && a->has_timeout)
		return thr_ctl_usage_error(&thr_ctl_run, "--fail never waits, "
		                           "so -t cannot go with it");
	a->command = argv + optind;
	return -1;
}

/* ---- signals ------------------------------------------------------------- */

/* What run passes on to the command. All but the last two end a wait. */
static const int forwarded[] = {
	SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGALRM,
	SIGWINCH, SIGCONT,
};
#define NFORWARDED (sizeof(forwarded) / sizeof(forwarded[0]))

static volatile sig_atomic_t ending_signal; /* one that ends a wait */
static bool caught[NSIG];       /* not ignored when run began: ours */
static sigset_t start_mask;     /* the mask run began with */
static struct sigaction start_chld;

/* A signal that ends the wait also ends one that has not begun yet: it
 * may come between catch_signals() and the engine's look at pending
 * signals, with nothing left pending for it to see. */
static void note_signal(int sig)
{
	if (sig != SIGWINCH && sig != SIGCONT) {
		ending_signal = sig;
		thr_pool_end_waits();
	}
}

/* Catches the forwarded signals, but those run was started with ignored
 * (a shell's background job ignores SIGINT): the command inherits that.
 * WINCH and CONT have SA_RESTART, so that the engine's wait goes on. */
static void catch_signals(void)
{
	struct sigaction sa = { .sa_handler = note_signal }, old;
	sigprocmask(SIG_SETMASK, NULL, &start_mask);
	for (size_t i = 0; i < NFORWARDED; i++) {
		int sig = forwarded[i];
		if (sigaction(sig, NULL, &old) < 0 || old.sa_handler == SIG_IGN)
			continue;
		sa.sa_flags = sig == SIGWINCH || sig == SIGCONT ? SA_RESTART : 0;
		caught[sig] = sigaction(sig, &sa, NULL) == 0;
	}
	/* An ignored SIGCHLD would reap the command before we look at it. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	sigaction(SIGCHLD, &dfl, &start_chld);
}

/* The signals waited for while the command runs: blocked from the slot's
 * grant on, so that none is lost before sigwaitinfo() looks. */
static void running_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGCHLD);
	for (size_t i = 0; i < NFORWARDED; i++)
		if (caught[forwarded[i]])
			sigaddset(set, forwarded[i]);
}

/* In the child, before exec: the dispositions and mask run began with. */
static void restore_signals(void)
{
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	for (size_t i = 0; i < NFORWARDED; i++)
		if (caught[forwarded[i]])
			sigaction(forwarded[i], &dfl, NULL);
	sigaction(SIGCHLD, &start_chld, NULL);
	sigprocmask(SIG_SETMASK, &start_mask, NULL);
}

/* The status of an end by signal sig. For SIGINT run ends itself by it,
 * when it can: a shell that got the same Ctrl-C stops its loop only when
 * the program it waited for died of it. */
static int signal_status(int sig)
{
	if (sig == SIGINT && caught[SIGINT]) {
		sigset_t one;
		signal(SIGINT, SIG_DFL);
		sigemptyset(&one);
		sigaddset(&one, SIGINT);
		raise(SIGINT);
		sigprocmask(SIG_UNBLOCK, &one, NULL);
	}
	return RUN_EXIT_SIGNAL + sig;
}

/* ---- the slot ------------------------------------------------------------ */

/* The command line, cut to what a record keeps, to show in status. */
static void describe(char **command, char *buf, size_t len)
{
	size_t n = 0;
	buf[0] = '\0';
	for (size_t i = 0; command[i] && n + 1 < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? " " : "",
		                      command[i]);
}

/* Takes the slot as a says, then blocks the running signals. Returns 0,
 * or the exit status, holding nothing. */
static int take_slot(struct thr_pool *pool, const struct run_args *a,
                     uint32_t *hold)
{
	char target[THR_POOL_TARGET_MAX + 1];
	struct thr_pool_req req = { .mode = THR_POOL_WAIT, .fd = THR_POOL_FD_PROCESS,
	                            .target = target, .restart = true };
	sigset_t running;
	int r;

	describe(a->command, target, sizeof(target));
	if (a->fail)
		req.mode = THR_POOL_TRY;
	else if (a->has_timeout) {
		req.mode = THR_POOL_DEADLINE;
		req.deadline =
			thr_clock_deadline_ns((uint64_t)(a->timeout * 1e9));
	}
	do
		r = thr_pool_acquire(pool, &req, hold);
	while ((r == -EINTR || r == -ECANCELED) && !ending_signal);
	running_signals(&running);
	sigprocmask(SIG_BLOCK, &running, NULL);
	if (r == 0 && ending_signal)
		thr_pool_release(pool, *hold);
	if (ending_signal)
		return signal_status(ending_signal);
	if (r == -EAGAIN)
		fprintf(stderr, "throttlectl: pool '%s' is full\n", a->pool);
	else if (r == -ETIMEDOUT)
		fprintf(stderr, "throttlectl: pool '%s': no slot free within "
		        "%g s\n", a->pool, a->timeout);
	else if (r < 0)
		fprintf(stderr, "throttlectl: pool '%s': cannot take a slot: "
		        "%s\n", a->pool, strerror(-r));
	return r == 0 ? 0 : r == -EAGAIN ? RUN_EXIT_FULL
	                  : r == -ETIMEDOUT ? RUN_EXIT_TIMEOUT : RUN_EXIT_ERROR;
}

/* ---- the command --------------------------------------------------------- */

/* The child: waits for word that it co-holds the slot, then becomes the
 * command. If run dies first, the command never starts. */
static _Noreturn void exec_when_told(int go, char **command)
{
	char c;
	ssize_t n;
	do
		n = read(go, &c, 1);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		_exit(RUN_EXIT_ERROR);
	restore_signals();
	execvp(command[0], command);
	int e = errno;
	fprintf(stderr, "throttlectl: cannot run '%s': %s\n", command[0],
	        strerror(e));
	_exit(e == ENOENT ? RUN_EXIT_NOT_FOUND : RUN_EXIT_CANNOT_RUN);
}

/* Starts the command as co-holder of the slot hold. Returns 0 with *child
 * and its record *child_hold, or the exit status (nothing started). */
static int start_command(struct thr_pool *pool, const struct run_args *a,
                         uint32_t hold, pid_t *child, uint32_t *child_hold)
{
	int go[2]; /* a socket, so that a dead child's end raises no SIGPIPE */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, go) < 0) {
		fprintf(stderr, "throttlectl: cannot start '%s': %s\n",
		        a->command[0], strerror(errno));
		return RUN_EXIT_ERROR;
	}
	fflush(NULL);
	*child = fork();
	if (*child == 0) {
		close(go[1]);
		exec_when_told(go[0], a->command);
	}
	int e = errno;
	close(go[0]);
	int r = *child < 0 ? -e : thr_pool_cohold(pool, hold, *child,
	                                          THR_POOL_FD_PROCESS, child_hold);
	bool coholds = r == 0;
	if (r == 0 && send(go[1], "g", 1, MSG_NOSIGNAL) != 1)
		r = -errno;
	close(go[1]);
	if (r == 0)
		return 0;
	fprintf(stderr, "throttlectl: cannot start '%s' holding a slot of "
	        "'%s': %s\n", a->command[0], a->pool, strerror(-r));
	if (*child > 0) {
		kill(*child, SIGKILL);
		/* Its record goes with it, before its pid is free: left, it
		 * would keep the slot until a reclaim. */
		if (coholds)
			thr_pool_uncohold(pool, *child_hold, *child);
		waitpid(*child, NULL, 0);
	}
	return RUN_EXIT_ERROR;
}

/* Passes signals on until the child ends; leaves it unreaped, so that its
 * pid stays its own. Returns 0 with its end in *end, as waitid() tells
 * it, or -errno. */
static int wait_command(pid_t child, siginfo_t *end)
{
	sigset_t set;
	siginfo_t si;
	running_signals(&set);
	for (;;) {
		int sig = sigwaitinfo(&set, &si);
		if (sig > 0 && sig != SIGCHLD && si.si_code != SI_KERNEL)
			kill(child, sig); /* the kernel's went to the group */
		if (sig != SIGCHLD)
			continue;
		memset(end, 0, sizeof(*end));
		if (waitid(P_PID, (id_t)child, end, WEXITED | WNOHANG | WNOWAIT) < 0)
			return -errno;
		if (end->si_pid == child)
			return 0;
	}
}

static int run_run(int argc, char **argv)
{
	struct run_args a = { .limit = 1 };
	int status = read_args(argc, argv, &a);
	if (status >= 0)
		return status;

	struct thr_pool_opts opts = { .limit = a.limit, .create = true };
	char err[THR_POOL_ERR_LEN];
	struct thr_pool *pool;
	uint32_t hold, child_hold;
	pid_t child;
	if (thr_pool_open(a.pool, &opts, &pool, err) < 0) {
		fprintf(stderr, "throttlectl: %s\n", err);
		return RUN_EXIT_ERROR;
	}
	catch_signals();
	status = take_slot(pool, &a, &hold);
	if (status == 0 &&
	    (status = start_command(pool, &a, hold, &child, &child_hold)) != 0)
		thr_pool_release(pool, hold);
	if (status != 0) {
		thr_pool_close(pool);
		return status;
	}
	siginfo_t end;
	int r = wait_command(child, &end);
	thr_pool_uncohold(pool, child_hold, child); /* before its pid is free */
	thr_pool_release(pool, hold);
	thr_pool_close(pool);
	if (r < 0) { /* cannot be: the child is ours, and unreaped */
		fprintf(stderr, "throttlectl: cannot wait for '%s': %s\n",
		        a.command[0], strerror(-r));
		return RUN_EXIT_ERROR;
	}
	waitpid(child, NULL, 0);
	if (end.si_code == CLD_EXITED)
		return end.si_status;
	return signal_status(end.si_status);
}
