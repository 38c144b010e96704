/* throttle.c - runs a program with libthrottle preloaded:
 * `throttle [-c FILE | -s SERVICE] [-q] [--] PROGRAM [ARGS...]`. The library
 * is taken from next to this binary in the build tree, from the libdir beside
 * this binary's install, or from the installed libdir, never from the current
 * folder or a relative path. */
#define _GNU_SOURCE
#include "config.h"
#include "exe.h"
#include "options.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

/* THR_LIBDIR_FROM_BIN, the libdir relative to the bindir, is defined when
 * both are inside the prefix. */
#if !defined(THR_LIBDIR) || !defined(THR_CONFDIR)
#error "THR_LIBDIR (the installed libdir) and THR_CONFDIR must be defined"
#endif

#define LIB_NAME "libthrottle.so"
#define EXIT_CANNOT_RUN 126
#define EXIT_NOT_FOUND 127

static const char usage_line[] =
	"usage: throttle [-c FILE | -s SERVICE] [-q] [--] PROGRAM [ARGS...]";

static bool quiet;

static void help(void)
{
	printf("%s\n\n"
	       "Runs PROGRAM with libthrottle preloaded, so that its connect() "
	       "and open()\ncalls take slots from the pools of its config.\n\n"
	       "  -c, --config FILE     use this config file "
	       "(THROTTLE_CONFIG)\n"
	       "  -s, --service NAME    use the config of service NAME "
	       "(THROTTLE_SERVICE)\n"
	       "  -q, --quiet           no warnings, here or from the library "
	       "(THROTTLE_QUIET=1)\n", usage_line);
	thr_options_help_lines(stdout, 24);
	printf("\nWithout -c or -s the library picks the config by program name."
	       "\nExit status: PROGRAM's; 2 for a usage or config error, 126 "
	       "when PROGRAM\ncannot be run, 127 when it is not found, 1 when "
	       "the library is missing.\n");
}

/* One warning line, unless -q: "PATH WHY, so WHAT will run unthrottled". */
static void warn(const char *path, const char *why, const char *what)
{
	if (!quiet)
		fprintf(stderr, "throttle: warning: %s %s, so %s will run "
		        "unthrottled\n", path, why, what);
}

/* ---- the library -------------------------------------------------------- */

/* The canonical path of candidate into out (PATH_MAX bytes), if it is a
 * regular file. */
static bool usable_library(const char *candidate, char *out)
{
	struct stat st;
	return stat(candidate, &st) == 0 && S_ISREG(st.st_mode) &&
	       realpath(candidate, out) != NULL;
}

/* The folders to look in, relative to the folder of this binary: the build
 * tree's <builddir>/shim and <builddir> (where the top-level meson.build puts
 * the library), then the libdir of the install this binary is part of, so
 * that a relocated or DESTDIR install uses its own library. */
static const char *const beside_binary[] = {
	"/../shim/", "/../",
#ifdef THR_LIBDIR_FROM_BIN
	"/" THR_LIBDIR_FROM_BIN "/",
#endif
};

/* Finds the library in the folders beside_binary names, then in THR_LIBDIR.
 * All are absolute: /proc/self/exe is the binary's real path. Returns 0, or
 * -ENOENT after an error line naming where it looked. */
static int find_library(char *out)
{
	const size_t folders = sizeof(beside_binary) / sizeof(beside_binary[0]);
	char exe[PATH_MAX], candidate[2 * PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (exe[0] == '/' && slash) {
			*slash = '\0';
			for (size_t i = 0; i < folders; i++) {
				snprintf(candidate, sizeof(candidate), "%s%s%s",
				         exe, beside_binary[i], LIB_NAME);
				if (usable_library(candidate, out))
					return 0;
			}
		}
	} else {
		snprintf(exe, sizeof(exe), "(unknown: /proc/self/exe: %s)",
		         strerror(errno));
	}
	if (THR_LIBDIR[0] == '/' &&
	    usable_library(THR_LIBDIR "/" LIB_NAME, out))
		return 0;
	fprintf(stderr, "throttle: cannot find %s in %s/../shim or %s/.. "
	        "(build tree)", LIB_NAME, exe, exe);
#ifdef THR_LIBDIR_FROM_BIN
	fprintf(stderr, ", %s/%s", exe, THR_LIBDIR_FROM_BIN);
#endif
	fprintf(stderr, " or in %s\n", THR_LIBDIR);
	return -ENOENT;
}

