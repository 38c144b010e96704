/* config.c - loads per-service config files with libconfuse: the schema, the
 * glue from libconfuse's callbacks to validate.c and match.h, includes, and
 * the copy into struct thr_config. The only file that includes <confuse.h>.
 *
 * Each file is read whole by source.c (regular files only, bounded), passed
 * through scan.c (comments blanked, includes rewritten, see scan.h) and
 * parsed with a cfg_t of its own. Includes:
 *
 *     include "/etc/throttle/pools.d/pool-*.conf"    the documented form
 *     include("/etc/throttle/pools.d/pool-*.conf")   libconfuse's call form
 *
 * are the same statement, allowed at the top level of any file. scan.c
 * makes both a value of our list option "include" (not libconfuse's
 * cfg_include(), which would splice the file into the lexer with no glob
 * and a 10-deep stack, nor a function, whose arguments libconfuse leaks
 * when a call is cut short).
 * Includes run after the file that names them, in order of appearance; a
 * glob's files in sorted order. A relative pattern is relative to the folder
 * of the including file. A glob that matches nothing is not an error (an
 * empty or missing pools.d is fine), and folders it matches are skipped; a
 * plain path (no * ? [ \) must exist. Included files hold pools and further
 * includes (THR_CONFIG_INCLUDE_MAX deep, cycles refused); on-error belongs
 * to the main file only. */
#include <confuse.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "lint.h"
#include "message.h"
#include "pattern.h"
#include "scan.h"
#include "sniff.h"
#include "source.h"
#include "validate.h"

#define ERR_LEN 512

/* The value of one connect pattern: its compiled rules (several when a
 * hostname resolves to several addresses). */
struct dest_set {
	struct thr_match_dest *rules;
	size_t n;
};

struct include_req {
	char *pattern;
	unsigned line;
};

/* One file (or buffer) being parsed. */
struct file_ctx {
	const char *name;               /* as shown in messages */
	unsigned depth;                 /* 0 for the main file */
	const struct thr_scan *scan;
	struct include_req *incs;       /* collected while parsing */
	size_t nincs;
};

/* One whole load. */
struct loader {
	struct thr_config *cfg;         /* the result so far */
	char msg[ERR_LEN];              /* the first error */
	bool failed;                    /* msg is set */
	int rc;                         /* a callback's failure other than
	                                   -EINVAL, e.g. -ENOMEM */
	bool closed;                    /* the main file's on-error, as
	                                   libconfuse read it, or as sniffed
	                                   from its text when it did not */
	struct file_ctx *file;          /* the file libconfuse is reading */
	struct thr_source_budget budget; /* what the load has read */
	size_t npools;                  /* pool headers the scans found */
	bool secure;                    /* secure execution: messages show
	                                   nothing of any file's text */
	unsigned top_line;              /* while the main file's include at
	                                   this line is read, else 0 */
	struct {
		dev_t dev;
		ino_t ino;
	} chain[THR_CONFIG_INCLUDE_MAX + 1]; /* files open, for cycles */
	unsigned nchain;
	unsigned glob_entries;          /* folder entries globs may still
	                                   read */
	const struct thr_config_report *report; /* a check's, else NULL */
	int first_rc;                   /* a check's first error, once it */
	char first[ERR_LEN];            /* went on past it */
};

/* libconfuse's scanner is a global and its callbacks carry no user pointer:
 * one load at a time, and active points at it for the callbacks. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct loader *active;

#define WITHHELD "(not shown in a setuid or setgid program)"

/* The message of a secure execution: in a setuid or setgid program the
 * config and what it includes may be files the user who started it could
 * not read (an include of /etc/shadow quoted its first line), so nothing
 * of their text, names or lines is shown: only the main file (its name is
 * the program's), and the line of its own that holds the error, or the
 * include that led to it. Errors in reading the main file itself say
 * nothing of its text and are shown as they are. */
