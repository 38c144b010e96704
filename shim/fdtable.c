/* fdtable.c - descriptor -> description map and the descriptions themselves,
 * in memory mapped at start-up. Every operation is a few atomics, so close()
 * of an untracked descriptor costs one load; never allocates or locks. */
#include "fdtable.h"

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/resource.h>

/* refs value while the last holder releases the slots, so that the entry is
 * not handed out again before its holds have been read. */
#define DYING UINT32_C(0x80000000)
/* refs value of a description made before its call returned: invisible to
 * thr_fdtable_each() and unref until thr_fdtable_publish(). */
#define PENDING UINT32_C(0xc0000000)

static uint32_t *fds;           /* fd -> description id, 0 for none */
static int nfds;
static int high;                /* one more than the highest fd attached */
static struct thr_fd_desc descs[THR_FD_DESCS];

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

uint32_t thr_fdtable_get(int fd)
{
	if ((unsigned)fd >= (unsigned)__atomic_load_n(&nfds, __ATOMIC_ACQUIRE))
		return 0;
	return __atomic_load_n(&fds[fd], __ATOMIC_ACQUIRE);
}

uint32_t thr_fdtable_detach(int fd)
{
	if ((unsigned)fd >= (unsigned)__atomic_load_n(&nfds, __ATOMIC_ACQUIRE))
		return 0;
	if (!__atomic_load_n(&fds[fd], __ATOMIC_RELAXED))
		return 0;
	return __atomic_exchange_n(&fds[fd], 0, __ATOMIC_ACQ_REL);
}

bool thr_fdtable_attach(int fd, uint32_t d)
{
	if ((unsigned)fd >= (unsigned)__atomic_load_n(&nfds, __ATOMIC_ACQUIRE))
		return false;
	__atomic_store_n(&fds[fd], d, __ATOMIC_RELEASE);
	int h = __atomic_load_n(&high, __ATOMIC_RELAXED);
	while (fd >= h && !__atomic_compare_exchange_n(&high, &h, fd + 1, true,
	                                               __ATOMIC_RELAXED,
	                                               __ATOMIC_RELAXED))
		;
	return true;
}

/* Where to start looking for a free description: a hint, kept low so that
 * the few descriptions in use stay in the same cache lines. */
static uint32_t next_free;

static uint32_t make(const uint16_t *pool, const uint32_t *hold, uint16_t n,
                     bool socket, bool stream, uint32_t refs)
{
	uint32_t start = __atomic_load_n(&next_free, __ATOMIC_RELAXED);
	for (uint32_t k = 0; k < THR_FD_DESCS; k++) {
		uint32_t i = (start + k) % THR_FD_DESCS, zero = 0;
		if (__atomic_load_n(&descs[i].refs, __ATOMIC_RELAXED) ||
		    !__atomic_compare_exchange_n(&descs[i].refs, &zero, refs, false,
		                                 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
			continue;
		descs[i].socket = socket;
		descs[i].stream = stream;
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

uint32_t thr_fdtable_new(const uint16_t *pool, const uint32_t *hold,
                         uint16_t n, bool socket, bool stream)
{
	return make(pool, hold, n, socket, stream, 1);
}

uint32_t thr_fdtable_reserve(const uint16_t *pool, const uint32_t *hold,
                             uint16_t n, bool socket, bool stream)
{
	return make(pool, hold, n, socket, stream, PENDING);
}

void thr_fdtable_publish(uint32_t d)
{
	if (d && d <= THR_FD_DESCS)
		__atomic_store_n(&descs[d - 1].refs, 1, __ATOMIC_RELEASE);
}

struct thr_fd_desc *thr_fdtable_desc(uint32_t d)
{
	return d && d <= THR_FD_DESCS ? &descs[d - 1] : NULL;
}

void thr_fdtable_ref(uint32_t d)
{
	if (d && d <= THR_FD_DESCS)
		__atomic_add_fetch(&descs[d - 1].refs, 1, __ATOMIC_ACQ_REL);
}

bool thr_fdtable_unref(uint32_t d)
{
	if (!d || d > THR_FD_DESCS)
		return false;
	uint32_t *refs = &descs[d - 1].refs, r = __atomic_load_n(refs,
	                                                         __ATOMIC_ACQUIRE);
	uint32_t next;
	do {
		if (r == 0 || (r & DYING))
			return false;
		next = r == 1 ? DYING : r - 1;
	} while (!__atomic_compare_exchange_n(refs, &r, next, false,
	                                      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE));
	return next == DYING;
}

void thr_fdtable_free(uint32_t d)
{
	if (d && d <= THR_FD_DESCS) {
		descs[d - 1].n = 0;
		__atomic_store_n(&descs[d - 1].refs, 0, __ATOMIC_RELEASE);
		if (d - 1 < __atomic_load_n(&next_free, __ATOMIC_RELAXED))
			__atomic_store_n(&next_free, d - 1, __ATOMIC_RELAXED);
	}
}

int thr_fdtable_high(void)
{
	return __atomic_load_n(&high, __ATOMIC_ACQUIRE);
}

void thr_fdtable_each(void (*fn)(uint32_t d, void *ctx), void *ctx)
{
	for (uint32_t i = 0; i < THR_FD_DESCS; i++) {
		uint32_t r = __atomic_load_n(&descs[i].refs, __ATOMIC_ACQUIRE);
		if (r && !(r & DYING))
			fn(i + 1, ctx);
	}
}
