/* real.h - the libc functions the hooks stand in front of, resolved with
 * dlsym(RTLD_NEXT) so that other interposers (ASan, another shim) stay in
 * the chain. A pointer is NULL only if this libc lacks the function. */
#ifndef THR_REAL_H
#define THR_REAL_H

#include <dirent.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/types.h>

struct thr_real {
	int (*open)(const char *, int, ...);
	int (*open64)(const char *, int, ...);
	int (*openat)(int, const char *, int, ...);
	int (*openat64)(int, const char *, int, ...);
	int (*open_2)(const char *, int);
	int (*open64_2)(const char *, int);
	int (*openat_2)(int, const char *, int);
	int (*openat64_2)(int, const char *, int);
	int (*creat)(const char *, mode_t);
	int (*creat64)(const char *, mode_t);
	FILE *(*fopen)(const char *, const char *);
	FILE *(*fopen64)(const char *, const char *);
	FILE *(*freopen)(const char *, const char *, FILE *);
	FILE *(*freopen64)(const char *, const char *, FILE *);
	int (*close)(int);
	int (*fclose)(FILE *);
	int (*fcloseall)(void);
	int (*close_range)(unsigned, unsigned, int);
	void (*closefrom)(int);
	int (*dup)(int);
	int (*dup2)(int, int);
	int (*dup3)(int, int, int);
	int (*fcntl)(int, int, ...);
	int (*fcntl64)(int, int, ...);
	int (*connect)(int, const struct sockaddr *, socklen_t);
	pid_t (*fork)(void);
	pid_t (*bare_fork)(void);   /* _Fork, glibc 2.34 and later */
	int (*clone)(int (*)(void *), void *, int, void *, ...);
	int (*posix_spawn)(pid_t *, const char *,
	                   const posix_spawn_file_actions_t *,
	                   const posix_spawnattr_t *, char *const[],
	                   char *const[]);
	int (*posix_spawnp)(pid_t *, const char *,
	                    const posix_spawn_file_actions_t *,
	                    const posix_spawnattr_t *, char *const[],
	                    char *const[]);
	FILE *(*popen)(const char *, const char *);
	DIR *(*opendir)(const char *);
	int (*mkstemp)(char *);
	int (*mkstemp64)(char *);
	int (*mkostemp)(char *, int);
	int (*mkostemp64)(char *, int);
	int (*mkstemps)(char *, int);
	int (*mkstemps64)(char *, int);
	int (*mkostemps)(char *, int, int);
	int (*mkostemps64)(char *, int, int);
	int (*closedir)(DIR *);
	int (*ioctl)(int, unsigned long, ...);
	long (*syscall)(long, ...);
	void (*exit)(int) __attribute__((noreturn));
	int (*pthread_join)(pthread_t, void **);
};

/* Resolved on first use; safe to call from any hook, before constructors,
 * and concurrently (every thread resolves the same values). */
extern struct thr_real thr_real;
void thr_real_resolve(void);

static inline const struct thr_real *thr_real_get(void)
{
	if (__builtin_expect(!__atomic_load_n(&thr_real.close, __ATOMIC_ACQUIRE), 0))
		thr_real_resolve();
	return &thr_real;
}

#endif
