/* real.c - finds the next definition of each hooked libc function. Never
 * binds to libc directly (that would skip other interposers) and never to
 * ourselves: a self-reference is treated as missing. */
#define _GNU_SOURCE
#include "real.h"

#include <dlfcn.h>
#include <string.h>

struct thr_real thr_real;

extern int close(int);

static void *next(const char *name, void *self)
{
	void *p = dlsym(RTLD_NEXT, name);
	return p == self ? NULL : p;
}

#define RESOLVE(field, name) \
	__atomic_store_n((void **)&thr_real.field, next(name, NULL), \
	                 __ATOMIC_RELAXED)

void thr_real_resolve(void)
{
	RESOLVE(open, "open");
	RESOLVE(open64, "open64");
	RESOLVE(openat, "openat");
	RESOLVE(openat64, "openat64");
	RESOLVE(open_2, "__open_2");
	RESOLVE(open64_2, "__open64_2");
	RESOLVE(openat_2, "__openat_2");
	RESOLVE(openat64_2, "__openat64_2");
	RESOLVE(creat, "creat");
	RESOLVE(creat64, "creat64");
	RESOLVE(fopen, "fopen");
	RESOLVE(fopen64, "fopen64");
	RESOLVE(freopen, "freopen");
	RESOLVE(freopen64, "freopen64");
	RESOLVE(fclose, "fclose");
	RESOLVE(fcloseall, "fcloseall");
	RESOLVE(close_range, "close_range");
	RESOLVE(syscall, "syscall");
	RESOLVE(exit, "exit");
	RESOLVE(pthread_join, "pthread_join");
	RESOLVE(closefrom, "closefrom");
	RESOLVE(dup, "dup");
	RESOLVE(dup2, "dup2");
	RESOLVE(dup3, "dup3");
	RESOLVE(fcntl, "fcntl");
	RESOLVE(fcntl64, "fcntl64");
	RESOLVE(connect, "connect");
	RESOLVE(fork, "fork");
	RESOLVE(bare_fork, "_Fork");
	RESOLVE(clone, "clone");
	RESOLVE(posix_spawn, "posix_spawn");
	RESOLVE(posix_spawnp, "posix_spawnp");
	RESOLVE(popen, "popen");
	RESOLVE(opendir, "opendir");
	RESOLVE(mkstemp, "mkstemp");
	RESOLVE(mkstemp64, "mkstemp64");
	RESOLVE(mkostemp, "mkostemp");
	RESOLVE(mkostemp64, "mkostemp64");
	RESOLVE(mkstemps, "mkstemps");
	RESOLVE(mkstemps64, "mkstemps64");
	RESOLVE(mkostemps, "mkostemps");
	RESOLVE(mkostemps64, "mkostemps64");
	RESOLVE(closedir, "closedir");
	RESOLVE(ioctl, "ioctl");
	/* Published last: thr_real_get() tests it to know the rest is there.
	 * If RTLD_NEXT found ourselves, we would call ourselves for ever. */
	int (*self)(int) = close;
	void *self_obj;
	memcpy(&self_obj, &self, sizeof(self_obj));
	__atomic_store_n((void **)&thr_real.close, next("close", self_obj),
	                 __ATOMIC_RELEASE);
}
