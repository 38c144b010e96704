/* stale.h - descriptors the shim tracks whose number no longer names what
 * it recorded: closed behind its back (a raw close system call, as libuv
 * makes) and perhaps taken again by another file or socket. Never opens or
 * closes a tracked file itself, which would drop the program's POSIX locks
 * on it. */
#ifndef THR_STALE_H
#define THR_STALE_H

#include <stdbool.h>
#include <stdint.h>

#include "fdtable.h"
#include "init.h"

/* The inode of socket fd, or 0 if fd is no socket (or not open): what a
 * connect's description records as its identity. Keeps errno. */
uint64_t thr_stale_socket_ino(int fd);

/* Does fd still name the connection desc (a socket's description)
 * recorded? A description without a recorded inode is taken to. Keeps
 * errno. */
bool thr_stale_same_socket(int fd, const struct thr_fd_desc *desc);

/* Gives back the slots that this process's descriptors hold in pool pi
 * where the descriptor is gone: closed, or its number now another socket,
 * a pipe or the like, or a file other than the one opened. Where it cannot
 * tell (a file that might be the one opened under another name), the slot
 * stays. Returns how many names were dropped. Keeps errno; reads /proc;
 * not async-signal-safe. */
int thr_stale_drop(const struct thr_init_state *st, uint16_t pi);

#endif
