/* proc.c - process identity (pid + start time + pid namespace) and liveness.
 * Uses raw system calls so that, inside the shim, reading /proc never goes
 * through the shim's own open() and close(); never changes errno. */
#include "proc.h"

#include "sys.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct thr_proc_id self;
static unsigned self_fork_gen = ~0u; /* self is valid while it equals fork_gen */
unsigned thr_proc_fork_gen_count;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

__thread int thr_proc_tid_cache;
__thread unsigned thr_proc_tid_gen;

int thr_proc_tid_slow(void)
{
	thr_proc_tid_gen = thr_proc_fork_gen();
	thr_proc_tid_cache = (int)thr_sys(SYS_gettid, 0, 0, 0);
	return thr_proc_tid_cache;
}

void thr_proc_fork_child(void)
{
	__atomic_add_fetch(&thr_proc_fork_gen_count, 1, __ATOMIC_RELAXED);
}

static void register_atfork(void)
{
	pthread_atfork(NULL, NULL, thr_proc_fork_child);
}

/* Reads the target of a /proc link into buf (len bytes, NUL-terminated).
 * Returns its length, -errno, or -EINVAL for an empty one. */
static int read_link(const char *path, char *buf, size_t len)
{
	long n = thr_sys6(SYS_readlinkat, AT_FDCWD, (long)path, (long)buf,
	                  (long)(len - 1), 0, 0);
	if (n <= 0)
		return n < 0 ? (int)n : -EINVAL;
	buf[n] = '\0';
	return (int)n;
}

/* Reads up to len-1 bytes of a small /proc file. Returns length or -errno. */
static int read_small(const char *path, char *buf, size_t len)
{
	long fd = thr_sys(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return (int)fd;
	long n = thr_sys(SYS_read, fd, buf, len - 1);
	int e = n < 0 ? (int)n : 0;
	thr_sys(SYS_close, fd, 0, 0);
	if (e)
		return e;
	buf[n] = '\0';
	return (int)n;
}

/* What we use of /proc/<pid>/stat. */
struct stat_fields {
	char state;
	long threads;
	uint64_t start;         /* start time, clock ticks after boot */
	uint64_t start_code;    /* where the program's code begins; 1 when the
	                           reader may not see it */
	uint64_t start_stack;   /* where its stack begins; 0 likewise, and for a
	                           process without memory (a zombie) */
	char comm[THR_PROC_COMM_LEN]; /* its command name, cut to fit */
};

/* Copies the command name, between the first '(' and the last ')' (end),
 * into f->comm. */
static void copy_comm(const char *stat, const char *end,
                      struct stat_fields *f)
{
	const char *open = strchr(stat, '(');
	size_t n = open && open < end ? (size_t)(end - open - 1) : 0;
	if (n >= sizeof(f->comm))
		n = sizeof(f->comm) - 1;
	if (n)
		memcpy(f->comm, open + 1, n);
	f->comm[n] = '\0';
}

/* Parses /proc/<pid>/stat. The command name may hold spaces and
 * parentheses, so fields are counted from the last ')'. */
static int parse_stat(const char *stat, struct stat_fields *f)
{
	const char *p = strrchr(stat, ')');
	*f = (struct stat_fields){ 0 };
	if (!p || p[1] != ' ')
		return -EINVAL;
	copy_comm(stat, p, f);
	p += 2;
	f->state = *p;
	for (int field = 3; field < 28; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -EINVAL;
		p++;
		char *end;
		unsigned long long v = strtoull(p, &end, 10);
		if (end == p && field + 1 >= 20)
			return -EINVAL;
		if (field + 1 == 20)
			f->threads = (long)v;
		else if (field + 1 == 22)
			f->start = v;
		else if (field + 1 == 26)
			f->start_code = v;
		else if (field + 1 == 28)
			f->start_stack = v;
	}
	return 0;
}

/* Reads path (a /proc/.../stat) into f. Returns 0, -ENOENT if /proc does
 * not show the process (gone, or hidden: hidepid), -ESRCH if it is a
 * zombie, or -errno. A process whose main thread has exited
 * shows as a zombie while its other threads run on: it is a zombie only
 * once it has no thread left but that one. */
static int read_stat(const char *path, struct stat_fields *f)
{
	char buf[512];
	int r = read_small(path, buf, sizeof(buf));
	if (r == -ESRCH)
		return -ENOENT; /* went while we read */
	if (r >= 0)
		r = parse_stat(buf, f);
	if (r >= 0 && ((f->state == 'Z' && f->threads <= 1) ||
	               f->state == 'X' || f->state == 'x'))
		return -ESRCH;
	return r < 0 ? r : 0;
}

/* read_stat() of /proc/<pid>/stat. */
static int read_pid_stat(pid_t pid, struct stat_fields *f)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	return read_stat(path, f);
}

