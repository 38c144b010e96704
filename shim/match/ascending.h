/* ascending.h - a search in the ascending lists of rule numbers that the
 * indexes keep (globindex.c, destindex.c). No allocation, no errno:
 * async-signal-safe. */
#ifndef THR_ASCENDING_H
#define THR_ASCENDING_H

#include <stddef.h>
#include <stdint.h>

/* The position in l[0..n), ascending, of the first number at or past v
 * (n if none): by halving, as a list can be long and v far into it. */
static inline size_t thr_ascending_find(const uint32_t *l, size_t n, size_t v)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (l[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

#endif