/* Is lib in the LD_PRELOAD list (separated by ':' or ' ', as ld.so reads
 * it), by its own name or through a path that resolves to it? */
static bool preload_has(const char *list, const char *lib)
{
	char *copy = strdup(list), *save = NULL, real[PATH_MAX];
	bool found = false;
	if (!copy)
		return false;
	for (char *t = strtok_r(copy, ": ", &save); t && !found;
	     t = strtok_r(NULL, ": ", &save))
		found = strcmp(t, lib) == 0 ||
		        (t[0] == '/' && realpath(t, real) &&
		         strcmp(real, lib) == 0);
	free(copy);
	return found;
}

static int set_env(const char *name, const char *value)
{
	return setenv(name, value, 1) < 0 ? -errno : 0;
}

/* Puts lib first in LD_PRELOAD, keeping what was there; nothing changes if
 * it is already in the list. Returns 0 or -errno. */
static int set_preload(const char *lib)
{
	const char *old = getenv("LD_PRELOAD");
	char *v;
	int r;

	if (!old || !*old)
		return set_env("LD_PRELOAD", lib);
	if (preload_has(old, lib))
		return 0;
	if (asprintf(&v, "%s:%s", lib, old) < 0)
		return -ENOMEM;
	r = set_env("LD_PRELOAD", v);
	free(v);
	return r;
}

/* ---- the config --------------------------------------------------------- */

/* Loads the config at path once, so that a missing or broken config is an
 * error here rather than a silently unthrottled program. Returns 0, or
 * THR_EXIT_USAGE after a line. */
