/* lint.h - what is legal in a config but likely wrong: a path glob under a
 * folder that is missing now or reached through a symbolic link, keys a
 * pool's other keys make pointless. Only thr_config_check() asks (the shim
 * never does: these look at the file system); nothing here refuses a
 * config. Each finding goes to a callback as one line of reason, without
 * the file and line, which the caller knows. */
#ifndef THR_LINT_H
#define THR_LINT_H

#include "config.h"

/* Where a finding goes: msg is one line, valid during the call. */
typedef void (*thr_lint_warn_fn)(void *ctx, const char *msg);

/* Checks the folder of glob's literal head (up to the last '/' before the
 * first '*', '?' or '['), which pattern, as written in the config, stands
 * for: missing now, not a folder, or reached through a symbolic link (the
 * shim matches the path a program names, not where it leads). Uses stat()
 * and realpath(); a folder it may not look at is passed over. Not
 * async-signal-safe. */
void thr_lint_path_glob(const char *pattern, const char *glob,
                        thr_lint_warn_fn warn, void *ctx);

/* Checks the keys of pool p against each other: a timeout that its
 * on-full never uses (fail or observe never wait). No I/O. */
void thr_lint_pool(const struct thr_config_pool *p, thr_lint_warn_fn warn,
                   void *ctx);

#endif
