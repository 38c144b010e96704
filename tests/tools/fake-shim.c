/* fake-shim.c - stands in for libthrottle.so in the wrapper's tests, which
 * must not need the real shim: when FAKE_SHIM_MARK is set, loading it prints
 * "fake-shim loaded: <mark>" on stderr, so a test sees that it was preloaded. */
#include <stdio.h>
#include <stdlib.h>

__attribute__((constructor)) static void announce(void)
{
	const char *mark = getenv("FAKE_SHIM_MARK");
	if (mark)
		fprintf(stderr, "fake-shim loaded: %s\n", mark);
}
