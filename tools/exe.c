/* exe.c - reads an executable's ELF header, program headers and section
 * headers by hand: only the few fields needed, with every offset and count
 * checked against the file, since the file is whatever the user named. It
 * reads headers and section names only, never maps or runs the file. */
#include "exe.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* Sections only Go's linker writes. Both are allocated (part of the loaded
 * image), so strip keeps them. .go.buildinfo holds the Go version and the
 * modules `go version -m` shows, in every executable since Go 1.13, however
 * linked; .note.go.buildid is the Go build ID, absent only from programs
 * linked with an empty -buildid. gccgo's programs call libc, which the
 * library sees, and carry neither. */
static const char *const go_sections[] = { ".go.buildinfo",
                                           ".note.go.buildid" };
#define LONGEST_NAME sizeof(".note.go.buildid")

/* One open ELF file: how to read its multi-byte fields, and its header. */
struct elf_file {
	int fd;
	bool is64;
	bool big;       /* ELFDATA2MSB */
	unsigned char eh[sizeof(Elf64_Ehdr)];
};

static uint64_t get(const struct elf_file *f, const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[f->big ? n - 1 - i : i] << (8 * i);
	return v;
}

/* A field that is 4 bytes long in 32-bit files and 8 in 64-bit ones
 * (addresses, offsets, sizes), at its offset in each. */
static uint64_t word(const struct elf_file *f, const unsigned char *p,
                     int off32, int off64)
{
	return f->is64 ? get(f, p + off64, 8) : get(f, p + off32, 4);
}

/* A 2-byte field of the ELF header, at its offset in each class. */
static uint64_t half(const struct elf_file *f, int off32, int off64)
{
	return get(f, f->eh + (f->is64 ? off64 : off32), 2);
}

/* Reads exactly len bytes at off: -ENOEXEC if the file is shorter. */
static int read_at(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;
	while (done < len) {
		ssize_t k = pread(fd, (char *)buf + done, len - done,
		                  (off_t)(off + done));
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ENOEXEC;
		done += (size_t)k;
	}
	return 0;
}

/* Reads and checks the ELF header of the file open on fd into f: 0, or
 * -ENOEXEC for anything but an executable or a shared object, or -errno. */
static int elf_open(int fd, struct elf_file *f)
{
	unsigned char *eh = f->eh;
	int r = read_at(fd, eh, EI_NIDENT, 0);
	if (r < 0)
		return r;
	if (memcmp(eh, ELFMAG, SELFMAG) != 0 ||
	    (eh[EI_CLASS] != ELFCLASS32 && eh[EI_CLASS] != ELFCLASS64) ||
	    (eh[EI_DATA] != ELFDATA2LSB && eh[EI_DATA] != ELFDATA2MSB))
		return -ENOEXEC;
	f->fd = fd;
	f->is64 = eh[EI_CLASS] == ELFCLASS64;
	f->big = eh[EI_DATA] == ELFDATA2MSB;
	size_t ehsize = f->is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	if ((r = read_at(fd, eh, ehsize, 0)) < 0)
		return r;
	uint64_t type = get(f, eh + 16, 2);
	return type == ET_EXEC || type == ET_DYN ? 0 : -ENOEXEC;
}

/* Reads section header i into sh (sizeof(Elf64_Shdr) bytes): 0, -ENOEXEC if
 * the file has no section header table, entries too small for one, or fewer
 * entries than that, or -errno. */
static int read_shdr(const struct elf_file *f, uint64_t i, unsigned char *sh)
{
	uint64_t shoff = word(f, f->eh, 32, 40);
	uint64_t entsize = half(f, 46, 58);
	size_t size = f->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	/* i < 2^32 and entsize < 2^16: only the sum can wrap */
	uint64_t off = shoff + i * entsize;
	if (shoff == 0 || entsize < size || off < shoff)
		return -ENOEXEC;
	return read_at(f->fd, sh, size, off);
}

/* ---- program headers ---------------------------------------------------- */

/* The real number of program headers when e_phnum is PN_XNUM: the sh_info
 * of section header 0. */
