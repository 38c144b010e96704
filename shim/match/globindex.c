/* globindex.c - finds the first of many open() globs a path matches by
 * walking the path's folders through a trie of the globs' literal heads,
 * instead of trying every glob. Building allocates (at config load); the
 * lookup runs in the open() hooks and must not allocate, block or touch
 * errno.
 *
 * A glob can only match a path that starts with its literal head (what
 * precedes its first '*', '?' or '['): the matcher compares that first. The
 * head splits into folders, each ending in '/', and a last part with no '/'
 * (maybe empty): "/srv/data/app-*.log" is "srv/", "data/", then "app-". A
 * glob hangs in the trie under its folders: on the node itself when the
 * last part is empty ("/srv/data/" + "*.log"), else in a head group, keyed
 * by that part, beside the node's children. A path walks down by its own
 * folders; at each node it tries the node's globs and those of the groups
 * whose key its next component starts with. So it tries exactly the globs
 * whose head it starts with, and no others.
 *
 * That alone would leave on one node every glob whose wildcard comes right
 * after the same folders: one glob per user, each a '*' folder, then
 * "u1/", then "**", all on the root and tried by every path. But a
 * component of a glob with no wildcard in it ("u1") can only match a
 * whole component of the path: the glob's '/'
 * before and after it match only '/' ("**" + "/" eats whole folders), and
 * its bytes only themselves. So such a glob may instead go into a
 * component group of its node, keyed by one of those components, which a
 * path under the node tries only if it has that component somewhere below
 * the node. Of its groups a glob goes into the one the fewest globs could
 * share.
 *
 * Children and groups of every node are in one hash table keyed by (parent,
 * kind, bytes), its key bytes pointing into the globs themselves. Each
 * node's globs are kept in ascending order, and each node knows the least
 * glob below it, so the walk stops once nothing below can beat the best
 * match found so far: the answer is the first match in the globs' own
 * order, as the loop it replaces would find. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ascending.h"
#include "globindex.h"

/* A head group's key is at most this long: a longer last part is keyed by
 * its first HEAD_MAX bytes, which its globs' own match then checks. */
#define HEAD_MAX 63

enum kind {
	FOLDER = 1,             /* a child node: a whole component, then '/' */
	HEAD = 2,               /* a head group: the start of a component */
	COMPONENT = 3,          /* a component group: a whole component
	                           somewhere below */
};

struct node {
	uint64_t heads;         /* bit k (1..HEAD_MAX): a head group of k bytes
	                           hangs here */
	uint32_t first;         /* its globs are list[first .. first + count) */
	uint32_t count;
	uint32_t min;           /* the least glob here, in its groups or below;
	                           UINT32_MAX when none */
	uint32_t skip_len;      /* a passage (no globs, no groups, one child):
	                           the bytes of the folders down to the first
	                           node below that is not one, each with its
	                           '/'; else 0 */
	uint32_t jump;          /* that node */
	uint32_t keyed;         /* component groups hang here */
	const char *skip;       /* those bytes, inside a glob */
};

/* One slot of the open-addressed table of children and groups. */
struct slot {
	uint64_t hash;          /* 0: empty */
	const char *key;        /* the component's bytes, inside a glob */
	uint32_t parent;        /* the node it hangs under */
	uint32_t node;          /* the node (child or group) it leads to */
	uint32_t len;           /* bytes of key */
	uint32_t kind;          /* enum kind */
};

struct thr_globindex {
	const struct thr_match_cglob *globs;
	size_t n;
	struct node *nodes;     /* 0 is the root, "/" */
	uint32_t *list;         /* glob numbers, node by node, ascending */
	struct slot *table;
	size_t mask;            /* table size - 1 (a power of two) */
};

/* A multiply-xor over the key's 8-byte words, seeded by the parent, the
 * kind and the length, then MurmurHash3's 64-bit finaliser: few steps for
 * a component of any length. */