static bool withheld(struct loader *L, const char *file, unsigned line)
{
	const char *main_file = L->cfg->path;

	if (!L->secure || !file)
		return false;
	if (L->top_line)
		snprintf(L->msg, sizeof(L->msg), "%s:%u: error in the file "
		         "included here " WITHHELD, main_file, L->top_line);
	else if (line)
		snprintf(L->msg, sizeof(L->msg), "%s:%u: error " WITHHELD,
		         main_file, line);
	else
		snprintf(L->msg, sizeof(L->msg), "%s: error " WITHHELD,
		         main_file);
	return true;
}

/* Under secure execution, refuses a file that uses ${VAR}: libconfuse
 * expands it with getenv(), and the environment of a setuid program is
 * its caller's, who would then choose limits, patterns or includes. The
 * reason says nothing of the text, so it is shown (where withheld() would
 * put it). */
static int refuse_environment(struct loader *L, const struct thr_scan *scan)
{
	static const char why[] = "${...} is not expanded in a setuid or "
	                          "setgid program";
	const char *dollar = strstr(scan->text, "${");
	unsigned line = 1;

	if (!L->secure || !dollar)
		return 0;
	for (const char *p = scan->text; p < dollar; p++)
		line += *p == '\n';
	if (L->failed)
		return -EINVAL;
	L->failed = true;
	if (L->top_line)
		snprintf(L->msg, sizeof(L->msg), "%s:%u: error in the file "
		         "included here: %s", L->cfg->path, L->top_line, why);
	else
		snprintf(L->msg, sizeof(L->msg), "%s:%u: %s", L->cfg->path,
		         line, why);
	thr_message_clean(L->msg, sizeof(L->msg));
	return -EINVAL;
}

/* Records the load's first error: "<file>:<line>: <reason>", cleaned for
 * the host's stderr (message.h). */
__attribute__((format(printf, 4, 5)))
static void report(struct loader *L, const char *file, unsigned line,
                   const char *fmt, ...)
{
	size_t n = 0;
	va_list ap;

	if (L->failed)
		return;
	L->failed = true;
	if (withheld(L, file, line))
		return;
	if (file && line)
		n = (size_t)snprintf(L->msg, sizeof(L->msg), "%s:%u: ", file,
		                     line);
	else if (file)
		n = (size_t)snprintf(L->msg, sizeof(L->msg), "%s: ", file);
	if (n < sizeof(L->msg)) {
		va_start(ap, fmt);
		vsnprintf(L->msg + n, sizeof(L->msg) - n, fmt, ap);
		va_end(ap);
	}
	thr_message_clean(L->msg, n);
}

/* Where a check's warning is: lint.h's callbacks carry one pointer. */
struct warn_at {
	struct loader *L;
	const char *file;
	unsigned line;
};

/* "<file>:<line>: warning: <reason>" for at into msg (len bytes), cleaned
 * for a terminal. */
static void warning_line(const struct warn_at *at, const char *reason,
                         char *msg, size_t len)
{
	size_t n = (size_t)snprintf(msg, len, "%s:%u: warning: ", at->file,
	                            at->line);

	if (n >= len)
		n = len - 1;
	snprintf(msg + n, len - n, "%s", reason);
	thr_message_clean(msg, n);
}

/* Sends a warning about file:line to the check's report. Room for a whole
 * path and a reason: a warning cut to its file's name would say nothing. */
static void warn(void *ctx, const char *reason)
{
	const struct warn_at *at = ctx;
	char msg[PATH_MAX + ERR_LEN];

	warning_line(at, reason, msg, sizeof(msg));
	at->L->report->fn(at->L->report->arg, true, msg);
}

/* A check's look at the folder of a path glob written as pattern. */
static void lint_glob(cfg_t *cfg, const char *pattern, const char *glob)
{
	struct warn_at at = { active, active->file->name, (unsigned)cfg->line };

	if (active->report)
		thr_lint_path_glob(pattern, glob, warn, &at);
}

