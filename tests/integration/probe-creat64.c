/* probe-creat64.c - creat64(path, 0600) COUNT times, then close() each. */
#define PROBE_CALL creat64
#define PROBE_NAME "creat64"
#include "probe-creat.c"