static inline uint64_t hash_key(uint32_t parent, enum kind k, const char *key,
                                size_t len)
{
	const uint64_t m = UINT64_C(0x9e3779b97f4a7c15);
	uint64_t s = ((parent + UINT64_C(1)) * m) ^ ((uint64_t)len << 2 | k);
	size_t i = 0;
	for (; i + 8 <= len; i += 8)
		s = (s ^ thr_match_load8(key + i)) * m;
	if (i < len) {
		/* the last bytes alone: reading past them could leave the page */
		uint64_t w = 0;
		for (size_t j = 0; i + j < len; j++)
			w |= (uint64_t)(unsigned char)key[i + j] << (8 * j);
		s = (s ^ w) * m;
	}
	s ^= s >> 33;
	s *= UINT64_C(0xff51afd7ed558ccd);
	s ^= s >> 33;
	s *= UINT64_C(0xc4ceb9fe1a85ec53);
	s ^= s >> 33;
	return s | 1; /* 0 marks an empty slot */
}

/* The node hanging under parent as (k, key), or 0 (the root is no one's
 * child). */
static uint32_t find(const struct slot *table, size_t mask, uint64_t h,
                     uint32_t parent, enum kind k, const char *key,
                     size_t len)
{
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		const struct slot *s = &table[i];
		if (!s->hash)
			return 0;
		if (s->hash == h && s->parent == parent && s->kind == k &&
		    s->len == len && memcmp(s->key, key, len) == 0)
			return s->node;
	}
}

/* ---- building ---- */

/* What building keeps of a node beyond struct node. */
struct info {
	const char *key;        /* its bytes, inside a glob */
	uint32_t len;
	enum kind kind;         /* the root's: 0 */
	uint32_t uses;          /* globs that hang, or could, here */
	uint32_t parent;        /* the root's: 0 */
	uint32_t children;      /* child nodes (not groups) */
	uint32_t child;         /* the last child made */
};

/* The folders of the glob placed last, for the next, which often shares
 * them: up to DEPTH of them, each with the offset of its '/'. */
#define DEPTH 32

struct builder {
	struct thr_globindex *ix;
	size_t used;            /* slots in use */
	size_t nnodes, cap;     /* nodes made, and room for */
	struct info *info;      /* cap of them */
	const char *last;       /* the glob placed last */
	size_t nlast;           /* its folders in last_end, last_node */
	size_t last_end[DEPTH];
	uint32_t last_node[DEPTH];
};

static int grow_table(struct builder *b)
{
	size_t size = (b->ix->mask + 1) * 2;
	struct slot *t = calloc(size, sizeof(*t)), *old = b->ix->table;
	if (!t)
		return -ENOMEM;
	for (size_t i = 0; i <= b->ix->mask; i++) {
		if (!old[i].hash)
			continue;
		size_t j = old[i].hash & (size - 1);
		while (t[j].hash)
			j = (j + 1) & (size - 1);
		t[j] = old[i];
	}
	free(old);
	b->ix->table = t;
	b->ix->mask = size - 1;
	return 0;
}

