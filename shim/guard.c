/* guard.c - the guard's one thread-local counter (guard.h). A file of its
 * own because every module of the shim raises the guard and none owns it:
 * init.c, gate.c and inherit.c alike. It must never hold more than that. */
#include "guard.h"

__thread int thr_guard_depth;
