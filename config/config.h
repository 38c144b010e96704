/* config.h - per-service config files: locate one, parse it (with the files it
 * includes) into plain structs, free them. The library never prints, never
 * exits, and reads only regular files, each once, through source.c: it runs
 * inside other people's programs. Every error is one line,
 * "<file>:<line>: <reason>", written to the caller's buffer; the first error
 * stops the load. */
#ifndef THR_CONFIG_H
#define THR_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "match.h"

#define THR_CONFIG_NAME_MAX 64      /* pool names: [A-Za-z0-9_.-]{1,64} */
#define THR_CONFIG_LIMIT_MAX 1024   /* the largest limit (THR_SLOTS) */
#define THR_CONFIG_INCLUDE_MAX 8    /* nesting depth of include */
#define THR_CONFIG_FILE_MAX (1024 * 1024) /* larger files are refused */
#define THR_CONFIG_FILES_MAX 256u   /* files one load reads, the main file
                                       and every include counted each
                                       time it is included */
#define THR_CONFIG_BYTES_MAX (4u * 1024 * 1024) /* bytes one load reads */
#define THR_CONFIG_GLOB_ENTRIES_MAX 10000u /* folder entries one load's
                                       include globs read */
#define THR_CONFIG_POOLS_MAX 1024u  /* pools one load defines: checking
                                       titles for duplicates is quadratic
                                       (26,000 pools in 1 MB took 5 s) */
#define THR_CONFIG_GLOB_DEPTH 8u    /* path components of an include glob
                                       from its first wildcard on: glob()
                                       recurses, with some 2 kB of stack,
                                       once for each */

/* How long a slot is held. */
enum thr_config_hold {
	THR_HOLD_DESCRIPTOR,    /* until the fd is closed (default) */
	THR_HOLD_CALL,          /* for the duration of the call only */
	THR_HOLD_PROCESS,       /* one per process, however many of its
	                           descriptors match, until it has none */
};

/* What a call does when the pool is full. */
enum thr_config_full {
	THR_FULL_WAIT,          /* wait for a slot, up to timeout (default) */
	THR_FULL_FAIL,          /* fail at once with err */
	THR_FULL_OBSERVE,       /* never block or fail; only count */
};

/* One "pool <name> { ... }" section. */
struct thr_config_pool {
	char name[THR_CONFIG_NAME_MAX + 1];
	uint32_t limit;                 /* 1..THR_CONFIG_LIMIT_MAX */
	struct thr_match_dest *connect; /* compiled connect rules; hostnames
	                                   were resolved at load, one rule per
	                                   address, and are not re-resolved */
	size_t nconnect;
	char **open;                    /* open path globs, absolute */
	size_t nopen;                   /* nconnect + nopen >= 1, but where
	                                   a connect host did not resolve
	                                   (thr_config.unresolved) */
	enum thr_config_hold hold;
	enum thr_config_full on_full;
	uint64_t timeout_ms;            /* wait bound; 0 waits forever */
	int err;                        /* errno for a refused or timed-out
	                                   call; 0 = the per-call default */
	bool nonblocking_fail;          /* non-blocking connect() on a full
	                                   pool fails instead of waiting */
	bool folders;                   /* opens of folders (O_DIRECTORY,
	                                   opendir) take slots too */
	mode_t mode;                    /* segment permissions, default 0600 */
	bool has_gid;                   /* chgrp the segment to gid */
	gid_t gid;
	char *file;                     /* where the pool was defined */
	unsigned line;
};

/* A whole configuration: the main file plus everything it includes. */
struct thr_config {
	char *path;                     /* the main file (or buffer name) */
	bool fail_closed;               /* on-error = closed */
	struct thr_config_pool *pools;  /* in file order, includes after the
	                                   file that includes them */
	size_t npools;
	char *unresolved;               /* NULL, or the first connect
	                                   pattern whose hostname did not
	                                   resolve at load, as "<file>:<line>:
	                                   warning: cannot resolve ..." (it
	                                   gave no rule; the rest holds): the
	                                   shim says it once */
};

/* Loads the config file path and the files it includes. On success returns 0
 * and stores a new config in *ret (free it with thr_config_free()); *ret is
 * untouched on failure. Errors: -ENOENT, -EACCES, -EISDIR, -EFBIG (larger than
 * THR_CONFIG_FILE_MAX) ... for the main file or an included one; -EINVAL for
 * a syntax or validation error, or a file that is not a regular one; -E2BIG
 * when the load would read more than THR_CONFIG_FILES_MAX files or
 * THR_CONFIG_BYTES_MAX bytes, define more than THR_CONFIG_POOLS_MAX pools,
 * or have its include globs read more than THR_CONFIG_GLOB_ENTRIES_MAX
 * folder entries; -ENAMETOOLONG for an include pattern longer
 * than a path; -ENOMEM. err (errlen bytes, may be 0) gets
 * "<file>:<line>: <reason>", or "<file>: <strerror>" when the main file cannot
 * be read; it is "" on success. Hostnames in connect patterns are resolved
 * here (getaddrinfo), so this may block on DNS; one that does not resolve
 * gives no rule and is no error (cfg->unresolved says so); groups are
 * looked up with getgrnam_r. Calls are serialised internally (libconfuse's scanner is one
 * global), so this is thread-safe but not async-signal-safe. */
