/* probe-freopen.c - freopen() both ways. By default each call reopens a stream on
 * /dev/null onto TARGET (freopen(path, mode, stream)), taking a slot, and
 * fclose() gives it back; a refused freopen must close the stream, as a
 * failed one does ("leaked fd=N" if not). With -x the slot is taken by
 * fopen(TARGET) and given back by freopen("/dev/null", "r", stream), an
 * implicit close: the stream stays open on /dev/null through LINGER. With
 * -e again the stream is opened on TARGET first and reopened onto it, its
 * own slot passing to the new file.
 * With -D_FILE_OFFSET_BITS=64 the call goes to freopen64. */

/* probe-freopen64.c defines these and includes this file. */
#ifndef PROBE_CALL
#define PROBE_CALL freopen
#define PROBE_NAME "freopen"
#endif
#define _GNU_SOURCE
#include "probe.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

static int take(struct probe *p, int i, struct probe_held *h)
{
	bool again = p->variant && strcmp(p->variant, "again") == 0;

	if (p->alt) {
		h->f = fopen(p->target, p->mode);
	} else {
		FILE *f = fopen(again ? p->target : "/dev/null", "r");
		int fd = f ? fileno(f) : -1;

		if (!f)
			return -1;
		h->f = PROBE_CALL(p->target, p->mode, f);
		if (!h->f) {
			int saved = errno;

			if (fcntl(fd, F_GETFD) >= 0)
				probe_emit("leaked fd=%d", fd);
			errno = saved;
		}
	}
	if (!h->f)
		return -1;
	h->fd = fileno(h->f);
	return 0;
}

static int give(struct probe *p, struct probe_held *h)
{
	if (!p->alt)
		return fclose(h->f);
	/* The stream is deliberately left open (on /dev/null) until exit. */
	return PROBE_CALL("/dev/null", "r", h->f) ? 0 : -1;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path; -m fopen mode; -x release by " PROBE_NAME
	         "; -e again: reopen a stream on TARGET onto it",
	.take = take,
	.give = give,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