/* Line of the header of the i-th pool of a file, found by the scan. */
static unsigned header_line(const struct thr_scan *scan, size_t i,
                            const char *title, unsigned fallback)
{
	if (i < scan->npools && strcmp(scan->pools[i].title, title) == 0)
		return scan->pools[i].line;
	for (size_t j = 0; j < scan->npools; j++) {
		if (strcmp(scan->pools[j].title, title) == 0)
			return scan->pools[j].line;
	}
	return fallback;
}

/* libconfuse's error callback. The message is rewritten where our words are
 * clearer; the load runs in the C locale, so fmt is the English msgid. */
__attribute__((format(printf, 2, 0)))
static void on_cfg_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	struct loader *L = active;
	const struct file_ctx *f;
	char msg[ERR_LEN];

	if (!L || !L->file || L->failed)
		return;
	f = L->file;
	if (strcmp(fmt, "no such option '%s'") == 0) {
		snprintf(msg, sizeof(msg), "unknown option '%s'",
		         va_arg(ap, const char *));
	} else if (strcmp(fmt, "found duplicate title '%s'") == 0) {
		const char *name = va_arg(ap, const char *);
		unsigned first = header_line(f->scan, SIZE_MAX, name, 0);

		if (first)
			snprintf(msg, sizeof(msg), "duplicate pool '%s' (first "
			         "defined at %s:%u)", name, f->name, first);
		else
			snprintf(msg, sizeof(msg), "duplicate pool '%s'", name);
	} else {
		vsnprintf(msg, sizeof(msg), fmt, ap);
	}
	report(L, f->name, (unsigned)cfg->line, "%s", msg);
}

/* Parses every integer-valued key through its validate.c parser. */
static int parse_int(cfg_t *cfg, cfg_opt_t *opt, const char *value,
                     void *result)
{
	static const struct {
		const char *key;
		thr_validate_fn fn;
	} keys[] = {
		{ "limit", thr_validate_limit },
		{ "hold", thr_validate_hold },
		{ "on-full", thr_validate_on_full },
		{ "timeout", thr_validate_timeout },
		{ "errno", thr_validate_errno },
		{ "nonblocking", thr_validate_nonblocking },
		{ "folders", thr_validate_folders },
		{ "mode", thr_validate_mode },
		{ "group", thr_validate_group },
		{ "on-error", thr_validate_on_error },
	};
	char why[ERR_LEN / 2];
	int rc = -EINVAL;

	snprintf(why, sizeof(why), "no parser for '%s'", opt->name);
	if (strcmp(opt->name, "on-error") == 0 && active->file->depth > 0) {
		cfg_error(cfg, "on-error may only be set in the main file");
		return -1;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(opt->name, keys[i].key) == 0) {
			rc = keys[i].fn(value, result, why, sizeof(why));
			break;
		}
	}
	if (rc == 0)
		return 0;
	if (rc != -EINVAL)
		active->rc = rc;
	cfg_error(cfg, "%s", why);
	return -1;
}

static void free_connect(void *value)
{
	struct dest_set *set = value;

	if (set->rules)
		thr_match_free_dests(set->rules, set->n);
	free(set);
}

/* A connect pattern whose hostname did not resolve (why says so): no
 * rule, and a warning, which a check reports and the config keeps (the
 * first) for the shim to say, as the rest of the config still holds.
 * Returns 0, or -1 out of memory. */
static int unresolved(cfg_t *cfg, const char *why)
{
	struct warn_at at = { active, active->file->name, (unsigned)cfg->line };
	char reason[ERR_LEN];
	snprintf(reason, sizeof(reason), "%s: its rule matches nothing until "
	         "the config is loaded again", why);
	if (active->report)
		warn(&at, reason);
	if (active->cfg->unresolved)
		return 0;
	char line[PATH_MAX + ERR_LEN];
	warning_line(&at, reason, line, sizeof(line));
	if (!(active->cfg->unresolved = strdup(line))) {
		active->rc = -ENOMEM;
		cfg_error(cfg, "out of memory");
		return -1;
	}
	return 0;
}

