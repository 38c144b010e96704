/* hooks.c - the libc names the shim exports, and nothing else. Each takes
 * its arguments, asks gate.c, makes the real call and sets errno the way
 * libc would; none may allocate, print, or change errno on success. */
#define _GNU_SOURCE
#include "gate.h"
#include "hot.h"
#include "inherit.h"
#include "init.h"
#include "pool.h"
#include "real.h"
#include "sys.h"
#include "track.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

/* glibc declares these only inside its fortify headers. */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);

/* O_TMPFILE includes O_DIRECTORY, so test all of its bits. */
#define NEEDS_MODE(flags) \
	(((flags) & O_CREAT) || ((flags) & O_TMPFILE) == O_TMPFILE)

/* The open hooks end in a tail call wherever they can: each frame still
 * open when the system call returns costs a mispredicted return, about
 * 6 ns here (the kernel leaves the return predictor full of its own
 * addresses), and a variadic function makes no tail calls. On the ABIs
 * below a variadic argument arrives in the register a named one would, so
 * these hooks name mode, and read it only when flags say the caller passed
 * one. Not where arguments go on the stack (i386): a named parameter's
 * slot is the callee's to write, and a caller that passed no mode never
 * gave it. */
#if defined(__x86_64__) || defined(__aarch64__)
#define MODE_PARAM mode_t mode_arg
#define TAKE_MODE(flags) mode_t mode = NEEDS_MODE(flags) ? mode_arg : 0
#else
#define MODE_PARAM ...
#define TAKE_MODE(flags) \
	mode_t mode = 0; \
	if (NEEDS_MODE(flags)) { \
		va_list ap; \
		va_start(ap, flags); \
		mode = va_arg(ap, mode_t); \
		va_end(ap); \
	}
#endif

/* Defines the hook for libc's open-like name: under an asm label, since
 * <fcntl.h> declares the name variadic. */
#define OPEN_HOOK(name, ...) \
	EXPORT int hook_##name(__VA_ARGS__) __asm__(#name); \
	EXPORT THR_HOT int hook_##name(__VA_ARGS__)

static int refuse(int r)
{
	errno = -r;
	return -1;
}

/* An open the route sends to the gate: begin, the call and finish in this
 * one frame, which the hook reaches by a tail call, so that only this frame
 * is left above the caller's when the system call returns. */
static THR_HOT __attribute__((noinline))
int gated_openat(int (*real)(int, const char *, int, ...), int dirfd,
                 const char *path, int flags, mode_t mode,
                 struct thr_gate_route route)
{
	struct thr_gate_ticket *t;
	int r = thr_gate_open_begin(dirfd, path, route, thr_flight_sp(), &t);
	if (r < 0)
		return refuse(r);
	int fd = real(dirfd, path, flags, mode);
	if (r > 0)
		thr_gate_finish(t, fd, fd >= 0);
	return fd;
}

static THR_HOT __attribute__((noinline))
int gated_open(int (*real)(const char *, int, ...), const char *path,
               int flags, mode_t mode, struct thr_gate_route route)
{
	struct thr_gate_ticket *t;
	int r = thr_gate_open_begin(AT_FDCWD, path, route, thr_flight_sp(),
	                            &t);
	if (r < 0)
		return refuse(r);
	int fd = real(path, flags, mode);
	if (r > 0)
		thr_gate_finish(t, fd, fd >= 0);
	return fd;
}

/* The body of every open hook: past the gate when the route says so, else
 * straight to real, in a tail call either way (gated_open is reached by
 * one, so its thr_flight_sp() is the hook's). */
static inline __attribute__((always_inline))
int open_via(int (*real)(const char *, int, ...), const char *path,
             int flags, mode_t mode)
{
	struct thr_gate_route route = thr_gate_route_open(path, flags,
	                                                  thr_flight_sp());
	if (!route.glob)
		return real(path, flags, mode);
	return gated_open(real, path, flags, mode, route);
}

static inline __attribute__((always_inline))
int openat_via(int (*real)(int, const char *, int, ...), int dirfd,
               const char *path, int flags, mode_t mode)
{
	struct thr_gate_route route = thr_gate_route_open(path, flags,
	                                                  thr_flight_sp());
	if (!route.glob)
		return real(dirfd, path, flags, mode);
	return gated_openat(real, dirfd, path, flags, mode, route);
}

OPEN_HOOK(open, const char *path, int flags, MODE_PARAM)
{
	TAKE_MODE(flags);
	return open_via(thr_real_get()->open, path, flags, mode);
}

OPEN_HOOK(open64, const char *path, int flags, MODE_PARAM)
{
	TAKE_MODE(flags);
	return open_via(thr_real_get()->open64, path, flags, mode);
}

