/* source.h - the one reader of config files, the main file and each file it
 * includes: a path in, its whole text out, or a reason. Whatever the path
 * names (a FIFO, a terminal, /dev/zero, /dev/fd/0, a sparse file of a
 * terabyte), it never blocks, never reads from anything but a regular file
 * and never reads more than THR_CONFIG_FILE_MAX bytes; nor a file another
 * user could have written. */
#ifndef THR_SOURCE_H
#define THR_SOURCE_H

#include <stddef.h>
#include <sys/types.h>

/* What one load has read so far, against THR_CONFIG_FILES_MAX and
 * THR_CONFIG_BYTES_MAX: includes can repeat a file or fan out (eight files
 * each including the next ten times are 10^8 reads). */
struct thr_source_budget {
	unsigned files;
	size_t bytes;
};

/* One file read whole. */
struct thr_source {
	char *text;             /* malloc'd, NUL-terminated (the file may hold
	                           NULs of its own: len counts them) */
	size_t len;
	dev_t dev;              /* what it is, for include cycles */
	ino_t ino;
};

/* Reads the regular file path. It is looked at with stat() first, so that
 * anything else is refused without being opened (opening a FIFO or a
 * device can block, or do something); then opened O_RDONLY | O_NONBLOCK |
 * O_NOCTTY | O_CLOEXEC and checked again with fstat(), in case the path
 * changed in between. Returns 0 and fills *ret (free ret->text), or a
 * negative errno with a reason in why (whylen bytes; it does not name the
 * path): -EISDIR a folder; -EINVAL not a regular file, or one that changed
 * while it was opened; -EPERM another user could have written it: it, or
 * the folder that holds it (as named, and as found when a symlink leads
 * elsewhere), is owned by someone other than root and the user (the
 * effective user under secure execution, never the real one), or is
 * writable by all (a folder may be, with the sticky bit, as /tmp is);
 * -EFBIG larger than THR_CONFIG_FILE_MAX; -E2BIG the
 * budget would be spent (the file is counted in it on success); -ENOMEM;
 * -ENOENT, -EACCES ... from stat(), open() or read(). Thread-safe; not
 * async-signal-safe (allocates). */
int thr_source_read(const char *path, struct thr_source_budget *budget,
                    struct thr_source *ret, char *why, size_t whylen);

#endif
