/* dlerror.c - prints what dlerror() reports when main starts: a loader
 * error that a preloaded library's constructor left would show here. */
#include <dlfcn.h>
#include <stdio.h>

int main(void)
{
	const char *e = dlerror();
	printf("dlerror: %s\n", e ? e : "none");
	return 0;
}
