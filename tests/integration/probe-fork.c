/* probe-fork.c - open(path, flags) COUNT times, then fork(): the child is a
 * co-holder of every slot. Lines, besides the "ok"/"err" of each open:
 *   default (parent lets go first):
 *     parent-released    the parent has closed its copies
 *     child-released     the child, after HOLD, has closed its copies; it
 *                        then lingers for LINGER before exiting
 *     done               the parent has reaped the child
 *   -x (child lets go first):
 *     child-exited       the child closed its copies and exited
 *     parent-released    the parent, after HOLD, has closed; then LINGER
 *     done
 *   -e both (both hold; for killing the child):
 *     forked child=PID   the child holds until HOLD, then closes, exits
 *     parent-released    the parent, after LINGER, has closed
 *     done               the parent has reaped the child
 *   -e _Fork: the same as the default (or -x), with glibc's _Fork(), which
 *   runs no atfork handlers, in place of fork()
 *   -e clone: the same, with clone() (no CLONE_VM: a copy of our memory)
 *   -e clone-newpid: the same, the child pid 1 of a new pid namespace
 *   (needs root: fork-failed errno=EPERM without)
 *   -e clone-tls (after the opens: a clone() child with a TLS of our own
 *   making, below which nothing is mapped, exits 42 by a bare system call;
 *   the shim must not run its code there):
 *     clone-tls exit=N   or signal=N, or skip (not x86-64)
 *   -e race (COUNT rounds of: open, fork, the child closes its copy at once
 *   and lives on, the parent closes too, then opens again, which a pool of
 *   1 refuses if the child's co-hold outlived the child's close):
 *     race held=H rounds=N  H reopens refused of N */
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* One round of -e race: true if the reopen found the slot still held. The
 * parent reopens only once the child says it has closed its copy. */
static bool race_round(const struct probe *p)
{
	int fd = open(p->target, p->flags), closed[2];
	char c;
	if (fd < 0 || pipe(closed) < 0)
		return true;
	pid_t pid = fork();
	if (pid == 0) {
		close(fd);
		if (write(closed[1], "c", 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(fd);
	close(closed[1]);
	if (pid < 0 || read(closed[0], &c, 1) != 1)
		c = 0;
	close(closed[0]);
	int again = open(p->target, p->flags);
	if (again >= 0)
		close(again);
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return again < 0;
}

static bool is_variant(const struct probe *p, const char *v)
{
	return p->variant && strcmp(p->variant, v) == 0;
}

/* The child's side of every run but race; never returns. */
static int child_part(void *arg)
{
	struct probe *p = arg;
	if (!p->alt)
		probe_wait(p->hold);
	probe_close_held(p);
	if (p->alt || is_variant(p, "both"))
		_exit(0);
	probe_emit("child-released");
	probe_wait(p->linger);
	_exit(0);
}

#ifdef __x86_64__
/* exit(42) without libc, which needs a TLS that clone-tls's child lacks. */
static int bare_exit_42(void *unused)
{
	__asm__ volatile("mov $60, %%eax\n\tmov $42, %%edi\n\tsyscall"
	                 ::: "rax", "rdi", "rcx", "r11", "memory");
	__builtin_unreachable();
}

/* -e clone-tls: the child's exit status, or its signal. */
static void clone_tls(void)
{
	static char stack[64 * 1024] __attribute__((aligned(16)));
	long page = sysconf(_SC_PAGESIZE);
	char *m = mmap(NULL, 2 * (size_t)page, PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED || mprotect(m, (size_t)page, PROT_NONE) < 0) {
		probe_emit("clone-tls mmap-failed");
		return;
	}
	void **tls = (void **)(m + page);
	tls[0] = tls; /* the thread pointer points at itself */
	int status;
	pid_t pid = clone(bare_exit_42, stack + sizeof(stack),
	                  SIGCHLD | CLONE_SETTLS, NULL, NULL, tls, NULL);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		probe_emit("clone-tls failed errno=%s", strerrorname_np(errno));
	else if (WIFEXITED(status))
		probe_emit("clone-tls exit=%d", WEXITSTATUS(status));
	else
		probe_emit("clone-tls signal=%d", WTERMSIG(status));
}
#else
static void clone_tls(void)
{
	probe_emit("clone-tls skip");
}
#endif

/* fork(), _Fork() or clone() as -e says; the child runs child_part(). */
static pid_t make_child(struct probe *p)
{
	static char stack[256 * 1024] __attribute__((aligned(16)));
	pid_t pid;
	if (is_variant(p, "clone"))
		return clone(child_part, stack + sizeof(stack), SIGCHLD, p);
	if (is_variant(p, "clone-newpid"))
		return clone(child_part, stack + sizeof(stack),
		             SIGCHLD | CLONE_NEWPID, p);
	pid = is_variant(p, "_Fork") ? _Fork() : fork();
	if (pid == 0)
		child_part(p);
	return pid;
}

int main(int argc, char **argv)
{
	static struct probe p;
	pid_t pid;
	int status;

	probe_parse(&p, argc, argv,
	            "TARGET: a path; -x child lets go first;"
	            " -e both|race|_Fork|clone|clone-newpid|clone-tls");
	if (is_variant(&p, "race")) {
		int held = 0;
		for (int i = 0; i < p.count; i++)
			held += race_round(&p);
		probe_emit("race held=%d rounds=%d", held, p.count);
		return 0;
	}
	for (int i = 0; i < p.count; i++) {
		uint64_t t0 = probe_now_ms();
		int fd = open(p.target, p.flags);

		probe_report(fd, errno, t0);
		p.held[p.nheld++].fd = fd;
	}
	if (is_variant(&p, "clone-tls")) {
		clone_tls();
		probe_close_held(&p);
		return 0;
	}
	pid = make_child(&p);
	if (pid < 0) {
		probe_emit("fork-failed errno=%s", strerrorname_np(errno));
		return 1;
	}
	if (is_variant(&p, "both")) {
		probe_emit("forked child=%d", (int)pid);
		probe_wait(p.linger);
		probe_close_held(&p);
		probe_emit("parent-released");
		waitpid(pid, &status, 0);
		probe_emit("done");
		return 0;
	}
	if (p.alt) {
		waitpid(pid, &status, 0);
		probe_emit("child-exited");
		probe_wait(p.hold);
		probe_close_held(&p);
		probe_emit("parent-released");
		probe_wait(p.linger);
	} else {
		probe_close_held(&p);
		probe_emit("parent-released");
		waitpid(pid, &status, 0);
	}
	probe_emit("done");
	return 0;
}