/* Compiles one connect pattern; a hostname is resolved here, once. */
static int parse_connect(cfg_t *cfg, cfg_opt_t *opt, const char *value,
                         void *result)
{
	struct dest_set *set = calloc(1, sizeof(*set));
	char why[ERR_LEN / 2] = "";
	int rc;

	if (!set) {
		active->rc = -ENOMEM;
		cfg_error(cfg, "out of memory");
		return -1;
	}
	rc = thr_match_parse_dest(value, &set->rules, &set->n, why,
	                          sizeof(why));
	if (rc < 0) {
		free_connect(set);
		if (rc != -EINVAL)
			active->rc = rc;
		cfg_error(cfg, "bad connect pattern: %s", why);
		return -1;
	}
	if (rc == 0 && unresolved(cfg, why) < 0) {
		free_connect(set);
		return -1;
	}
	if (rc > 0 && set->rules[0].kind == THR_MATCH_UNIX &&
	    set->rules[0].glob[0] == '/')
		lint_glob(cfg, value, set->rules[0].glob);
	*(void **)result = set;
	return 0;
}

static int parse_open(cfg_t *cfg, cfg_opt_t *opt, const char *value,
                      void *result)
{
	char why[ERR_LEN / 2] = "";

	if (thr_match_check_glob(value, why, sizeof(why)) < 0) {
		cfg_error(cfg, "bad open pattern: %s", why);
		return -1;
	}
	lint_glob(cfg, value, value);
	*(const char **)result = value;
	return 0;
}

/* An include's pattern (scan.c makes every include a value of the list
 * option "include"): noted now, read once this file is done. */
static int include_value(cfg_t *cfg, cfg_opt_t *opt, const char *value,
                         void *result)
{
	struct file_ctx *f = active->file;
	struct include_req *incs;
	char *pattern;

	incs = realloc(f->incs, (f->nincs + 1) * sizeof(*incs));
	if (incs)
		f->incs = incs;
	pattern = incs ? strdup(value) : NULL;
	if (!pattern) {
		active->rc = -ENOMEM;
		cfg_error(cfg, "out of memory");
		return -1;
	}
	f->incs[f->nincs].pattern = pattern;
	f->incs[f->nincs].line = (unsigned)cfg->line;
	f->nincs++;
	*(const char **)result = value;
	return 0;
}

static cfg_opt_t pool_opts[] = {
	CFG_INT_CB("limit", 0, CFGF_NODEFAULT, parse_int),
	CFG_PTR_LIST_CB("connect", 0, CFGF_NONE, parse_connect, free_connect),
	CFG_STR_LIST_CB("open", 0, CFGF_NONE, parse_open),
	CFG_INT_CB("hold", THR_HOLD_DESCRIPTOR, CFGF_NONE, parse_int),
	CFG_INT_CB("on-full", THR_FULL_WAIT, CFGF_NONE, parse_int),
	CFG_INT_CB("timeout", 0, CFGF_NONE, parse_int),
	CFG_INT_CB("errno", 0, CFGF_NONE, parse_int),
	CFG_INT_CB("nonblocking", 0, CFGF_NONE, parse_int),
	CFG_INT_CB("folders", 0, CFGF_NONE, parse_int),
	CFG_INT_CB("mode", 0600, CFGF_NONE, parse_int),
	CFG_INT_CB("group", 0, CFGF_NODEFAULT, parse_int),
	CFG_END()
};

static cfg_opt_t top_opts[] = {
	CFG_SEC("pool", pool_opts,
	        CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES),
	CFG_INT_CB("on-error", 0, CFGF_NONE, parse_int),
	CFG_STR_LIST_CB("include", 0, CFGF_NONE, include_value),
	CFG_END()
};

