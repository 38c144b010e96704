/* test-lint.c - thr_config_check(): the warnings of lint.c (path globs under
 * a missing folder, a non-folder or a symbolic link; a timeout on-full never
 * uses) and its going on past a broken include, reported through the
 * callback; and that a plain load, the shim's, neither warns nor goes on. */
#define _GNU_SOURCE /* nftw() */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char tmpdir[PATH_MAX];

/* What a check reported, one line each, in order. */
struct lines {
	char text[8][512];
	bool warning[8];
	size_t n;
};

static void keep(void *arg, bool warning, const char *line)
{
	struct lines *l = arg;

	assert_true(l->n < 8);
	snprintf(l->text[l->n], sizeof(l->text[0]), "%s", line);
	l->warning[l->n++] = warning;
}

static const char *path_of(const char *rel)
{
	static char path[PATH_MAX + 64];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, rel);
	return path;
}

/* Writes tmpdir/rel: text, where each '@' is tmpdir. */
static void write_conf(const char *rel, const char *text)
{
	FILE *f = fopen(path_of(rel), "we");

	assert_non_null(f);
	for (const char *p = text; *p; p++) {
		if (*p == '@')
			fputs(tmpdir, f);
		else
			fputc(*p, f);
	}
	assert_int_equal(fclose(f), 0);
}

/* thr_config_check() of tmpdir/rel into *l; returns its rc. */
static int check(const char *rel, struct lines *l, struct thr_config **cfg)
{
	struct thr_config_report report = { keep, l };
	char err[512], path[PATH_MAX + 64];

	memset(l, 0, sizeof(*l));
	*cfg = NULL;
	snprintf(path, sizeof(path), "%s", path_of(rel));
	return thr_config_check(path, &report, cfg, err, sizeof(err));
}

static int remove_one(const char *path, const struct stat *st, int flag,
                      struct FTW *ftw)
{
	return remove(path);
}

static int make_tmpdir(void **state)
{
	char *real;

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test-lint-XXXXXX");
	if (!mkdtemp(tmpdir) || !(real = realpath(tmpdir, NULL)))
		return -1;
	snprintf(tmpdir, sizeof(tmpdir), "%s", real);
	free(real);
	return 0;
}

static int remove_tmpdir(void **state)
{
	return nftw(tmpdir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_lint_missing_folder_warns_in_check_only(void **state)
{
	struct thr_config *cfg;
	struct lines l;
	char err[512] = "x", want[3 * (PATH_MAX + 64) + 128];

	write_conf("a.conf", "pool a {\n limit = 2\n open = \"@/gone/*\"\n}\n");
	assert_int_equal(check("a.conf", &l, &cfg), 0);
	assert_non_null(cfg);
	assert_int_equal(l.n, 1);
	assert_true(l.warning[0]);
	snprintf(want, sizeof(want), "%s:3: warning: pattern '%s/gone/*' is "
	         "under %s/gone, which does not exist now", path_of("a.conf"),
	         tmpdir, tmpdir);
	assert_memory_equal(l.text[0], want, strlen(want));
	thr_config_free(cfg);
	/* The shim's load: the same config, no word of it. */
	assert_int_equal(thr_config_load(path_of("a.conf"), &cfg, err,
	                                 sizeof(err)), 0);
	assert_string_equal(err, "");
	assert_int_equal(cfg->npools, 1);
	thr_config_free(cfg);
}

static void test_lint_folder_that_is_fine_is_quiet(void **state)
{
	struct thr_config *cfg;
	struct lines l;

	write_conf("a.conf", "pool a {\n limit = 2\n open = \"@/*\"\n"
	           " connect = \"unix:@/s.*\"\n}\n");
	assert_int_equal(check("a.conf", &l, &cfg), 0);
	assert_int_equal(l.n, 0);
	thr_config_free(cfg);
}

static void test_lint_symlink_and_not_a_folder(void **state)
{
	struct thr_config *cfg;
	struct lines l;

	assert_int_equal(mkdir(path_of("real"), 0755), 0);
	assert_int_equal(symlink("real", path_of("link")), 0);
	write_conf("file", "");
	write_conf("a.conf", "pool a {\n limit = 2\n open = {\n"
	           "  \"@/link/**\",\n  \"@/file/x\" }\n}\n");
	assert_int_equal(check("a.conf", &l, &cfg), 0);
	assert_int_equal(l.n, 2);
	assert_non_null(strstr(l.text[0], ":4: warning: "));
	assert_non_null(strstr(l.text[0], "symbolic link"));
	assert_non_null(strstr(l.text[1], ":5: warning: "));
	assert_non_null(strstr(l.text[1], "which is not a folder"));
	thr_config_free(cfg);
}

static void test_lint_timeout_without_wait(void **state)
{
	static const char *const on_full[] = { "fail", "observe", "wait" };
	struct thr_config *cfg;
	struct lines l;
	char text[256];

	for (size_t i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "\npool a {\n limit = 2\n"
		         " open = \"/tmp/*\"\n timeout = 2s\n on-full = %s\n}\n",
		         on_full[i]);
		write_conf("a.conf", text);
		assert_int_equal(check("a.conf", &l, &cfg), 0);
		assert_int_equal(l.n, i < 2 ? 1 : 0);
		if (i < 2)
			assert_non_null(strstr(l.text[0], ":2: warning: pool "
			                       "'a': timeout has no effect"));
		thr_config_free(cfg);
	}
}

/* A load stops at the first broken include; a check reports each, and
 * returns the first. */
static void test_lint_check_goes_on_past_a_broken_include(void **state)
{
	struct thr_config *cfg;
	struct lines l;
	char err[512];

	write_conf("main.conf", "include \"a.conf\"\ninclude \"b.conf\"\n");
	write_conf("a.conf", "pool a { limit = 0 open = \"/tmp/a\" }\n");
	write_conf("b.conf", "\npool b { limit = 2 frob = 1 }\n");
	assert_int_equal(check("main.conf", &l, &cfg), -EINVAL);
	assert_null(cfg);
	assert_int_equal(l.n, 2);
	assert_false(l.warning[0] || l.warning[1]);
	assert_non_null(strstr(l.text[0], "a.conf:1: bad limit '0'"));
	assert_non_null(strstr(l.text[1], "b.conf:2: unknown option 'frob'"));
	assert_int_equal(thr_config_load(path_of("main.conf"), &cfg, err,
	                                 sizeof(err)), -EINVAL);
	assert_string_equal(err, l.text[0]);
}

/* The main file's own error comes through the callback too. */
static void test_lint_check_reports_a_missing_file(void **state)
{
	struct thr_config *cfg;
	struct lines l;

	assert_int_equal(check("none.conf", &l, &cfg), -ENOENT);
	assert_int_equal(l.n, 1);
	assert_false(l.warning[0]);
	assert_non_null(strstr(l.text[0], "none.conf: No such file"));
}

#define TD(name) cmocka_unit_test_setup_teardown(name, make_tmpdir, \
                                                 remove_tmpdir)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TD(test_lint_missing_folder_warns_in_check_only),
		TD(test_lint_folder_that_is_fine_is_quiet),
		TD(test_lint_symlink_and_not_a_folder),
		TD(test_lint_timeout_without_wait),
		TD(test_lint_check_goes_on_past_a_broken_include),
		TD(test_lint_check_reports_a_missing_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
