/* probe-open64.c - open64(path, flags[, mode]) COUNT times, then close()
 * each. With -O2 -D_FORTIFY_SOURCE=2 the call goes to __open64_2. */
#define PROBE_CALL open64
#define PROBE_NAME "open64"
#include "probe-open.c"
