/* clock.c - finds the vDSO's clock_gettime for thr_clock_ns() when the
 * process first attaches a pool, and is the libc fallback. Asks the loader
 * only for a vDSO
 * the kernel says is mapped, which it finds among the loaded objects: so it
 * never searches the disk for one, nor leaves an error for dlerror(). */
#define _GNU_SOURCE
#include "clock.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stddef.h>
#include <string.h>
#include <sys/auxv.h>

thr_clock_fn thr_clock_vdso;

void thr_clock_libc(clockid_t clk, struct timespec *ts)
{
	int saved = errno;
	if (clock_gettime(clk, ts) != 0)
		*ts = (struct timespec){ 0, 0 };
	errno = saved;
}

/* Only where the vDSO's clock_gettime takes the struct timespec libc has
 * and reports errors as a negative return (the kernel's generic C vDSO):
 * not i386 (its timespec may be the 32-bit one) nor powerpc (errors in a
 * condition register). */
#if defined(__x86_64__)
#define VDSO_NAME "linux-vdso.so.1"
#define VDSO_SYMBOL "__vdso_clock_gettime"
#elif defined(__aarch64__)
#define VDSO_NAME "linux-vdso.so.1"
#define VDSO_SYMBOL "__kernel_clock_gettime"
#endif

static void find_vdso(void)
{
#ifdef VDSO_NAME
	if (!getauxval(AT_SYSINFO_EHDR))
		return; /* none mapped (valgrind): dlopen would search the disk */
	int saved = errno;
	void *vdso = dlopen(VDSO_NAME, RTLD_NOLOAD | RTLD_LAZY);
	void *sym = vdso ? dlsym(vdso, VDSO_SYMBOL) : NULL;
	if (vdso)
		dlclose(vdso);
	if (sym) {
		/* Copied, as ISO C has no cast from object to function
		 * pointer (POSIX makes dlsym's result one). */
		thr_clock_fn fn;
		memcpy(&fn, &sym, sizeof(fn));
		__atomic_store_n(&thr_clock_vdso, fn, __ATOMIC_RELAXED);
	}
	dlerror(); /* a miss is ours, not the host program's to find */
	errno = saved;
#endif
}

void thr_clock_find(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, find_vdso);
}