OPEN_HOOK(openat, int dirfd, const char *path, int flags, MODE_PARAM)
{
	TAKE_MODE(flags);
	return openat_via(thr_real_get()->openat, dirfd, path, flags, mode);
}

OPEN_HOOK(openat64, int dirfd, const char *path, int flags, MODE_PARAM)
{
	TAKE_MODE(flags);
	return openat_via(thr_real_get()->openat64, dirfd, path, flags, mode);
}

/* The _FORTIFY_SOURCE entry points: called without a mode, by contract. */
EXPORT THR_HOT int __open_2(const char *path, int flags)
{
	return open_via(thr_real_get()->open, path, flags, 0);
}

EXPORT THR_HOT int __open64_2(const char *path, int flags)
{
	return open_via(thr_real_get()->open64, path, flags, 0);
}

EXPORT THR_HOT int __openat_2(int dirfd, const char *path, int flags)
{
	return openat_via(thr_real_get()->openat, dirfd, path, flags, 0);
}

EXPORT THR_HOT int __openat64_2(int dirfd, const char *path, int flags)
{
	return openat_via(thr_real_get()->openat64, dirfd, path, flags, 0);
}

EXPORT int creat(const char *path, mode_t mode)
{
	return open_via(thr_real_get()->open, path,
	                O_CREAT | O_WRONLY | O_TRUNC, mode);
}