/* An image's number: FNV-1a over where the kernel put its code and its
 * stack, both moved by every exec under ASLR; 0 when the reader may not
 * see them. The kernel's own view, which the process and others read
 * alike whatever loaded the program (ld.so run as a command, valgrind). */
static uint32_t image_number(const struct stat_fields *f)
{
	if (!f->start_stack)
		return 0;
	uint64_t where = f->start_code ^ f->start_stack;
	uint32_t v = 2166136261u;
	for (int i = 0; i < 8; i++, where >>= 8)
		v = (v ^ (uint8_t)where) * 16777619u;
	return v ? v : 1;
}

uint32_t thr_proc_image(void)
{
	static uint32_t image;
	uint32_t v = __atomic_load_n(&image, __ATOMIC_ACQUIRE);
	if (v)
		return v;
	struct stat_fields f;
	int saved = errno;
	v = read_stat("/proc/self/stat", &f) == 0 ? image_number(&f) : 0;
	errno = saved;
	__atomic_store_n(&image, v, __ATOMIC_RELEASE);
	return v;
}

bool thr_proc_sole_thread(void)
{
	struct stat_fields f;
	int saved = errno;
	bool sole = read_stat("/proc/self/stat", &f) == 0 && f.threads == 1;
	errno = saved;
	return sole;
}

bool thr_proc_is_running(pid_t pid)
{
	struct stat_fields f;
	int saved = errno;
	int r = read_pid_stat(pid, &f);
	errno = saved;
	if (r < 0)
		return false;
	if (f.state == 'T' || f.state == 't')
		return false;
	return f.state == 'R' || f.state == 'D' || f.threads > 1;
}

int thr_proc_image_of(pid_t pid, uint32_t *ret)
{
	struct stat_fields f;
	int saved = errno;
	int r = read_pid_stat(pid, &f);
	errno = saved;
	if (r < 0)
		return r == -ENOENT ? -ESRCH : r;
	*ret = image_number(&f);
	return *ret ? 0 : -EACCES;
}

/* Our pid namespace: the one whose numbers our /proc (checked by
 * thr_proc_self()) and fork() give, so the one any pid we identify is a
 * number in, whichever namespace that process lives in itself (a child in
 * a new one has a number of its own there, which we never see). A process
 * never changes its own, so it is read once (0, unreadable, is not kept). */
static uint64_t read_pidns(void)
{
	static uint64_t pidns;
	uint64_t v = __atomic_load_n(&pidns, __ATOMIC_RELAXED);
	if (v)
		return v;
	char link[64];
	if (read_link("/proc/self/ns/pid", link, sizeof(link)) < 0)
		return 0;
	const char *p = strchr(link, '[');
	v = p ? strtoull(p + 1, NULL, 10) : 0;
	__atomic_store_n(&pidns, v, __ATOMIC_RELAXED);
	return v;
}

/* The start time of a pid /proc shows alive, and its command name when
 * comm is not NULL; -ENOENT if /proc does not show it, -ESRCH if it is a
 * zombie. */
