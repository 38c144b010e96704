/* test-exe.c - unit tests for tools/exe.c: ELF files built byte by byte in
 * memory files (32 and 64 bit, both byte orders, PN_XNUM and extended section
 * counts, truncated and foreign ones), this test binary itself, which is
 * dynamic and not Go, and the programs built from tests/elf/hello.c, named on
 * the command line. */
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

/* The layout of one test file: a header, then program headers at phoff;
 * section headers at SHOFF when there is PN_XNUM or a section to name: the
 * null one, one per name, then the names' own, whose strings are at STROFF. */
struct image {
	bool is64, big;
	uint16_t type;          /* 0: ET_DYN */
	uint16_t phentsize;     /* 0: the real size */
	uint16_t phnum;         /* as written in the header */
	uint32_t xnum;          /* with phnum == PN_XNUM: sh_info of shdr 0 */
	const uint32_t *ptypes; /* types of the program headers to write */
	size_t nptypes;
	const char *const *snames; /* names of the sections to write */
	size_t nsnames;
	bool xshnum;            /* count in sh_size of shdr 0, e_shnum 0 */
	bool xstrndx;           /* index in sh_link of shdr 0, SHN_XINDEX */
	uint32_t strndx;        /* 0: the names' section, the last one */
	uint16_t shentsize;     /* 0: the real size */
	uint32_t strcut;        /* sh_size of the names' section; 0: all */
	size_t cut;             /* file length; 0: everything */
	unsigned char buf[4096];
	size_t len;
};

#define SHOFF 1024
#define STROFF 3072

static void put(struct image *im, size_t off, uint64_t v, int n)
{
	for (int i = 0; i < n; i++)
		im->buf[off + (size_t)(im->big ? n - 1 - i : i)] =
			(unsigned char)(v >> (8 * i));
	if (off + (size_t)n > im->len)
		im->len = off + (size_t)n;
}

/* Section headers and names for im->snames, after the null section. */
static void build_sections(struct image *im)
{
	size_t shsize = im->is64 ? 64 : 40;
	size_t shentsize = im->shentsize ? im->shentsize : shsize;
	uint32_t num = (uint32_t)im->nsnames + 2, strsec = num - 1;
	uint32_t strndx = im->strndx ? im->strndx : strsec;
	size_t name = 1; /* offset 0 is the empty name */

	for (uint32_t i = 1; i < num; i++) {
		const char *s = i < strsec ? im->snames[i - 1] : ".shstrtab";
		size_t at = SHOFF + i * shentsize;
		put(im, at, name, 4);
		put(im, at + 4, i < strsec ? SHT_PROGBITS : SHT_STRTAB, 4);
		put(im, at + shentsize - 4, 0, 4); /* its full length */
		memcpy(im->buf + STROFF + name, s, strlen(s) + 1);
		name += strlen(s) + 1;
	}
	size_t at = SHOFF + strsec * shentsize;
	put(im, at + (im->is64 ? 24 : 16), STROFF, im->is64 ? 8 : 4);
	put(im, at + (im->is64 ? 32 : 20), im->strcut ? im->strcut : name,
	    im->is64 ? 8 : 4);
	if (STROFF + name > im->len)
		im->len = STROFF + name;
	put(im, im->is64 ? 58 : 46, shentsize, 2);
	put(im, im->is64 ? 60 : 48, im->xshnum ? 0 : num, 2);
	put(im, im->is64 ? 62 : 50, im->xstrndx ? SHN_XINDEX : strndx, 2);
	if (im->xshnum)
		put(im, SHOFF + (im->is64 ? 32 : 20), num, im->is64 ? 8 : 4);
	if (im->xstrndx)
		put(im, SHOFF + (im->is64 ? 40 : 24), strndx, 4);
}

static void build(struct image *im)
{
	size_t ehsize = im->is64 ? 64 : 52, phsize = im->is64 ? 56 : 32;
	size_t phentsize = im->phentsize ? im->phentsize : phsize;
	size_t phoff = ehsize, shoff = SHOFF;
	bool has_shdrs = im->phnum == PN_XNUM || im->nsnames > 0;

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
		put(im, 40, has_shdrs ? shoff : 0, 8);
		put(im, 52, ehsize, 2);
		put(im, 54, phentsize, 2);
		put(im, 56, im->phnum, 2);
		put(im, 58, has_shdrs ? 64 : 0, 2);
	} else {
		put(im, 28, phoff, 4);
		put(im, 32, has_shdrs ? shoff : 0, 4);
		put(im, 40, ehsize, 2);
		put(im, 42, phentsize, 2);
		put(im, 44, im->phnum, 2);
		put(im, 46, has_shdrs ? 40 : 0, 2);
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
	if (im->nsnames > 0)
		build_sections(im);
	if (im->cut)
		im->len = im->cut;
}

