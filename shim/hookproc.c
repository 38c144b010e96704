/* hookproc.c - the libc names the shim exports that create, replace or end
 * processes and threads (fork, clone, posix_spawn, popen, exit,
 * pthread_join), and syscall(), which hands the descriptor calls it carries
 * to hooks.c's. Each makes the real call and lets inherit.c or the engine
 * follow it; none may allocate, print, or change errno on success. */
#define _GNU_SOURCE
#include "hooks.h"
#include "inherit.h"
#include "init.h"
#include "pool.h"
#include "real.h"
#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* Every call that copies the process holds other threads' closes off
 * (thr_inherit_copying) until the child co-holds what it inherited. */
EXPORT pid_t fork(void)
{
	bool frozen = thr_inherit_copying();
	pid_t pid = thr_real_get()->fork();
	if (pid >= 0)
		thr_inherit_forked(pid);
	if (pid != 0)
		thr_inherit_copied(frozen);
	return pid;
}

/* glibc's _Fork (2.34): fork without the atfork handlers. */
EXPORT pid_t _Fork(void)
{
	if (!thr_real_get()->bare_fork) {
		errno = ENOSYS;
		return -1;
	}
	bool frozen = thr_inherit_copying();
	pid_t pid = thr_real_get()->bare_fork();
	if (pid >= 0)
		thr_inherit_bare_forked(pid);
	if (pid != 0)
		thr_inherit_copied(frozen);
	return pid;
}

/* A vfork child borrows its parent's memory, where our tables live: give
 * it a copy of its own, at the cost of a real fork. */
EXPORT pid_t vfork(void)
{
	return fork();
}

/* A clone() child that shares neither our memory nor our descriptors is a
 * fork child made without the atfork handlers: it starts in cloned() (in
 * its own copy of our memory, where call still is), which does what they
 * and the fork hook would, and it co-holds before clone returns. Passed
 * through: clones sharing memory or descriptors with us (threads,
 * vfork-likes), and ones with a TLS of the caller's making (the shim's own
 * thread-locals would be read from it). */
struct clone_call {
	int (*fn)(void *);
	void *arg;
};

static int cloned(void *call)
{
	struct clone_call *c = call;
	thr_inherit_bare_forked(0);
	return c->fn(c->arg);
}

/* The arguments after arg are read only when flags say they were given. */
#define CLONE_IDS (CLONE_PARENT_SETTID | CLONE_PIDFD | CLONE_SETTLS | \
                   CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID)

EXPORT int clone(int (*fn)(void *), void *stack, int flags, void *arg, ...)
{
	void *ptid = NULL, *tls = NULL, *ctid = NULL;
	if (flags & CLONE_IDS) {
		va_list ap;
		va_start(ap, arg);
		ptid = va_arg(ap, void *);
		tls = va_arg(ap, void *);
		ctid = va_arg(ap, void *);
		va_end(ap);
	}
	if ((flags & (CLONE_VM | CLONE_FILES | CLONE_SETTLS)) || !fn)
		return thr_real_get()->clone(fn, stack, flags, arg, ptid, tls,
		                             ctid);
	struct clone_call call = { fn, arg };
	bool frozen = thr_inherit_copying();
	int pid = thr_real_get()->clone(cloned, stack, flags, &call, ptid, tls,
	                                ctid);
	if (pid > 0)
		thr_inherit_forked(pid);
	thr_inherit_copied(frozen);
	return pid;
}

/* exit() runs the program's atexit handlers and destructors, which may
 * join threads that wait for a slot (node's libuv pool), a slot this very
 * process may hold until it is gone: those waits end first. */
EXPORT void exit(int status)
{
	thr_pool_end_waits();
	thr_real_get()->exit(status);
}

/* A thread joined while it waits for a slot only this process holds would
 * never end (node's exit joins its libuv threads): its wait ends. */
EXPORT int pthread_join(pthread_t thread, void **ret)
{
	thr_pool_joining(thread, true);
	int r = thr_real_get()->pthread_join(thread, ret);
	thr_pool_joining(thread, false);
	return r;
}

