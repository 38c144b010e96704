/* match.c - parses destination rules and matches connect() addresses and
 * open() paths against them. The matching half runs inside the hooks, maybe in
 * a signal handler: it must never allocate, block, print, use locale functions
 * or touch errno. Only parsing (at config load) may allocate and resolve. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "match.h"
#include "hot.h"

#define NONE SIZE_MAX
#define HOST_MAX 256            /* a DNS name is at most 253 bytes */

/* What a parse error message needs: the rule text to quote and the buffer. */
struct parse {
	const char *text;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4)))
static int fail(const struct parse *ps, int ret, const char *fmt, ...)
{
	va_list ap;

	if (ps->err && ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err, ps->errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ---- globs ---- */

/* Scans the class whose body starts at p (just past '['). Returns the length
 * of the body including the closing ']', or 0 if unterminated. *hit says
 * whether c is in the class; *bad whether a range runs backwards. */
static size_t class_scan(const char *p, unsigned char c, bool *hit, bool *bad)
{
	size_t i = 0;
	bool neg = p[0] == '!' || p[0] == '^';
	unsigned char lo, hi;

	*hit = *bad = false;
	i += neg;
	do {    /* a ']' straight after '[' or '[!' is a member, not the end */
		if (p[i] == '\0')
			return 0;
		lo = hi = (unsigned char)p[i];
		if (p[i + 1] == '-' && p[i + 2] != '\0' && p[i + 2] != ']') {
			hi = (unsigned char)p[i + 2];
			*bad |= lo > hi;
			i += 2;
		}
		*hit |= c >= lo && c <= hi;
		i++;
	} while (p[i] != ']');
	*hit ^= neg;
	return i + 1;
}

size_t thr_match_class_len(const char *p)
{
	bool hit, bad;
	size_t len = class_scan(p + 1, 0, &hit, &bad);
	return len ? len + 1 : 0;
}

/* Matches one path byte against the single-byte item at pat: a literal, '?'
 * or a class. Returns the item's length, or 0 on mismatch. Only a literal
 * '/' matches '/', so '?' and classes stay inside one folder. */
static size_t match_one(const char *pat, char c)
{
	size_t len;
	bool hit, bad;

	if (pat[0] == '\0')
		return 0;
	if (pat[0] == '?')
		return c != '/';
	if (pat[0] == '[') {
		len = class_scan(pat + 1, (unsigned char)c, &hit, &bad);
		if (len)
			return hit && c != '/' ? len + 1 : 0;
	}
	return pat[0] == c;     /* an unterminated '[' is a plain byte */
}

/* Backtracking state: where to resume after the last '*' (which may only
 * grow over non-'/' bytes) and after the last '**' (which may grow over
 * anything, or only by whole folders when it is a "**" + "/" component). */
struct gstate {
	size_t p, i;
	size_t star_p, star_i;
	size_t deep_p, deep_i;
	bool deep_dir;
};

static void take_stars(struct gstate *g, const char *pat)
{
	size_t r = 0;

	while (pat[g->p + r] == '*')
		r++;
	if (r == 1) {
		g->star_p = g->p + 1;
		g->star_i = g->i;
		g->p++;
		return;
	}
	/* A later '**' can absorb anything an earlier star could, so only the
	 * latest one needs a resume point. */
	g->deep_dir = (g->p == 0 || pat[g->p - 1] == '/') && pat[g->p + r] == '/';
	g->deep_p = g->p + r + g->deep_dir;
	g->deep_i = g->i;
	g->star_p = NONE;
	g->p = g->deep_p;
}

static bool backtrack(struct gstate *g, const char *s, size_t n)
{
	size_t j;

	if (g->star_p != NONE && g->star_i < n && s[g->star_i] != '/') {
		g->p = g->star_p;
		g->i = ++g->star_i;
		return true;
	}
	if (g->deep_p == NONE || g->deep_i >= n)
		return false;
	if (g->deep_dir) {
		/* "**" + "/" eats whole folders: resume just past a '/' */
		for (j = g->deep_i; j < n && s[j] != '/'; j++)
			;
		if (j == n)
			return false;
		g->deep_i = j + 1;
	} else {
		g->deep_i++;
	}
	g->star_p = NONE;
	g->p = g->deep_p;
	g->i = g->deep_i;
	return true;
}

/* Iterative, so a hostile pattern costs time bounded by a polynomial in the
 * lengths and no stack. s need not be NUL-terminated (abstract names). */
static bool gmatch_rest(const char *pat, const char *s, size_t n, size_t lit)
{
	struct gstate g = { .star_p = NONE, .deep_p = NONE };
	size_t adv;

	g.p = g.i = lit;
	for (;;) {
		if (pat[g.p] == '\0' && g.i == n)
			return true;
		if (pat[g.p] == '*') {
			take_stars(&g, pat);
			continue;
		}
		adv = g.i < n ? match_one(pat + g.p, s[g.i]) : 0;
		if (adv) {
			g.p += adv;
			g.i++;
		} else if (!backtrack(&g, s, n)) {
			return false;
		}
	}
}

static bool gmatch(const char *pat, const char *s, size_t n)
{
	/* Most patterns open with a literal folder: compare it in one go. */
	size_t lit = strcspn(pat, "*?[");
	if (lit > n || memcmp(pat, s, lit) != 0)
		return false;
	return gmatch_rest(pat, s, n, lit);
}

bool thr_match_glob(const char *glob, const char *path)
{
	if (!glob || !path)
		return false;
	return gmatch(glob, path, strlen(path));
}

void thr_match_glob_compile(const char *glob, struct thr_match_cglob *out)
{
	size_t lit = strcspn(glob, "*?["), stars = 0;
	while (glob[lit + stars] == '*')
		stars++;
	out->glob = glob;
	out->lit = lit;
	memset(out->head, 0, sizeof(out->head));
	memcpy(out->head, glob, lit < sizeof(out->head) ? lit : sizeof(out->head));
	out->tail = THR_GLOB_GENERAL;
	if (glob[lit] == '\0')
		out->tail = THR_GLOB_EXACT;
	else if (glob[lit + stars] == '\0')
		out->tail = stars == 1 ? THR_GLOB_FOLDER : THR_GLOB_ANY;
}

bool thr_match_cglob_rest(const struct thr_match_cglob *g, const char *path,
                          size_t n)
{
	return gmatch_rest(g->glob, path, n, g->lit);
}

/* Syntax shared by path globs and abstract socket names. */
static int check_pattern(const struct parse *ps, const char *g)
{
	size_t len;
	bool hit, bad;

	for (; *g; g++) {
		if (*g != '[')
			continue;
		len = class_scan(g + 1, 0, &hit, &bad);
		if (!len)
			return fail(ps, -EINVAL, "unterminated '[' in '%s'", ps->text);
		if (bad)
			return fail(ps, -EINVAL, "backwards range in '%.*s' in '%s'",
			            (int)len + 1, g, ps->text);
		g += len;
	}
	return 0;
}

/* Paths are normalised before matching, so a glob with an empty folder or a
 * trailing '/' could never match: that is a mistake worth reporting. */
/* Has glob g a component "." or ".."? Paths are matched normalised, so it
 * could never match. */
static bool dot_component(const char *g)
{
	for (const char *c = g; (c = strchr(c, '/')); ) {
		c++;
		size_t len = strcspn(c, "/");
		if ((len == 1 && c[0] == '.') ||
		    (len == 2 && c[0] == '.' && c[1] == '.'))
			return true;
	}
	return false;
}

static int check_path_glob(const struct parse *ps, const char *g)
{
	size_t n = strlen(g);

	if (n == 0)
		return fail(ps, -EINVAL, "empty glob in '%s'", ps->text);
	if (g[0] != '/')
		return fail(ps, -EINVAL, "relative glob '%s' in '%s'", g, ps->text);
	if (strstr(g, "//"))
		return fail(ps, -EINVAL, "'//' never matches a path in '%s'", ps->text);
	if (n > 1 && g[n - 1] == '/')
		return fail(ps, -EINVAL, "trailing '/' never matches a path in '%s'",
		            ps->text);
	if (dot_component(g))
		return fail(ps, -EINVAL, "'.' or '..' never matches a normalised "
		            "path in '%s'", ps->text);
	return check_pattern(ps, g);
}

int thr_match_check_glob(const char *glob, char *err, size_t errlen)
{
	struct parse ps = { glob, err, errlen };

	if (!glob)
		return fail(&ps, -EINVAL, "empty glob");
	return check_path_glob(&ps, glob);
}

/* ---- normalisation ---- */

/* Walks s[0..n) backwards, copying the components that survive '.' and '..'
 * to the end of out (before *pos). Going backwards means a '..' is known
 * before the component it cancels, so nothing is written and then erased and
 * only the final length has to fit. */
static int emit_back(const char *s, size_t n, char *out, size_t *pos,
                     size_t *skip)
{
	size_t end = n, start, len;

	while (end > 0) {
		for (start = end; start > 0 && s[start - 1] != '/'; start--)
			;
		len = end - start;
		if (len == 2 && s[start] == '.' && s[start + 1] == '.') {
			(*skip)++;
		} else if (len == 0 || (len == 1 && s[start] == '.')) {
			/* empty or "." */
		} else if (*skip) {
			(*skip)--;
		} else {
			if (*pos < len + 1)
				return -ENAMETOOLONG;
			*pos -= len;
			memcpy(out + *pos, s + start, len);
			out[--*pos] = '/';
		}
		end = start ? start - 1 : 0;
	}
	return 0;
}

#ifdef __SSE2__
/* Sixteen bytes at a time from the 16-byte block path starts in: an aligned
 * load never crosses a page, so reading past the NUL is safe (but not
 * something ASan can know). In each block's byte masks, a bad pair is a '/'
 * (bit i) before a '/' or '.' (bit i + 1): the two differ only in bit 0,
 * so byte | 1 == '/' finds both. */
THR_HOT __attribute__((no_sanitize_address))
ptrdiff_t thr_match_normal_length(const char *path)
{
	if (path[0] != '/')
		return -1;
	const __m128i zero = _mm_setzero_si128();
	const __m128i slash = _mm_set1_epi8('/');
	const __m128i one = _mm_set1_epi8(1);
	const char *blk = (const char *)((uintptr_t)path & ~(uintptr_t)15);
	unsigned skip = (unsigned)((uintptr_t)path & 15);
	uint32_t carry = 0; /* the previous block ended in '/' */
	for (;; blk += 16, skip = 0) {
		__m128i v = _mm_load_si128((const __m128i *)(const void *)blk);
		uint32_t z = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero));
		uint32_t s = (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, slash));
		uint32_t sd = (uint32_t)_mm_movemask_epi8(
			_mm_cmpeq_epi8(_mm_or_si128(v, one), slash));
		z = z >> skip << skip;
		s = s >> skip << skip;
		uint32_t bad = ((s << 1) | carry) & sd;
		if (z) {
			/* Only bits before the NUL count: the bytes after it may
			 * never have been written (valgrind checks so). */
			unsigned nul = (unsigned)__builtin_ctz(z);
			ptrdiff_t n = blk - path + nul;
			if ((bad & ((1u << nul) - 1)) ||
			    (n > 1 && path[n - 1] == '/'))
				return -1;
			return n;
		}
		if (bad)
			return -1;
		carry = s >> 15;
	}
}
#else
#define ONES UINT64_C(0x0101010101010101)
#define HIGHS UINT64_C(0x8080808080808080)
#define SLASHES (ONES * '/')