/* A memory file holding the image as built. */
static int memfile(const struct image *im)
{
	int fd = memfd_create("elf", MFD_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, im->buf, im->len), (ssize_t)im->len);
	return fd;
}

/* What read(fd) says of im. */
static int run(struct image *im, int (*read)(int fd))
{
	build(im);
	int fd = memfile(im);
	int r = read(fd);
	close(fd);
	return r;
}

static int check(struct image *im)
{
	return run(im, thr_exe_has_interp);
}

static int check_go(struct image *im)
{
	return run(im, thr_exe_is_go);
}

static const uint32_t dynamic[] = { PT_PHDR, PT_INTERP, PT_LOAD, PT_DYNAMIC };
static const uint32_t fixed[] = { PT_LOAD, PT_LOAD, PT_NOTE, PT_TLS };

/* Sections as linkers name them: Go's (internal and external linking), and
 * a C program's, with names that only look like Go's. */
static const char *const go_buildinfo[] = { ".text", ".go.buildinfo" };
static const char *const go_buildid[] = { ".note.go.buildid", ".text",
                                          ".gopclntab", ".data" };
static const char *const c_sections[] = {
	".note.gnu.build-id", ".text", ".go.buildid" /* gccgo's objects */,
	".go.buildinfo.x", ".go.buildinf", "go.buildinfo", ".note.go",
	".data",
};
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

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
	assert_int_equal(thr_exe_is_go(fd), -ENOEXEC);
	assert_int_equal(write(fd, "#!/bin/sh\necho hi\n", 18), 18);
	assert_int_equal(thr_exe_has_interp(fd), -ENOEXEC);
	assert_int_equal(thr_exe_is_go(fd), -ENOEXEC);
	close(fd);

	im = IMAGE(.is64 = true, .type = ET_REL, .ptypes = dynamic,
	           .nptypes = 4, .phnum = 4);
	assert_int_equal(check(&im), -ENOEXEC);
	/* a Go object file is not a program */
	im.snames = go_buildinfo;
	im.nsnames = 2;
	assert_int_equal(check_go(&im), -ENOEXEC);
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
		int fd = memfile(&im);
		assert_int_equal(thr_exe_has_interp(fd), -ENOEXEC);
		assert_int_equal(thr_exe_is_go(fd), -ENOEXEC);
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
	assert_int_equal(thr_exe_is_go(fd), -EISDIR);
	close(fd);
}

/* ---- Go's sections ---- */

static void test_exe_go_all_classes_and_orders(void **state)
{
	for (int is64 = 0; is64 <= 1; is64++) {
		for (int big = 0; big <= 1; big++) {
			struct image im = IMAGE(.is64 = is64, .big = big,
			                        .snames = go_buildinfo,
			                        .nsnames = COUNT(go_buildinfo));
			assert_int_equal(check_go(&im), 1);
			im = IMAGE(.is64 = is64, .big = big,
			           .snames = go_buildid,
			           .nsnames = COUNT(go_buildid));
			assert_int_equal(check_go(&im), 1);
			im = IMAGE(.is64 = is64, .big = big,
			           .snames = c_sections,
			           .nsnames = COUNT(c_sections));
			assert_int_equal(check_go(&im), 0);
		}
	}
}

/* Whatever the program headers say: a static Go program, a dynamic one. */
static void test_exe_go_static_or_dynamic(void **state)
{
	struct image im = IMAGE(.is64 = true, .type = ET_EXEC, .ptypes = fixed,
	                        .nptypes = 4, .phnum = 4,
	                        .snames = go_buildid,
	                        .nsnames = COUNT(go_buildid));
	assert_int_equal(check_go(&im), 1);
	assert_int_equal(check(&im), 0);
	im = IMAGE(.is64 = true, .ptypes = dynamic, .nptypes = 4, .phnum = 4,
	           .snames = go_buildinfo, .nsnames = COUNT(go_buildinfo));
	assert_int_equal(check_go(&im), 1);
	assert_int_equal(check(&im), 1);
}

/* No section headers, or sections without names: nothing to tell by. */
static void test_exe_go_needs_section_names(void **state)
{
	struct image im = IMAGE(.is64 = true, .ptypes = dynamic, .nptypes = 4,
	                        .phnum = 4);
	assert_int_equal(check_go(&im), 0);
	im = IMAGE(.snames = go_buildinfo, .nsnames = COUNT(go_buildinfo));
	build(&im);
	put(&im, 50, SHN_UNDEF, 2); /* e_shstrndx */
	int fd = memfile(&im);
	assert_int_equal(thr_exe_is_go(fd), 0);
	close(fd);
}

/* A section count or names' index too large for the ELF header is in
 * section header 0. */
