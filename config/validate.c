/* validate.c - parsers for single config values: limits, keywords, timeouts,
 * errno names, modes and groups. Messages name the key and quote the text as
 * written; no libconfuse here. */
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "poolname.h"
#include "validate.h"

_Static_assert(THR_CONFIG_NAME_MAX == THR_POOL_NAME_MAX,
               "config keeps pool names as long as the engine allows");

/* Parses a run of decimal digits at *p into *ret, moving *p past it. Returns
 * false when there is no digit or the number does not fit. */
static bool digits(const char **p, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (*s < '0' || *s > '9')
		return false;
	for (; *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*p = s;
	*ret = v;
	return true;
}

int thr_validate_pool_name(const char *name, char *err, size_t errlen)
{
	/* The engine's rule, so that a name accepted here is one it opens. */
	if (!thr_pool_name_is_valid(name)) {
		snprintf(err, errlen, "bad pool name '%s' (expected 1 to %d of "
		         "A-Z a-z 0-9 _ . -)", name, THR_POOL_NAME_MAX);
		return -EINVAL;
	}
	return 0;
}

int thr_validate_limit(const char *text, long *ret, char *err, size_t errlen)
{
	const char *p = text;
	uint64_t v;

	if (!digits(&p, &v) || *p != '\0' || v < 1 ||
	    v > THR_CONFIG_LIMIT_MAX) {
		snprintf(err, errlen, "bad limit '%s' (expected a whole number "
		         "from 1 to %d)", text, THR_CONFIG_LIMIT_MAX);
		return -EINVAL;
	}
	*ret = (long)v;
	return 0;
}

/* Looks text up in words (NULL-terminated); the index is the value. */
static int keyword(const char *key, const char *const *words,
                   const char *expected, const char *text, long *ret,
                   char *err, size_t errlen)
{
	for (long i = 0; words[i]; i++) {
		if (strcmp(text, words[i]) == 0) {
			*ret = i;
			return 0;
		}
	}
	snprintf(err, errlen, "bad %s '%s' (expected %s)", key, text, expected);
	return -EINVAL;
}

int thr_validate_hold(const char *text, long *ret, char *err, size_t errlen)
{
	static const char *const words[] = {
		[THR_HOLD_DESCRIPTOR] = "descriptor",
		[THR_HOLD_CALL] = "call",
		[THR_HOLD_PROCESS] = "process",
		NULL,
	};

	return keyword("hold", words, "descriptor, process or call", text,
	               ret, err, errlen);
}

int thr_validate_on_full(const char *text, long *ret, char *err,
                         size_t errlen)
{
	static const char *const words[] = {
		[THR_FULL_WAIT] = "wait",
		[THR_FULL_FAIL] = "fail",
		[THR_FULL_OBSERVE] = "observe",
		NULL,
	};

	return keyword("on-full", words, "wait, fail or observe", text, ret,
	               err, errlen);
}

int thr_validate_nonblocking(const char *text, long *ret, char *err,
                             size_t errlen)
{
	static const char *const words[] = { "wait", "fail", NULL };

	return keyword("nonblocking", words, "wait or fail", text, ret, err,
	               errlen);
}

int thr_validate_folders(const char *text, long *ret, char *err,
                         size_t errlen)
{
	static const char *const words[] = { "no", "yes", NULL };

	return keyword("folders", words, "yes or no", text, ret, err, errlen);
}

int thr_validate_on_error(const char *text, long *ret, char *err,
                          size_t errlen)
{
	static const char *const words[] = { "open", "closed", NULL };

	return keyword("on-error", words, "open or closed", text, ret, err,
	               errlen);
}

/* A century: a deadline is counted in 64-bit nanoseconds of the monotonic
 * clock, which a larger timeout would overflow (at about 584 years) into a
 * short one. */
#define MAX_TIMEOUT_MS (100ull * 365 * 24 * 3600 * 1000)

int thr_validate_timeout(const char *text, long *ret, char *err,
                         size_t errlen)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "", 1000 }, { "ms", 1 }, { "s", 1000 }, { "m", 60000 },
		{ "h", 3600000 },
	};
	const char *p = text;
	uint64_t v;

	if (!digits(&p, &v))
		goto bad;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		if (v > MAX_TIMEOUT_MS / units[i].ms) {
			snprintf(err, errlen, "timeout '%s' is too large", text);
			return -EINVAL;
		}
		*ret = (long)(v * units[i].ms);
		return 0;
	}