/* Does a '/' followed by '/' or '.' start in p[0..7]? Reads p[0..8].
 * (v - ONES) & ~v has the high bit of each zero byte of v, and also of a
 * byte 0x01 right above a zero byte (the borrow). In w ^ "////////" that
 * is a '.' right after a '/', which is itself an answer of yes; '.' and
 * '/' differ only in bit 0, so next | ONES turns both into '/' and never
 * into the 0x01 case. So the answer is exact. */
static inline bool bad8(const char *p)
{
	uint64_t w = thr_match_load8(p) ^ SLASHES;
	uint64_t next = (thr_match_load8(p + 1) | ONES) ^ SLASHES;
	return ((w - ONES) & ~w & (next - ONES) & ~next & HIGHS) != 0;
}

/* Eight bytes at a time, never past the NUL. */
THR_HOT ptrdiff_t thr_match_normal_length(const char *path)
{
	size_t n = strlen(path);
	if (path[0] != '/' || (n > 1 && path[n - 1] == '/'))
		return -1;
	if (n < 8) {
		for (size_t i = 0; i < n; i++)
			if (path[i] == '/' && (path[i + 1] == '/' || path[i + 1] == '.'))
				return -1;
		return (ptrdiff_t)n;
	}
	for (size_t i = 0; i + 8 < n; i += 8)
		if (bad8(path + i))
			return -1;
	return bad8(path + n - 8) ? -1 : (ptrdiff_t)n;
}
#endif

