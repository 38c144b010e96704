/* destindex.h - an index over many connect() destination rules, built once
 * at config load, that finds the first pool whose rules a destination
 * matches without trying every rule. Built only above THR_DESTINDEX_MIN
 * rules: below that a plain loop is as fast. */
#ifndef THR_DESTINDEX_H
#define THR_DESTINDEX_H

#include <stddef.h>
#include <sys/socket.h>

#include "match.h"

/* The fewest rules worth an index: a lookup costs about what a loop over 8
 * rules does, and a connect() costs microseconds, so the exact point
 * hardly shows (tests/bench/bench-rules.c). Overridable at compile time,
 * so that a benchmark can build a shim that never indexes. */
#ifndef THR_DESTINDEX_MIN
#define THR_DESTINDEX_MIN 16
#endif

/* One pool's rules, as thr_match_parse_dest() made them. */
struct thr_destindex_set {
	const struct thr_match_dest *rules; /* must outlive the index */
	size_t n;
};

struct thr_destindex;

/* Indexes the rules of sets[0..nsets). Returns 0 with *ret the index, or
 * NULL when they have fewer than min rules in all; -ENOMEM (nothing
 * built, *ret NULL) or -E2BIG (UINT32_MAX rules or more). Allocates; not
 * for the hooks. */
int thr_destindex_build(const struct thr_destindex_set *sets, size_t nsets,
                        size_t min, struct thr_destindex **ret);

/* The least set i >= from with a rule r for which
 * thr_match_dest_matches(r, sa, len) holds, or nsets: what a loop over the
 * sets and their rules in order would answer. An IPv4 or IPv6 address
 * tries only the rules whose network and port (or port range) it is in;
 * AF_UNIX tries the "unix:" rules in order. No allocation, no system call,
 * errno untouched: async-signal-safe. */
size_t thr_destindex_first(const struct thr_destindex *ix,
                           const struct sockaddr *sa, socklen_t len,
                           size_t from);

/* Frees ix (NULL is fine). */
void thr_destindex_free(struct thr_destindex *ix);

#endif
