/* segment.c - the pool's shared file: race-free creation, refusal of foreign,
 * foreign-owned, truncated or corrupted segments. Never maps a file it has
 * not checked, and never leaves a temporary file behind. */
#define _GNU_SOURCE
#include "segment.h"

#include "clock.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fail(char *err, int e, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, int e, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, THR_POOL_ERR_LEN, fmt, ap);
		va_end(ap);
	}
	return e;
}

int thr_pool_segment_path(const char *name, const char *dir, char *out,
                          size_t len)
{
	int n = snprintf(out, len, "%s/" THR_POOL_SEGMENT_PREFIX "%s",
	                 dir ? dir : THR_POOL_DIR, name);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The refusal of a segment of layout version, read mapped or not. */
static int other_layout(char *err, const char *name, uint32_t version)
{
	return fail(err, -EPROTO, "pool '%s': segment has layout version %u, "
	            "this library speaks %u", name, version,
	            THR_LAYOUT_VERSION);
}

int thr_pool__segment_check(const struct thr_shm_pool *shm, const char *name,
                            char *err)
{
	uint64_t magic = __atomic_load_n(&shm->magic, __ATOMIC_ACQUIRE);
	if (magic != THR_LAYOUT_MAGIC)
		return fail(err, -EBADMSG, "pool '%s': segment is not a "
		            "libthrottle pool (bad magic)", name);
	if (shm->version != THR_LAYOUT_VERSION)
		return other_layout(err, name, shm->version);
	if (shm->size != sizeof(*shm) || shm->nslots != THR_SLOTS ||
	    shm->nholders != THR_HOLDERS || shm->nwaiters != THR_WAITERS ||
	    shm->nprocs != THR_PROCS)
		return fail(err, -EBADMSG, "pool '%s': segment header is "
		            "corrupted (sizes do not match)", name);
	if (strncmp(shm->name, name, THR_NAME_LEN) != 0)
		return fail(err, -EBADMSG, "pool '%s': segment header names "
		            "another pool", name);
	return 0;
}

static void init_header(struct thr_shm_pool *shm, const char *name,
                        const struct thr_pool_opts *opts)
{
	shm->version = THR_LAYOUT_VERSION;
	shm->size = sizeof(*shm);
	shm->nslots = THR_SLOTS;
	shm->nholders = THR_HOLDERS;
	shm->nwaiters = THR_WAITERS;
	shm->nprocs = THR_PROCS;
	snprintf(shm->name, sizeof(shm->name), "%s", name);
	shm->limit = opts->limit;
	if (opts->from_config) {
		shm->config_limit = opts->limit;
		shm->limit_source = THR_POOL_LIMIT_CONFIG;
	}
	shm->created_ns = thr_clock_ns(CLOCK_REALTIME);
	/* Published last, though link() already orders it for other openers. */
	__atomic_store_n(&shm->magic, THR_LAYOUT_MAGIC, __ATOMIC_RELEASE);
}

/* Is the file behind fd a pool segment of another layout version (whose
 * size, with its capacities, is another too)? Read, not mapped. */
static bool other_version(int fd, uint32_t *ret_version)
{
	struct {
		uint64_t magic;
		uint32_t version;
	} head;
	if (pread(fd, &head, sizeof(head), 0) != (ssize_t)sizeof(head) ||
	    head.magic != THR_LAYOUT_MAGIC || head.version == THR_LAYOUT_VERSION)
		return false;
	*ret_version = head.version;
	return true;
}

/* Checks the file behind fd before it is mapped: mapping a short file would
 * turn a later access into SIGBUS in the host program. */
static int check_file(int fd, const char *path, const char *name,
                      const struct thr_pool_opts *opts, char *err)
{
	struct stat st;
	if (fstat(fd, &st) < 0)
		return fail(err, -errno, "pool '%s': cannot stat %s: %s", name,
		            path, strerror(errno));
	uid_t want = opts->has_owner ? opts->owner : geteuid();
	if (opts->readonly)
		want = st.st_uid; /* an observer trusts nothing it reads anyway */
	if (!S_ISREG(st.st_mode))
		return fail(err, -EBADMSG, "pool '%s': %s is not a regular "
		            "file", name, path);
	if (st.st_uid != want)
		return fail(err, -EPERM, "pool '%s': %s is owned by uid %u, "
		            "not %u: refusing a segment another user could have "
		            "planted", name, path, (unsigned)st.st_uid,
		            (unsigned)want);
	mode_t asked = opts->mode ? opts->mode : 0600;
	if (!opts->readonly && (st.st_mode & 022 & ~asked))
		return fail(err, -EPERM, "pool '%s': %s has mode %03o, which "
		            "lets others write it, and the config asks %03o: "
		            "refusing a segment others could scribble on", name,
		            path, (unsigned)(st.st_mode & 0777), (unsigned)asked);
	uint32_t version;
	if (st.st_size != (off_t)sizeof(struct thr_shm_pool) &&
	    other_version(fd, &version))
		return other_layout(err, name, version);
	if (st.st_size != (off_t)sizeof(struct thr_shm_pool))
		return fail(err, -EBADMSG, "pool '%s': %s is truncated or "
		            "foreign (%lld bytes, expected %zu)", name, path,
		            (long long)st.st_size, sizeof(struct thr_shm_pool));
	return 0;
}

static int map_fd(int fd, bool readonly, struct thr_shm_pool **ret)
{
	void *p = mmap(NULL, sizeof(struct thr_shm_pool),
	               readonly ? PROT_READ : PROT_READ | PROT_WRITE,
	               MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*ret = p;
	return 0;
}

/* Sizes the segment with its pages reserved. ftruncate alone reserves
 * nothing on tmpfs: a page first touched once /dev/shm is full raises
 * SIGBUS in whichever program touches it, and kills it. posix_fallocate
 * takes the room now, or says ENOSPC while the pool can still be given up
 * cleanly. Returns 0 or -errno. */
static int reserve(int fd)
{
	int e = posix_fallocate(fd, 0, sizeof(struct thr_shm_pool));
	if (e == EOPNOTSUPP || e == ENOSYS) /* not tmpfs: sparse will do */
		e = ftruncate(fd, sizeof(struct thr_shm_pool)) < 0 ? errno : 0;
	return -e;
}

static int attach(const char *path, const char *name,
                  const struct thr_pool_opts *opts,
                  struct thr_shm_pool **ret, char *err)
{
	int fd = open(path, (opts->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC |
	              O_NOFOLLOW);
	if (fd < 0)
		return fail(err, -errno, "pool '%s': cannot open %s: %s", name,
		            path, strerror(errno));
	int r = check_file(fd, path, name, opts, err);
	/* A segment made sparse (by an older library, or on a file system
	 * that could not reserve) gets its pages now, or is refused: a hole
	 * touched later, with /dev/shm full, would be SIGBUS. */
	if (r == 0 && !opts->readonly && (r = reserve(fd)) < 0)
		fail(err, r, "pool '%s': cannot reserve room for %s: %s", name,
		     path, strerror(-r));
	if (r == 0 && (r = map_fd(fd, opts->readonly, ret)) < 0)
		fail(err, r, "pool '%s': cannot map %s: %s", name, path,
		     strerror(-r));
	close(fd);
	if (r < 0)
		return r;
	r = thr_pool__segment_check(*ret, name, err);
	if (r < 0) {
		thr_pool__segment_unmap(*ret);
		*ret = NULL;
	}
	return r;
}

/* A name nobody can guess for a temporary file, where the folder cannot
 * make one without a name (O_TMPFILE): one another user could foresee is
 * one he could take first, and stop the pool being made. */
static void tmp_name(const char *dir, const char *name, char *tmp, size_t len)
{
	uint64_t r[2] = { 0, 0 };
	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		r[0] = thr_clock_ns(CLOCK_MONOTONIC);
		r[1] = (uint64_t)getpid() << 32 ^ (uint64_t)(uintptr_t)tmp;
	}
	snprintf(tmp, len, "%s/." THR_POOL_SEGMENT_PREFIX "%s.%016llx%016llx",
	         dir, name,
	         (unsigned long long)r[0], (unsigned long long)r[1]);
}

/* The new segment's file, sized, with its pages reserved: without a name
 * (O_TMPFILE; *tmp is then "") where the folder allows, else under an
 * unguessable one in tmp. Returns the descriptor or -errno. */
static int make_tmp(const char *dir, const char *name,
                    const struct thr_pool_opts *opts, char *tmp, size_t len)
{
	mode_t mode = opts->mode ? opts->mode : 0600;
	const char *d = dir ? dir : THR_POOL_DIR;
	*tmp = '\0';
	/* A nameless file can only be named through /proc. */
	int fd = access("/proc/self/fd", X_OK) == 0
	         ? open(d, O_TMPFILE | O_RDWR | O_CLOEXEC, mode) : -1;
	for (int tries = 0; fd < 0 && tries < 8; tries++) {
		tmp_name(d, name, tmp, len);
		fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		          mode);
	}
	if (fd < 0)
		return -errno;
	/* The umask must not narrow a configured group mode. */
	int e = 0;
	if (fchmod(fd, mode) < 0 ||
	    (opts->has_gid && fchown(fd, (uid_t)-1, opts->gid) < 0))
		e = -errno;
	else
		e = reserve(fd);
	if (e < 0) {
		close(fd);
		if (*tmp)
			unlink(tmp);
		return e;
	}
	return fd;
}

/* Gives the built segment behind fd (named tmp, or nameless) its name:
 * link() never replaces a segment somebody else linked first. Returns 0,
 * -EEXIST, or -errno. */
static int publish(int fd, const char *tmp, const char *path)
{
	char self[64];
	if (*tmp)
		return link(tmp, path) < 0 ? -errno : 0;
	snprintf(self, sizeof(self), "/proc/self/fd/%d", fd);
	return linkat(AT_FDCWD, self, AT_FDCWD, path, AT_SYMLINK_FOLLOW) < 0
	       ? -errno : 0;
}

/* Builds a new segment under a temporary name and links it into place.
 * Returns 0, -EEXIST if somebody else's won the race, or -errno. */
static int create(const char *path, const char *name,
                  const struct thr_pool_opts *opts,
                  struct thr_shm_pool **ret, char *err)
{
	char tmp[512];
	int fd = make_tmp(opts->dir, name, opts, tmp, sizeof(tmp));
	if (fd < 0)
		return fail(err, fd, "pool '%s': cannot create a segment in "
		            "%s: %s", name, opts->dir ? opts->dir : THR_POOL_DIR,
		            strerror(-fd));
	struct thr_shm_pool *shm = NULL;
	int r = map_fd(fd, false, &shm);
	if (r < 0)
		goto out_close;
	init_header(shm, name, opts);
	if ((r = publish(fd, tmp, path)) < 0) {
		thr_pool__segment_unmap(shm);
		goto out_close;
	}
	*ret = shm;
out_close:
	close(fd);
	if (*tmp)
		unlink(tmp);
	if (r < 0 && r != -EEXIST)
		fail(err, r, "pool '%s': cannot create %s: %s", name, path,
		     strerror(-r));
	return r;
}

int thr_pool__segment_map(const char *name, const struct thr_pool_opts *opts,
                          struct thr_shm_pool **ret_shm, char *err)
{
	char path[512];
	if (thr_pool_segment_path(name, opts->dir, path, sizeof(path)) < 0)
		return fail(err, -ENAMETOOLONG, "pool '%s': path too long",
		            name);
	for (int tries = 0; tries < 3; tries++) {
		int r = attach(path, name, opts, ret_shm, err);
		if (r != -ENOENT)
			return r;
		if (!opts->create || opts->readonly)
			return r;
		r = create(path, name, opts, ret_shm, err);
		if (r != -EEXIST)
			return r;
	}
	return fail(err, -EAGAIN, "pool '%s': %s keeps appearing and "
	            "vanishing", name, path);
}

void thr_pool__segment_unmap(struct thr_shm_pool *shm)
{
	if (shm)
		munmap(shm, sizeof(*shm));
}
