/* source.c - reads config files, and only regular ones (see source.h). It
 * runs inside other people's programs at start-up, so it must never block
 * on, consume or trigger anything: no FIFO, terminal, socket or device is
 * ever opened, let alone read, and a file is read once, with a bound. Nor
 * may it read a file another user could have written, as ssh refuses such
 * a config. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "source.h"

static int refuse(int rc, char *why, size_t whylen, const char *reason)
{
	snprintf(why, whylen, "%s", reason);
	return rc;
}

static int too_big(char *why, size_t whylen)
{
	snprintf(why, whylen, "%s (more than %d bytes)", strerror(EFBIG),
	         THR_CONFIG_FILE_MAX);
	return -EFBIG;
}

/* What stat() or fstat() found, as a refusal when it is no config file. */
static int check_kind(const struct stat *st, char *why, size_t whylen)
{
	if (S_ISDIR(st->st_mode))
		return refuse(-EISDIR, why, whylen, strerror(EISDIR));
	if (!S_ISREG(st->st_mode))
		return refuse(-EINVAL, why, whylen, "not a regular file");
	if (st->st_size > THR_CONFIG_FILE_MAX)
		return too_big(why, whylen);
	return 0;
}

/* Reads fd to its end into a new NUL-terminated buffer, at most
 * THR_CONFIG_FILE_MAX bytes: a file may have grown since fstat(), and
 * /proc's files say they are empty. */
