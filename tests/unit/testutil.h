/* testutil.h - small helpers shared by the multi-process engine tests;
 * their clock is thr_clock_ns() from shim/engine/clock.h. */
#ifndef THR_TESTUTIL_H
#define THR_TESTUTIL_H

#include <stdint.h>

/* xorshift64: cheap, reproducible per seed, good enough to pick victims. */
static inline uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

#endif