static int grow_nodes(struct builder *b)
{
	size_t cap = b->cap * 2;
	struct node *nodes = realloc(b->ix->nodes, cap * sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	b->ix->nodes = nodes;
	struct info *info = realloc(b->info, cap * sizeof(*info));
	if (!info)
		return -ENOMEM;
	b->info = info;
	b->cap = cap;
	return 0;
}

/* The node under parent as (k, key), made if new. Returns its number, or
 * 0 when out of memory. */
static uint32_t add(struct builder *b, uint32_t parent, enum kind k,
                    const char *key, size_t len)
{
	uint64_t h = hash_key(parent, k, key, len);
	uint32_t id = find(b->ix->table, b->ix->mask, h, parent, k, key, len);
	if (id)
		return id;
	if (b->nnodes >= UINT32_MAX ||
	    ((b->used + 1) * 2 > b->ix->mask + 1 && grow_table(b) < 0) ||
	    (b->nnodes == b->cap && grow_nodes(b) < 0))
		return 0;
	size_t i = h & b->ix->mask;
	while (b->ix->table[i].hash)
		i = (i + 1) & b->ix->mask;
	id = (uint32_t)b->nnodes++;
	b->ix->table[i] = (struct slot){ .hash = h, .key = key, .parent = parent,
	                                 .node = id, .len = (uint32_t)len,
	                                 .kind = k };
	b->used++;
	b->ix->nodes[id] = (struct node){ .min = UINT32_MAX };
	b->info[id] = (struct info){ .key = key, .len = (uint32_t)len,
	                             .kind = k, .parent = parent };
	if (k == FOLDER) {
		b->info[parent].children++;
		b->info[parent].child = id;
	}
	return id;
}

/* How many of the last glob's folders s starts with too. */
static size_t shared_folders(const struct builder *b, const char *s,
                             size_t lit)
{
	size_t same = 0, k = 0;
	if (!b->last)
		return 0;
	while (same < lit && s[same] == b->last[same])
		same++;
	while (k < b->nlast && b->last_end[k] < same)
		k++;
	return k;
}

/* The node glob g hangs on, made with its ancestors if new; 0 is the root,
 * or, for another glob, out of memory, told apart by *ok. */
static uint32_t place(struct builder *b, const struct thr_match_cglob *g,
                      bool *ok)
{
	const char *s = g->glob;
	size_t pos = 1, lit = g->lit, k = shared_folders(b, s, lit);
	uint32_t id = 0;
	const char *slash;

	*ok = true;
	if (k) {
		id = b->last_node[k - 1];
		pos = b->last_end[k - 1] + 1;
	}
	b->last = s;
	while (pos < lit && (slash = memchr(s + pos, '/', lit - pos))) {
		id = add(b, id, FOLDER, s + pos, (size_t)(slash - (s + pos)));
		if (!id) {
			*ok = false;
			return 0;
		}
		pos = (size_t)(slash - s) + 1;
		if (k < DEPTH) {
			b->last_end[k] = pos - 1;
			b->last_node[k++] = id;
		}
	}
	b->nlast = k;
	if (pos >= lit)
		return id;
	size_t len = lit - pos < HEAD_MAX ? lit - pos : HEAD_MAX;
	uint32_t group = add(b, id, HEAD, s + pos, len);
	*ok = group != 0;
	b->ix->nodes[id].heads |= UINT64_C(1) << len;
	return group;
}

/* The next whole component of glob s after *at with no wildcard in it
 * (no '*', '?' or '[' at all): its start, with its length in *len and *at
 * moved to its end; NULL when none is left. From g->lit on: the
 * components after its first wildcard's. A class is one item, '/' or not
 * in it. */
static const char *next_literal(const char *s, size_t *at, size_t *len)
{
	size_t i = *at, start = SIZE_MAX;
	bool plain = false;
	for (;;) {
		if (s[i] == '/' || s[i] == '\0') {
			if (start != SIZE_MAX && plain && i > start) {
				*at = i;
				*len = i - start;
				return s + start;
			}
			if (s[i] == '\0')
				return NULL;
			start = i + 1;
			plain = true;
		} else if (s[i] == '*' || s[i] == '?' || s[i] == '[') {
			plain = false;
			if (s[i] == '[' && thr_match_class_len(s + i))
				i += thr_match_class_len(s + i) - 1;
		}
		i++;
	}
}

/* The folder node of glob g's group or node at. */
static uint32_t folder_of(const struct builder *b, uint32_t at)
{
	return b->info[at].kind == HEAD ? b->info[at].parent : at;
}

/* Makes the component groups glob g could go into, at node at or its
 * folder, and counts it in each. Returns false when out of memory. */
static bool offer(struct builder *b, const struct thr_match_cglob *g,
                  uint32_t at)
{
	uint32_t x = folder_of(b, at), id;
	size_t pos = g->lit, len;
	for (const char *c; (c = next_literal(g->glob, &pos, &len));) {
		if (!(id = add(b, x, COMPONENT, c, len)))
			return false;
		b->info[id].uses++;
	}
	return true;
}

/* Where glob g, at node or group at, goes: there, or the component group
 * fewer globs could share. */
static uint32_t choose(struct builder *b, const struct thr_match_cglob *g,
                       uint32_t at)
{
	uint32_t x = folder_of(b, at), best = at;
	size_t pos = g->lit, len;
	for (const char *c; (c = next_literal(g->glob, &pos, &len));) {
		uint32_t id = find(b->ix->table, b->ix->mask,
		                   hash_key(x, COMPONENT, c, len), x, COMPONENT,
		                   c, len);
		if (b->info[id].uses < b->info[best].uses)
			best = id;
	}
	if (best != at)
		b->ix->nodes[x].keyed = 1;
	return best;
}

/* Lays out each node's globs, ascending, and each node's least glob. */
static int fill(struct builder *b, const uint32_t *at)
{
	struct thr_globindex *ix = b->ix;
	ix->list = malloc((ix->n ? ix->n : 1) * sizeof(*ix->list));
	if (!ix->list)
		return -ENOMEM;
	for (size_t i = 0; i < ix->n; i++)
		ix->nodes[at[i]].count++;
	uint32_t next = 0;
	for (size_t id = 0; id < b->nnodes; id++) {
		ix->nodes[id].first = next;
		next += ix->nodes[id].count;
		ix->nodes[id].count = 0;
	}
	for (size_t i = 0; i < ix->n; i++) {
		struct node *nd = &ix->nodes[at[i]];
		ix->list[nd->first + nd->count++] = (uint32_t)i;
		if (nd->min == UINT32_MAX)
			nd->min = (uint32_t)i;
	}
	/* A child is made after its parent: going down the numbers visits
	 * every node before its parent. */
	for (size_t id = b->nnodes; id-- > 1;) {
		struct node *up = &ix->nodes[b->info[id].parent];
		if (ix->nodes[id].min < up->min)
			up->min = ix->nodes[id].min;
	}
	return 0;
}

/* Is node id a mere passage: no globs, no groups, one child? */
static bool passage(const struct builder *b, uint32_t id)
{
	const struct node *nd = &b->ix->nodes[id];
	return nd->count == 0 && nd->heads == 0 && !nd->keyed &&
	       b->info[id].children == 1;
}

/* Each passage's run of passages below it becomes one compare: "/srv/"
 * with "data/app/" below it and nothing else is left by one memcmp of
 * "data/app/" instead of two lookups. */
static void chains(struct builder *b)
{
	for (size_t id = 0; id < b->nnodes; id++) {
		if (!passage(b, (uint32_t)id))
			continue;
		uint32_t to = b->info[id].child;
		size_t len = b->info[to].len + 1;
		while (passage(b, to)) {
			to = b->info[to].child;
			len += b->info[to].len + 1;
		}
		/* to's key is in a glob that has every folder of the run
		 * before it, each with its '/' */
		struct node *nd = &b->ix->nodes[id];
		nd->skip = b->info[to].key + b->info[to].len + 1 - len;
		nd->skip_len = (uint32_t)len;
		nd->jump = to;
	}
}

static int build(struct builder *b, const struct thr_match_cglob *globs,
                 size_t n)
{
	struct thr_globindex *ix = b->ix;
	ix->globs = globs;
	ix->n = n;
	ix->mask = 63;
	b->cap = 64;
	ix->table = calloc(ix->mask + 1, sizeof(*ix->table));
	ix->nodes = malloc(b->cap * sizeof(*ix->nodes));
	b->info = malloc(b->cap * sizeof(*b->info));
	uint32_t *at = malloc(n * sizeof(*at));
	if (!ix->table || !ix->nodes || !b->info || !at) {
		free(at);
		return -ENOMEM;
	}
	b->nnodes = 1;
	ix->nodes[0] = (struct node){ .min = UINT32_MAX };
	b->info[0] = (struct info){ .parent = 0 };
	bool ok = true;
	for (size_t i = 0; ok && i < n; i++) {
		at[i] = place(b, &globs[i], &ok);
		b->info[at[i]].uses++;
	}
	for (size_t i = 0; ok && i < n; i++)
		ok = offer(b, &globs[i], at[i]);
	for (size_t i = 0; ok && i < n; i++)
		at[i] = choose(b, &globs[i], at[i]);
	int r = ok ? fill(b, at) : -ENOMEM;
	if (r == 0)
		chains(b);
	free(at);
	return r;
}

int thr_globindex_build(const struct thr_match_cglob *globs, size_t n,
                        size_t min, struct thr_globindex **ret)
{
	*ret = NULL;
	if (n < min || n == 0)
		return 0;
	if (n >= UINT32_MAX)
		return -E2BIG;
	struct builder b = { .ix = calloc(1, sizeof(*b.ix)) };
	if (!b.ix)
		return -ENOMEM;
	int r = build(&b, globs, n);
	free(b.info);
	if (r < 0) {
		thr_globindex_free(b.ix);
		return r;
	}
	/* Trimmed: the node array grew by doubling. */
	struct node *nodes = realloc(b.ix->nodes, b.nnodes * sizeof(*nodes));
	if (nodes)
		b.ix->nodes = nodes;
	*ret = b.ix;
	return 0;
}

void thr_globindex_free(struct thr_globindex *ix)
{
	if (!ix)
		return;
	free(ix->table);
	free(ix->nodes);
	free(ix->list);
	free(ix);
}

/* ---- looking up ---- */

/* The first of nd's globs, from `from` on and before best, that path
 * matches; else best. */
static size_t try_node(const struct thr_globindex *ix, const struct node *nd,
                       const char *path, size_t n, size_t from, size_t best)
{
	const uint32_t *l = ix->list + nd->first, *end = l + nd->count;
	if (from)
		l += thr_ascending_find(l, nd->count, from);
	for (; l < end && *l < best; l++)
		if (thr_match_cglob(&ix->globs[*l], path, n))
			return *l;
	return best;
}

/* The first glob of node id's component groups that path matches, from
 * `from` on and before best, else best: the groups of path's components
 * from pos on. */
static size_t try_components(const struct thr_globindex *ix, uint32_t id,
                             const char *path, size_t n, size_t pos,
                             size_t from, size_t best)
{
	for (;;) {
		const char *c = path + pos;
		const char *slash = memchr(c, '/', n - pos);
		size_t len = slash ? (size_t)(slash - c) : n - pos;
		uint32_t g = find(ix->table, ix->mask,
		                  hash_key(id, COMPONENT, c, len), id, COMPONENT,
		                  c, len);
		if (g && ix->nodes[g].min < best)
			best = try_node(ix, &ix->nodes[g], path, n, from, best);
		if (!slash)
			return best;
		pos += len + 1;
	}
}

size_t thr_globindex_first(const struct thr_globindex *ix, const char *path,
                           size_t n, size_t from)
{
	size_t best = ix->n, pos = 1;
	uint32_t id = 0;

	if (n == 0) /* only a glob with no head, on the root, can match */
		return try_node(ix, &ix->nodes[0], path, n, from, best);
	for (;;) {
		const struct node *nd = &ix->nodes[id];
		if (nd->min >= best)
			break;
		if (nd->skip_len) {
			if (n - pos < nd->skip_len ||
			    memcmp(path + pos, nd->skip, nd->skip_len) != 0)
				break;
			pos += nd->skip_len;
			id = nd->jump;
			continue;
		}
		if (nd->count)
			best = try_node(ix, nd, path, n, from, best);
		const char *c = path + pos;
		const char *slash = memchr(c, '/', n - pos);
		size_t len = slash ? (size_t)(slash - c) : n - pos;
		/* the groups keyed by the starts of this component, shortest
		 * first */
		for (uint64_t heads = nd->heads; heads; heads &= heads - 1) {
			size_t k = (size_t)__builtin_ctzll(heads);
			if (k > len)
				break;
			uint32_t g = find(ix->table, ix->mask,
			                  hash_key(id, HEAD, c, k), id, HEAD, c, k);
			if (g && ix->nodes[g].min < best)
				best = try_node(ix, &ix->nodes[g], path, n, from,
				                best);
		}
		if (nd->keyed)
			best = try_components(ix, id, path, n, pos, from, best);
		if (!slash)
			break;
		id = find(ix->table, ix->mask, hash_key(id, FOLDER, c, len), id,
		          FOLDER, c, len);
		if (!id)
			break;
		pos += len + 1;
	}
	return best;
}
