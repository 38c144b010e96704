/* exe.c - finds PT_INTERP in an executable's program headers, by hand: only
 * the few fields needed, with every offset and count checked against the
 * file, since the file is whatever the user named. */
#include "exe.h"

#include <elf.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* How to read multi-byte fields of this file. */
struct elf_file {
	int fd;
	bool is64;
	bool big;       /* ELFDATA2MSB */
};

static uint64_t get(const struct elf_file *f, const unsigned char *p, int n)
{
	uint64_t v = 0;
	for (int i = 0; i < n; i++)
		v |= (uint64_t)p[f->big ? n - 1 - i : i] << (8 * i);
	return v;
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

/* The real number of program headers when e_phnum is PN_XNUM: the sh_info
 * of section header 0. */
static int extended_phnum(const struct elf_file *f, const unsigned char *eh,
                          uint64_t *ret)
{
	uint64_t shoff = f->is64 ? get(f, eh + 40, 8) : get(f, eh + 32, 4);
	unsigned char sh[64];
	size_t shsize = f->is64 ? sizeof(Elf64_Shdr) : sizeof(Elf32_Shdr);
	if (shoff == 0)
		return -ENOEXEC;
	int r = read_at(f->fd, sh, shsize, shoff);
	if (r < 0)
		return r;
	*ret = f->is64 ? get(f, sh + 44, 4) : get(f, sh + 28, 4);
	return 0;
}

int thr_exe_has_interp(int fd)
{
	unsigned char eh[sizeof(Elf64_Ehdr)], ph[sizeof(Elf64_Phdr)];
	struct elf_file f = { .fd = fd };
	int r = read_at(fd, eh, EI_NIDENT, 0);
	if (r < 0)
		return r;
	if (memcmp(eh, ELFMAG, SELFMAG) != 0 ||
	    (eh[EI_CLASS] != ELFCLASS32 && eh[EI_CLASS] != ELFCLASS64) ||
	    (eh[EI_DATA] != ELFDATA2LSB && eh[EI_DATA] != ELFDATA2MSB))
		return -ENOEXEC;
	f.is64 = eh[EI_CLASS] == ELFCLASS64;
	f.big = eh[EI_DATA] == ELFDATA2MSB;
	size_t ehsize = f.is64 ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
	size_t phmin = f.is64 ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
	if ((r = read_at(fd, eh, ehsize, 0)) < 0)
		return r;

	uint64_t type = get(&f, eh + 16, 2);
	uint64_t phoff = f.is64 ? get(&f, eh + 32, 8) : get(&f, eh + 28, 4);
	uint64_t phentsize = get(&f, eh + (f.is64 ? 54 : 42), 2);
	uint64_t phnum = get(&f, eh + (f.is64 ? 56 : 44), 2);
	if (type != ET_EXEC && type != ET_DYN)
		return -ENOEXEC;
	if (phnum == PN_XNUM && (r = extended_phnum(&f, eh, &phnum)) < 0)
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
