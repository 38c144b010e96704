/* prochold.c - one slot per process in a pool of hold = process ("at most
 * 4 processes working on the NFS mount"), counted by the descriptors that
 * share it. One 64-bit word per pool: the hold handle plus one in the low
 * half (0: none), the references in the high half; a release happens when
 * the count goes to zero, on the thread that took it there. Reached from
 * close(): no allocation, no locks, errno kept (the engine keeps it). */
#include "prochold.h"

#include "fdtable.h"

static uint64_t word_of(uint32_t hold, uint32_t refs)
{
	return (uint64_t)refs << 32 | (uint64_t)(hold + 1);
}

static bool has_hold(uint64_t w)
{
	return (uint32_t)w != 0;
}

static uint32_t hold_in(uint64_t w)
{
	return (uint32_t)w - 1;
}

static uint32_t refs_in(uint64_t w)
{
	return (uint32_t)(w >> 32);
}

bool thr_prochold_ref(struct thr_gate_pool *gp)
{
	uint64_t w = __atomic_load_n(&gp->process, __ATOMIC_ACQUIRE);
	while (has_hold(w) && refs_in(w)) {
		if (__atomic_compare_exchange_n(&gp->process, &w,
		                                w + ((uint64_t)1 << 32), true,
		                                __ATOMIC_ACQ_REL,
		                                __ATOMIC_ACQUIRE))
			return true;
	}
	return false;
}

void thr_prochold_install(struct thr_gate_pool *gp, uint32_t hold)
{
	for (;;) {
		uint64_t none = 0;
		if (__atomic_compare_exchange_n(&gp->process, &none,
		                                word_of(hold, 1), false,
		                                __ATOMIC_ACQ_REL,
		                                __ATOMIC_ACQUIRE))
			return;
		if (thr_prochold_ref(gp)) {
			thr_pool_release(gp->pool, hold);
			return;
		}
	}
}

void thr_prochold_add_ref(struct thr_gate_pool *gp)
{
	__atomic_add_fetch(&gp->process, (uint64_t)1 << 32, __ATOMIC_ACQ_REL);
}

void thr_prochold_unref(struct thr_gate_pool *gp)
{
	uint64_t w = __atomic_load_n(&gp->process, __ATOMIC_ACQUIRE), next;
	do {
		if (!has_hold(w) || !refs_in(w))
			return;
		next = refs_in(w) == 1 ? 0 : w - ((uint64_t)1 << 32);
	} while (!__atomic_compare_exchange_n(&gp->process, &w, next, false,
	                                      __ATOMIC_ACQ_REL,
	                                      __ATOMIC_ACQUIRE));
	if (!next && gp->pool)
		thr_pool_release(gp->pool, hold_in(w));
}

bool thr_prochold_get(const struct thr_gate_pool *gp, uint32_t *ret_hold)
{
	uint64_t w = __atomic_load_n(&gp->process, __ATOMIC_ACQUIRE);
	if (!has_hold(w))
		return false;
	*ret_hold = hold_in(w);
	return true;
}

uint32_t thr_prochold_resolve(const struct thr_gate_pool *gp, uint32_t hold)
{
	uint32_t h = THR_FD_PROCESS_HOLD;
	if (hold != THR_FD_PROCESS_HOLD)
		return hold;
	thr_prochold_get(gp, &h);
	return h;
}

void thr_prochold_rename(struct thr_gate_pool *gp, uint32_t hold,
                         uint32_t refs)
{
	uint64_t w = __atomic_load_n(&gp->process, __ATOMIC_ACQUIRE);
	uint64_t next;
	do
		next = word_of(hold, has_hold(w) ? refs_in(w) : refs);
	while (!__atomic_compare_exchange_n(&gp->process, &w, next, false,
	                                    __ATOMIC_ACQ_REL,
	                                    __ATOMIC_ACQUIRE));
}
