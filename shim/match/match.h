/* match.h - pure matching of connect() destinations and open() paths against
 * config rules. Parsing may resolve hostnames (at config load only); matching
 * never allocates, blocks or touches errno, so the hooks can call it freely. */
#ifndef THR_MATCH_H
#define THR_MATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

/* The shortest IPv6 address connect() takes: RFC 2133's sockaddr_in6,
 * without sin6_scope_id, which Linux still accepts. */
#define THR_MATCH_IN6_MIN ((socklen_t)24)

enum thr_match_kind {
	THR_MATCH_INET,         /* an address or CIDR (IPv4 kept as v4-mapped v6) */
	THR_MATCH_ANY,          /* "*": every IPv4 and IPv6 address */
	THR_MATCH_UNIX,         /* "unix:" plus a path glob */
};

/* One destination rule: "10.0.0.5:5432", "10.1.0.0/16:*", "[2001:db8::/32]:5432",
 * "*:443", "[::1]:8000-8100", "unix:/run/postgresql/.s.PGSQL.*", "db.example:5432". */
struct thr_match_dest {
	enum thr_match_kind kind;
	uint8_t addr[16];       /* network address, IPv4 as ::ffff:a.b.c.d */
	uint8_t prefix;         /* prefix length over the 128-bit form */
	uint16_t port_lo;       /* inclusive port range; "*" is 0..65535 */
	uint16_t port_hi;
	char *glob;             /* THR_MATCH_UNIX only: the path glob (malloc'd) */
};

/* Parses one destination. A hostname is resolved now (getaddrinfo), giving
 * one rule per address. Returns the number of rules appended to *rules
 * (realloc'd, count in *nrules): >= 1, or 0 for a hostname that does not
 * resolve now, with the reason in err (errlen bytes); or -EINVAL with a
 * reason in err, or -ENOMEM. */
int thr_match_parse_dest(const char *text, struct thr_match_dest **rules,
                         size_t *nrules, char *err, size_t errlen);

/* Checks a path glob: absolute, '*' '?' '[...]' '**' well formed. Returns 0
 * or -EINVAL with a reason in err. */
int thr_match_check_glob(const char *glob, char *err, size_t errlen);

/* Frees what thr_match_parse_dest() allocated for n rules, and the array. */
void thr_match_free_dests(struct thr_match_dest *rules, size_t n);

/* Does the connect() address sa match rule? AF_INET, AF_INET6 (v4-mapped
 * addresses match IPv4 rules) and AF_UNIX (path, or "@name" for the
 * abstract namespace); anything else never matches. Async-signal-safe. */
bool thr_match_dest_matches(const struct thr_match_dest *rule,
                            const struct sockaddr *sa, socklen_t len);

/* The 128-bit form and port of an AF_INET or AF_INET6 address, IPv4 as
 * ::ffff:a.b.c.d, so that one comparison serves both families: what
 * thr_match_dest_matches() compares an INET rule with. Returns false for
 * another family or a length too short for it. Async-signal-safe. */
bool thr_match_inet_key(const struct sockaddr *sa, socklen_t len,
                        uint8_t a[16], uint16_t *port);

/* Does the normalised absolute path match glob? '*' and '?' stay inside one
 * folder, '**' crosses folders, '[...]' is a class. Async-signal-safe. */
bool thr_match_glob(const char *glob, const char *path);

/* The length of the class "[...]" at p (p[0] == '['), its ']' included,
 * or 0 when it has no ']' and so is a plain '['. A class may hold a '/',
 * which it never matches: a glob's folders are split at the '/' outside
 * classes only. Async-signal-safe. */
size_t thr_match_class_len(const char *p);

/* A path glob prepared once (at load) for thr_match_cglob(): the length of
 * its literal head and what follows it, so that most paths are told apart
 * by a compare of the head alone. */
enum thr_match_tail {
	THR_GLOB_GENERAL,       /* anything: the full matcher runs */
	THR_GLOB_EXACT,         /* no wildcard at all */
	THR_GLOB_FOLDER,        /* head then one '*': no '/' in the rest */
	THR_GLOB_ANY,           /* head then only "**..": any rest */
};

struct thr_match_cglob {
	const char *glob;       /* not copied: must outlive this */
	size_t lit;             /* bytes before the first '*', '?' or '[' */
	enum thr_match_tail tail;
	char head[16];          /* its first (up to) 16 bytes, so that a
	                           match need not read the glob itself */
};

void thr_match_glob_compile(const char *glob, struct thr_match_cglob *out);

/* The general matcher, for a path whose first g->lit bytes are known to
 * equal the glob's. */
bool thr_match_cglob_rest(const struct thr_match_cglob *g, const char *path,
                          size_t n);

static inline uint64_t thr_match_load8(const char *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* thr_match_glob(g->glob, path) for path of length n (NUL-terminated).
 * Async-signal-safe. */
static inline bool thr_match_cglob(const struct thr_match_cglob *g,
                                   const char *path, size_t n)
{
	size_t lit = g->lit;
	if (lit > n)
		return false;
	if (lit >= 8 && lit <= 16) {
		/* Two (maybe overlapping) words cover the head: no call. */
		if (thr_match_load8(path) != thr_match_load8(g->head) ||
		    thr_match_load8(path + lit - 8) !=
		    thr_match_load8(g->head + lit - 8))
			return false;
	} else if (memcmp(path, lit <= 16 ? g->head : g->glob, lit) != 0) {
		return false;
	}
	switch (g->tail) {
	case THR_GLOB_EXACT:
		return n == lit;
	case THR_GLOB_ANY:
		return true;
	case THR_GLOB_FOLDER:
		if (n - lit > 16)
			return !memchr(path + lit, '/', n - lit);
		for (const char *p = path + lit; *p; p++)
			if (*p == '/')
				return false;
		return true;
	default:
		return thr_match_cglob_rest(g, path, n);
	}
}

/* The length of path if it is absolute and its own normal form (no "//",
 * no '/' before a '.', no trailing '/'), else -1: a path like "/a/.b" is
 * normal but answered -1 too, which only costs it the slow way. One pass;
 * may read past the NUL within the same 16-byte block, never across a
 * page. Async-signal-safe. */
ptrdiff_t thr_match_normal_length(const char *path);

/* Writes the absolute, lexically normalised form of path into out (outlen
 * bytes): a relative path is joined to base (an absolute folder), '.' and
 * '..' are folded, repeated '/' collapse. No I/O. Returns the length, or
 * -ENAMETOOLONG, or -EINVAL for a relative path with no absolute base. */
int thr_match_normalize(const char *base, const char *path, char *out,
                        size_t outlen);

#endif
