/* validate.h - parsers for single config values, kept apart from libconfuse
 * so that config.c only glues them to its schema. Each parser takes the text
 * as written and returns 0 with the value in *ret, or -EINVAL with a one-line
 * reason in err (errlen bytes) that names the key and quotes the text. They
 * never print and, except thr_validate_group(), never allocate. */
#ifndef THR_VALIDATE_H
#define THR_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

/* The shape shared by the parsers of integer-valued keys, so that config.c
 * can keep them in one table keyed by option name. */
typedef int (*thr_validate_fn)(const char *text, long *ret, char *err,
                               size_t errlen);

/* Is name a pool name, [A-Za-z0-9_.-]{1,64} and not "." or ".."? Returns 0 or
 * -EINVAL. */
int thr_validate_pool_name(const char *name, char *err, size_t errlen);

/* limit: decimal 1..THR_CONFIG_LIMIT_MAX ("010" is ten, not eight). */
int thr_validate_limit(const char *text, long *ret, char *err, size_t errlen);

/* hold: "descriptor" or "call", as enum thr_config_hold. */
int thr_validate_hold(const char *text, long *ret, char *err, size_t errlen);

/* on-full: "wait", "fail" or "observe", as enum thr_config_full. */
int thr_validate_on_full(const char *text, long *ret, char *err,
                         size_t errlen);

/* nonblocking: "wait" (0) or "fail" (1). */
int thr_validate_nonblocking(const char *text, long *ret, char *err,
                             size_t errlen);

/* folders: "no" (0) or "yes" (1). */
int thr_validate_folders(const char *text, long *ret, char *err,
                         size_t errlen);

/* on-error: "open" (0) or "closed" (1). */
int thr_validate_on_error(const char *text, long *ret, char *err,
                          size_t errlen);

/* timeout, in milliseconds: digits with an optional unit, "ms", "s", "m" or
 * "h"; a bare number is seconds. 0 (in any unit) means wait forever. Values
 * past LONG_MAX milliseconds are refused. */
int thr_validate_timeout(const char *text, long *ret, char *err,
                         size_t errlen);

/* errno: a name such as "EAGAIN" from a fixed list of errors that make sense
 * for a refused connect() or open(). */
int thr_validate_errno(const char *text, long *ret, char *err, size_t errlen);

/* mode: octal permissions, with or without the leading 0, at most 0777, and
 * giving the owner read and write (the owner must be able to attach). */
int thr_validate_mode(const char *text, long *ret, char *err, size_t errlen);

/* group: a group name, looked up now with getgrnam_r(), or a numeric gid.
 * Returns 0; -EINVAL for an unknown group; -ENOMEM; or the lookup's own
 * error (-EIO ...), each with a reason in err. */
int thr_validate_group(const char *text, long *ret, char *err, size_t errlen);

#endif
