/* probe-opendir.c - opendir(path) COUNT times, whose open is internal to
 * libc, then gives each back with closedir(), whose close is too. TARGET
 * is a directory. The rest is probe-closedir.c's. */
#define PROBE_OPENDIR
#include "probe-closedir.c"
