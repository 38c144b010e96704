/* static-hello.c - linked with -static for the wrapper's tests: a program
 * with no PT_INTERP, into which no preloaded library can load. */
#include <stdio.h>

int main(void)
{
	puts("static hello");
	return 0;
}
