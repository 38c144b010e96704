/* snapshots.h - hand-made pool snapshots for the tests of the tools'
 * formatting (metrics, top): only the figures a test names are set, so
 * that what a formatter prints can be told from what the test chose. */
#ifndef THR_TEST_SNAPSHOTS_H
#define THR_TEST_SNAPSHOTS_H

#include <stdio.h>

#include "pool.h"

/* A pool with its peak at the limit, no holders, every counter 0. */
static inline struct thr_pool_snapshot snap_pool(const char *name,
                                                 uint32_t limit,
                                                 uint32_t in_use,
                                                 uint32_t waiting)
{
	struct thr_pool_snapshot s = { .limit = limit, .in_use = in_use,
	                               .waiting = waiting, .peak = limit };
	snprintf(s.name, sizeof(s.name), "%s", name);
	return s;
}

#endif