static int read_start(pid_t pid, uint64_t *ret_start, char *comm)
{
	struct stat_fields f;
	int r = read_pid_stat(pid, &f);
	if (r == 0)
		*ret_start = f.start;
	if (r == 0 && comm)
		memcpy(comm, f.comm, sizeof(f.comm));
	return r;
}

int thr_proc_identify(pid_t pid, struct thr_proc_id *ret)
{
	int saved = errno;
	int r = read_start(pid, &ret->start, NULL);
	if (r == -ENOENT) /* gone, or hidden from us (hidepid) */
		r = kill(pid, 0) < 0 && errno == ESRCH ? -ESRCH : -EACCES;
	if (r == 0) {
		ret->pid = pid;
		ret->pidns = read_pidns();
	}
	errno = saved;
	return r;
}

/* Does /proc show this process under the pid it has? Not in a pid
 * namespace of its own under its parent's /proc (unshare or clone with
 * CLONE_NEWPID, without a /proc of its own): there /proc/<getpid()> is
 * another process, whose identity it would take and never be judged by.
 * Returns 0, -ENOTSUP for that, or -errno (no /proc). */
static int proc_shows_self(pid_t pid)
{
	char link[32];
	int r = read_link("/proc/self", link, sizeof(link));
	if (r < 0)
		return r;
	return strtol(link, NULL, 10) == pid ? 0 : -ENOTSUP;
}

int thr_proc_self(struct thr_proc_id *ret)
{
	pthread_once(&atfork_once, register_atfork);
	unsigned gen = thr_proc_fork_gen();
	if (__atomic_load_n(&self_fork_gen, __ATOMIC_ACQUIRE) != gen) {
		int saved = errno;
		pid_t pid = getpid();
		int r = proc_shows_self(pid);
		errno = saved;
		if (r == 0)
			r = thr_proc_identify(pid, &self);
		if (r < 0)
			return r;
		__atomic_store_n(&self_fork_gen, gen, __ATOMIC_RELEASE);
	}
	*ret = self;
	return 0;
}

static bool foreign_ns(const struct thr_proc_id *id)
{
	struct thr_proc_id me;
	return thr_proc_self(&me) == 0 && id->pidns && me.pidns &&
	       id->pidns != me.pidns;
}

bool thr_proc_is_gone(const struct thr_proc_id *id)
{
	if (id->pid <= 0)
		return true;
	if (foreign_ns(id))
		return false;
	int saved = errno;
	bool gone = kill(id->pid, 0) < 0 && errno == ESRCH;
	errno = saved;
	return gone;
}

enum thr_proc_verdict thr_proc_judge(const struct thr_proc_id *id)
{
	char comm[THR_PROC_COMM_LEN];
	return thr_proc_judge_named(id, comm);
}

enum thr_proc_verdict thr_proc_judge_named(const struct thr_proc_id *id,
                                           char comm[THR_PROC_COMM_LEN])
{
	uint64_t start = 0;
	char seen[THR_PROC_COMM_LEN] = "";
	comm[0] = '\0';
	if (thr_proc_is_gone(id))
		return THR_PROC_JUDGED_DEAD;
	if (foreign_ns(id))
		return THR_PROC_CANNOT_JUDGE;
	int saved = errno;
	int r = read_start(id->pid, &start, seen);
	errno = saved;
	if (r == -ESRCH)
		return THR_PROC_JUDGED_DEAD; /* a zombie */
	if (r < 0) /* kill() found it, so a missing /proc entry means hidden
	              (hidepid) or gone since: cannot tell, keep its slots
	              rather than over-admit */
		return THR_PROC_CANNOT_JUDGE;
	if (start != id->start)
		return THR_PROC_JUDGED_DEAD; /* its pid is another's now */
	memcpy(comm, seen, sizeof(seen));
	return THR_PROC_JUDGED_ALIVE;
}

bool thr_proc_is_dead(const struct thr_proc_id *id)
{
	return thr_proc_judge(id) == THR_PROC_JUDGED_DEAD;
}
