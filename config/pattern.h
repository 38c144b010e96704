/* pattern.h - an include's file name or glob: checked before use, and
 * expanded by glob() within bounds, so that no pattern can overflow the
 * stack (glob() recurses per component) or walk a whole file system. */
#ifndef THR_PATTERN_H
#define THR_PATTERN_H

#include <glob.h>
#include <stdbool.h>
#include <stddef.h>

/* The characters that make an include a glob. */
#define THR_PATTERN_SPECIAL "*?[\\"

/* Can pattern be passed to open() (is_glob false) or glob()? Returns 0;
 * -ENAMETOOLONG if it is PATH_MAX bytes or more; -EINVAL if a glob has
 * more than THR_CONFIG_GLOB_DEPTH components (empty ones too, "a//b" has
 * three) from its first special character on. A reason is in why (whylen
 * bytes). No allocation. */
int thr_pattern_check(const char *pattern, bool is_glob, char *why,
                      size_t whylen);

/* glob(pattern, GLOB_MARK) reading at most *entries more folder entries
 * (counted down; one load shares one count): a missing or non-folder
 * component is an empty folder. Returns 0 and *ret (globfree() it) with at
 * least one path; -ENOENT when nothing matched (ret is not to be freed);
 * -E2BIG when the count ran out; -ENOMEM; -EACCES ... when a folder could
 * not be read, with "<folder>: <reason>" in why. Uses static state: callers
 * serialise (config.c holds its lock). Not async-signal-safe. */
int thr_pattern_glob(const char *pattern, unsigned *entries, glob_t *ret,
                     char *why, size_t whylen);

#endif