static void free_pool(struct thr_config_pool *p)
{
	if (p->connect)
		thr_match_free_dests(p->connect, p->nconnect);
	for (size_t i = 0; i < p->nopen; i++)
		free(p->open[i]);
	free(p->open);
	free(p->file);
}

/* Moves the compiled connect rules out of libconfuse's values into p. */
static int take_connect(struct thr_config_pool *p, cfg_t *sec)
{
	unsigned n = cfg_size(sec, "connect");

	for (unsigned i = 0; i < n; i++) {
		struct dest_set *set = cfg_getnptr(sec, "connect", i);
		struct thr_match_dest *rules;

		if (set->n == 0)
			continue;
		rules = realloc(p->connect,
		                (p->nconnect + set->n) * sizeof(*rules));
		if (!rules)
			return -ENOMEM;
		memcpy(rules + p->nconnect, set->rules,
		       set->n * sizeof(*rules));
		p->connect = rules;
		p->nconnect += set->n;
		free(set->rules);
		set->rules = NULL;
		set->n = 0;
	}
	return 0;
}

static int copy_open(struct thr_config_pool *p, cfg_t *sec)
{
	unsigned n = cfg_size(sec, "open");

	if (n == 0)
		return 0;
	p->open = calloc(n, sizeof(*p->open));
	if (!p->open)
		return -ENOMEM;
	for (unsigned i = 0; i < n; i++) {
		p->open[i] = strdup(cfg_getnstr(sec, "open", i));
		if (!p->open[i])
			return -ENOMEM;
		p->nopen++;
	}
	return 0;
}

/* Validates what spans a whole pool and copies it into p. */
static int fill_pool(struct loader *L, const struct file_ctx *f, cfg_t *sec,
                     unsigned line, struct thr_config_pool *p)
{
	const char *title = cfg_title(sec);
	char why[ERR_LEN / 2];

	if (thr_validate_pool_name(title, why, sizeof(why)) < 0) {
		report(L, f->name, line, "%s", why);
		return -EINVAL;
	}
	for (size_t i = 0; i < L->cfg->npools; i++) {
		const struct thr_config_pool *q = &L->cfg->pools[i];

		if (strcmp(q->name, title) == 0) {
			report(L, f->name, line, "duplicate pool '%s' (first "
			       "defined at %s:%u)", title, q->file, q->line);
			return -EINVAL;
		}
	}
	if (cfg_size(sec, "limit") == 0) {
		report(L, f->name, line, "pool '%s' has no limit", title);
		return -EINVAL;
	}
	if (take_connect(p, sec) < 0 || copy_open(p, sec) < 0)
		return -ENOMEM;
	/* Patterns as written: one whose host did not resolve compiled to
	 * no rule, and the pool stands, matching nothing of it for now. */
	if (cfg_size(sec, "connect") + p->nopen == 0) {
		report(L, f->name, line, "pool '%s' matches nothing", title);
		return -EINVAL;
	}
	memcpy(p->name, title, strlen(title) + 1);
	p->limit = (uint32_t)cfg_getint(sec, "limit");
	p->hold = (enum thr_config_hold)cfg_getint(sec, "hold");
	p->on_full = (enum thr_config_full)cfg_getint(sec, "on-full");
	p->timeout_ms = (uint64_t)cfg_getint(sec, "timeout");
	p->err = (int)cfg_getint(sec, "errno");
	p->nonblocking_fail = cfg_getint(sec, "nonblocking") == 1;
	p->folders = cfg_getint(sec, "folders") == 1;
	p->mode = (mode_t)cfg_getint(sec, "mode");
	p->has_gid = cfg_size(sec, "group") > 0;
	if (p->has_gid)
		p->gid = (gid_t)cfg_getint(sec, "group");
	p->line = line;
	p->file = strdup(f->name);
	if (L->report) {
		struct warn_at at = { L, f->name, line };
		thr_lint_pool(p, warn, &at);
	}
	return p->file ? 0 : -ENOMEM;
}

