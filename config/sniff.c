/* sniff.c - looks for "on-error = closed" in the text of a config that did
 * not parse, whose author may still have asked to fail closed. It reads
 * only the buffer it is given: the file was read once, by source.c. */
#include <stdbool.h>
#include <string.h>

#include "sniff.h"

/* A comment starts here: '#', '//' or a slash-star one (libconfuse's). */
static bool comment_at(const char *p, const char *end)
{
	return *p == '#' ||
	       (p + 1 < end && p[0] == '/' && (p[1] == '/' || p[1] == '*'));
}

/* The line's text up to a comment, without blanks and quotes, into out;
 * false when that is longer than out holds, or holds a NUL: no assignment
 * we look for. */
static bool squeeze(const char *p, const char *end, char *out, size_t outlen)
{
	size_t n = 0;

	for (; p < end && !comment_at(p, end); p++) {
		if (*p != '\0' && strchr(" \t\r\"'", *p))
			continue;
		if (*p == '\0' || n + 1 == outlen)
			return false;
		out[n++] = *p;
	}
	out[n] = '\0';
	return true;
}

bool thr_sniff_closed(const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	bool closed = false;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		char line[32];

		if (squeeze(p, eol, line, sizeof(line))) {
			if (strcmp(line, "on-error=closed") == 0)
				closed = true;
			else if (strcmp(line, "on-error=open") == 0)
				closed = false;
		}
		p = eol + 1;
	}
	return closed;
}
