/* exe.h - does an executable ask for a dynamic loader? A program without one
 * (static, or static-pie) never loads a preloaded library. Read straight from
 * the ELF header and program headers: 32 and 64 bit, either byte order. */
#ifndef THR_EXE_H
#define THR_EXE_H

/* Reads the ELF file open on fd (by pread; the offset is not moved).
 * Returns 1 when it has a PT_INTERP program header (dynamically linked),
 * 0 when it has none (statically linked), -ENOEXEC when it is not an ELF
 * executable or its headers are malformed or truncated, or -errno when
 * reading fails. */
int thr_exe_has_interp(int fd);

#endif
