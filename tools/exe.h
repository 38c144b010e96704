/* exe.h - what an executable's ELF headers say about preloading: does it ask
 * for a dynamic loader (a static or static-pie program never loads a
 * preloaded library), and did Go's linker make it (Go makes its system calls
 * itself, so a loaded library sees none of them). Read straight from the
 * headers, never by running the file: 32 and 64 bit, either byte order. */
#ifndef THR_EXE_H
#define THR_EXE_H

/* Reads the ELF file open on fd (by pread; the offset is not moved).
 * Returns 1 when it has a PT_INTERP program header (dynamically linked),
 * 0 when it has none (statically linked), -ENOEXEC when it is not an ELF
 * executable or its headers are malformed or truncated, or -errno when
 * reading fails. */
int thr_exe_has_interp(int fd);

/* Reads the section headers and their names of the ELF file open on fd (by
 * pread; the offset is not moved). Returns 1 when a section is named
 * ".go.buildinfo" (Go 1.13 and later) or ".note.go.buildid" (a Go build ID),
 * which only Go's linker writes and strip keeps; 0 when none is, or the file
 * has no section headers or no section names; -ENOEXEC when it is not an ELF
 * executable or its headers are malformed or truncated; -errno when reading
 * fails. Only the first THR_EXE_MAX_SECTIONS sections are looked at. */
int thr_exe_is_go(int fd);

/* Far more than any linker writes into an executable (Go's: about 30), and
 * few enough to read one by one. */
#define THR_EXE_MAX_SECTIONS 4096

#endif
