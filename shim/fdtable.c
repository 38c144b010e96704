/* fdtable.c - descriptor -> description map and the descriptions themselves,
 * in memory mapped at start-up. Every operation is a few atomics, so close()
 * of an untracked descriptor costs one load; never allocates or locks. */
#include "fdtable.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>

#define DYING THR_FD_DYING
/* refs value of a description made before its call returned: invisible to
 * thr_fdtable_each() and unref until thr_fdtable_publish(). */
#define PENDING UINT32_C(0xc0000000)

struct thr_fdtable thr_fdtable_;
struct thr_fd_desc thr_fdtable_descs[THR_FD_DESCS];
#define fds thr_fdtable_.fds
#define nfds thr_fdtable_.nfds
#define high thr_fdtable_.high
#define next_free thr_fdtable_.next_free
#define descs thr_fdtable_descs

int thr_fdtable_init(void)
{
	struct rlimit rl;
	rlim_t n = 1024;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		n = rl.rlim_max;
	if (n > (1u << 20) || n == RLIM_INFINITY)
		n = 1u << 20;
	if (n < 1024)
		n = 1024;
	/* Untouched pages cost nothing: only fds actually gated touch them. */
	void *p = mmap(NULL, n * sizeof(uint32_t), PROT_READ | PROT_WRITE,
	               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	fds = p;
	__atomic_store_n(&nfds, (int)n, __ATOMIC_RELEASE);
	return 0;
}

static thr_fd_entry make(const uint16_t *pool, const uint32_t *hold,
                         uint16_t n, bool socket, bool stream, uint32_t refs)
{
	uint32_t start = __atomic_load_n(&next_free, __ATOMIC_RELAXED) %
	                 THR_FD_DESCS;
	for (uint32_t i = start, k = 0; k < THR_FD_DESCS;
	     k++, i = i + 1 < THR_FD_DESCS ? i + 1 : 0) {
		uint32_t zero = 0;
		if (__atomic_load_n(&descs[i].refs, __ATOMIC_RELAXED) ||
		    !__atomic_compare_exchange_n(&descs[i].refs, &zero, refs, false,
		                                 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		descs[i].socket = socket;
		descs[i].stream = stream;
		descs[i].stream_fd = -1;
		descs[i].fd = -1;
		descs[i].ino = 0;
		for (uint32_t h = 0; h < n; h++) {
			descs[i].pool[h] = pool[h];
			descs[i].hold[h] = hold[h];
		}
		descs[i].n = n;
		__atomic_store_n(&next_free, (i + 1) % THR_FD_DESCS,
		                 __ATOMIC_RELAXED);
		return i + 1;
	}
	return 0;
}

thr_fd_entry thr_fdtable_new(const uint16_t *pool, const uint32_t *hold,
                             uint16_t n, bool socket, bool stream)
{
	return make(pool, hold, n, socket, stream, 1);
}

thr_fd_entry thr_fdtable_reserve(const uint16_t *pool,
                                 const uint32_t *hold, uint16_t n,
                                 bool socket, bool stream)
{
	return make(pool, hold, n, socket, stream, PENDING);
}

thr_fd_entry thr_fdtable_promote(int fd, thr_fd_entry e)
{
	uint16_t pool = thr_fdtable_direct_pool(e);
	uint32_t hold = thr_fdtable_direct_hold(e);
	thr_fd_entry d = make(&pool, &hold, 1, false, false, 2);
	if (!d || (unsigned)fd >= (unsigned)__atomic_load_n(&nfds,
	                                                   __ATOMIC_ACQUIRE))
		goto free_desc;
	descs[d - 1].fd = fd;
	if (__atomic_compare_exchange_n(&fds[fd], &e, d, false, __ATOMIC_ACQ_REL,
	                                __ATOMIC_RELAXED))
		return d;
free_desc:
	thr_fdtable_free(d);
	return 0;
}

void thr_fdtable_each(void (*fn)(thr_fd_entry d, void *ctx), void *ctx)
{
	for (uint32_t i = 0; i < THR_FD_DESCS; i++) {
		uint32_t r = __atomic_load_n(&descs[i].refs, __ATOMIC_ACQUIRE);
		if (r && !(r & DYING))
			fn(i + 1, ctx);
	}
}
