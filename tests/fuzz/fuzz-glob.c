/* fuzz-glob.c - libFuzzer target: the path glob parser and matcher of
 * shim/match/match.h. The input is a glob, a NUL, and a path. A glob the parser
 * accepts is compiled, and the fast matcher (thr_match_cglob) must agree
 * with the plain one (thr_match_glob) on the path, normalised as the shim
 * normalises paths; and whatever thr_match_normal_length() calls normal
 * must be its own normal form. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "match.h"

#define BASE "/srv/data"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

/* A NUL-terminated copy of len bytes, 16-byte aligned and padded to a
 * whole block: thr_match_normal_length() reads whole aligned blocks. */
static char *copy(const uint8_t *p, size_t len)
{
	char *s = aligned_alloc(16, (len + 16) & ~(size_t)15);

	if (s) {
		memset(s, 0, (len + 16) & ~(size_t)15);
		memcpy(s, p, len);
	}
	return s;
}

static void check_match(const char *glob, const char *path)
{
	char norm[4096 + 16];
	struct thr_match_cglob cg;
	int n;

	memset(norm, 0, sizeof(norm));
	n = thr_match_normalize(BASE, path, norm, sizeof(norm) - 16);
	if (n < 0)
		return;
	FUZZ_CHECK((size_t)n == strlen(norm));
	thr_match_glob_compile(glob, &cg);
	FUZZ_CHECK(thr_match_glob(glob, norm) ==
	           thr_match_cglob(&cg, norm, (size_t)n));
}

static void check_normal(const char *path)
{
	char norm[4096 + 16];
	ptrdiff_t len = thr_match_normal_length(path);
	int n;

	if (len < 0)
		return;
	FUZZ_CHECK((size_t)len == strlen(path));
	n = thr_match_normalize(NULL, path, norm, sizeof(norm));
	FUZZ_CHECK(n == len && strcmp(norm, path) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t glen = nul ? (size_t)(nul - data) : size;
	char *glob = copy(data, glen);
	char *path = nul ? copy(nul + 1, size - glen - 1) : copy(data, 0);
	char err[256] = "";

	if (glob && path) {
		if (thr_match_check_glob(glob, err, sizeof(err)) == 0)
			check_match(glob, path);
		else
			FUZZ_CHECK(err[0] != '\0');
		check_normal(path);
		check_normal(glob);
	}
	free(glob);
	free(path);
	return 0;
}