/* posix_spawn() clones and execs without fork(): the child co-holds what it
 * inherits, as a fork child would, before the parent can close its copy. */
static int spawned(int r, const pid_t *child, pid_t *pid, bool frozen)
{
	if (r == 0)
		thr_inherit_spawned(*child);
	thr_inherit_copied(frozen);
	if (r == 0 && pid)
		*pid = *child;
	return r;
}

/* glibc's popen() spawns its child with a clone no hook sees: the child
 * co-holds what it inherits all the same, before popen returns. */
EXPORT FILE *popen(const char *cmd, const char *mode)
{
	struct thr_inherit_kids kids;
	bool frozen = thr_inherit_copying();
	thr_inherit_kids_before(&kids);
	FILE *f = thr_real_get()->popen(cmd, mode);
	if (f)
		thr_inherit_kids_spawned(&kids);
	thr_inherit_copied(frozen);
	return f;
}

EXPORT int posix_spawn(pid_t *pid, const char *path,
                       const posix_spawn_file_actions_t *acts,
                       const posix_spawnattr_t *attr, char *const argv[],
                       char *const envp[])
{
	pid_t child = -1;
	bool frozen = thr_inherit_copying();
	int r = thr_real_get()->posix_spawn(&child, path, acts, attr, argv, envp);
	return spawned(r, &child, pid, frozen);
}

EXPORT int posix_spawnp(pid_t *pid, const char *file,
                        const posix_spawn_file_actions_t *acts,
                        const posix_spawnattr_t *attr, char *const argv[],
                        char *const envp[])
{
	pid_t child = -1;
	bool frozen = thr_inherit_copying();
	int r = thr_real_get()->posix_spawnp(&child, file, acts, attr, argv,
	                                     envp);
	return spawned(r, &child, pid, frozen);
}

/* The system call itself, errno set as syscall() sets it. */
static int raw_close(int fd)
{
	long r = thr_sys(SYS_close, fd, 0, 0);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return 0;
}

/* syscall(): libuv (node) closes every descriptor with syscall(SYS_close),
 * past close(), and a slot kept for it would hang the next open of the
 * pool. The numbers that open, close, copy or connect descriptors go
 * through the hooks of hooks.c, with syscall()'s contract (-1 and errno),
 * which is theirs too; every other number goes straight to libc. Six words are
 * read, as libc's syscall() reads them, whatever the caller passed. Not
 * before the shim has loaded its config: the callers of syscall() include
 * allocators (jemalloc opens /proc/sys/vm/overcommit_memory so, holding
 * its own lock), and the load, which allocates, would wait for that lock
 * on the same thread for ever. */
EXPORT long syscall(long number, ...)
{
	va_list ap;
	long a[6];
	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (__atomic_load_n(&thr_init_phase, __ATOMIC_ACQUIRE) != 2)
		goto straight;
	switch (number) {
	case SYS_close:
		return thr_hooks_close_via(raw_close, (int)a[0], thr_flight_sp());
	case SYS_close_range:
		return close_range((unsigned)a[0], (unsigned)a[1], (int)a[2]);
	case SYS_dup:
		return dup((int)a[0]);
	case SYS_dup3:
		return dup3((int)a[0], (int)a[1], (int)a[2]);
	case SYS_fcntl:
		return fcntl((int)a[0], (int)a[1], a[2]);
	case SYS_openat:
		return openat((int)a[0], (const char *)a[1], (int)a[2],
		              (mode_t)a[3]);
	case SYS_connect:
		return connect((int)a[0], (const struct sockaddr *)a[1],
		               (socklen_t)a[2]);
#ifdef SYS_dup2
	case SYS_dup2:
		return dup2((int)a[0], (int)a[1]);
#endif
#ifdef SYS_open
	case SYS_open:
		return open((const char *)a[0], (int)a[1], (mode_t)a[2]);
#endif
#ifdef SYS_creat
	case SYS_creat:
		return creat((const char *)a[0], (mode_t)a[1]);
#endif
	}
straight:
	return thr_real_get()->syscall(number, a[0], a[1], a[2], a[3], a[4],
	                               a[5]);
}
