/* destindex.c - finds the first pool whose connect() rules match an address
 * by looking the address up in buckets of rules, instead of trying every
 * rule. Building allocates (at config load); the lookup runs in the
 * connect() hook and must not allocate, block or touch errno.
 *
 * An IPv4 or IPv6 rule matches an address that is in its network (a
 * prefix of the 128-bit form, IPv4 as ::ffff:a.b.c.d; "*" is the prefix of
 * length 0) and whose port is in its range. So each rule goes into the
 * bucket of its prefix length, its network and its port, or, for a range
 * of ports, the range bucket of its prefix length and network. An address
 * looks into two buckets per prefix length that some rule has: its own
 * network at that length with its port, and with any port. Each bucket's
 * rules are in the rules' own order, and each candidate is checked with
 * thr_match_dest_matches() itself, so the answer is the loop's. "unix:"
 * rules are few and globs: they are tried in order. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ascending.h"
#include "destindex.h"

#define ANY_PORT 65536u         /* the port of a range bucket */
#define NPREFIX 129             /* prefix lengths 0..128 */

/* One slot of the open-addressed table: one bucket. */
struct bucket {
	uint64_t hash;          /* 0: empty */
	uint8_t net[16];        /* its network, the bits past its prefix clear */
	uint32_t key;           /* prefix << 17 | port, or ANY_PORT for ranges */
	uint32_t first;         /* its rules are list[first .. first + count) */
	uint32_t count;
};

struct thr_destindex {
	size_t nsets, nrules;
	const struct thr_match_dest **rule; /* every rule, set after set */
	uint32_t *owner;        /* the set of each rule */
	uint32_t *start;        /* set i's first rule; start[nsets] = nrules */
	struct bucket *table;
	size_t mask;            /* table size - 1 (a power of two) */
	uint32_t *list;         /* rule numbers, bucket by bucket, ascending */
	uint32_t *unix_rule;    /* the "unix:" rules' numbers, ascending */
	size_t nunix;
	uint8_t prefix[NPREFIX]; /* the prefix lengths some rule has, longest
	                            first */
	size_t nprefix;
	uint8_t has[NPREFIX];   /* per prefix length: SINGLE, RANGE */
};

enum { SINGLE = 1, RANGE = 2 };

/* addr with the bits past prefix cleared. */
static void network(const uint8_t addr[16], unsigned prefix, uint8_t out[16])
{
	unsigned full = prefix / 8, rest = prefix % 8;
	memset(out, 0, 16);
	memcpy(out, addr, full);
	if (rest)
		out[full] = addr[full] & (uint8_t)(0xff << (8 - rest));
}

static uint64_t hash_bucket(const uint8_t net[16], uint32_t key)
{
	const uint64_t m = UINT64_C(0x9e3779b97f4a7c15);
	uint64_t w[2];
	memcpy(w, net, 16);
	uint64_t s = ((key + UINT64_C(1)) * m ^ w[0]) * m;
	s = (s ^ w[1]) * m;
	s ^= s >> 33;
	s *= UINT64_C(0xff51afd7ed558ccd);
	s ^= s >> 33;
	return s | 1; /* 0 marks an empty slot */
}

/* The slot of bucket (net, key): its own, or the empty one it would take. */
static size_t slot_of(const struct thr_destindex *ix, const uint8_t net[16],
                      uint32_t key, uint64_t h)
{
	size_t i = h & ix->mask;
	for (;; i = (i + 1) & ix->mask) {
		const struct bucket *b = &ix->table[i];
		if (!b->hash || (b->hash == h && b->key == key &&
		                 memcmp(b->net, net, 16) == 0))
			return i;
	}
}

/* ---- building ---- */

/* The bucket rule r belongs in, made if new: its slot, or SIZE_MAX for a
 * rule that no address can match. */
static size_t bucket_for(struct thr_destindex *ix,
                         const struct thr_match_dest *r)
{
	unsigned prefix = r->kind == THR_MATCH_ANY ? 0 : r->prefix;
	if ((r->kind != THR_MATCH_INET && r->kind != THR_MATCH_ANY) ||
	    prefix > 128 || r->port_lo > r->port_hi)
		return SIZE_MAX;
	uint8_t net[16];
	network(r->addr, prefix, net);
	bool single = r->port_lo == r->port_hi;
	uint32_t key = (uint32_t)prefix << 17 | (single ? r->port_lo : ANY_PORT);
	uint64_t h = hash_bucket(net, key);
	size_t i = slot_of(ix, net, key, h);
	struct bucket *b = &ix->table[i];
	if (!b->hash) {
		b->hash = h;
		memcpy(b->net, net, 16);
		b->key = key;
		if (!ix->has[prefix])
			ix->prefix[ix->nprefix++] = (uint8_t)prefix;
		ix->has[prefix] |= single ? SINGLE : RANGE;
	}
	b->count++;
	return i;
}

static int by_length(const void *a, const void *b)
{
	return *(const uint8_t *)b - *(const uint8_t *)a;
}

