/* globindex.h - an index over many open() globs, built once at config load,
 * that finds the first glob a normalised path matches without trying them
 * all. Built only above THR_GLOBINDEX_MIN globs: below that a plain loop is
 * as fast and touches less memory. */
#ifndef THR_GLOBINDEX_H
#define THR_GLOBINDEX_H

#include <stddef.h>

#include "match.h"

/* The fewest globs worth an index: below it, thr_globindex_build() builds
 * none and the caller loops (tests/bench/bench-rules.c: an ungated open
 * costs the same either way at 16 globs, and less with the index from 24
 * on). Overridable at compile time, so that a benchmark can build a shim
 * that never indexes. */
#ifndef THR_GLOBINDEX_MIN
#define THR_GLOBINDEX_MIN 16
#endif

struct thr_globindex;

/* Indexes globs[0..n) (compiled with thr_match_glob_compile(); the array
 * and the glob strings must outlive the index). Returns 0 with *ret the
 * index, or NULL when n < min; -ENOMEM (nothing built, *ret NULL) or
 * -E2BIG (more than UINT32_MAX - 1 globs). Allocates; not for the hooks. */
int thr_globindex_build(const struct thr_match_cglob *globs, size_t n,
                        size_t min, struct thr_globindex **ret);

/* The least i >= from such that thr_match_cglob(&globs[i], path, n) holds,
 * or the number of globs when none does: what a loop over the globs in
 * order would answer. path is absolute and normalised, n its length. Tries
 * only globs whose literal head (the bytes before the first '*', '?' or
 * '[') path starts with, and, of those, none after the answer. No
 * allocation, no system call, errno untouched: async-signal-safe. */
size_t thr_globindex_first(const struct thr_globindex *ix, const char *path,
                           size_t n, size_t from);

/* Frees ix (NULL is fine). */
void thr_globindex_free(struct thr_globindex *ix);

#endif
