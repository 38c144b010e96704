/* inherit.h - both sides of a process copy: what a fork child, a spawned
 * program or popen's and system's children inherit of our slots (the
 * parent makes them co-holders), and what a process finds at start-up
 * (it joins its parent's slots on the descriptors they share, and takes
 * back its own records from before an exec). Never blocks on a pool: a
 * co-hold or adoption only adds a record to one the process already has. */
#ifndef THR_INHERIT_H
#define THR_INHERIT_H

#include <stdbool.h>
#include <sys/types.h>

#include "init.h"

/* Around a call that copies the process (fork, _Fork, glibc's clone(),
 * posix_spawn, popen): copying() holds other threads' closes off, after
 * waiting for those under way, so that the child inherits exactly the
 * descriptors the table names; copied(), with what copying() returned,
 * lets them go on once the child co-holds (in the parent, or after the
 * call failed; a fork child skips it). Without pools, copying() does
 * nothing and returns false. Never fails; copying() may wait for closes
 * under way (a few stores each), never for a pool. */
bool thr_inherit_copying(void);
void thr_inherit_copied(bool frozen);

/* After fork() returned pid (0 in the child): the child becomes co-holder
 * of every slot (from both sides, so whichever runs first does it). Runs
 * under the guard; never blocks on a pool; keeps errno. Without pools it
 * does nothing. */
void thr_inherit_forked(pid_t pid);

/* The same after _Fork(), which runs no atfork handlers: in the child,
 * the process's cached identity is dropped first, as fork's handler
 * does. */
void thr_inherit_bare_forked(pid_t pid);

/* After posix_spawn() (a clone that execs at once, no fork): the child
 * becomes co-holder of the slots of the descriptors it has after its exec,
 * its record naming the number it has each on (found by kcmp, so file
 * actions that move a descriptor are followed); where kcmp cannot tell, of
 * those open here without close-on-exec. Reads /proc and calls kcmp; never
 * blocks on a pool; keeps errno. */
void thr_inherit_spawned(pid_t pid);

/* popen() starts its child with a clone of glibc's own, which no hook sees,
 * and returns once the child has exec'd. The calling thread's children
 * before the call tell which is new after it: that one is treated as
 * spawned (above), before the caller can close its copy. */
#define THR_INHERIT_KIDS 256
struct thr_inherit_kids {
	int n;                  /* pids listed; -1 when there is nothing to
	                           pass on, or no way to tell the new child */
	pid_t pid[THR_INHERIT_KIDS];
};

/* Lists the children before the call; cheap (no system call) when no
 * descriptor is tracked. Keeps errno. */
void thr_inherit_kids_before(struct thr_inherit_kids *kids);

/* After the call succeeded: every child not listed before co-holds what it
 * shares with us. Keeps errno. */
void thr_inherit_kids_spawned(const struct thr_inherit_kids *kids);


/* At start-up, once the pools of st are attached: for every pool, joins the
 * slots of descriptors this process shares with its parent (posix_spawn,
 * system, popen), then takes back the records an image of this process
 * held before exec, keeping those whose descriptor is still open and
 * giving back the rest. Allocates (one malloc, under the loader's guard);
 * without memory the records stay until exit, no slot lost. Never blocks
 * on a pool; keeps errno as the loader does. */
void thr_inherit_claim(struct thr_init_state *st);

#endif
