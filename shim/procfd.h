/* procfd.h - which descriptors of two processes name the same open file
 * description, so that a slot follows a file to whatever number another
 * process has it on. Raw system calls only: never allocates, never goes
 * through the shim's own hooks, never changes errno. */
#ifndef THR_PROCFD_H
#define THR_PROCFD_H

#include <stddef.h>
#include <sys/types.h>

/* The descriptor of process b (0 for this one) that names the open file
 * description fa of process a names: fa's own number if it does, else the
 * first of b's that does, read from /proc/B/fd however many there are.
 * Returns it; -ENODATA if b has none; or -errno when it cannot tell (-ENOSYS
 * without kcmp, -EPERM or -EACCES for a process we may not inspect, -ESRCH
 * for one that is gone). Allocates nothing, but formats the path with
 * snprintf: not for signal handlers. Keeps errno. */
int thr_procfd_twin(pid_t a, int fa, pid_t b);

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
