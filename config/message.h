/* message.h - makes an error message fit to print inside another program:
 * one line, nothing a terminal would act on, no long quotes of a file. */
#ifndef THR_MESSAGE_H
#define THR_MESSAGE_H

#include <stddef.h>

#define THR_MESSAGE_QUOTE_MAX 80    /* bytes of one quoted token shown */

/* Cleans the NUL-terminated msg in place: every byte that is not printable
 * ASCII (a newline, an escape sequence, a byte of UTF-8) becomes '?', and
 * from byte from on (the reason, past "<file>:<line>: ", whose path may
 * hold quotes of its own), each token quoted '...' and longer than
 * THR_MESSAGE_QUOTE_MAX bytes is cut to its start and "...". Never
 * lengthens msg. No allocation; async-signal-safe. */
void thr_message_clean(char *msg, size_t from);

#endif
