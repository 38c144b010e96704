/* status.h - the output of `throttlectl status`: pool snapshots as an aligned
 * table or as one line of JSON. Pure formatting, no I/O but the FILE given,
 * so that tests can check it byte for byte. */
#ifndef THR_STATUS_H
#define THR_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pool.h"

/* Sorts pools by name (byte order) and each pool's holders and waiters by
 * pid, then fd, so that the output does not depend on the order of slots in
 * memory. */
void thr_status_sort(struct thr_pool_snapshot *snaps, size_t n);

/* What live processes (and those that cannot be judged, counted as live
 * as the engine counts them) hold and wait for: the segment's in_use and
 * waiting less what dead ones still have (dead_in_use, dead_waiting). */
uint32_t thr_status_in_use(const struct thr_pool_snapshot *s);
uint32_t thr_status_waiting(const struct thr_pool_snapshot *s);

/* Writes the table: a header, one row per pool with columns sized to fit,
 * numbers right-aligned, then that pool's holders and waiters indented
 * below it:
 *   "NAME  LIMIT  FROM                  IN_USE  WAITING  PEAK ..."
 *   "db        5  set-limit (config 3)       2        1     2 ..."
 *   "  pid 4242  curl     fd 5  held 1.2s  127.0.0.1:8000"
 *   "  pid 4243  python3  fd -  wait 300ms  /srv/db/x"
 * FROM says where the limit came from: "created" (its creator's, never
 * changed), "config" (a config's), "set-limit" (an operator's), with
 * " (config N)" when a config has asked for N, which holds again only
 * when the config's own limit changes. Holder lines ("held" and for how
 * long) come first, then waiter lines ("wait" and for how long), each
 * with the process's command name ("-" when it is not alive; bytes other
 * than printable ASCII as '?'); pid, name, fd and duration are aligned
 * across the whole table. A missing fd is "-", an empty target "-";
 * control bytes and '\' in targets are shown as \xNN and \\. No pools:
 * the header alone.
 * IN_USE and WAITING count what live processes hold and wait for (and those
 * that cannot be judged: hidden, or of another pid namespace). What dead
 * ones still have is said on a line between the row and its holders,
 *   "  dead: 1 slot held, 1 waiting; not in IN_USE or WAITING, freed by
 *   the next reclaim"
 * and, if any holder or waiter in the table is not alive, every such line
 * has the word alive, dead or unknown before its target.
 * Returns 0, or -EIO if out failed. */
int thr_status_table(FILE *out, const struct thr_pool_snapshot *snaps,
                     size_t n);

/* Writes {"pools":[{"name","limit","limit_source","config_limit","in_use",
 * "waiting","dead_in_use","dead_waiting","peak","granted","timeouts",
 * "refused","over","reclaimed","holders":[{"pid","comm","fd","target",
 * "held_ms","process"}],"waiters":[{"pid","comm","fd","target",
 * "waited_ms","process"}]}]} on one line, keys in that order, then a
 * newline. limit_source is "created", "config" or "set-limit" (as FROM in
 * the table); config_limit what a config last asked for, null if none
 * has. in_use and waiting are the live figures, as in the table;
 * dead_in_use and dead_waiting what dead processes still have, until the
 * next reclaim. comm is the command name, "" when the process is not
 * alive; process is "alive", "dead" or "unknown" (cannot be judged,
 * counted as live). fd is -1 when there is none. Returns 0, or -EIO if
 * out failed. */
int thr_status_json(FILE *out, const struct thr_pool_snapshot *snaps,
                    size_t n);

/* Writes target t as text for a terminal, where nothing can move the
 * cursor or start a control sequence: \ as \\, control characters (C0,
 * DEL, and C1 written as UTF-8) and each byte that is not part of valid UTF-8
 * as \xNN per byte; an empty target as "-". */
void thr_status_text(FILE *out, const char *t);

/* Writes s as a JSON string, quotes included: " and \ escaped, control
 * characters as \b \f \n \r \t or \u00XX (C1 ones too), DEL as \u007f,
 * and each byte that is not part of valid UTF-8 (a target cut
 * mid-character) as \ufffd, so that the output is always valid JSON. */
void thr_status_json_string(FILE *out, const char *s);

/* Formats a duration for people: "850ms", "12.3s", "4m05s", "2h07m",
 * "3d04h" (rounded down). */
void thr_status_duration(uint64_t ms, char *buf, size_t len);

#endif
