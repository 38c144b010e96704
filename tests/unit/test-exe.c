/* test-exe.c - unit tests for tools/exe.c: ELF files built byte by byte in
 * memory files (32 and 64 bit, both byte orders, PN_XNUM, truncated and
 * foreign ones), plus this test binary itself, which is dynamic. */
#define _GNU_SOURCE
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "exe.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- building ELF files ---- */

/* The layout of one test file: a header, then program headers at phoff,
 * optionally one section header at shoff. */
struct image {
	bool is64, big;
	uint16_t type;          /* 0: ET_DYN */
	uint16_t phentsize;     /* 0: the real size */
	uint16_t phnum;         /* as written in the header */
	uint32_t xnum;          /* with phnum == PN_XNUM: sh_info of shdr 0 */
	const uint32_t *ptypes; /* types of the program headers to write */
	size_t nptypes;
	size_t cut;             /* file length; 0: everything */
	unsigned char buf[4096];
	size_t len;
};

static void put(struct image *im, size_t off, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		im->buf[off + (size_t)(im->big ? n - 1 - i : i)] =
			(unsigned char)(v >> (8 * i));
	if (off + (size_t)n > im->len)
		im->len = off + (size_t)n;
}

static void build(struct image *im)
{
	size_t ehsize = im->is64 ? 64 : 52, phsize = im->is64 ? 56 : 32;
	size_t phentsize = im->phentsize ? im->phentsize : phsize;
	size_t phoff = ehsize, shoff = 1024;

	memset(im->buf, 0, sizeof(im->buf));
	im->len = 0;
	memcpy(im->buf, ELFMAG, SELFMAG);
	im->buf[EI_CLASS] = im->is64 ? ELFCLASS64 : ELFCLASS32;
	im->buf[EI_DATA] = im->big ? ELFDATA2MSB : ELFDATA2LSB;
	im->buf[EI_VERSION] = EV_CURRENT;
	put(im, 16, im->type ? im->type : ET_DYN, 2);
	put(im, 18, im->is64 ? EM_X86_64 : EM_386, 2);
	put(im, 20, EV_CURRENT, 4);
	if (im->is64) {
		put(im, 32, phoff, 8);
		put(im, 40, im->phnum == PN_XNUM ? shoff : 0, 8);
		put(im, 52, ehsize, 2);
		put(im, 54, phentsize, 2);
		put(im, 56, im->phnum, 2);
		put(im, 58, im->phnum == PN_XNUM ? 64 : 0, 2);
	} else {
		put(im, 28, phoff, 4);
		put(im, 32, im->phnum == PN_XNUM ? shoff : 0, 4);
		put(im, 40, ehsize, 2);
		put(im, 42, phentsize, 2);
		put(im, 44, im->phnum, 2);
		put(im, 46, im->phnum == PN_XNUM ? 40 : 0, 2);
	}
	put(im, ehsize - 2, 0, 2); /* e_shstrndx: the header's full length */
	for (size_t i = 0; i < im->nptypes; i++) {
		size_t at = phoff + i * phentsize;
		put(im, at, im->ptypes[i], 4);
		/* fill the rest so that the header has its full length */
		put(im, at + phsize - 4, 0, 4);
	}
	if (im->phnum == PN_XNUM) {
		put(im, shoff + (im->is64 ? 44 : 28), im->xnum, 4);
		put(im, shoff + (im->is64 ? 60 : 36), 0, 4);
	}
	if (im->cut)
		im->len = im->cut;
}

static int check(struct image *im)
{
	build(im);
	int fd = memfd_create("elf", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, im->buf, im->len), (ssize_t)im->len);
	int r = thr_exe_has_interp(fd);
	close(fd);
	return r;
}

static const uint32_t dynamic[] = { PT_PHDR, PT_INTERP, PT_LOAD, PT_DYNAMIC };
static const uint32_t fixed[] = { PT_LOAD, PT_LOAD, PT_NOTE, PT_TLS };

#define IMAGE(...) (struct image){ __VA_ARGS__ }

/* ---- the four ELF flavours ---- */

static void test_exe_all_classes_and_orders(void **state)
{
	for (int is64 = 0; is64 <= 1; is64++) {
		for (int big = 0; big <= 1; big++) {
			struct image im = IMAGE(.is64 = is64, .big = big,
			                        .ptypes = dynamic, .nptypes = 4,
			                        .phnum = 4);
			assert_int_equal(check(&im), 1);
			im = IMAGE(.is64 = is64, .big = big, .type = ET_EXEC,
			           .ptypes = fixed, .nptypes = 4, .phnum = 4);
			assert_int_equal(check(&im), 0);
		}
	}
}

/* PT_INTERP last, and only the header's count is read: one more program
 * header written past the count does not count. */
static void test_exe_reads_exactly_phnum(void **state)
{
	static const uint32_t last[] = { PT_LOAD, PT_LOAD, PT_INTERP };
	struct image im = IMAGE(.is64 = true, .ptypes = last, .nptypes = 3,
	                        .phnum = 3);
	assert_int_equal(check(&im), 1);
	im = IMAGE(.is64 = true, .ptypes = last, .nptypes = 3, .phnum = 2);
	assert_int_equal(check(&im), 0);
}

