/* hello.c - a program for the exe tests to read and throttle's tests to run,
 * built plain or carrying one of the sections only Go's linker writes, with
 * content shaped as Go writes it. It is no Go program: it only prints. */
#include <stdint.h>
#include <stdio.h>

#ifdef GO_BUILDINFO
/* The header of Go 1.18's and later: magic, pointer size, flags (2: the
 * version and module strings follow inline, here empty). */
__attribute__((used, section(".go.buildinfo"), aligned(16)))
static char go_buildinfo[32] = "\xff Go buildinf:\x08\x02";
#endif

#ifdef GO_BUILDID
/* An ELF note as Go's linker writes its build ID: owner "Go", type 4. */
struct go_note {
	uint32_t namesz, descsz, type;
	char name[4];
	char desc[8];
};
__attribute__((used, section(".note.go.buildid"), aligned(4)))
static const struct go_note go_buildid = { 4, 8, 4, "Go", "fixture" };
#endif

int main(void)
{
	puts("hello");
	return 0;
}
