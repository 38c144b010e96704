/* lint.c - warnings about configs that load but likely do not do what their
 * author meant (see lint.h). It only looks: stat() and realpath() of the
 * folders patterns name, never an open, and it never refuses anything. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "lint.h"

#define MSG_LEN 1024
#define SHOWN "%.200s" /* of a path: a message is one line, not a screen */

/* The folder of glob's literal head into out (PATH_MAX bytes): "" when it
 * is the root or does not fit. */
static void literal_folder(const char *glob, char *out)
{
	size_t head = strcspn(glob, "*?[");
	size_t len = head;

	while (len > 0 && glob[len - 1] != '/')
		len--;
	if (len > 0)
		len--;  /* the '/' itself */
	if (len == 0 || len >= PATH_MAX) {
		out[0] = '\0';
		return;
	}
	memcpy(out, glob, len);
	out[len] = '\0';
}

void thr_lint_path_glob(const char *pattern, const char *glob,
                        thr_lint_warn_fn warn, void *ctx)
{
	char folder[PATH_MAX], real[PATH_MAX], msg[MSG_LEN];
	struct stat st;

	literal_folder(glob, folder);
	if (!folder[0])
		return;
	if (stat(folder, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return; /* cannot look: nothing to say */
		snprintf(msg, sizeof(msg), "pattern '%s' is under " SHOWN ", "
		         "which does not exist now: likely wrong (it matches nothing "
		         "until the folder is made)", pattern, folder);
		warn(ctx, msg);
		return;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, sizeof(msg), "pattern '%s' is under " SHOWN ", "
		         "which is not a folder: it matches nothing", pattern, folder);
		warn(ctx, msg);
		return;
	}
	if (!realpath(folder, real) || strcmp(real, folder) == 0)
		return;
	snprintf(msg, sizeof(msg), "pattern '%s' is under " SHOWN ", which "
	         "leads through a symbolic link to " SHOWN ": paths are matched "
	         "as programs name them, so one named under " SHOWN " does not "
	         "match",
	         pattern, folder, real, real);
	warn(ctx, msg);
}

void thr_lint_pool(const struct thr_config_pool *p, thr_lint_warn_fn warn,
                   void *ctx)
{
	char msg[MSG_LEN];

	if (p->timeout_ms == 0 || p->on_full == THR_FULL_WAIT)
		return;
	snprintf(msg, sizeof(msg), "pool '%s': timeout has no effect with "
	         "on-full = %s, which never waits", p->name,
	         p->on_full == THR_FULL_FAIL ? "fail" : "observe");
	warn(ctx, msg);
}