static int extended_phnum(const struct elf_file *f, uint64_t *ret)
{
	unsigned char sh[sizeof(Elf64_Shdr)];
	int r = read_shdr(f, 0, sh);
	if (r < 0)
		return r;
	*ret = get(f, sh + (f->is64 ? 44 : 28), 4);
	return 0;
}

int thr_exe_has_interp(int fd)
{
	unsigned char ph[sizeof(Elf64_Phdr)];
	struct elf_file f;
	int r = elf_open(fd, &f);
	if (r < 0)
		return r;

	size_t phmin = f.is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	uint64_t phoff = word(&f, f.eh, 28, 32);
	uint64_t phentsize = half(&f, 42, 54);
	uint64_t phnum = half(&f, 44, 56);
	if (phnum == PN_XNUM && (r = extended_phnum(&f, &phnum)) < 0)
		return r;
	if (phnum == 0)
		return 0;
	if (phoff == 0 || phentsize < phmin)
		return -ENOEXEC;
	for (uint64_t i = 0; i < phnum; i++) {
		if (phoff + i * phentsize < phoff) /* wrapped around */
			return -ENOEXEC;
		if ((r = read_at(fd, ph, phmin, phoff + i * phentsize)) < 0)
			return r;
		if (get(&f, ph, 4) == PT_INTERP)
			return 1;
	}
	return 0;
}

/* ---- section headers ---------------------------------------------------- */

/* The number of sections and the index of the section of their names, from
 * the ELF header or, where they do not fit there, from section header 0. */
static int section_counts(const struct elf_file *f, uint64_t *ret_num,
                          uint64_t *ret_strndx)
{
	unsigned char sh0[sizeof(Elf64_Shdr)];
	uint64_t num = half(f, 48, 60), strndx = half(f, 50, 62);
	if (num == 0 || strndx == SHN_XINDEX) {
		int r = read_shdr(f, 0, sh0);
		if (r < 0)
			return r;
		if (num == 0)
			num = word(f, sh0, 20, 32);                     /* sh_size */
		if (strndx == SHN_XINDEX)
			strndx = get(f, sh0 + (f->is64 ? 40 : 24), 4); /* sh_link */
	}
	*ret_num = num;
	*ret_strndx = strndx;
	return 0;
}

/* Is the name at offset name of the string table (size bytes at off) one of
 * go_sections? 1 or 0, -ENOEXEC when the name lies outside the table or the
 * file, or -errno. Reads at most the longest such name's length. */
static int is_go_section(const struct elf_file *f, uint64_t off,
                         uint64_t size, uint64_t name)
{
	char buf[LONGEST_NAME];
	if (name >= size || off + name < off)
		return -ENOEXEC;
	size_t len = size - name < sizeof(buf) ? (size_t)(size - name)
	                                       : sizeof(buf);
	int r = read_at(f->fd, buf, len, off + name);
	if (r < 0)
		return r;
	for (size_t i = 0; i < sizeof(go_sections) / sizeof(go_sections[0]);
	     i++) {
		size_t n = strlen(go_sections[i]) + 1;
		if (n <= len && memcmp(buf, go_sections[i], n) == 0)
			return 1;
	}
	return 0;
}

int thr_exe_is_go(int fd)
{
	unsigned char sh[sizeof(Elf64_Shdr)];
	uint64_t num, strndx;
	struct elf_file f;
	int r = elf_open(fd, &f);
	if (r < 0)
		return r;
	if (word(&f, f.eh, 32, 40) == 0)
		return 0; /* no section headers: nothing to tell by */
	if ((r = section_counts(&f, &num, &strndx)) < 0)
		return r;
	if (strndx == SHN_UNDEF)
		return 0; /* sections without names */
	if (strndx >= num)
		return -ENOEXEC;
	if ((r = read_shdr(&f, strndx, sh)) < 0)
		return r;
	uint64_t stroff = word(&f, sh, 16, 24), strsize = word(&f, sh, 20, 32);

	/* section 0 is the null section */
	for (uint64_t i = 1; i < num && i < THR_EXE_MAX_SECTIONS; i++) {
		if ((r = read_shdr(&f, i, sh)) < 0)
			return r;
		if ((r = is_go_section(&f, stroff, strsize, get(&f, sh, 4))))
			return r;
	}
	return 0;
}
