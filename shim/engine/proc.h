/* proc.h - who a process is, in a way pid reuse cannot fool, and whether it
 * is still alive. A zombie (killed, not yet reaped) counts as dead. Reads
 * /proc with raw system calls, so the shim's own hooks never see them. */
#ifndef THR_PROC_H
#define THR_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct thr_proc_id {
	pid_t pid;
	uint64_t start;         /* start time in clock ticks after boot */
	uint64_t pidns;         /* inode of the pid namespace pid is a number
	                           in (the identifier's own); 0 if unreadable */
};

/* Identifies pid. Returns 0, -ESRCH if it does not exist or is a zombie,
 * -EACCES if it exists but /proc hides it from us (hidepid), or -errno. Not
 * async-signal-safe only in that it is slow (a few us). */
int thr_proc_identify(pid_t pid, struct thr_proc_id *ret);

/* This process's identity, cached; the cache is dropped in a fork child.
 * Returns 0, -ENOTSUP where /proc shows another process under our pid (a
 * pid namespace of our own under the parent's /proc), or -errno (-ENOENT
 * without /proc). */
int thr_proc_self(struct thr_proc_id *ret);

/* A number that tells this program image from the one before an exec,
 * from where the kernel put its code and stack (an exec moves both under
 * ASLR; without it, the number may repeat). A fork child keeps its
 * parent's, and every copy of the engine in one image computes the same.
 * 0 if /proc cannot tell. Keeps errno; async-signal-safe (raw system
 * calls), a few microseconds the first time, then cached. */
uint32_t thr_proc_image(void);

/* The same number for the image process pid runs now, from its
 * /proc/PID/stat, which shows the same to it and to us. Returns 0, -ESRCH
 * if it is gone or a zombie, -EACCES if we may not see its memory's
 * layout (another user's process, a setuid one), or -errno. Keeps errno. */
int thr_proc_image_of(pid_t pid, uint32_t *ret);

/* Counts forks this process has come out of as the child: a handle caching
 * anything per process compares it. Async-signal-safe. Inline, because every
 * acquire and release asks; bumped by the atfork child handler, or by
 * thr_proc_fork_child(). */
extern unsigned thr_proc_fork_gen_count;
static inline unsigned thr_proc_fork_gen(void)
{
	return __atomic_load_n(&thr_proc_fork_gen_count, __ATOMIC_RELAXED);
}

/* This thread's id in our pid namespace, cached per thread and read again
 * in a fork child. Keeps errno; async-signal-safe. */
extern __thread int thr_proc_tid_cache;
extern __thread unsigned thr_proc_tid_gen;
int thr_proc_tid_slow(void);
static inline int thr_proc_tid(void)
{
	if (__builtin_expect(thr_proc_tid_cache > 0 &&
	                     thr_proc_tid_gen == thr_proc_fork_gen(), 1))
		return thr_proc_tid_cache;
	return thr_proc_tid_slow();
}

/* In a fork child made without atfork handlers (glibc's _Fork): what the
 * handler would have done. Async-signal-safe. */
void thr_proc_fork_child(void);

/* Has this process one thread only? From /proc; false when it cannot
 * tell. Keeps errno. */
bool thr_proc_sole_thread(void);

/* Could pid be getting on, only slowly: is it runnable or in an
 * uninterruptible wait (its main thread's state R or D), or has it other
 * threads, one of which may be, and is it not stopped (T, t)? A lock
 * owner that is, on a machine loaded past its cores, may not run for
 * seconds. Reads /proc; keeps errno. */
bool thr_proc_is_running(pid_t pid);

/* Is the process id certainly gone (reaped): one kill(pid, 0), ~0.5 us.
 * A zombie or a reused pid is not caught; thr_proc_is_dead() does that. */
bool thr_proc_is_gone(const struct thr_proc_id *id);

/* What a look at a process can conclude. */
enum thr_proc_verdict {
	THR_PROC_JUDGED_ALIVE = 0, /* runs under the identity recorded */
	THR_PROC_JUDGED_DEAD,   /* gone, a zombie, or its pid now used by
	                           another process */
	THR_PROC_CANNOT_JUDGE,  /* in another pid namespace, or found by
	                           kill() but hidden by /proc (hidepid): taken
	                           as alive, since its slots must not be lost */
};

/* Judges process id: the one liveness rule, which thr_proc_is_dead() and
 * so every reclaim apply, and observers (thr_pool_snapshot()) show. Reads
 * /proc (a few us) and changes nothing; keeps errno. */
enum thr_proc_verdict thr_proc_judge(const struct thr_proc_id *id);

/* The size of a command name with its NUL, as the kernel keeps it. */
#define THR_PROC_COMM_LEN 16

/* thr_proc_judge(), which also copies the process's command name (its
 * /proc/PID/stat's, from the same read) into comm, or "" when it is not
 * judged alive. */
enum thr_proc_verdict thr_proc_judge_named(const struct thr_proc_id *id,
                                           char comm[THR_PROC_COMM_LEN]);

/* Is the process id dead: gone, a zombie, or its pid now used by another
 * process? A process in another pid namespace is never judged dead. That
 * is, thr_proc_judge() says THR_PROC_JUDGED_DEAD. */
bool thr_proc_is_dead(const struct thr_proc_id *id);

#endif
