/* glob.c - path globs: checks their syntax at config load and matches
 * normalised paths against them ('*' and '?' inside a folder, '**' across
 * folders, '[...]' classes). The matching half runs inside the hooks, maybe
 * in a signal handler: it must never allocate, block, print or touch errno,
 * and must stay iterative (no recursion a hostile glob could deepen). */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "match.h"
#include "matchint.h"

#define NONE SIZE_MAX

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
bool thr_match__gmatch_rest(const char *pat, const char *s, size_t n,
                            size_t lit)
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

bool thr_match_glob(const char *glob, const char *path)
{
	if (!glob || !path)
		return false;
	return thr_match__gmatch(glob, path, strlen(path));
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
	return thr_match__gmatch_rest(g->glob, path, n, g->lit);
}

int thr_match__check_pattern(const struct thr_match__parse *ps, const char *g)
{
	size_t len;
	bool hit, bad;

	for (; *g; g++) {
		if (*g != '[')
			continue;
		len = class_scan(g + 1, 0, &hit, &bad);
		if (!len)
			return thr_match__fail(ps, -EINVAL,
			                       "unterminated '[' in '%s'", ps->text);
		if (bad)
			return thr_match__fail(ps, -EINVAL,
			                       "backwards range in '%.*s' in '%s'",
			                       (int)len + 1, g, ps->text);
		g += len;
	}
	return 0;
}

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

/* Paths are normalised before matching, so a glob with an empty folder or a
 * trailing '/' could never match: that is a mistake worth reporting. */
int thr_match__check_path_glob(const struct thr_match__parse *ps,
                               const char *g)
{
	size_t n = strlen(g);

	if (n == 0)
		return thr_match__fail(ps, -EINVAL, "empty glob in '%s'",
		                       ps->text);
	if (g[0] != '/')
		return thr_match__fail(ps, -EINVAL, "relative glob '%s' in '%s'",
		                       g, ps->text);
	if (strstr(g, "//"))
		return thr_match__fail(ps, -EINVAL, "'//' never matches a path "
		                       "in '%s'", ps->text);
	if (n > 1 && g[n - 1] == '/')
		return thr_match__fail(ps, -EINVAL, "trailing '/' never matches "
		                       "a path in '%s'", ps->text);
	if (dot_component(g))
		return thr_match__fail(ps, -EINVAL, "'.' or '..' never matches a "
		                       "normalised path in '%s'", ps->text);
	return thr_match__check_pattern(ps, g);
}

int thr_match_check_glob(const char *glob, char *err, size_t errlen)
{
	struct thr_match__parse ps = { glob, err, errlen };

	if (!glob)
		return thr_match__fail(&ps, -EINVAL, "empty glob");
	return thr_match__check_path_glob(&ps, glob);
}