/* Appends the pools of a parsed file to the result. */
static int take_pools(struct loader *L, const struct file_ctx *f, cfg_t *cfg)
{
	unsigned n = cfg_size(cfg, "pool");

	for (unsigned i = 0; i < n; i++) {
		cfg_t *sec = cfg_getnsec(cfg, "pool", i);
		struct thr_config *c = L->cfg;
		struct thr_config_pool *pools, *p;
		int rc;

		pools = realloc(c->pools, (c->npools + 1) * sizeof(*pools));
		if (!pools)
			return -ENOMEM;
		c->pools = pools;
		p = &pools[c->npools];
		memset(p, 0, sizeof(*p));
		rc = fill_pool(L, f, sec,
		               header_line(f->scan, i, cfg_title(sec),
		                           (unsigned)sec->line), p);
		if (rc < 0) {
			free_pool(p);
			return rc;
		}
		c->npools++;
	}
	return 0;
}

static int load_file(struct loader *L, const char *path,
                     const struct file_ctx *from, unsigned line);

static int include_glob(struct loader *L, const char *pattern,
                        const struct file_ctx *from, unsigned line)
{
	char why[ERR_LEN / 2];
	glob_t g;
	int rc;

	rc = thr_pattern_glob(pattern, &L->glob_entries, &g, why, sizeof(why));
	if (rc == -ENOENT)
		return 0;   /* an empty or missing pools.d is fine */
	if (rc < 0) {
		report(L, from->name, line, "%s", why);
		return rc;
	}
	for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++) {
		const char *path = g.gl_pathv[i];

		if (path[strlen(path) - 1] != '/')  /* GLOB_MARK: a folder */
			rc = load_file(L, path, from, line);
	}
	globfree(&g);
	return rc;
}

/* The folder's first len bytes, then '/' and rel: malloc'd. For a glob,
 * the folder's own glob characters are escaped, so that a folder named
 * "d[1]" stands for itself. */
static char *joined(const char *folder, size_t len, const char *rel,
                    bool glob)
{
	char *out = malloc(2 * len + strlen(rel) + 2), *q = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		if (glob && strchr(THR_PATTERN_SPECIAL, folder[i]))
			*q++ = '\\';
		*q++ = folder[i];
	}
	*q++ = '/';
	strcpy(q, rel);
	return out;
}

static int include(struct loader *L, const struct file_ctx *from,
                   const struct include_req *req)
{
	const char *slash = strrchr(from->name, '/');
	/* Whether it is a glob is what the include says, not its folder. */
	bool glob = strpbrk(req->pattern, THR_PATTERN_SPECIAL) != NULL;
	char *pattern, why[ERR_LEN / 2];
	int rc;

	if (from->depth >= THR_CONFIG_INCLUDE_MAX) {
		report(L, from->name, req->line, "includes nested too deeply");
		return -EINVAL;
	}
	if (req->pattern[0] != '/' && slash)
		pattern = joined(from->name, (size_t)(slash - from->name),
		                 req->pattern, glob);
	else
		pattern = strdup(req->pattern);
	if (!pattern)
		return -ENOMEM;
	rc = thr_pattern_check(pattern, glob, why, sizeof(why));
	if (rc < 0)
		report(L, from->name, req->line, "%s", why);
	else if (glob)
		rc = include_glob(L, pattern, from, req->line);
	else
		rc = load_file(L, pattern, from, req->line);
	free(pattern);
	return rc;
}

/* Counts the pools of one more file toward the load's bound: refused
 * before libconfuse, whose check of titles is quadratic. */
static int count_pools(struct loader *L, const struct thr_scan *scan,
                       const char *name)
{
	L->npools += scan->npools;
	if (L->npools <= THR_CONFIG_POOLS_MAX)
		return 0;
	size_t first = scan->npools - (L->npools - THR_CONFIG_POOLS_MAX);
	report(L, name, scan->pools[first].line, "one load defines at most %u "
	       "pools", THR_CONFIG_POOLS_MAX);
	return -E2BIG;
}

