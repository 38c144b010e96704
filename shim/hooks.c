/* hooks.c - the libc names the shim exports that open, close, copy or
 * connect descriptors, and nothing else (hookproc.c has those that make or
 * end processes and threads, and syscall()). Each takes its arguments, asks
 * gate.c, makes the real call and sets errno the way libc would; none may
 * allocate, print, or change errno on success. */
#define _GNU_SOURCE
#include "gate.h"
#include "hooks.h"
#include "hot.h"
#include "real.h"
#include "track.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <unistd.h>

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

EXPORT THR_HOT int close(int fd)
{
	return thr_hooks_close_via(thr_real_get()->close, fd, thr_flight_sp());
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
