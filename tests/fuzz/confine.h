/* confine.h - keeps the config fuzzers inside their own folder. The fuzz
 * executables are linked with -Wl,--wrap for the file and name functions
 * config/ calls (see meson.build), and while confinement is on, these
 * refuse every path outside the folder (as missing) and resolve no host
 * name but *.test (to 127.0.0.1 or ::1): an input may name /proc, a whole
 * file system or a DNS name, and a run must neither read nor wait for
 * them. Off, they pass every call through (libFuzzer reads its corpus
 * through them too). */
#ifndef THR_CONFINE_H
#define THR_CONFINE_H

#include <stdbool.h>

/* Confines to dir (absolute) from now on, or lifts it (dir NULL). */
void fuzz_confine(const char *dir);

#endif