static void test_exe_go_extended_section_counts(void **state)
{
	for (int is64 = 0; is64 <= 1; is64++) {
		struct image im = IMAGE(.is64 = is64, .snames = go_buildid,
		                        .nsnames = COUNT(go_buildid),
		                        .xshnum = true);
		assert_int_equal(check_go(&im), 1);
		im.xshnum = false;
		im.xstrndx = true;
		assert_int_equal(check_go(&im), 1);
		im.xshnum = true;
		assert_int_equal(check_go(&im), 1);
		im = IMAGE(.is64 = is64, .snames = c_sections,
		           .nsnames = COUNT(c_sections), .xshnum = true,
		           .xstrndx = true);
		assert_int_equal(check_go(&im), 0);
	}
}

/* A name is the whole string up to its NUL, inside the names' section. */
static void test_exe_go_name_must_end_in_the_table(void **state)
{
	static const char *const go[] = { ".go.buildinfo" };
	for (uint32_t cut = 1 + sizeof(".go.buildinfo") - 1;
	     cut <= 1 + sizeof(".go.buildinfo"); cut++) {
		struct image im = IMAGE(.is64 = true, .snames = go,
		                        .nsnames = 1, .strcut = cut);
		build(&im);
		/* the names' section itself unnamed, so that the cut
		 * leaves no name outside the table */
		put(&im, SHOFF + 2 * 64, 0, 4);
		int fd = memfile(&im);
		/* without its NUL the name is ".go.buildinfo..." */
		assert_int_equal(thr_exe_is_go(fd),
		                 cut == 1 + sizeof(".go.buildinfo"));
		close(fd);
	}
}

static void test_exe_go_rejects_malformed(void **state)
{
	/* the names' index past the count */
	struct image im = IMAGE(.is64 = true, .snames = go_buildinfo,
	                        .nsnames = COUNT(go_buildinfo), .strndx = 9);
	assert_int_equal(check_go(&im), -ENOEXEC);
	/* section headers smaller than the struct */
	im = IMAGE(.snames = go_buildinfo, .nsnames = COUNT(go_buildinfo),
	           .shentsize = 32);
	assert_int_equal(check_go(&im), -ENOEXEC);
	/* cut inside the section headers, inside the names */
	im = IMAGE(.is64 = true, .snames = go_buildinfo,
	           .nsnames = COUNT(go_buildinfo), .cut = SHOFF + 64 + 10);
	assert_int_equal(check_go(&im), -ENOEXEC);
	im = IMAGE(.is64 = true, .snames = go_buildinfo,
	           .nsnames = COUNT(go_buildinfo), .cut = STROFF + 9);
	assert_int_equal(check_go(&im), -ENOEXEC);
	/* a name past the end of the names' section */
	im = IMAGE(.is64 = true, .snames = go_buildinfo,
	           .nsnames = COUNT(go_buildinfo), .strcut = 4);
	assert_int_equal(check_go(&im), -ENOEXEC);
}

/* ---- real files ---- */

static void test_exe_this_binary_is_dynamic(void **state)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	assert_int_equal(thr_exe_has_interp(fd), 1);
	assert_int_equal(thr_exe_is_go(fd), 0);
	close(fd);
}

static int nfixtures;
static char **fixtures;

/* The programs built from tests/elf/hello.c: "hello-dynamic" or
 * "hello-static", with "-go-..." when they carry a Go section. */
static void test_exe_hello_programs(void **state)
{
	if (nfixtures == 0)
		skip();
	for (int i = 0; i < nfixtures; i++) {
		const char *base = strrchr(fixtures[i], '/');
		base = base ? base + 1 : fixtures[i];
		int fd = open(fixtures[i], O_RDONLY | O_CLOEXEC);
		assert_true(fd >= 0);
		print_message("%s\n", base);
		assert_int_equal(thr_exe_has_interp(fd),
		                 strstr(base, "-dynamic") != NULL);
		assert_int_equal(thr_exe_is_go(fd),
		                 strstr(base, "-go-") != NULL);
		close(fd);
	}
}

int main(int argc, char **argv)
{
	nfixtures = argc - 1;
	fixtures = argv + 1;
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
		cmocka_unit_test(test_exe_go_all_classes_and_orders),
		cmocka_unit_test(test_exe_go_static_or_dynamic),
		cmocka_unit_test(test_exe_go_needs_section_names),
		cmocka_unit_test(test_exe_go_extended_section_counts),
		cmocka_unit_test(test_exe_go_name_must_end_in_the_table),
		cmocka_unit_test(test_exe_go_rejects_malformed),
		cmocka_unit_test(test_exe_this_binary_is_dynamic),
		cmocka_unit_test(test_exe_hello_programs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
