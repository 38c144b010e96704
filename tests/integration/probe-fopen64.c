/* probe-fopen64.c - fopen64(path, mode) COUNT times, then fclose() each. The mode
 * is -m (default "r"). */
#define PROBE_CALL fopen64
#define PROBE_NAME "fopen64"
#include "probe-fopen.c"