static int check_config(const char *path)
{
	char err[512];
	struct thr_config *cfg;
	struct stat st;

	int r = stat(path, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
	if (r < 0) {
		fprintf(stderr, "throttle: config file %s: %s\n", path,
		        strerror(-r));
		return THR_EXIT_USAGE;
	}
	if (thr_config_load(path, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "throttle: %s\n", err);
		return THR_EXIT_USAGE;
	}
	thr_config_free(cfg);
	return 0;
}

/* -c FILE: file as an absolute path in out (PATH_MAX bytes), checked. The
 * path is not canonicalised (symlinks are kept), since the config's relative
 * includes are relative to its folder as named. */
static int config_file(const char *file, char *out)
{
	char cwd[PATH_MAX];

	while (file[0] == '.' && file[1] == '/')
		file += 2;
	if (file[0] != '/' && !getcwd(cwd, sizeof(cwd))) {
		fprintf(stderr, "throttle: cannot get the current folder: %s\n",
		        strerror(errno));
		return THR_EXIT_USAGE;
	}
	if (snprintf(out, PATH_MAX, "%s%s%s", file[0] == '/' ? "" : cwd,
	             file[0] == '/' ? "" : "/", file) >= PATH_MAX) {
		fprintf(stderr, "throttle: config file %s: %s\n", file,
		        strerror(ENAMETOOLONG));
		return THR_EXIT_USAGE;
	}
	return check_config(out);
}

/* A service name is a plain file name, as the library requires. */
static bool service_is_valid(const char *s)
{
	return s[0] && s[0] != '.' && !strchr(s, '/');
}

/* -s SERVICE: the file the library will read, THR_CONFDIR/SERVICE.conf,
 * found as the library finds it, and checked. */
static int service_file(const char *service)
{
	char path[PATH_MAX];
	int r = service_is_valid(service) ? thr_config_locate(NULL, service,
	        NULL, THR_CONFDIR, path, sizeof(path)) : -EINVAL;
	if (r == -EINVAL)
		return thr_options_usage_error("throttle", usage_line,
		                               "bad service name '%s' (a file "
		                               "name, not starting with '.')",
		                               service);
	if (r < 0) {
		fprintf(stderr, "throttle: service %s: %s\n", service,
		        strerror(-r));
		return THR_EXIT_USAGE;
	}
	return check_config(path);
}

/* ---- the program -------------------------------------------------------- */

/* Where execvp() will find prog, into out (PATH_MAX bytes): the same PATH
 * walk (an empty entry is the current folder; no PATH means the system
 * default). Only used to look at the file before running it. */
static bool find_program(const char *prog, char *out)
{
	char def[256], *copy;
	const char *path = getenv("PATH");
	struct stat st;
	bool found = false;

	if (strchr(prog, '/'))
		return snprintf(out, PATH_MAX, "%s", prog) < PATH_MAX;
	if (!path) {
		if (confstr(_CS_PATH, def, sizeof(def)) == 0)
			return false;
		path = def;
	}
	if (!(copy = strdup(path)))
		return false;
	/* strsep, unlike strtok, keeps empty entries */
	for (char *p = copy, *dir; !found && (dir = strsep(&p, ":"));) {
		if (snprintf(out, PATH_MAX, "%s/%s", *dir ? dir : ".", prog) >=
		    PATH_MAX)
			continue;
		found = stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		        access(out, X_OK) == 0;
	}
	free(copy);
	return found;
}

/* Warns about what the file says of path: a Go program, whose opens and
 * connects are system calls of its own that a loaded library never sees; or
 * else no dynamic loader, so the library never loads (a static Go program
 * gets the Go line only: loaded or not, the library would see nothing). */
static void check_file(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (thr_exe_is_go(fd) == 1)
		warn(path, "is a Go program: Go makes its system calls itself, "
		     "not through libc", "it");
	else if (thr_exe_has_interp(fd) == 0)
		warn(path, "is statically linked: libthrottle cannot load "
		     "into it", "it");
	close(fd);
}

/* Warns, one line each, about what keeps the library out of path or blind
 * in it: a Go program or no dynamic loader (check_file), or a set-ID or
 * capability exec that puts the loader in secure-execution mode (which
 * ignores LD_PRELOAD paths with slashes). What does not change our
 * credentials is not warned about: a set-ID bit naming our own id,
 * capabilities when we are root, anything on a nosuid mount. Only
 * check_file reads the file: an execute-only program (mode 4711, say) is
 * still checked for set-ID bits and capabilities. */
static void check_program(const char *path)
{
	struct stat st;
	struct statvfs vfs;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return;
	check_file(path);
	bool nosuid = statvfs(path, &vfs) == 0 && (vfs.f_flag & ST_NOSUID);
	if (!nosuid && (st.st_mode & S_ISUID) && st.st_uid != geteuid())
		warn(path, "is set-user-ID: the loader ignores LD_PRELOAD "
		     "for it", "it");
	if (!nosuid && (st.st_mode & (S_ISGID | S_IXGRP)) ==
	    (S_ISGID | S_IXGRP) && st.st_gid != getegid())
		warn(path, "is set-group-ID: the loader ignores LD_PRELOAD "
		     "for it", "it");
	/* root gains no capabilities, so its exec is not secure-execution */
	if (!nosuid && !(getuid() == 0 && geteuid() == 0) &&
	    getxattr(path, "security.capability", NULL, 0) > 0)
		warn(path, "has file capabilities: the loader ignores "
		     "LD_PRELOAD for it", "it");
}

/* Warns when the environment turns on libuv's io_uring, through which node
 * (or another libuv program: path, or one it starts) may then open files
 * without a call the library can see. libuv reads UV_USE_IO_URING with
 * atoi(): 1.45 to 1.49, and Node's copy patched for CVE-2024-22017, take a
 * non-zero number as on, 1.50 and later a positive one, so any non-zero
 * number is warned about. (Unpatched 1.45 to 1.48 use io_uring when it is
 * unset too, and 1.49 and later only in loops that ask for it: neither can
 * be told from here.) */
static void check_environment(const char *path)
{
	const char *v = getenv("UV_USE_IO_URING");
	if (v && atoi(v) != 0)
		warn(path, "runs with UV_USE_IO_URING on: libuv (node) may then "
		     "open files through io_uring, not libc", "those opens");
}

/* ---- main --------------------------------------------------------------- */

/* -c FILE and -s SERVICE, as given. */
struct choice {
	const char *file, *service;
};

/* Reads the options into ch (and quiet), leaving optind at PROGRAM.
 * Returns -1 to go on, or the exit status after help, the version or a
 * usage error. */
static int read_options(int argc, char **argv, struct choice *ch)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "service", required_argument, NULL, 's' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:c:s:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			ch->file = optarg;
			break;
		case 's':
			ch->service = optarg;
			break;
		case 'q':
			quiet = true;
			break;
		case 'h':
			help();
			return EXIT_SUCCESS;
		case 'V':
			return thr_options_version("throttle");
		default:
			return thr_options_bad_option("throttle", usage_line, c,
			                              argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return thr_options_usage_error("throttle", usage_line,
		                               "no program given");
	if (ch->file && ch->service)
		return thr_options_usage_error("throttle", usage_line,
		                               "-c and -s exclude each other");
	return -1;
}

/* Preloads lib and passes the choice of config (config: -c's file made
 * absolute) and -q on to it. Returns 0, or EXIT_FAILURE after a line. */
static int set_environment(const char *lib, const struct choice *ch,
                           const char *config)
{
	int r = set_preload(lib);

	if (r == 0 && ch->file) {
		unsetenv("THROTTLE_SERVICE");
		r = set_env("THROTTLE_CONFIG", config);
	} else if (r == 0 && ch->service) {
		/* THROTTLE_CONFIG wins over THROTTLE_SERVICE in the library */
		unsetenv("THROTTLE_CONFIG");
		r = set_env("THROTTLE_SERVICE", ch->service);
	}
	if (r == 0 && quiet)
		r = set_env("THROTTLE_QUIET", "1");
	if (r != 0) {
		fprintf(stderr, "throttle: cannot set the environment: %s\n",
		        strerror(-r));
		return EXIT_FAILURE;
	}
	return 0;
}

int main(int argc, char **argv)
{
	char lib[PATH_MAX], config[PATH_MAX], program[PATH_MAX];
	struct choice ch = { NULL, NULL };
	int r = read_options(argc, argv, &ch);

	if (r >= 0)
		return r;
	if (ch.file && (r = config_file(ch.file, config)) != 0)
		return r;
	if (ch.service && (r = service_file(ch.service)) != 0)
		return r;
	if (find_library(lib) < 0)
		return EXIT_FAILURE;
	if (strpbrk(lib, ": ")) {
		fprintf(stderr, "throttle: cannot preload %s: LD_PRELOAD "
		        "splits paths at ':' and ' '\n", lib);
		return EXIT_FAILURE;
	}
	if ((r = set_environment(lib, &ch, config)) != 0)
		return r;

	if (find_program(argv[optind], program)) {
		check_program(program);
		check_environment(program);
	}
	execvp(argv[optind], argv + optind);
	r = errno;
	if (r == ENOENT && !strchr(argv[optind], '/'))
		fprintf(stderr, "throttle: %s: command not found\n",
		        argv[optind]);
	else
		fprintf(stderr, "throttle: cannot run %s: %s\n", argv[optind],
		        strerror(r));
	return r == ENOENT || r == ENOTDIR ? EXIT_NOT_FOUND : EXIT_CANNOT_RUN;
}
