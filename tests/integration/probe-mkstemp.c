/* probe-mkstemp.c - creates COUNT files from the template DIR/tXXXXXX, DIR
 * being TARGET's folder, with the mkstemp family (whose open is internal to
 * libc), then close()s each. -e picks the call: mkstemp (default),
 * mkostemp, mkstemps (template DIR/tXXXXXX.s), mkostemps. With
 * -D_FILE_OFFSET_BITS=64 the calls go to their *64 names. */
#define _GNU_SOURCE
#include "probe.h"

#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int make(const char *how, char *tmpl)
{
	if (strcmp(how, "mkostemp") == 0)
		return mkostemp(tmpl, O_CLOEXEC);
	if (strcmp(how, "mkstemps") == 0)
		return mkstemps(tmpl, 2);
	if (strcmp(how, "mkostemps") == 0)
		return mkostemps(tmpl, 2, O_CLOEXEC);
	return mkstemp(tmpl);
}

static int take(struct probe *p, int i, struct probe_held *h)
{
	const char *how = p->variant ? p->variant : "mkstemp";
	char dir[4096], tmpl[4200];

	snprintf(dir, sizeof(dir), "%s", p->target);
	snprintf(tmpl, sizeof(tmpl), "%s/tXXXXXX%s", dirname(dir),
	         strcmp(how, "mkstemps") == 0 ||
	         strcmp(how, "mkostemps") == 0 ? ".s" : "");
	h->fd = make(how, tmpl);
	return h->fd < 0 ? -1 : 0;
}

static const struct probe_ops ops = {
	.usage = "TARGET: a path in the folder to create files in; "
	         "-e mkstemp|mkostemp|mkstemps|mkostemps",
	.take = take,
	.give = probe_give_close,
};

int main(int argc, char **argv)
{
	return probe_run(argc, argv, &ops);
}
