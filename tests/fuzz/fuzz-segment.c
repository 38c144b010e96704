/* fuzz-segment.c - libFuzzer target: the checks a pool's segment passes
 * before it is used (shim/engine/segment.c), and the observer's read of it
 * (thr_pool_snapshot, as throttlectl status reads any segment it finds).
 * The input makes a file in a private folder, opened with thr_pool_open()
 * there, read-only or not; whatever the file holds, opening must refuse it
 * with a sentence or give a pool that can be read and closed.
 *
 * Input: one byte of flags, then
 *   RAW set:   the file's bytes as they are (sizes, truncation);
 *   otherwise: patches, each a 3-byte offset (little-endian, modulo the
 *              segment's size), a length byte and that many bytes, over a
 *              segment of the right size that is zeros, or (TEMPLATE) a
 *              fresh pool's, so that every table can be reached. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "layout.h"
#include "pool.h"

enum {
	READONLY = 1,
	RAW = 2,
	TEMPLATE = 4,
};

#define SIZE sizeof(struct thr_shm_pool)

static const char *dir;
static char path[4200];
static unsigned char *fresh, *image;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct thr_pool_opts o = { .limit = 4, .create = true };
	struct thr_pool *pool;
	char err[THR_POOL_ERR_LEN];
	int fd;

	dir = fuzz_tmpdir("segment");
	o.dir = dir;
	snprintf(path, sizeof(path), "%s/throttle.fz", dir);
	fresh = malloc(SIZE);
	image = malloc(SIZE);
	if (!fresh || !image || thr_pool_open("fz", &o, &pool, err) < 0) {
		fprintf(stderr, "fuzz-segment: cannot make a template: %s\n",
		        err);
		abort();
	}
	thr_pool_close(pool);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, fresh, SIZE) != (ssize_t)SIZE)
		abort();
	close(fd);
	return 0;
}

/* The segment the patches make, into image. */
static void patch(const uint8_t *p, size_t size, bool template)
{
	memcpy(image, template ? fresh : memset(image, 0, SIZE), SIZE);
	while (size >= 4) {
		size_t at = (p[0] | (size_t)p[1] << 8 | (size_t)p[2] << 16) % SIZE;
		size_t len = p[3];

		p += 4;
		size -= 4;
		if (len > size)
			len = size;
		if (len > SIZE - at)
			len = SIZE - at;
		memcpy(image + at, p, len);
		p += len;
		size -= len;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct thr_pool_opts o = { .limit = 4, .dir = dir };
	struct thr_pool_snapshot snap;
	char err[THR_POOL_ERR_LEN];
	struct thr_pool *pool;
	int rc;

	if (size < 1)
		return 0;
	o.readonly = data[0] & READONLY;
	if (data[0] & RAW) {
		fuzz_write(path, data + 1, size - 1);
	} else {
		patch(data + 1, size - 1, data[0] & TEMPLATE);
		fuzz_write(path, image, SIZE);
	}
	rc = thr_pool_open("fz", &o, &pool, err);
	if (rc < 0) {
		FUZZ_CHECK(err[0] != '\0' && strlen(err) < THR_POOL_ERR_LEN);
		return 0;
	}
	if (thr_pool_snapshot(pool, &snap) == 0) {
		FUZZ_CHECK(snap.nholders <= THR_HOLDERS);
		FUZZ_CHECK(snap.nwaiters <= THR_WAITERS);
		thr_pool_snapshot_free(&snap);
	}
	thr_pool_close(pool);
	return 0;
}