/* A larger e_phentsize than the struct: entries are that far apart. */
static void test_exe_honours_phentsize(void **state)
{
	struct image im = IMAGE(.ptypes = dynamic, .nptypes = 4, .phnum = 4,
	                        .phentsize = 48);
	assert_int_equal(check(&im), 1);
	im = IMAGE(.is64 = true, .big = true, .ptypes = dynamic, .nptypes = 4,
	           .phnum = 4, .phentsize = 64);
	assert_int_equal(check(&im), 1);
}

static void test_exe_extended_phnum(void **state)
{
	for (int is64 = 0; is64 <= 1; is64++) {
		struct image im = IMAGE(.is64 = is64, .ptypes = dynamic,
		                        .nptypes = 4, .phnum = PN_XNUM,
		                        .xnum = 4);
		assert_int_equal(check(&im), 1);
		/* sh_info says 1: only the PT_PHDR is read */
		im.xnum = 1;
		assert_int_equal(check(&im), 0);
	}
}

static void test_exe_no_program_headers_is_static(void **state)
{
	struct image im = IMAGE(.is64 = true, .phnum = 0);
	assert_int_equal(check(&im), 0);
}

/* ---- what is not an ELF executable ---- */

static void test_exe_rejects_foreign_files(void **state)
{
	struct image im = IMAGE(.is64 = true, .ptypes = dynamic, .nptypes = 4,
	                        .phnum = 4);
	build(&im);
	int fd = memfd_create("script", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(thr_exe_has_interp(fd), -ENOEXEC); /* empty */
	assert_int_equal(write(fd, "#!/bin/sh\necho hi\n", 18), 18);
	assert_int_equal(thr_exe_has_interp(fd), -ENOEXEC);
	close(fd);

	im = IMAGE(.is64 = true, .type = ET_REL, .ptypes = dynamic,
	           .nptypes = 4, .phnum = 4);
	assert_int_equal(check(&im), -ENOEXEC);
	im = IMAGE(.is64 = true, .type = ET_CORE, .ptypes = dynamic,
	           .nptypes = 4, .phnum = 4);
	assert_int_equal(check(&im), -ENOEXEC);
}

static void test_exe_rejects_bad_ident(void **state)
{
	struct image im = IMAGE(.is64 = true, .ptypes = dynamic, .nptypes = 4,
	                        .phnum = 4);
	build(&im);
	unsigned char saved[EI_NIDENT];
	memcpy(saved, im.buf, sizeof(saved));
	static const int fields[] = { EI_CLASS, EI_DATA, 1 /* 'E' */ };
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		im.buf[fields[i]] = 9;
		int fd = memfd_create("bad", MFD_CLOEXEC);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, im.buf, im.len), (ssize_t)im.len);
		assert_int_equal(thr_exe_has_interp(fd), -ENOEXEC);
		close(fd);
		memcpy(im.buf, saved, sizeof(saved));
	}
}

static void test_exe_rejects_truncated(void **state)
{
	/* inside the identification, inside the header, inside the program
	 * headers before PT_INTERP */
	static const size_t cuts[] = { 10, 40, 64 + 56 + 20 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		struct image im = IMAGE(.is64 = true, .ptypes = dynamic,
		                        .nptypes = 4, .phnum = 4,
		                        .cut = cuts[i]);
		assert_int_equal(check(&im), -ENOEXEC);
	}
	/* more program headers claimed than the file holds, none PT_INTERP */
	struct image im = IMAGE(.is64 = true, .ptypes = fixed, .nptypes = 4,
	                        .phnum = 40);
	assert_int_equal(check(&im), -ENOEXEC);
	/* PN_XNUM with no section header */
	im = IMAGE(.is64 = true, .ptypes = dynamic, .nptypes = 4,
	           .phnum = PN_XNUM, .xnum = 4, .cut = 64 + 4 * 56);
	assert_int_equal(check(&im), -ENOEXEC);
}

static void test_exe_rejects_small_phentsize(void **state)
{
	struct image im = IMAGE(.is64 = true, .ptypes = dynamic, .nptypes = 4,
	                        .phnum = 4, .phentsize = 32);
	assert_int_equal(check(&im), -ENOEXEC);
}

static void test_exe_read_error(void **state)
{
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(thr_exe_has_interp(fd), -EISDIR);
	close(fd);
}

/* ---- a real file ---- */

static void test_exe_this_binary_is_dynamic(void **state)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(thr_exe_has_interp(fd), 1);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exe_all_classes_and_orders),
		cmocka_unit_test(test_exe_reads_exactly_phnum),
		cmocka_unit_test(test_exe_honours_phentsize),
		cmocka_unit_test(test_exe_extended_phnum),
		cmocka_unit_test(test_exe_no_program_headers_is_static),
		cmocka_unit_test(test_exe_rejects_foreign_files),
		cmocka_unit_test(test_exe_rejects_bad_ident),
		cmocka_unit_test(test_exe_rejects_truncated),
		cmocka_unit_test(test_exe_rejects_small_phentsize),
		cmocka_unit_test(test_exe_read_error),
		cmocka_unit_test(test_exe_this_binary_is_dynamic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
