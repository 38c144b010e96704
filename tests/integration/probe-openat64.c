/* probe-openat64.c - openat64(dirfd, path, flags[, mode]) COUNT times, then
 * close() each. dirfd is -d DIR (opened without the shim) or AT_FDCWD. With
 * -O2 -D_FORTIFY_SOURCE=2 the call goes to __openat64_2. */
#define PROBE_CALL openat64
#define PROBE_NAME "openat64"
#include "probe-openat.c"
