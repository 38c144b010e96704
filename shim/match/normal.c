/* normal.c - the lexical normal form of a path ('.' and '..' folded,
 * repeated '/' collapsed, joined to a base folder), and a one-pass test that
 * a path already is in it, which every gated open runs. Never reads the
 * file system, allocates or touches errno: async-signal-safe. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "match.h"
#include "hot.h"

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
