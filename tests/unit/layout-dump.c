/* layout-dump.c - prints the offset and size of every field of the pool
 * segment. Built once natively and once with -m32; test-layout.sh compares
 * the two, proving that 32- and 64-bit processes lay the segment out alike. */
#include <stddef.h>
#include <stdio.h>

#include "layout.h"

#define F(type, field) \
	printf("%s.%s %zu %zu\n", #type, #field, offsetof(struct type, field), \
	       sizeof(((struct type *)0)->field))

int main(void)
{
	F(thr_shm_proc, state); F(thr_shm_proc, pid); F(thr_shm_proc, start);
	F(thr_shm_proc, pidns); F(thr_shm_proc, gen); F(thr_shm_proc, image);
	F(thr_shm_slot, state); F(thr_shm_slot, refs); F(thr_shm_slot, taken_ns);
	F(thr_shm_slot, target);
	F(thr_shm_holder, state); F(thr_shm_holder, slot);
	F(thr_shm_holder, proc); F(thr_shm_holder, fd);
	F(thr_shm_holder, tid); F(thr_shm_holder, reserved);
	F(thr_shm_waiter, state); F(thr_shm_waiter, proc);
	F(thr_shm_waiter, tid); F(thr_shm_waiter, flags);
	F(thr_shm_waiter, ticket); F(thr_shm_waiter, since_ns);
	F(thr_shm_waiter, hold); F(thr_shm_waiter, fd); F(thr_shm_waiter, target);
	F(thr_shm_stats, granted); F(thr_shm_stats, timeouts);
	F(thr_shm_stats, refused); F(thr_shm_stats, over);
	F(thr_shm_stats, reclaimed); F(thr_shm_stats, handoffs);
	F(thr_shm_stats, wakes); F(thr_shm_stats, interrupted);
	F(thr_shm_stats, repairs); F(thr_shm_stats, wait_hist);
	F(thr_shm_stats, wait_ns);
	F(thr_shm_pool, magic); F(thr_shm_pool, version); F(thr_shm_pool, size);
	F(thr_shm_pool, nslots); F(thr_shm_pool, nholders);
	F(thr_shm_pool, nwaiters); F(thr_shm_pool, ticked_ns); F(thr_shm_pool, nprocs); F(thr_shm_pool, name);
	F(thr_shm_pool, lock); F(thr_shm_pool, seq); F(thr_shm_pool, deferred);
	F(thr_shm_pool, limit); F(thr_shm_pool, in_use); F(thr_shm_pool, waiting);
	F(thr_shm_pool, peak); F(thr_shm_pool, config_limit);
	F(thr_shm_pool, limit_source); F(thr_shm_pool, reserved);
	F(thr_shm_pool, next_ticket); F(thr_shm_pool, created_ns);
	F(thr_shm_pool, stats); F(thr_shm_pool, procs); F(thr_shm_pool, slots);
	F(thr_shm_pool, holders); F(thr_shm_pool, waiters);
	printf("sizeof %zu %zu %zu %zu %zu %zu\n", sizeof(struct thr_shm_pool),
	       sizeof(struct thr_shm_proc), sizeof(struct thr_shm_slot),
	       sizeof(struct thr_shm_holder), sizeof(struct thr_shm_waiter),
	       sizeof(struct thr_shm_stats));
	return 0;
}
