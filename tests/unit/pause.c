/* pause.c - a program that only waits to be killed, built 32-bit, so that
 * a 64-bit test can read what /proc shows of a 32-bit process. */
#include <unistd.h>

int main(void)
{
	pause();
	return 0;
}
