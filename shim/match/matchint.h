/* matchint.h - what the files of the matcher share among themselves and no
 * one else: the parse-error helper and glob pieces that destinations reuse.
 * Never included outside shim/match/: config/ and the shim use match.h. The
 * thr_match__ names (two underscores) say so. */
#ifndef THR_MATCHINT_H
#define THR_MATCHINT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* What a parse error message needs: the rule text to quote and the buffer. */
struct thr_match__parse {
	const char *text;
	char *err;
	size_t errlen;
};

/* Writes the formatted reason into ps->err (if it has room) and returns
 * ret, so that a check can `return thr_match__fail(...)`. Config load
 * only: it formats with vsnprintf. (match.c) */
__attribute__((format(printf, 3, 4)))
int thr_match__fail(const struct thr_match__parse *ps, int ret,
                    const char *fmt, ...);

/* The syntax path globs and abstract socket names share: every '[' closed,
 * no backwards range. Returns 0 or -EINVAL with a reason. (glob.c) */
int thr_match__check_pattern(const struct thr_match__parse *ps, const char *g);

/* A path glob that can match some normalised absolute path: the pattern
 * syntax, plus absolute, no "//", no trailing '/', no "." or "..".
 * Returns 0 or -EINVAL with a reason. (glob.c) */
int thr_match__check_path_glob(const struct thr_match__parse *ps,
                               const char *g);

/* Does s[0..n) match pat, given that their first lit bytes are equal?
 * s need not be NUL-terminated. Async-signal-safe. (glob.c) */
bool thr_match__gmatch_rest(const char *pat, const char *s, size_t n,
                            size_t lit);

/* Does s[0..n) match pat? Inline, so that a connect to a unix socket
 * (match.c) pays no more calls than a glob matched in glob.c.
 * Async-signal-safe. */
static inline bool thr_match__gmatch(const char *pat, const char *s, size_t n)
{
	/* Most patterns open with a literal folder: compare it in one go. */
	size_t lit = strcspn(pat, "*?[");
	if (lit > n || memcmp(pat, s, lit) != 0)
		return false;
	return thr_match__gmatch_rest(pat, s, n, lit);
}

#endif
