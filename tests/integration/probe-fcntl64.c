/* probe-fcntl64.c - per call: fd = open(path, flags), copy = fcntl64(fd, F_DUPFD,
 * 100) (F_DUPFD_CLOEXEC with -x), close(fd), hold the copy, which close()
 * gives back. */
#define PROBE_CALL fcntl64
#define PROBE_NAME "fcntl64"
#include "probe-fcntl.c"