static int slurp(int fd, size_t hint, char **ret, size_t *ret_len)
{
	const size_t most = THR_CONFIG_FILE_MAX + 2; /* one byte too many,
	                                                and the NUL */
	size_t len = 0, cap = hint + 2 < 4096 ? 4096 : hint + 2;
	char *buf;

	if (cap > most)
		cap = most;
	buf = malloc(cap);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (len + 1 == cap && cap < most) {
			char *bigger;

			cap = cap * 2 < most ? cap * 2 : most;
			bigger = realloc(buf, cap);
			if (!bigger) {
				free(buf);
				return -ENOMEM;
			}
			buf = bigger;
		}
		if (len + 1 == cap) {
			free(buf);
			return -EFBIG;
		}
		n = read(fd, buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* Who besides root may own a config file and its folder: the user running
 * the program, or under secure execution (setuid, setgid) the user it runs
 * as, never the one who started it. */
static uid_t trusted_uid(void)
{
	return getauxval(AT_SECURE) ? geteuid() : getuid();
}

/* Refuses st, the file itself (folder NULL) or the folder holding it,
 * when another user could have written or replaced the file: owned by
 * neither root nor the trusted user, or writable by all (a folder with
 * the sticky bit is fine: nobody may replace another's file in it). */
static int check_owner(const struct stat *st, const char *folder, char *why,
                       size_t whylen)
{
	const char *its = folder ? "its folder " : "";
	const char *is = folder ? " is " : "";
	uid_t me = trusted_uid();
	char owners[32] = "root";

	if (me != 0)
		snprintf(owners, sizeof(owners), "uid %u or root", (unsigned)me);
	if (st->st_uid != 0 && st->st_uid != me) {
		snprintf(why, whylen, "%s%s%sowned by uid %u, not by %s: "
		         "refusing a file another user could have written",
		         its, folder ? folder : "", is, (unsigned)st->st_uid,
		         owners);
		return -EPERM;
	}
	if ((st->st_mode & S_IWOTH) && !(folder && (st->st_mode & S_ISVTX))) {
		snprintf(why, whylen, "%s%s%swritable by every user%s: "
		         "refusing a file anyone could have %s", its,
		         folder ? folder : "", is, folder ? " and not sticky" : "",
		         folder ? "replaced" : "written");
		return -EPERM;
	}
	return 0;
}

/* check_owner() for the folder holding path (its first len bytes), whose
 * name is made in buf (PATH_MAX bytes; path may be buf itself). */
static int check_folder(char *buf, const char *path, size_t len, char *why,
                        size_t whylen)
{
	struct stat st;

	if (len >= PATH_MAX)
		return refuse(-ENAMETOOLONG, why, whylen,
		              strerror(ENAMETOOLONG));
	if (len == 0) {
		len = 1;
		buf[0] = path[0] == '/' ? '/' : '.';
	} else if (buf != path) {
		memcpy(buf, path, len);
	}
	buf[len] = '\0';
	if (stat(buf, &st) < 0)
		return refuse(-errno, why, whylen, strerror(errno));
	return check_owner(&st, buf, why, whylen);
}

/* The length of the folder part of path: up to its last '/'. */
static size_t folder_len(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? (size_t)(slash - path) : 0;
}

/* The file open on fd, as named (path) and as found (where /proc says fd
 * is, when a symlink led elsewhere), with their folders: may another user
 * have written them? One PATH_MAX buffer: the shim may load its config on
 * a thread with a small stack. */
static int check_trust(int fd, const struct stat *st, const char *path,
                       char *why, size_t whylen)
{
	char link[64], buf[PATH_MAX];
	ssize_t n;
	int rc;

	rc = check_owner(st, NULL, why, whylen);
	if (rc == 0)
		rc = check_folder(buf, path, folder_len(path), why, whylen);
	if (rc < 0)
		return rc;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0 || (size_t)n >= sizeof(buf) - 1 || buf[0] != '/')
		return 0;   /* no /proc: the folder as named is what we have */
	buf[n] = '\0';
	if (folder_len(buf) == folder_len(path) &&
	    memcmp(buf, path, folder_len(buf)) == 0)
		return 0;
	return check_folder(buf, buf, folder_len(buf), why, whylen);
}

/* Would len more bytes, in one more file, overspend the budget? */
static int spend(const struct thr_source_budget *budget, size_t len,
                 char *why, size_t whylen)
{
	if (budget->files >= THR_CONFIG_FILES_MAX) {
		snprintf(why, whylen, "one load reads at most %u files",
		         THR_CONFIG_FILES_MAX);
		return -E2BIG;
	}
	if (len > THR_CONFIG_BYTES_MAX - budget->bytes) {
		snprintf(why, whylen, "one load reads at most %u bytes",
		         THR_CONFIG_BYTES_MAX);
		return -E2BIG;
	}
	return 0;
}

int thr_source_read(const char *path, struct thr_source_budget *budget,
                    struct thr_source *ret, char *why, size_t whylen)
{
	struct stat before, st;
	int fd, rc;

	rc = spend(budget, 0, why, whylen);
	if (rc < 0)
		return rc;
	if (stat(path, &before) < 0)
		return refuse(-errno, why, whylen, strerror(errno));
	rc = check_kind(&before, why, whylen);
	if (rc < 0)
		return rc;
	/* O_NONBLOCK: if the path became a FIFO since stat(), opening it
	 * must not wait for a writer. */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return refuse(-errno, why, whylen, strerror(errno));
	if (fstat(fd, &st) < 0) {
		rc = refuse(-errno, why, whylen, strerror(errno));
		goto out_close;
	}
	rc = check_kind(&st, why, whylen);
	if (rc == 0)
		rc = check_trust(fd, &st, path, why, whylen);
	if (rc == 0)
		rc = spend(budget, (size_t)st.st_size, why, whylen);
	if (rc == 0 && (st.st_dev != before.st_dev ||
	                st.st_ino != before.st_ino))
		rc = refuse(-EINVAL, why, whylen, "changed while it was being "
		            "opened");
	if (rc < 0)
		goto out_close;
	rc = slurp(fd, (size_t)st.st_size, &ret->text, &ret->len);
	if (rc == 0) {
		rc = spend(budget, ret->len, why, whylen);
		if (rc < 0)
			free(ret->text);    /* it grew since fstat() */
	} else if (rc == -EFBIG) {
		too_big(why, whylen);
	} else {
		refuse(rc, why, whylen, strerror(-rc));
	}
	if (rc < 0)
		goto out_close;
	budget->files++;
	budget->bytes += ret->len;
	ret->dev = st.st_dev;
	ret->ino = st.st_ino;
out_close:
	close(fd);
	return rc;
}
