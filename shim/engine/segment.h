/* segment.h - creating, attaching and checking the shared file behind a pool.
 * Nobody may ever map a half-built segment, and a segment of another layout,
 * a truncated or corrupted one, or one owned by an unexpected user is refused
 * with a sentence that says so. */
#ifndef THR_SEGMENT_H
#define THR_SEGMENT_H

#include "layout.h"
#include "pool.h"

/* Maps <dir>/throttle.<name>, creating it if absent and opts->create: it is
 * built under a temporary name and link()ed into place, so it appears whole.
 * Returns 0 and *ret_shm, or -errno with one sentence in err (may be NULL):
 * -ENOENT, -EPERM (unexpected owner), -EPROTO (other layout), -EBADMSG
 * (truncated, corrupted), -EACCES, others from the system. Not
 * async-signal-safe. */
int thr_pool__segment_map(const char *name, const struct thr_pool_opts *opts,
                          struct thr_shm_pool **ret_shm, char *err);

void thr_pool__segment_unmap(struct thr_shm_pool *shm);

/* Checks a mapped header. Returns 0, -EPROTO or -EBADMSG with err filled. */
int thr_pool__segment_check(const struct thr_shm_pool *shm, const char *name,
                            char *err);

#endif
