/* fuzz-config-include.c - libFuzzer target: a config made of several files
 * that include each other. The input is cut at NUL bytes (which no config
 * file may hold) into up to FILES parts, written to 0.conf, 1.conf ... in
 * a private folder, and 0.conf is loaded with thr_config_load_closed() as
 * the shim loads it: through source.c, include globs, cycles and the
 * load's bounds, confined to that folder (confine.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "confine.h"
#include "fuzz.h"

#define FILES 8

static const char *dir;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	dir = fuzz_tmpdir("config-include");
	clearenv();
	return 0;
}

/* Writes the parts of data into the folder; the files past the last part
 * are removed, so that nothing of an earlier input is left. */
static void write_files(const uint8_t *data, size_t size)
{
	const uint8_t *p = data, *end = data + size;
	char path[4200];

	for (int i = 0; i < FILES; i++) {
		const uint8_t *nul = p < end ? memchr(p, '\0', (size_t)(end - p))
		                             : NULL;
		const uint8_t *stop = nul ? nul : end;

		snprintf(path, sizeof(path), "%s/%d.conf", dir, i);
		if (p <= end && (i == 0 || p < end)) {
			fuzz_write(path, p, (size_t)(stop - p));
			p = stop + 1;
		} else {
			unlink(path);
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct thr_config *cfg = NULL;
	char path[4200], err[512];
	bool closed = false;
	int rc;

	write_files(data, size);
	snprintf(path, sizeof(path), "%s/0.conf", dir);
	fuzz_confine(dir);
	rc = thr_config_load_closed(path, &cfg, &closed, err, sizeof(err));
	fuzz_confine(NULL);
	if (rc == 0) {
		FUZZ_CHECK(cfg != NULL && err[0] == '\0');
		FUZZ_CHECK(cfg->fail_closed == closed);
		FUZZ_CHECK(cfg->npools <= THR_CONFIG_POOLS_MAX);
	} else {
		FUZZ_CHECK(rc < 0 && cfg == NULL);
		FUZZ_CHECK(err[0] != '\0' && fuzz_is_clean_line(err));
	}
	thr_config_free(cfg);
	return 0;
}