int thr_config_load(const char *path, struct thr_config **ret, char *err,
                    size_t errlen);

/* As thr_config_load(), and *ret_closed (if not NULL) says whether the
 * main file asks for on-error = closed, on failure too: what libconfuse
 * read when the main file parsed, else whether a line of its text sets it
 * (thr_sniff_closed(), over the text read once for the parse). False when
 * the main file itself was not read: missing, refused (not a regular file,
 * too large ...). For the shim, which fails closed on that answer. */
int thr_config_load_closed(const char *path, struct thr_config **ret,
                           bool *ret_closed, char *err, size_t errlen);

/* As thr_config_load() for the text itself; name (NULL means "[buf]") is used
 * in messages and as the base for relative include patterns (its folder, or
 * the working directory when name has no '/'). */
int thr_config_parse_buf(const char *text, const char *name,
                         struct thr_config **ret, char *err, size_t errlen);

/* Where thr_config_check() sends what it finds, as it finds it: each line
 * is "<file>:<line>: <reason>" for an error (the text a load's err gets,
 * the shim's line) or "<file>:<line>: warning: <reason>" for a warning,
 * cleaned like errors (message.h). line is valid during the call only;
 * warning says which it is. Called with the loader's lock held: it must
 * not load a config itself. */
struct thr_config_report {
	void (*fn)(void *arg, bool warning, const char *line);
	void *arg;
};

/* As thr_config_load(), for a checker such as `throttlectl check`: the same
 * reading and the same errors, plus
 *   - warnings, legal but likely wrong (lint.h): a path glob under a folder
 *     that does not exist now, is no folder, or is reached through a
 *     symbolic link (found with stat() and realpath(), which a load never
 *     does); a timeout its pool's on-full never uses; every connect host
 *     that does not resolve now;
 *   - more than one error: when an included file fails, its error is
 *     reported and the load goes on with the next include (a load stops
 *     there), so each broken included file gets its line.
 * Every error and warning goes to report->fn (report may not be NULL); the
 * return value and err are the first error's, as thr_config_load() gives
 * it, and *ret is set only when there was none. Warnings do not fail a
 * check. Blocks on DNS and group lookups as a load does; thread-safe
 * (serialised with loads), not async-signal-safe. */
int thr_config_check(const char *path, const struct thr_config_report *report,
                     struct thr_config **ret, char *err, size_t errlen);

/* Frees a config from thr_config_load() or thr_config_parse_buf(); NULL is
 * ignored. */
void thr_config_free(struct thr_config *cfg);

/* Picks the config file for this process into out (outlen bytes):
 *   1. env_config (THROTTLE_CONFIG) when set and not empty, as given, whether
 *      or not it exists, so that the caller reports a missing file;
 *   2. else env_service (THROTTLE_SERVICE) when set and not empty:
 *      <sysconfdir>/<env_service>.conf, whether or not it exists;
 *   3. else <sysconfdir>/<progname>.conf when it is a regular file.
 * env_service and progname must be plain file names: not empty, no '/', not
 * starting with '.'. Returns 0; -ENOENT when nothing applies (the process
 * runs unthrottled); -EINVAL for a bad env_service, or sysconfdir NULL when
 * it is needed; -ENAMETOOLONG when env_config, or env_service's path, does
 * not fit in out. A bad or long progname counts as nothing applying. No
 * allocation; thread-safe. */
int thr_config_locate(const char *env_config, const char *env_service,
                      const char *progname, const char *sysconfdir,
                      char *out, size_t outlen);

/* The line to show for thr_config_locate()'s failure rc with the same
 * env_config and env_service, into msg (msglen bytes, one line of
 * printable ASCII): which variable cannot be used, and why. "" for
 * -ENOENT, where nothing is wrong. No allocation; thread-safe. */
void thr_config_locate_error(int rc, const char *env_config,
                             const char *env_service, size_t outlen,
                             char *msg, size_t msglen);

/* The program's name for thr_config_locate()'s progname: normally the last
 * part of argv[0] (program_invocation_short_name). Under secure execution
 * (setuid, setgid or file capabilities: getauxval(AT_SECURE)) argv[0] is
 * whatever the unprivileged caller chose (exec -a), so it is the last part
 * of the kernel's name for the executable, /proc/self/exe, read into buf
 * (len bytes); NULL (no config by name) when that cannot be read, does not
 * fit, or names a deleted file. No allocation; thread-safe. */
const char *thr_config_progname(char *buf, size_t len);

#endif
