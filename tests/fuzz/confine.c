/* confine.c - the -Wl,--wrap replacements of confine.h. Each refuses what
 * lies outside the folder while confined and otherwise calls the real
 * function (__real_NAME, which the linker binds to libc's NAME). */
#define _GNU_SOURCE
#include "confine.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <limits.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static char root[PATH_MAX];
static size_t rootlen;

void fuzz_confine(const char *dir)
{
	if (!dir) {
		rootlen = 0;
		return;
	}
	snprintf(root, sizeof(root), "%s", dir);
	rootlen = strlen(root);
}

/* Is path inside the folder, with no ".." anywhere to climb out? Relative
 * paths are not: the targets name their files by absolute paths, and the
 * working folder is libFuzzer's. */
static bool allowed(const char *path)
{
	const char *p;

	if (rootlen == 0)
		return true;
	if (strncmp(path, root, rootlen) != 0 ||
	    (path[rootlen] != '/' && path[rootlen] != '\0'))
		return false;
	for (p = path; (p = strstr(p, "..")); p += 2) {
		if ((p == path || p[-1] == '/') && (p[2] == '/' || p[2] == '\0'))
			return false;
	}
	return true;
}

/* The functions wrapped, as config/ and shim/match/match.c call them with
 * _FILE_OFFSET_BITS=64. */
int __real_open64(const char *path, int flags, ...);
int __wrap_open64(const char *path, int flags, ...);
int __real_stat64(const char *path, struct stat64 *st);
int __wrap_stat64(const char *path, struct stat64 *st);
int __real_lstat64(const char *path, struct stat64 *st);
int __wrap_lstat64(const char *path, struct stat64 *st);
DIR *__real_opendir(const char *path);
DIR *__wrap_opendir(const char *path);
int __real_glob64(const char *pattern, int flags,
                  int (*errfunc)(const char *, int), glob64_t *g);
int __wrap_glob64(const char *pattern, int flags,
                  int (*errfunc)(const char *, int), glob64_t *g);
int __real_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res);
int __wrap_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res);

int __wrap_open64(const char *path, int flags, ...)
{
	mode_t mode = 0;

	if (flags & (O_CREAT | O_TMPFILE)) {
		va_list ap;

		va_start(ap, flags);
		mode = va_arg(ap, mode_t);
		va_end(ap);
	}
	if (!allowed(path)) {
		errno = ENOENT;
		return -1;
	}
	return __real_open64(path, flags, mode);
}

int __wrap_stat64(const char *path, struct stat64 *st)
{
	if (!allowed(path)) {
		errno = ENOENT;
		return -1;
	}
	return __real_stat64(path, st);
}

int __wrap_lstat64(const char *path, struct stat64 *st)
{
	if (!allowed(path)) {
		errno = ENOENT;
		return -1;
	}
	return __real_lstat64(path, st);
}

DIR *__wrap_opendir(const char *path)
{
	if (!allowed(path)) {
		errno = ENOENT;
		return NULL;
	}
	return __real_opendir(path);
}

int __wrap_glob64(const char *pattern, int flags,
                  int (*errfunc)(const char *, int), glob64_t *g)
{
	if (!allowed(pattern))
		return GLOB_NOMATCH;
	return __real_glob64(pattern, flags, errfunc, g);
}

int __wrap_getaddrinfo(const char *node, const char *service,
                       const struct addrinfo *hints, struct addrinfo **res)
{
	struct addrinfo numeric = { .ai_flags = AI_NUMERICHOST };
	size_t len = node ? strlen(node) : 0;
	int rc;

	if (rootlen == 0)
		return __real_getaddrinfo(node, service, hints, res);
	if (hints)
		numeric = *hints;
	numeric.ai_flags |= AI_NUMERICHOST;
	rc = __real_getaddrinfo(node, service, &numeric, res);
	if (rc != EAI_NONAME || len < 5 || strcmp(node + len - 5, ".test"))
		return rc;
	/* A name of the reserved .test domain stands for loopback. */
	return __real_getaddrinfo(numeric.ai_family == AF_INET6 ? "::1" :
	                          "127.0.0.1", service, &numeric, res);
}
