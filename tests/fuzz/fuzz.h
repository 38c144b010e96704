/* fuzz.h - what the libFuzzer targets share: the entry points libFuzzer
 * calls, a check that stops the run with the input saved, and a private
 * temp folder removed at exit. Targets never print on success. */
#ifndef THR_FUZZ_H
#define THR_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A property the code under test must keep: when it does not, says which
 * (file, line) on stderr and aborts, so that libFuzzer saves the input. */
#define FUZZ_CHECK(cond) \
	((cond) ? (void)0 : fuzz_failed(#cond, __FILE__, __LINE__))

__attribute__((noreturn))
void fuzz_failed(const char *what, const char *file, int line);

/* Makes a private folder under $TMPDIR (or /tmp), removed with everything
 * in it when the process exits normally. Returns its path; aborts on
 * failure. */
const char *fuzz_tmpdir(const char *name);

/* Writes len bytes of data to path (0600), replacing it. Aborts on
 * failure. */
void fuzz_write(const char *path, const void *data, size_t len);

/* The input as a NUL-terminated string (malloc'd; NULL when out of
 * memory): what a parser of text is given. */
char *fuzz_text(const uint8_t *data, size_t size);

/* Is msg one line of printable ASCII, as every config message must be? */
bool fuzz_is_clean_line(const char *msg);

#endif