int thr_match_normalize(const char *base, const char *path, char *out,
                        size_t outlen)
{
	size_t pos, skip = 0, len;
	bool rel;

	if (!path || !out)
		return -EINVAL;
	rel = path[0] != '/';
	if (rel && (!base || base[0] != '/'))
		return -EINVAL;
	if (outlen < 2)
		return -ENAMETOOLONG;
	pos = outlen - 1;       /* out[outlen - 1] is kept for the NUL */
	if (emit_back(path, strlen(path), out, &pos, &skip) < 0)
		return -ENAMETOOLONG;
	/* '..' beyond the root stays at the root, so leftover skips are dropped */
	if (rel && emit_back(base, strlen(base), out, &pos, &skip) < 0)
		return -ENAMETOOLONG;
	len = outlen - 1 - pos;
	if (len == 0)
		out[len++] = '/';
	else
		memmove(out, out + pos, len);
	out[len] = '\0';
	return (int)len;
}

/* ---- matching addresses ---- */

bool thr_match_inet_key(const struct sockaddr *sa, socklen_t len,
                        uint8_t a[16], uint16_t *port)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(in)) {
		memcpy(&in, sa, sizeof(in));
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &in.sin_addr, 4);
		*port = ntohs(in.sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= THR_MATCH_IN6_MIN) {
		memcpy(&in6, sa, THR_MATCH_IN6_MIN);
		memcpy(a, &in6.sin6_addr, 16);
		*port = ntohs(in6.sin6_port);
		return true;
	}
	return false;
}

