/* hold.c - what a holder record is for, past acquire and release: the
 * target and descriptor it names, co-holders (a fork or spawned child that
 * shares a slot), and the records a process holds, for the shim after an
 * exec. Reads without the lock never trust an index before bounds-checking
 * it. */
#include "poolint.h"

#include "hot.h"

#include <errno.h>
#include <string.h>

int thr_pool_target(struct thr_pool *pool, uint32_t hold, char *buf,
                    size_t len)
{
	if (!len || !thr_pool__holds(pool, hold))
		return -ESTALE;
	const char *t = pool->shm->slots[thr_pool__slot_of(hold)].target;
	size_t n = 0;
	while (n + 1 < len && n < THR_TARGET_LEN - 1 && t[n])
		n++;
	memcpy(buf, t, n);
	buf[n] = '\0';
	return (int)n;
}

/* Under the lock: the record of process id on the slot of hold, created
 * naming fd if absent, provided hold's own record still holds that slot.
 * tid: the thread it is for, or 0 for any of id's (a co-holder's, made by
 * its parent); a record found with 0 takes a tid given. */
static int join_slot(struct thr_pool *pool, uint32_t hold,
                     const struct thr_proc_id *id, int fd, uint32_t tid,
                     uint32_t *ret_hold, struct thr_wakes *wakes)
{
	struct thr_shm_pool *shm = pool->shm;
	uint32_t s = thr_pool__slot_of(hold);
	if (s >= THR_SLOTS)
		return -ESTALE;
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		struct thr_shm_holder *h = &shm->holders[i];
		if (thr_load(&h->state) == THR_HOLDER_LIVE && h->slot == s &&
		    thr_pool__is_proc(shm, h->proc, id)) {
			if (!h->tid)
				h->tid = tid;
			*ret_hold = thr_pool__hold_of(i, s);
			return 0;
		}
	}
	if (!thr_pool__live_holder(shm, hold))
		return -ESTALE;
	uint32_t proc = thr_pool__entry_of(pool, id, wakes);
	if (proc == THR_NONE)
		return -ENOSPC;
	uint32_t h = thr_pool__new_holder(pool, s, proc, fd, tid);
	if (h == THR_NONE)
		return -ENOSPC;
	shm->slots[s].refs++;
	thr_store(&shm->holders[h].state, THR_HOLDER_LIVE);
	*ret_hold = thr_pool__hold_of(h, s);
	return 0;
}

static int join(struct thr_pool *pool, uint32_t hold,
                const struct thr_proc_id *id, int fd, uint32_t tid,
                uint32_t *ret_hold)
{
	struct thr_wakes wakes = { 0 };
	int r = thr_pool__lock(pool);
	if (r < 0)
		return r;
	r = join_slot(pool, hold, id, fd, tid, ret_hold, &wakes);
	thr_pool__unlock(pool, &wakes);
	return r;
}

int thr_pool_cohold(struct thr_pool *pool, uint32_t hold, pid_t pid, int fd,
                    uint32_t *ret_hold)
{
	int saved = errno;
	struct thr_proc_id id;
	int r = thr_pool__register(pool);
	if (r == 0)
		r = thr_pool__holds(pool, hold) ? thr_proc_identify(pid, &id)
		                               : -ESTALE;
	if (r == 0)
		r = join(pool, hold, &id, fd, 0, ret_hold);
	errno = saved;
	return r;
}

int thr_pool_adopt(struct thr_pool *pool, uint32_t hold, int fd,
                   uint32_t *ret_hold)
{
	int saved = errno;
	int r = thr_pool__register(pool);
	if (r == 0)
		r = join(pool, hold, &pool->id, fd, (uint32_t)thr_proc_tid(),
		         ret_hold);
	errno = saved;
	return r;
}

/* Under the lock: is record hold live, on its slot, and process pid's? */
static bool holder_is_pids(const struct thr_shm_pool *shm, uint32_t hold,
                           pid_t pid)
{
	const struct thr_shm_holder *h =
		thr_pool__slot_of(hold) < THR_SLOTS
		        ? thr_pool__live_holder(shm, hold) : NULL;
	return h && h->proc < THR_PROCS &&
	       shm->procs[h->proc].pid == (uint32_t)pid;
}

int thr_pool_uncohold(struct thr_pool *pool, uint32_t hold, pid_t pid)
{
	int saved = errno;
	struct thr_wakes wakes = { 0 };
	int r = thr_pool__register(pool);
	if (r == 0 && (r = thr_pool__lock(pool)) == 0) {
		r = holder_is_pids(pool->shm, hold, pid)
		        ? thr_pool__drop_locked(pool, thr_pool__holder_of(hold),
		                                &wakes)
		        : -ESTALE;
		thr_pool__unlock(pool, &wakes);
	}
	errno = saved;
	return r;
}

/* ---- the shim's bookkeeping ------------------------------------------------ */

/* Called right after the acquire that made hold, in the same process: the
 * record's own fields are the whole check. */
THR_HOT int thr_pool_set_fd(struct thr_pool *pool, uint32_t hold, int fd)
{
	if (thr_pool__slot_of(hold) >= THR_SLOTS ||
	    !thr_pool__holder_is_ours(pool, hold))
		return -ESTALE;
	pool->shm->holders[thr_pool__holder_of(hold)].fd = fd;
	return 0;
}

/* The live records of process id: up to max handles and descriptors. */
static size_t records_of(const struct thr_shm_pool *shm,
                         const struct thr_proc_id *id, uint32_t *ret_holds,
                         int *ret_fds, size_t max)
{
	size_t n = 0;
	for (uint32_t i = 0; i < THR_HOLDERS && n < max; i++) {
		const struct thr_shm_holder *h = &shm->holders[i];
		if (thr_load(&h->state) != THR_HOLDER_LIVE ||
		    h->slot >= THR_SLOTS ||
		    !thr_pool__is_proc(shm, h->proc, id))
			continue;
		ret_holds[n] = thr_pool__hold_of(i, h->slot);
		ret_fds[n++] = h->fd;
	}
	return n;
}

int thr_pool_held(struct thr_pool *pool, uint32_t *ret_holds, int *ret_fds,
                  size_t max)
{
	int saved = errno;
	struct thr_proc_id id;
	size_t n = 0;
	/* Most processes hold nothing yet: look before registering. */
	int r = thr_proc_self(&id);
	if (r == 0)
		n = records_of(pool->shm, &id, ret_holds, ret_fds, max);
	if (n > 0)
		r = thr_pool__register(pool);
	errno = saved;
	return r < 0 ? r : (int)n;
}

/* Does any live record belong to a process entry with this pid? A look at
 * the tables, before paying for a /proc read to tell who pid is. */
static bool pid_holds(const struct thr_shm_pool *shm, pid_t pid)
{
	for (uint32_t i = 0; i < THR_HOLDERS; i++) {
		const struct thr_shm_holder *h = &shm->holders[i];
		if (thr_load(&h->state) == THR_HOLDER_LIVE && h->proc < THR_PROCS &&
		    shm->procs[h->proc].pid == (uint32_t)pid)
			return true;
	}
	return false;
}

int thr_pool_held_by(struct thr_pool *pool, pid_t pid, uint32_t *ret_holds,
                     int *ret_fds, size_t max)
{
	if (!pid_holds(pool->shm, pid))
		return 0; /* most parents hold nothing */
	int saved = errno;
	struct thr_proc_id id;
	int r = thr_proc_identify(pid, &id);
	if (r == 0)
		r = (int)records_of(pool->shm, &id, ret_holds, ret_fds, max);
	errno = saved;
	return r;
}