EXPORT int creat64(const char *path, mode_t mode)
{
	return open_via(thr_real_get()->open64, path,
	                O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* fileno() sets errno (EBADF) for a stream without a descriptor, such as
 * fmemopen's: the caller of fclose() must not see that. */
static int stream_fd(FILE *f)
{
	int saved = errno;
	int fd = f ? fileno(f) : -1;
	errno = saved;
	return fd;
}

/* After a call that opened a file inside libc, begun with a
 * thr_gate_*_begin() that returned r (> 0: t holds slots): fd is the new
 * descriptor, -1 if the call failed. */
static int gated_fd(struct thr_gate_ticket *t, int r, int fd)
{
	if (r > 0)
		thr_gate_finish(t, fd, fd >= 0);
	return fd;
}

static FILE *gated_fopen(FILE *(*real)(const char *, const char *),
                         const char *path, const char *how, uintptr_t sp)
{
	struct thr_gate_ticket *t;
	int r = thr_gate_fopen_begin(path, sp, &t);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	FILE *f = real(path, how);
	gated_fd(t, r, stream_fd(f));
	return f;
}

EXPORT FILE *fopen(const char *path, const char *how)
{
	return gated_fopen(thr_real_get()->fopen, path, how, thr_flight_sp());
}

EXPORT FILE *fopen64(const char *path, const char *how)
{
	return gated_fopen(thr_real_get()->fopen64, path, how,
	                   thr_flight_sp());
}

/* freopen closes the stream's descriptor and opens path, usually on the
 * same number: the old slots go, the new ones stay (or move over, see
 * thr_gate_freopen_begin). Refused, the stream is closed all the same, as
 * a freopen that fails closes it. */
static FILE *gated_freopen(FILE *(*real)(const char *, const char *, FILE *),
                           const char *path, const char *how, FILE *f,
                           uintptr_t sp)
{
	struct thr_gate_ticket *t = NULL;
	int old = path ? stream_fd(f) : -1;
	thr_fd_entry d = old >= 0 ? thr_track_detach(old) : 0;
	int r = thr_gate_freopen_begin(path, &d, sp, &t);
	if (r < 0) {
		thr_track_reattach(old, d);
		if (f)
			fclose(f);
		errno = -r;
		return NULL;
	}
	FILE *nf = real(path, how, f);
	if (r > 0)
		t->donor = 0; /* dropped here, not by a longjmp's sweep */
	thr_gate_drop(d, old);
	gated_fd(t, r, stream_fd(nf));
	return nf;
}

EXPORT FILE *freopen(const char *path, const char *how, FILE *f)
{
	return gated_freopen(thr_real_get()->freopen, path, how, f,
	                     thr_flight_sp());
}

EXPORT FILE *freopen64(const char *path, const char *how, FILE *f)
{
	return gated_freopen(thr_real_get()->freopen64, path, how, f,
	                     thr_flight_sp());
}

/* close() by way of real_close (libc's, or the raw system call for
 * syscall(SYS_close), which is no cancellation point). Untracked
 * descriptors go straight there: nothing runs after the system call,
 * where caches are cold. Tracked ones drop their reference before it too,
 * leaving only the release of the slots for after. */
static inline __attribute__((always_inline))
int close_via(int (*real_close)(int), int fd, uintptr_t sp)
{
	if (!thr_fdtable_get(fd)) {
		thr_flight_sweep(sp);
		return real_close(fd);
	}
	thr_gate_closing();
	thr_fd_entry d = thr_track_detach(fd);
	bool last = thr_track_unref(d, fd);
	int r = real_close(fd);
	thr_gate_closed();
	if (last)
		thr_gate_release(d);
	return r;
}

EXPORT THR_HOT int close(int fd)
{
	return close_via(thr_real_get()->close, fd, thr_flight_sp());
}

EXPORT int fclose(FILE *f)
{
	int fd = stream_fd(f);
	if (!thr_fdtable_get(fd))
		return thr_real_get()->fclose(f);
	thr_gate_closing();
	thr_fd_entry d = thr_track_detach(fd);
	int r = thr_real_get()->fclose(f);
	thr_gate_closed();
	thr_gate_drop(d, fd);
	return r;
}

/* glibc's opendir opens the directory with an internal call no hook sees:
 * the gate goes around opendir itself. */
EXPORT DIR *opendir(const char *path)
{
	struct thr_gate_ticket *t;
	int r = thr_gate_dir_begin(path, thr_flight_sp(), &t);
	if (r < 0) {
		errno = -r;
		return NULL;
	}
	DIR *dir = thr_real_get()->opendir(path);
	gated_fd(t, r, dir ? dirfd(dir) : -1);
	return dir;
}

/* glibc's mkstemp family opens the file it names with an internal call:
 * the gate goes around each, matching the template. Each hook calls its
 * own libc function, with the arguments it has (suffix, flags). */
enum mkstemp_kind {
	MKSTEMP, MKSTEMP64, MKOSTEMP, MKOSTEMP64,
	MKSTEMPS, MKSTEMPS64, MKOSTEMPS, MKOSTEMPS64,
};

static inline __attribute__((always_inline))
int real_mkstemp(enum mkstemp_kind k, char *tmpl, int suffix, int flags)
{
	const struct thr_real *real = thr_real_get();
	switch (k) {
	case MKSTEMP: return real->mkstemp(tmpl);
	case MKSTEMP64: return real->mkstemp64(tmpl);
	case MKOSTEMP: return real->mkostemp(tmpl, flags);
	case MKOSTEMP64: return real->mkostemp64(tmpl, flags);
	case MKSTEMPS: return real->mkstemps(tmpl, suffix);
	case MKSTEMPS64: return real->mkstemps64(tmpl, suffix);
	case MKOSTEMPS: return real->mkostemps(tmpl, suffix, flags);
	case MKOSTEMPS64: return real->mkostemps64(tmpl, suffix, flags);
	}
	__builtin_unreachable();
}

/* The body of every mkstemp hook; sp is the hook's thr_flight_sp(). */
static inline __attribute__((always_inline))
int gated_mkstemp(enum mkstemp_kind k, char *tmpl, int suffix, int flags,
                  uintptr_t sp)
{
	struct thr_gate_ticket *t;
	int r = thr_gate_path_begin(tmpl, sp, &t);
	return r < 0 ? refuse(r)
	             : gated_fd(t, r, real_mkstemp(k, tmpl, suffix, flags));
}

EXPORT int mkstemp(char *tmpl)
{
	return gated_mkstemp(MKSTEMP, tmpl, 0, 0, thr_flight_sp());
}

EXPORT int mkstemp64(char *tmpl)
{
	return gated_mkstemp(MKSTEMP64, tmpl, 0, 0, thr_flight_sp());
}

EXPORT int mkostemp(char *tmpl, int flags)
{
	return gated_mkstemp(MKOSTEMP, tmpl, 0, flags, thr_flight_sp());
}

EXPORT int mkostemp64(char *tmpl, int flags)
{
	return gated_mkstemp(MKOSTEMP64, tmpl, 0, flags, thr_flight_sp());
}

EXPORT int mkstemps(char *tmpl, int suffix)
{
	return gated_mkstemp(MKSTEMPS, tmpl, suffix, 0, thr_flight_sp());
}

EXPORT int mkstemps64(char *tmpl, int suffix)
{
	return gated_mkstemp(MKSTEMPS64, tmpl, suffix, 0, thr_flight_sp());
}

EXPORT int mkostemps(char *tmpl, int suffix, int flags)
{
	return gated_mkstemp(MKOSTEMPS, tmpl, suffix, flags, thr_flight_sp());
}

EXPORT int mkostemps64(char *tmpl, int suffix, int flags)
{
	return gated_mkstemp(MKOSTEMPS64, tmpl, suffix, flags,
	                     thr_flight_sp());
}

/* A directory stream (opendir's, or fdopendir's of a gated descriptor)
 * owns its descriptor, which closedir() closes inside libc. */
EXPORT int closedir(DIR *dir)
{
	int saved = errno;
	int fd = dirfd(dir);
	errno = saved;
	if (!thr_fdtable_get(fd))
		return thr_real_get()->closedir(dir);
	thr_gate_closing();
	thr_fd_entry d = thr_track_detach(fd);
	int r = thr_real_get()->closedir(dir);
	thr_gate_closed();
	thr_gate_drop(d, fd);
	return r;
}

EXPORT int fcloseall(void)
{
	thr_gate_closing();
	int r = thr_real_get()->fcloseall();
	thr_track_sweep(true);
	thr_gate_closed();
	return r;
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (flags & CLOSE_RANGE_CLOEXEC)
		return thr_track_cloexec_range(first, last, flags);
	return thr_track_close_range(first, last, flags);
}

/* Where close_range fails (an old kernel), libc's closefrom closes what
 * is left its own way, and the slots of what it closed go back after. */
EXPORT void closefrom(int lowfd)
{
	if (lowfd < 0)
		lowfd = 0;
	if (thr_track_close_range((unsigned)lowfd, ~0u, 0) < 0 &&
	    thr_real_get()->closefrom) {
		thr_gate_closing();
		thr_real_get()->closefrom(lowfd);
		thr_track_sweep(false);
		thr_gate_closed();
	}
}

EXPORT THR_HOT int dup(int oldfd)
{
	thr_fd_entry d = thr_track_dup_begin(oldfd);
	if (!d)
		return thr_real_get()->dup(oldfd);
	int fd = thr_real_get()->dup(oldfd);
	thr_track_dup_end(d, fd, false);
	return fd;
}

/* dup2() and dup3(): a tracked newfd is closed, in a close's window. */
static int dup_onto(int oldfd, int newfd, int flags, bool three)
{
	thr_fd_entry d, victim;
	bool closing = thr_fdtable_get(newfd) != 0;
	if (closing)
		thr_gate_closing();
	thr_track_dup2_begin(oldfd, newfd, &d, &victim);
	int fd = three ? thr_real_get()->dup3(oldfd, newfd, flags)
	               : thr_real_get()->dup2(oldfd, newfd);
	if (closing)
		thr_gate_closed();
	thr_track_dup2_end(d, victim, newfd, fd >= 0, flags & O_CLOEXEC);
	return fd;
}

EXPORT int dup2(int oldfd, int newfd)
{
	return dup_onto(oldfd, newfd, 0, false);
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return dup_onto(oldfd, newfd, flags, true);
}

/* Every fcntl argument is an int or a pointer: pass one word through. */
static int gated_fcntl(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	if (cmd == F_SETFD) {
		int r = real(fd, cmd, arg);
		if (r == 0)
			thr_track_setfd(fd, ((intptr_t)arg & FD_CLOEXEC) != 0);
		return r;
	}
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return real(fd, cmd, arg);
	thr_fd_entry d = thr_track_dup_begin(fd);
	int nfd = real(fd, cmd, arg);
	thr_track_dup_end(d, nfd, cmd == F_DUPFD_CLOEXEC);
	return nfd;
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return gated_fcntl(thr_real_get()->fcntl, fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return gated_fcntl(thr_real_get()->fcntl64, fd, cmd, arg);
}

/* ioctl(FIOCLEX/FIONCLEX) is fcntl(F_SETFD) by another name (Python's
 * os.set_inheritable): the records follow it the same way. Any other
 * request goes straight to libc, nothing left to run after the call. */
EXPORT int ioctl(int fd, unsigned long request, ...)
{
	va_list ap;
	va_start(ap, request);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (__builtin_expect(request != FIOCLEX && request != FIONCLEX, 1))
		return thr_real_get()->ioctl(fd, request, arg);
	int r = thr_real_get()->ioctl(fd, request, arg);
	if (r == 0)
		thr_track_setfd(fd, request == FIOCLEX);
	return r;
}

/* With _GNU_SOURCE, glibc declares the address as a transparent union. */
EXPORT THR_HOT int connect(int fd, __CONST_SOCKADDR_ARG addr, socklen_t len)
{
	const struct sockaddr *sa = addr.__sockaddr__;
	if (!thr_gate_wants_connect())
		return thr_real_get()->connect(fd, sa, len);
	struct thr_gate_ticket *t;
	int r = thr_gate_connect_begin(fd, sa, len, thr_flight_sp(), &t);
	if (r < 0)
		return refuse(r);
	if (r == 0)
		return thr_real_get()->connect(fd, sa, len);
	r = thr_real_get()->connect(fd, sa, len);
	/* In progress (non-blocking, or interrupted) is connected enough. */
	thr_gate_finish(t, fd, r == 0 || errno == EINPROGRESS || errno == EINTR);
	return r;
}

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
 * through the hooks above, with syscall()'s contract (-1 and errno), which
 * is theirs too; every other number goes straight to libc. Six words are
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
		return close_via(raw_close, (int)a[0], thr_flight_sp());
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
