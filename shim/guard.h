/* guard.h - a thread-local flag set while the shim does work of its own
 * (loading the config, reading /proc, mapping segments), so that the libc
 * calls it makes pass straight through its own hooks. */
#ifndef THR_GUARD_H
#define THR_GUARD_H

#include <stdbool.h>

extern __thread int thr_guard_depth;

static inline bool thr_guard_active(void)
{
	return thr_guard_depth != 0;
}

static inline void thr_guard_enter(void)
{
	thr_guard_depth++;
}

static inline void thr_guard_leave(void)
{
	thr_guard_depth--;
}

#endif
