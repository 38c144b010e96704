/* hooks.h - what hooks.c and hookproc.c, the two files of exported libc
 * names, share: the mark that exports a name, and close() by way of a
 * given real close, which the close hook and syscall(SYS_close) both run.
 * Internal to those two files (and tests/unit/test-gate.c, which drives
 * the gate as they do). */
#ifndef THR_HOOKS_H
#define THR_HOOKS_H

#include "gate.h"
#include "hot.h"
#include "track.h"

#include <stdint.h>

/* Exports a hook under libc's name (the library is built with hidden
 * visibility; shim/libthrottle.map lists every name so marked). */
#define EXPORT __attribute__((visibility("default")))

/* close() by way of real_close (libc's, or the raw system call for
 * syscall(SYS_close), which is no cancellation point). Untracked
 * descriptors go straight there: nothing runs after the system call,
 * where caches are cold. Tracked ones drop their reference before it too,
 * leaving only the release of the slots for after. Returns what real_close
 * returns, with its errno; sp is the hook's thr_flight_sp().
 * Async-signal-safe: no allocation, stdio or lock; blocks only while
 * another thread forks (thr_gate_closing()). */
static inline __attribute__((always_inline))
int thr_hooks_close_via(int (*real_close)(int), int fd, uintptr_t sp)
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

#endif