/* Puts every rule into its bucket or the "unix:" list, in order. */
static int sort_rules(struct thr_destindex *ix)
{
	size_t *at = malloc(ix->nrules * sizeof(*at));
	ix->list = malloc(ix->nrules * sizeof(*ix->list));
	ix->unix_rule = malloc(ix->nrules * sizeof(*ix->unix_rule));
	if (!at || !ix->list || !ix->unix_rule) {
		free(at);
		return -ENOMEM;
	}
	for (size_t r = 0; r < ix->nrules; r++) {
		at[r] = bucket_for(ix, ix->rule[r]);
		if (ix->rule[r]->kind == THR_MATCH_UNIX)
			ix->unix_rule[ix->nunix++] = (uint32_t)r;
	}
	uint32_t next = 0;
	for (size_t i = 0; i <= ix->mask; i++) {
		ix->table[i].first = next;
		next += ix->table[i].count;
		ix->table[i].count = 0;
	}
	for (size_t r = 0; r < ix->nrules; r++) {
		if (at[r] == SIZE_MAX)
			continue;
		struct bucket *b = &ix->table[at[r]];
		ix->list[b->first + b->count++] = (uint32_t)r;
	}
	free(at);
	qsort(ix->prefix, ix->nprefix, 1, by_length);
	return 0;
}

/* Lays the sets' rules out one after another, each with its set. */
static int flatten(struct thr_destindex *ix,
                   const struct thr_destindex_set *sets)
{
	ix->rule = malloc(ix->nrules * sizeof(*ix->rule));
	ix->owner = malloc(ix->nrules * sizeof(*ix->owner));
	ix->start = malloc((ix->nsets + 1) * sizeof(*ix->start));
	if (!ix->rule || !ix->owner || !ix->start)
		return -ENOMEM;
	size_t r = 0;
	for (size_t s = 0; s < ix->nsets; s++) {
		ix->start[s] = (uint32_t)r;
		for (size_t k = 0; k < sets[s].n; k++, r++) {
			ix->rule[r] = &sets[s].rules[k];
			ix->owner[r] = (uint32_t)s;
		}
	}
	ix->start[ix->nsets] = (uint32_t)r;
	return 0;
}

int thr_destindex_build(const struct thr_destindex_set *sets, size_t nsets,
                        size_t min, struct thr_destindex **ret)
{
	size_t n = 0, size = 16;
	*ret = NULL;
	for (size_t s = 0; s < nsets; s++)
		n += sets[s].n;
	if (n < min || n == 0)
		return 0;
	if (n >= UINT32_MAX / 2 || nsets >= UINT32_MAX)
		return -E2BIG;
	/* A bucket per rule at most, so a table twice that never fills. */
	while (size < 2 * n)
		size *= 2;
	struct thr_destindex *ix = calloc(1, sizeof(*ix));
	if (!ix)
		return -ENOMEM;
	ix->nsets = nsets;
	ix->nrules = n;
	ix->mask = size - 1;
	ix->table = calloc(size, sizeof(*ix->table));
	int r = ix->table ? flatten(ix, sets) : -ENOMEM;
	if (r == 0)
		r = sort_rules(ix);
	if (r < 0) {
		thr_destindex_free(ix);
		return r;
	}
	*ret = ix;
	return 0;
}

void thr_destindex_free(struct thr_destindex *ix)
{
	if (!ix)
		return;
	free(ix->rule);
	free(ix->owner);
	free(ix->start);
	free(ix->table);
	free(ix->list);
	free(ix->unix_rule);
	free(ix);
}

/* ---- looking up ---- */

/* The first of rules[0..n), at or after from and before best, that sa
 * matches; else best. */
static size_t try_rules(const struct thr_destindex *ix, const uint32_t *l,
                        size_t n, const struct sockaddr *sa, socklen_t len,
                        size_t from, size_t best)
{
	size_t lo = thr_ascending_find(l, n, from);
	for (; lo < n && l[lo] < best; lo++)
		if (thr_match_dest_matches(ix->rule[l[lo]], sa, len))
			return l[lo];
	return best;
}

/* The first rule of bucket (net, key) that sa matches, as try_rules(). */
static size_t try_bucket(const struct thr_destindex *ix,
                         const uint8_t net[16], uint32_t key,
                         const struct sockaddr *sa, socklen_t len,
                         size_t from, size_t best)
{
	const struct bucket *b = &ix->table[slot_of(ix, net, key,
	                                            hash_bucket(net, key))];
	if (!b->hash || ix->list[b->first] >= best)
		return best;
	return try_rules(ix, ix->list + b->first, b->count, sa, len, from, best);
}

size_t thr_destindex_first(const struct thr_destindex *ix,
                           const struct sockaddr *sa, socklen_t len,
                           size_t from)
{
	uint8_t a[16], net[16];
	uint16_t port;

	if (from >= ix->nsets || !sa || len < (socklen_t)sizeof(sa_family_t))
		return ix->nsets;
	size_t lo = ix->start[from], best = ix->nrules;
	if (sa->sa_family == AF_UNIX) {
		best = try_rules(ix, ix->unix_rule, ix->nunix, sa, len, lo, best);
	} else if (thr_match_inet_key(sa, len, a, &port)) {
		for (size_t i = 0; i < ix->nprefix; i++) {
			unsigned p = ix->prefix[i];
			network(a, p, net);
			if (ix->has[p] & SINGLE)
				best = try_bucket(ix, net, p << 17 | port, sa, len, lo,
				                  best);
			if (ix->has[p] & RANGE)
				best = try_bucket(ix, net, p << 17 | ANY_PORT, sa, len,
				                  lo, best);
		}
	}
	return best < ix->nrules ? ix->owner[best] : ix->nsets;
}
