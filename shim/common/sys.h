/* sys.h - system calls the shim makes for itself, straight to the kernel:
 * not through libc's syscall(), which the shim hooks (libuv closes with it),
 * so that its own /proc reads and futexes never meet its hooks. Returns the
 * result or -errno, and never touches errno: async-signal-safe. */
#ifndef THR_SYS_H
#define THR_SYS_H

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
static inline long thr_sys6(long n, long a, long b, long c, long d, long e,
                            long f)
{
	long ret;
	register long r10 __asm__("r10") = d;
	register long r8 __asm__("r8") = e;
	register long r9 __asm__("r9") = f;
	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8),
	                   "r"(r9)
	                 : "rcx", "r11", "memory");
	return ret;
}
#elif defined(__aarch64__)
static inline long thr_sys6(long n, long a, long b, long c, long d, long e,
                            long f)
{
	register long x8 __asm__("x8") = n;
	register long x0 __asm__("x0") = a;
	register long x1 __asm__("x1") = b;
	register long x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d;
	register long x4 __asm__("x4") = e;
	register long x5 __asm__("x5") = f;
	__asm__ volatile("svc 0"
	                 : "+r"(x0)
	                 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
	                 : "memory", "cc");
	return x0;
}
#else
/* Elsewhere libc's syscall(): then the shim's hook of it passes the
 * numbers it does not gate straight on, and the engine's own are among
 * those only by luck of the guard. */
static inline long thr_sys6(long n, long a, long b, long c, long d, long e,
                            long f)
{
	int saved = errno;
	long r = syscall(n, a, b, c, d, e, f);
	if (r == -1)
		r = -errno;
	errno = saved;
	return r;
}
#endif

#define thr_sys(n, a, b, c) thr_sys6((n), (long)(a), (long)(b), (long)(c), 0, 0, 0)

#endif
