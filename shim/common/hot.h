/* hot.h - marks the functions that every gated open, connect, dup or close
 * runs, so that the linker packs them together. Must mark nothing else:
 * each system call leaves the instruction cache cold, and these calls cost
 * about 2 ns for every 64-byte line of code they touch after one. */
#ifndef THR_HOT_H
#define THR_HOT_H

/* GCC places hot functions in .text.hot, which GNU ld's default script
 * gathers ahead of the rest of .text. */
#define THR_HOT __attribute__((hot))

#endif
