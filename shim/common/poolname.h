/* poolname.h - the one rule for what a pool may be called, shared by the
 * engine and config/ (which does not link the engine), so that a name the
 * config accepts is one the engine opens. Header-only; never allocates and
 * never touches errno. */
#ifndef THR_POOLNAME_H
#define THR_POOLNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

/* The longest pool name, in bytes (it becomes part of a file name). */
#define THR_POOL_NAME_MAX 64

/* Is name a valid pool name: 1 to THR_POOL_NAME_MAX of A-Z a-z 0-9 _ . -,
 * and not "." or ".." (the segment's file name is built from it)? Returns
 * true or false; reads name up to its end or the first bad byte.
 * Async-signal-safe, never blocks. */
static inline bool thr_pool_name_is_valid(const char *name)
{
	size_t n = 0;
	for (; name[n]; n++) {
		char c = name[n];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		          c == '-';
		if (!ok || n >= THR_POOL_NAME_MAX)
			return false;
	}
	return n > 0 && strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

#endif