/* libconfuse's parse of the scanned text into *ret_cfg (freed by the
 * caller, also on failure). */
static int parse_options(struct loader *L, struct file_ctx *f,
                         const struct thr_scan *scan, cfg_t **ret_cfg)
{
	cfg_t *cfg = cfg_init(top_opts, CFGF_NONE);
	*ret_cfg = cfg;
	if (!cfg)
		return -ENOMEM;
	cfg_set_error_function(cfg, on_cfg_error);
	L->file = f;
	if (scan->len == 0)
		return 0;
	FILE *fp = fmemopen(scan->text, scan->len, "r");
	if (!fp)
		return -ENOMEM;
	int rc = cfg_parse_fp(cfg, fp);
	fclose(fp);
	if (rc == CFG_SUCCESS)
		return 0;
	report(L, f->name, (unsigned)cfg->line, "syntax error");
	return L->rc ? L->rc : -EINVAL;
}

/* A check's error rc, reported: it is kept when it is the first, and the
 * check goes on. False when it cannot (no check, or no memory). */
static bool go_on(struct loader *L, int rc)
{
	if (!L->report || !L->failed || rc == -ENOMEM)
		return false;
	L->report->fn(L->report->arg, false, L->msg);
	if (!L->first_rc) {
		L->first_rc = rc;
		memcpy(L->first, L->msg, sizeof(L->first));
	}
	L->failed = false;
	L->rc = 0;
	return true;
}

/* Reads the files that f includes, in order, until one fails (a check
 * goes on to the next). */
static int follow_includes(struct loader *L, struct file_ctx *f)
{
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < f->nincs; i++) {
		if (f->depth == 0)
			L->top_line = f->incs[i].line;
		rc = include(L, f, &f->incs[i]);
		if (f->depth == 0)
			L->top_line = 0;
		if (rc < 0 && go_on(L, rc))
			rc = 0;
	}
	return rc;
}

/* Parses one file's text, then the files it includes. */
static int parse_text(struct loader *L, const char *text, size_t len,
                      const char *name, unsigned depth)
{
	struct thr_scan scan;
	struct file_ctx f = { .name = name, .depth = depth, .scan = &scan };
	char why[ERR_LEN / 2];
	cfg_t *cfg = NULL;
	unsigned line = 0;
	int rc = thr_scan_text(text, len, &scan, &line, why, sizeof(why));
	if (rc < 0) {
		if (depth == 0)
			L->closed = thr_sniff_closed(text, len);
		report(L, name, line, "%s", why);
		return rc;
	}
	/* Until libconfuse has read on-error, the text says what it can;
	 * comments are blanked in scan.text, so a line of one is not taken
	 * for the assignment. */
	if (depth == 0)
		L->closed = thr_sniff_closed(scan.text, scan.len);
	rc = refuse_environment(L, &scan);
	if (rc == 0)
		rc = count_pools(L, &scan, name);
	if (rc == 0)
		rc = parse_options(L, &f, &scan, &cfg);
	if (rc == 0) {
		if (depth == 0)
			L->closed = cfg_getint(cfg, "on-error") == 1;
		rc = take_pools(L, &f, cfg);
	}
	L->file = NULL;
	if (cfg)
		cfg_free(cfg);
	if (rc == 0)
		rc = follow_includes(L, &f);
	for (size_t i = 0; i < f.nincs; i++)
		free(f.incs[i].pattern);
	free(f.incs);
	thr_scan_free(&scan);
	return rc;
}

/* Reads and parses path: the main file (from is NULL) or one that from
 * includes at line. */