bad:
	snprintf(err, errlen, "bad timeout '%s' (expected a whole number, "
	         "then ms, s, m or h; a bare number is seconds)", text);
	return -EINVAL;
}

/* The errors a refused connect() or open() may plausibly report. */
static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "EAGAIN", EAGAIN }, { "EWOULDBLOCK", EWOULDBLOCK },
	{ "EBUSY", EBUSY }, { "ETIMEDOUT", ETIMEDOUT },
	{ "ECONNREFUSED", ECONNREFUSED }, { "ECONNRESET", ECONNRESET },
	{ "ECONNABORTED", ECONNABORTED }, { "EHOSTUNREACH", EHOSTUNREACH },
	{ "EHOSTDOWN", EHOSTDOWN }, { "ENETUNREACH", ENETUNREACH },
	{ "ENETDOWN", ENETDOWN }, { "EADDRNOTAVAIL", EADDRNOTAVAIL },
	{ "ENOBUFS", ENOBUFS }, { "ENOMEM", ENOMEM }, { "EMFILE", EMFILE },
	{ "ENFILE", ENFILE }, { "EACCES", EACCES }, { "EPERM", EPERM },
	{ "EINTR", EINTR }, { "EIO", EIO }, { "ENOSPC", ENOSPC },
	{ "EDQUOT", EDQUOT }, { "EROFS", EROFS }, { "ENOLCK", ENOLCK },
	{ "ETXTBSY", ETXTBSY }, { "EDEADLK", EDEADLK },
	{ "ECANCELED", ECANCELED },
};

int thr_validate_errno(const char *text, long *ret, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
		if (strcmp(text, errnos[i].name) == 0) {
			*ret = errnos[i].value;
			return 0;
		}
	}
	snprintf(err, errlen, "unknown errno name '%s'", text);
	return -EINVAL;
}

int thr_validate_mode(const char *text, long *ret, char *err, size_t errlen)
{
	size_t n = strspn(text, "01234567");
	char *end;
	unsigned long v;

	if (n == 0 || n > 4 || text[n] != '\0')
		goto bad;
	v = strtoul(text, &end, 8);
	if (v > 0777)
		goto bad;
	if ((v & 0600) != 0600) {
		snprintf(err, errlen, "bad mode '%s' (the owner needs read and "
		         "write, 0600)", text);
		return -EINVAL;
	}
	*ret = (long)v;
	return 0;
bad:
	snprintf(err, errlen, "bad mode '%s' (expected octal permissions "
	         "such as 0600 or 0660)", text);
	return -EINVAL;
}

int thr_validate_group(const char *text, long *ret, char *err, size_t errlen)
{
	const char *p = text;
	struct group grp, *found = NULL;
	size_t size = 1024;
	char *buf = NULL;
	uint64_t v;
	int rc;

	/* A number is taken as the gid itself, as chgrp(1) does. */
	if (digits(&p, &v) && *p == '\0') {
		if (v >= (gid_t)-1) {
			snprintf(err, errlen, "bad group '%s'", text);
			return -EINVAL;
		}
		*ret = (long)v;
		return 0;
	}
	for (;;) {
		char *bigger = realloc(buf, size);

		if (!bigger) {
			free(buf);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		buf = bigger;
		rc = getgrnam_r(text, &grp, buf, size, &found);
		if (rc != ERANGE || size >= 1024 * 1024)
			break;
		size *= 2;
	}
	if (rc == 0 && found) {
		*ret = (long)found->gr_gid;
		free(buf);
		return 0;
	}
	free(buf);
	/* getgrnam_r(3): "not found" may also come back as one of these. */
	if (rc == 0 || rc == ENOENT || rc == ESRCH || rc == EBADF ||
	    rc == EPERM) {
		snprintf(err, errlen, "unknown group '%s'", text);
		return -EINVAL;
	}
	snprintf(err, errlen, "cannot look up group '%s': %s", text,
	         strerror(rc));
	return -rc;
}
