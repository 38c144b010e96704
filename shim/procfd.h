/* procfd.h - which descriptors of two processes name the same open file
 * description, so that a slot follows a file to whatever number another
 * process has it on. Raw system calls only: never allocates, never goes
 * through the shim's own hooks, never changes errno. */
#ifndef THR_PROCFD_H
#define THR_PROCFD_H

#include <stddef.h>
#include <sys/types.h>

/* The open descriptors of process pid (0 for this one), read from
 * /proc/PID/fd: up to max of them, in the order the kernel lists them.
 * Returns how many, or -errno (-EACCES for a process we may not inspect,
 * -ENOENT for one that is gone). Allocates nothing, but formats the path
 * with snprintf: not for signal handlers. */
int thr_procfd_list(pid_t pid, int *ret_fds, size_t max);

/* The live children of the calling thread, read from
 * /proc/thread-self/children: up to max of them. Returns how many, or
 * -errno (-ENOENT on a kernel built without that file). Allocates nothing;
 * not for signal handlers (it reads a file of unbounded length in pieces). */
int thr_procfd_children(pid_t *ret_pids, size_t max);

/* Do descriptor fa of process a and fb of process b (0 for this one) name
 * one open file description? Exact, by kcmp(KCMP_FILE): dup'd and inherited
 * copies do, two opens of one file do not. Returns 1, 0, or -errno when it
 * cannot tell (-ENOSYS on a kernel without kcmp, -EPERM, -EBADF for a
 * descriptor that is not open). Async-signal-safe. */
int thr_procfd_same(pid_t a, int fa, pid_t b, int fb);

#endif
