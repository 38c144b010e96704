/* probe-dup3.c - by default, per call: fd = open(path, flags), copy =
 * dup3(fd, 100 + i, O_CLOEXEC), close(fd), hold the copy, which close()
 * gives back.
 * With -x: hold fd itself and give it back by dup3()-ing /dev/null over it,
 * an implicit close; the descriptor stays open on /dev/null through LINGER. */
#define PROBE_DUP(old, new, flags) dup3(old, new, flags)
#define PROBE_NAME "dup3"
#include "probe-dup2.c"
