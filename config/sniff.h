/* sniff.h - what a config file that does not parse still says: whether its
 * author asked for on-error = closed. */
#ifndef THR_SNIFF_H
#define THR_SNIFF_H

#include <stdbool.h>
#include <stddef.h>

/* Does text (len bytes, NULs allowed) set on-error = closed on a line of
 * its own, as libconfuse would read it: blanks and quotes of either kind
 * anywhere, a comment ('#', '//' or slash-star) after? The last such line,
 * "closed" or "open", wins, as the last assignment does in libconfuse.
 * Lines inside a comment that spans lines count too, unless the caller
 * passes text with comments blanked (scan.c's). No allocation. */
bool thr_sniff_closed(const char *text, size_t len);

#endif