static bool in_prefix(const uint8_t *net, unsigned prefix, const uint8_t *a)
{
	unsigned i, full = prefix / 8, rest = prefix % 8;

	if (prefix > 128)
		return false;
	for (i = 0; i < full; i++)
		if (net[i] != a[i])
			return false;
	if (rest == 0)
		return true;
	return ((net[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* A path socket is normalised first so "//run/./x" cannot dodge "/run/x".
 * A relative path never matches: the cwd is unknown here. */
static bool unix_matches(const char *glob, const struct sockaddr *sa,
                         socklen_t len)
{
	const size_t off = offsetof(struct sockaddr_un, sun_path);
	const char *sp = (const char *)sa + off;
	char raw[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	char norm[sizeof(raw)];
	size_t max, n;

	if (len <= off)
		return false;   /* unnamed */
	max = len - off;
	if (max > sizeof(raw) - 1)
		max = sizeof(raw) - 1;
	if (sp[0] == '\0')
		return glob[0] == '@' && gmatch(glob + 1, sp + 1, max - 1);
	if (glob[0] != '/')
		return false;
	n = strnlen(sp, max);
	memcpy(raw, sp, n);
	raw[n] = '\0';
	if (thr_match_normalize(NULL, raw, norm, sizeof(norm)) < 0)
		return false;
	return gmatch(glob, norm, strlen(norm));
}

THR_HOT bool thr_match_dest_matches(const struct thr_match_dest *rule,
                            const struct sockaddr *sa, socklen_t len)
{
	uint8_t a[16];
	uint16_t port;

	if (!rule || !sa || len < (socklen_t)sizeof(sa_family_t))
		return false;
	if (rule->kind == THR_MATCH_UNIX)
		return sa->sa_family == AF_UNIX && rule->glob &&
		       unix_matches(rule->glob, sa, len);
	if (!thr_match_inet_key(sa, len, a, &port))
		return false;
	if (port < rule->port_lo || port > rule->port_hi)
		return false;
	if (rule->kind == THR_MATCH_ANY)
		return true;
	return rule->kind == THR_MATCH_INET &&
	       in_prefix(rule->addr, rule->prefix, a);
}

/* ---- parsing ---- */

static int append(struct thr_match_dest **rules, size_t *nrules,
                  const struct thr_match_dest *r)
{
	struct thr_match_dest *grown;

	grown = realloc(*rules, (*nrules + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	*rules = grown;
	grown[(*nrules)++] = *r;
	return 0;
}

static int parse_unix(const struct parse *ps, struct thr_match_dest **rules,
                      size_t *nrules)
{
	const char *g = ps->text + strlen("unix:");
	struct thr_match_dest r = { .kind = THR_MATCH_UNIX };
	int ret;

	if (g[0] == '\0')
		return fail(ps, -EINVAL, "missing path in '%s'", ps->text);
	if (g[0] == '@' && g[1] == '\0')
		return fail(ps, -EINVAL, "empty abstract socket name in '%s'",
		            ps->text);
	if (g[0] != '@' && g[0] != '/')
		return fail(ps, -EINVAL, "relative unix path '%s' in '%s'", g,
		            ps->text);
	ret = g[0] == '@' ? check_pattern(ps, g + 1) : check_path_glob(ps, g);
	if (ret < 0)
		return ret;
	r.glob = strdup(g);
	if (!r.glob || append(rules, nrules, &r) < 0) {
		free(r.glob);
		return fail(ps, -ENOMEM, "out of memory");
	}
	return 1;
}

/* Reads a port of 1 to 5 digits, at most 65535. Returns the end, or NULL. */
static const char *port_num(const char *s, uint16_t *v)
{
	unsigned long x = 0;
	size_t i;

	for (i = 0; i < 6 && is_digit(s[i]); i++)
		x = x * 10 + (unsigned long)(s[i] - '0');
	if (i == 0 || i > 5 || x > 65535)
		return NULL;
	*v = (uint16_t)x;
	return s + i;
}

static int parse_ports(const struct parse *ps, const char *s,
                       struct thr_match_dest *r)
{
	const char *e = s + 1;

	if (*s == '\0')
		return fail(ps, -EINVAL, "missing port in '%s'", ps->text);
	r->port_lo = 0;
	r->port_hi = 65535;
	if (*s != '*') {
		e = port_num(s, &r->port_lo);
		r->port_hi = r->port_lo;
		if (e && *e == '-')
			e = port_num(e + 1, &r->port_hi);
		if (!e)
			return fail(ps, -EINVAL, "bad port '%s' in '%s'", s, ps->text);
	}
	if (*e)
		return fail(ps, -EINVAL, "trailing junk '%s' in '%s'", e, ps->text);
	if (r->port_lo > r->port_hi)
		return fail(ps, -EINVAL, "backwards port range '%s' in '%s'", s,
		            ps->text);
	return 0;
}

static int parse_prefix(const struct parse *ps, const char *s, unsigned max,
                        unsigned *out)
{
	size_t i;

	*out = 0;
	for (i = 0; is_digit(s[i]) && i < 4; i++)
		*out = *out * 10 + (unsigned)(s[i] - '0');
	if (i == 0 || s[i] != '\0')
		return fail(ps, -EINVAL, "bad prefix '%s' in '%s'", s, ps->text);
	if (i > 3 || *out > max)
		return fail(ps, -EINVAL, "prefix '%s' out of range (0-%u) in '%s'",
		            s, max, ps->text);
	return 0;
}

/* Host bits past the prefix are dropped, as routing tables do, so
 * "10.1.2.3/16" means 10.1.0.0/16. */
static void mask_host_bits(struct thr_match_dest *r)
{
	unsigned i;

	for (i = r->prefix; i < 128; i++)
		r->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

static void set_v4(struct thr_match_dest *r, const struct in_addr *in,
                   unsigned prefix)
{
	memset(r->addr, 0, 10);
	r->addr[10] = r->addr[11] = 0xff;
	memcpy(r->addr + 12, in, 4);
	r->prefix = (uint8_t)(96 + prefix);
	mask_host_bits(r);
}

/* Splits "addr/prefix" in place; no '/' means a full-length prefix. */
static int split_prefix(const struct parse *ps, char *host, unsigned max,
                        unsigned *prefix)
{
	char *slash = strchr(host, '/');

	*prefix = max;
	if (!slash)
		return 0;
	*slash = '\0';
	return parse_prefix(ps, slash + 1, max, prefix);
}

static int parse_v6(const struct parse *ps, char *host,
                    struct thr_match_dest *r)
{
	struct in6_addr in6;
	unsigned prefix;
	int ret = split_prefix(ps, host, 128, &prefix);

	if (ret < 0)
		return ret;
	if (inet_pton(AF_INET6, host, &in6) != 1)
		return fail(ps, -EINVAL, "bad IPv6 address '%s' in '%s'", host,
		            ps->text);
	r->kind = THR_MATCH_INET;
	memcpy(r->addr, &in6, 16);
	r->prefix = (uint8_t)prefix;
	mask_host_bits(r);
	return 0;
}

/* Only plausible DNS names go to the resolver: a numeric last label (a typo
 * such as "10.0.0.256") or anything inet_aton() would read as a number
 * ("127.1", "0x7f000001") would otherwise be looked up or silently parsed. */
static bool is_hostname(const char *h)
{
	size_t i, n = strlen(h), last = 0;
	bool numeric = true;
	struct in_addr in;

	if (n == 0 || n > 253)
		return false;
	if (h[n - 1] == '.')
		n--;    /* a fully qualified "name." */
	for (i = 0; i < n; i++) {
		if (!is_alpha(h[i]) && !is_digit(h[i]) && h[i] != '-' &&
		    h[i] != '.' && h[i] != '_')
			return false;
		if (h[i] == '.')
			last = i + 1;
	}
	for (i = last; i < n; i++)
		numeric &= is_digit(h[i]);
	return !numeric && inet_aton(h, &in) == 0;
}

/* Fills r from an unbracketed host; *resolve says a DNS name is left over. */
static int parse_host(const struct parse *ps, char *host,
                      struct thr_match_dest *r, bool *resolve)
{
	struct in_addr in;
	unsigned prefix;
	bool cidr = strchr(host, '/') != NULL;
	int ret;

	*resolve = false;
	if (strcmp(host, "*") == 0) {
		r->kind = THR_MATCH_ANY;
		return 0;
	}
	ret = split_prefix(ps, host, 32, &prefix);
	if (ret < 0)
		return ret;
	r->kind = THR_MATCH_INET;
	if (inet_pton(AF_INET, host, &in) == 1) {
		set_v4(r, &in, prefix);
		return 0;
	}
	if (!cidr && is_hostname(host)) {
		*resolve = true;
		return 0;
	}
	return fail(ps, -EINVAL, "bad address '%s' in '%s'", host, ps->text);
}

static bool seen(const struct thr_match_dest *r, size_t n, const uint8_t *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(r[i].addr, a, 16) == 0)
			return true;
	return false;
}

/* One /128 rule per distinct address: getaddrinfo() repeats each address
 * once per socket type. */
static int add_resolved(const struct addrinfo *res, struct thr_match_dest r,
                        struct thr_match_dest **rules, size_t *nrules)
{
	size_t start = *nrules;
	uint16_t port;

	r.prefix = 128;
	for (; res; res = res->ai_next) {
		if (!res->ai_addr ||
		    !thr_match_inet_key(res->ai_addr, res->ai_addrlen, r.addr,
		                        &port) ||
		    seen(*rules + start, *nrules - start, r.addr))
			continue;
		if (append(rules, nrules, &r) < 0) {
			*nrules = start;
			return -ENOMEM;
		}
	}
	return (int)(*nrules - start);
}

static int resolve(const struct parse *ps, const char *host,
                   const struct thr_match_dest *r,
                   struct thr_match_dest **rules, size_t *nrules)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC };
	struct addrinfo *res;
	int ret;

	ret = getaddrinfo(host, NULL, &hints, &res);
	if (ret == EAI_MEMORY)
		return fail(ps, -ENOMEM, "out of memory resolving '%s'", host);
	if (ret != 0)
		return fail(ps, -EINVAL, "cannot resolve '%s' (%s)", host,
		            gai_strerror(ret));
	ret = add_resolved(res, *r, rules, nrules);
	freeaddrinfo(res);
	if (ret == -ENOMEM)
		return fail(ps, -ENOMEM, "out of memory");
	if (ret == 0)
		return fail(ps, -EINVAL, "cannot resolve '%s' (no IP address)",
		            host);
	return ret;
}

/* Splits "host:port" or "[v6]:port" into a copy of the host and the port. */
static int split_dest(const struct parse *ps, char host[HOST_MAX],
                      const char **port, bool *bracket)
{
	const char *t = ps->text, *h = t, *end;

	*bracket = t[0] == '[';
	if (*bracket) {
		h = t + 1;
		end = strchr(h, ']');
		if (!end)
			return fail(ps, -EINVAL, "missing ']' in '%s'", t);
		if (end[1] != ':' && end[1] != '\0')
			return fail(ps, -EINVAL, "trailing junk '%s' in '%s'",
			            end + 1, t);
		*port = end[1] ? end + 2 : end + 1;
	} else {
		end = strrchr(t, ':');
		if (!end)
			return fail(ps, -EINVAL, "missing port in '%s'", t);
		if (memchr(t, ':', (size_t)(end - t)))
			return fail(ps, -EINVAL,
			            "IPv6 address needs [brackets] in '%s'", t);
		*port = end + 1;
	}
	if (end == h)
		return fail(ps, -EINVAL, "missing address in '%s'", t);
	if (end - h >= HOST_MAX)
		return fail(ps, -EINVAL, "bad address (too long) in '%s'", t);
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	return 0;
}

static int parse_inet(const struct parse *ps, struct thr_match_dest **rules,
                      size_t *nrules)
{
	char host[HOST_MAX];
	const char *port = "";
	struct thr_match_dest r = { .kind = THR_MATCH_INET };
	bool bracket, dns = false;
	int ret;

	ret = split_dest(ps, host, &port, &bracket);
	if (ret == 0)
		ret = bracket ? parse_v6(ps, host, &r)
		              : parse_host(ps, host, &r, &dns);
	/* the port is checked before any DNS lookup is spent on the rule */
	if (ret == 0)
		ret = parse_ports(ps, port, &r);
	if (ret < 0)
		return ret;
	if (dns)
		return resolve(ps, host, &r, rules, nrules);
	if (append(rules, nrules, &r) < 0)
		return fail(ps, -ENOMEM, "out of memory");
	return 1;
}

int thr_match_parse_dest(const char *text, struct thr_match_dest **rules,
                         size_t *nrules, char *err, size_t errlen)
{
	struct parse ps = { text, err, errlen };

	if (!text || !rules || !nrules)
		return fail(&ps, -EINVAL, "no destination");
	if (text[0] == '\0')
		return fail(&ps, -EINVAL, "empty destination");
	if (strncmp(text, "unix:", strlen("unix:")) == 0)
		return parse_unix(&ps, rules, nrules);
	return parse_inet(&ps, rules, nrules);
}

void thr_match_free_dests(struct thr_match_dest *rules, size_t n)
{
	size_t i;

	if (!rules)
		return;
	for (i = 0; i < n; i++)
		free(rules[i].glob);
	free(rules);
}
