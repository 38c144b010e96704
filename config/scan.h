/* scan.h - the pre-pass over a config file's text before libconfuse reads it.
 *
 * libconfuse 3.3 (the Debian 12 version) needs help in five places:
 *   - its grammar has no "include <string>" statement (a function call needs
 *     parentheses, an option needs '='), and its own include() pushes files
 *     on a 10-deep lexer stack, so a pools.d glob of 11 files would fail;
 *   - a comment adds two lines to its count ('#', '//'), a multi-line one
 *     adds one more, so every later error names the wrong line;
 *   - a comment inside a list is a syntax error (libconfuse issue #150);
 *   - a section left open at the end of the file is accepted silently;
 *   - a function call it cannot finish ("include(a", "include(a b)",
 *     "include(\"${\")") leaks the arguments read so far (found by
 *     tests/fuzz), so include is no function call for libconfuse.
 * So the scan walks the text with libconfuse's own token rules, blanks every
 * comment (keeping its newlines, so lines stay right), rewrites a top-level
 * "include <quoted string>" and libconfuse's call form "include(<string>)"
 * into a list option, "include += <string>" and "include += {<string>}",
 * which config.c reads as its own (libconfuse's own parse of a function
 * call leaks the arguments when the call is cut short), records where each
 * top-level pool begins, and refuses unterminated strings and comments,
 * unclosed braces, include( calls that are not one value then ')', and NUL
 * bytes. Lengths change only there; lines never move. */
#ifndef THR_SCAN_H
#define THR_SCAN_H

#include <stddef.h>

/* A top-level "pool <title> {" header, as written. */
struct thr_scan_pool {
	char *title;            /* the title's text, quotes removed, escapes not */
	unsigned line;          /* line of the word "pool" */
};

struct thr_scan {
	char *text;             /* what libconfuse should parse (NUL-terminated) */
	size_t len;
	struct thr_scan_pool *pools;    /* in order of appearance */
	size_t npools;
};

/* Scans len bytes of in. Returns 0 and fills *ret (free with
 * thr_scan_free()); -EINVAL with the line in *ret_line and a reason in err
 * (errlen bytes); or -ENOMEM. *ret is zeroed on failure. */
int thr_scan_text(const char *in, size_t len, struct thr_scan *ret,
                  unsigned *ret_line, char *err, size_t errlen);

/* Frees what thr_scan_text() allocated, text included, and zeroes *scan. */
void thr_scan_free(struct thr_scan *scan);

#endif