static int load_file(struct loader *L, const char *path,
                     const struct file_ctx *from, unsigned line)
{
	const char *where = from ? from->name : NULL;
	struct thr_source src;
	char why[ERR_LEN / 2];
	int rc;

	rc = thr_source_read(path, &L->budget, &src, why, sizeof(why));
	if (rc < 0) {
		report(L, where, line, "%s: %s", path, why);
		return rc;
	}
	for (unsigned i = 0; i < L->nchain; i++) {
		if (L->chain[i].dev == src.dev && L->chain[i].ino == src.ino) {
			report(L, where, line, "include cycle: %s is already "
			       "being read", path);
			free(src.text);
			return -EINVAL;
		}
	}
	L->chain[L->nchain].dev = src.dev;
	L->chain[L->nchain].ino = src.ino;
	L->nchain++;
	rc = parse_text(L, src.text, src.len, path, from ? from->depth + 1 : 0);
	L->nchain--;
	free(src.text);
	return rc;
}

/* The end of load L that returned rc: its config into *ret, or its error
 * into err (and a check's report, which then gets the first error's rc). */
static int finish(struct loader *L, int rc, const char *path,
                  struct thr_config **ret, char *err, size_t errlen)
{
	if (rc < 0) {
		if (!L->failed) {
			snprintf(L->msg, sizeof(L->msg), "%s: %s", path,
			         strerror(-rc));
			thr_message_clean(L->msg, sizeof(L->msg));
		}
		if (L->report)
			L->report->fn(L->report->arg, false, L->msg);
	}
	if (L->first_rc) {
		rc = L->first_rc;
		memcpy(L->msg, L->first, sizeof(L->msg));
	}
	if (rc < 0) {
		snprintf(err, errlen, "%s", L->msg);
		return rc;
	}
	L->cfg->fail_closed = L->closed;
	*ret = L->cfg;
	L->cfg = NULL;
	return 0;
}

/* Runs one load (of the file path, or of text named path) under the lock, in
 * the C locale (stable libconfuse messages, C number parsing); a check
 * when report is not NULL. */
static int run(const char *path, const char *text,
               const struct thr_config_report *report,
               struct thr_config **ret, bool *ret_closed, char *err,
               size_t errlen)
{
	struct loader *L;
	locale_t c, old;
	int rc;

	if (errlen > 0)
		err[0] = '\0';
	L = calloc(1, sizeof(*L));
	c = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (L)
		L->cfg = calloc(1, sizeof(*L->cfg));
	if (!L || !c || !L->cfg || !(L->cfg->path = strdup(path))) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	L->secure = getauxval(AT_SECURE) != 0;
	L->glob_entries = THR_CONFIG_GLOB_ENTRIES_MAX;
	L->report = report;
	pthread_mutex_lock(&lock);
	old = uselocale(c);
	active = L;
	if (text)
		rc = parse_text(L, text, strlen(text), path, 0);
	else
		rc = load_file(L, path, NULL, 0);
	active = NULL;
	uselocale(old);
	pthread_mutex_unlock(&lock);
	if (ret_closed)
		*ret_closed = L->closed;
	rc = finish(L, rc, path, ret, err, errlen);
out:
	if (c)
		freelocale(c);
	if (L)
		thr_config_free(L->cfg);
	free(L);
	return rc;
}

int thr_config_load(const char *path, struct thr_config **ret, char *err,
                    size_t errlen)
{
	return run(path, NULL, NULL, ret, NULL, err, errlen);
}

int thr_config_load_closed(const char *path, struct thr_config **ret,
                           bool *ret_closed, char *err, size_t errlen)
{
	return run(path, NULL, NULL, ret, ret_closed, err, errlen);
}

int thr_config_check(const char *path, const struct thr_config_report *report,
                     struct thr_config **ret, char *err, size_t errlen)
{
	return run(path, NULL, report, ret, NULL, err, errlen);
}

int thr_config_parse_buf(const char *text, const char *name,
                         struct thr_config **ret, char *err, size_t errlen)
{
	return run(name ? name : "[buf]", text, NULL, ret, NULL, err, errlen);
}

void thr_config_free(struct thr_config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->npools; i++)
		free_pool(&cfg->pools[i]);
	free(cfg->pools);
	free(cfg->path);
	free(cfg->unresolved);
	free(cfg);
}
