/* message.c - cleans error messages before they reach the host program's
 * stderr (see message.h): a config's text, quoted in a message, must not
 * span lines, drive the terminal or fill the screen. It only shortens. */
#include <string.h>

#include "message.h"

#define KEEP (THR_MESSAGE_QUOTE_MAX - 3)   /* then "..." */

void thr_message_clean(char *msg, size_t from)
{
	size_t len = strlen(msg);
	char *p, *open;

	for (p = msg; *p; p++) {
		if (*p < 0x20 || *p > 0x7e)
			*p = '?';
	}
	if (from >= len)
		return;
	for (p = msg + from; (open = strchr(p, '\'')); p = open + 1) {
		char *close = strchr(open + 1, '\'');
		size_t n;

		if (!close)
			break;
		n = (size_t)(close - open - 1);
		if (n > THR_MESSAGE_QUOTE_MAX) {
			memcpy(open + 1 + KEEP, "...", 3);
			memmove(open + 4 + KEEP, close, strlen(close) + 1);
			close = open + 4 + KEEP;
		}
		open = close;
	}
}
