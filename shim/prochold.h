/* prochold.h - the one slot a process holds in a pool of hold = process,
 * which all its descriptors there share: taken by the first, given back
 * with the last. Table entries stand for it with THR_FD_PROCESS_HOLD (see
 * fdtable.h); each counts one reference here. Taking and counting are
 * atomics on the pool's own word: async-signal-safe, no locks. */
#ifndef THR_PROCHOLD_H
#define THR_PROCHOLD_H

#include <stdbool.h>
#include <stdint.h>

#include "init.h"

/* Takes a reference on gp's process slot, if the process holds one: true.
 * False when it holds none: the caller acquires a slot in the pool and
 * hands it to thr_prochold_install(). Async-signal-safe. */
bool thr_prochold_ref(struct thr_gate_pool *gp);

/* Makes hold, just acquired, the process's slot in gp with one reference.
 * If another thread installed one meanwhile, hold goes back to the pool
 * and the reference is taken on that one. Not for signal handlers (it may
 * release a slot, which is safe, but is only ever called after an
 * acquire, which is not). */
void thr_prochold_install(struct thr_gate_pool *gp, uint32_t hold);

/* Adds a reference on the process's slot in gp, which it holds (as
 * thr_prochold_rename() made it). Async-signal-safe. */
void thr_prochold_add_ref(struct thr_gate_pool *gp);

/* Drops a reference; the last gives the slot back to the pool.
 * Async-signal-safe. */
void thr_prochold_unref(struct thr_gate_pool *gp);

/* The engine's handle of the process's slot in gp into *ret_hold: false
 * when it holds none. Async-signal-safe. */
bool thr_prochold_get(const struct thr_gate_pool *gp, uint32_t *ret_hold);

/* The handle behind hold: the process slot's for THR_FD_PROCESS_HOLD,
 * else hold itself; THR_FD_PROCESS_HOLD when the process holds none. */
uint32_t thr_prochold_resolve(const struct thr_gate_pool *gp, uint32_t hold);

/* In a fork child, or in a new image after exec: the slot's handle is now
 * hold, this process's own record on it; the references stay (the same
 * descriptors name it). If the process held none, hold becomes its slot
 * with refs references (0: the caller adds them as it attaches). */
void thr_prochold_rename(struct thr_gate_pool *gp, uint32_t hold,
                         uint32_t refs);

#endif
