/* pattern.c - include patterns: the checks that keep glob() from
 * overflowing the stack, and glob() itself with its folder reads counted,
 * so that a glob over /proc or a whole tree cannot keep a program from
 * starting. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "pattern.h"

/* How many times glob() will recurse: once per '/' from the component
 * holding the first special character on (an empty component between two
 * slashes costs a level too: found by tests/fuzz), and the last. */
static unsigned glob_depth(const char *pattern)
{
	const char *first = strpbrk(pattern, THR_PATTERN_SPECIAL);
	unsigned n = 1;

	if (!first)
		return 0;
	while (first > pattern && first[-1] != '/')
		first--;
	for (const char *p = first; *p; p++)
		n += *p == '/';
	return n;
}

int thr_pattern_check(const char *pattern, bool is_glob, char *why,
                      size_t whylen)
{
	if (strlen(pattern) >= PATH_MAX) {
		snprintf(why, whylen, "include pattern is longer than %d bytes",
		         PATH_MAX - 1);
		return -ENAMETOOLONG;
	}
	if (is_glob && glob_depth(pattern) > THR_CONFIG_GLOB_DEPTH) {
		snprintf(why, whylen, "include glob has more than %u path "
		         "components from its first wildcard on",
		         THR_CONFIG_GLOB_DEPTH);
		return -EINVAL;
	}
	return 0;
}

/* glob()'s callbacks carry no user pointer: one glob at a time. */
static struct {
	unsigned *entries;      /* what may still be read */
	bool spent;             /* a read was refused */
	int err;                /* from on_error() */
	char path[256];
} run;

/* The folder functions glob() gets (GLOB_ALTDIRFUNC), for the count. */
static void *open_folder(const char *path)
{
	return opendir(path);
}

static void *read_folder(void *dir)
{
	struct dirent *entry = readdir(dir);

	if (entry && *run.entries == 0) {
		run.spent = true;
		return NULL;
	}
	if (entry)
		(*run.entries)--;
	return entry;
}

static void close_folder(void *dir)
{
	closedir(dir);
}

static int stat_path(const char *restrict path, void *restrict st)
{
	return stat(path, st);
}

static int lstat_path(const char *restrict path, void *restrict st)
{
	return lstat(path, st);
}

static int on_error(const char *path, int err)
{
	/* A missing folder is an empty one. */
	if (err == ENOENT || err == ENOTDIR)
		return 0;
	run.err = err;
	snprintf(run.path, sizeof(run.path), "%s", path);
	return 1;
}

int thr_pattern_glob(const char *pattern, unsigned *entries, glob_t *ret,
                     char *why, size_t whylen)
{
	int rc;

	run.entries = entries;
	run.spent = false;
	run.err = 0;
	memset(ret, 0, sizeof(*ret));
	ret->gl_opendir = open_folder;
	ret->gl_readdir = read_folder;
	ret->gl_closedir = close_folder;
	ret->gl_stat = stat_path;
	ret->gl_lstat = lstat_path;
	rc = glob(pattern, GLOB_MARK | GLOB_ALTDIRFUNC, on_error, ret);
	if (run.spent) {
		if (rc != GLOB_NOMATCH)
			globfree(ret);
		snprintf(why, whylen, "one load's include globs read at most "
		         "%u folder entries", THR_CONFIG_GLOB_ENTRIES_MAX);
		return -E2BIG;
	}
	if (rc == 0)
		return 0;
	if (rc == GLOB_NOMATCH)
		return -ENOENT;
	if (rc == GLOB_NOSPACE) {
		snprintf(why, whylen, "%s", strerror(ENOMEM));
		return -ENOMEM;
	}
	rc = run.err ? run.err : EIO;
	snprintf(why, whylen, "%s: %s", run.err ? run.path : pattern,
	         strerror(rc));
	return -rc;
}
