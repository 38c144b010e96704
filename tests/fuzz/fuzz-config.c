/* fuzz-config.c - libFuzzer target: the config parser on any text, as
 * thr_config_parse_buf() reads it, includes and all (they find nothing
 * but what lies in a private, empty folder: confine.h). Whatever the text,
 * the parse must not crash, leak or hang, and must give either a config
 * that keeps the parser's promises or exactly one clean line of error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "confine.h"
#include "fuzz.h"
#include "match.h"

static const char *dir;
static char name[4096];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	dir = fuzz_tmpdir("config");
	/* No ${VAR} may reach outside: libconfuse expands from the
	 * environment. */
	clearenv();
	snprintf(name, sizeof(name), "%s/fuzz.conf", dir);
	return 0;
}

/* What a loaded config promises its users (config.h). */
static void check_config(const struct thr_config *cfg)
{
	for (size_t i = 0; i < cfg->npools; i++) {
		const struct thr_config_pool *p = &cfg->pools[i];

		FUZZ_CHECK(p->name[0] != '\0');
		FUZZ_CHECK(p->limit >= 1 && p->limit <= THR_CONFIG_LIMIT_MAX);
		/* none only where a connect host did not resolve */
		FUZZ_CHECK(p->nconnect + p->nopen >= 1 || cfg->unresolved);
		FUZZ_CHECK(p->file && p->line >= 1);
		for (size_t k = 0; k < p->nopen; k++)
			FUZZ_CHECK(thr_match_check_glob(p->open[k], NULL, 0) == 0);
		for (size_t k = 0; k < p->nconnect; k++)
			FUZZ_CHECK(p->connect[k].port_lo <= p->connect[k].port_hi);
	}
	FUZZ_CHECK(cfg->npools <= THR_CONFIG_POOLS_MAX);
	FUZZ_CHECK(!cfg->unresolved || fuzz_is_clean_line(cfg->unresolved));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct thr_config *cfg = NULL;
	char *text = fuzz_text(data, size), err[512];
	int rc;

	if (!text)
		return 0;
	fuzz_confine(dir);
	rc = thr_config_parse_buf(text, name, &cfg, err, sizeof(err));
	fuzz_confine(NULL);
	if (rc == 0) {
		FUZZ_CHECK(cfg != NULL && err[0] == '\0');
		check_config(cfg);
	} else {
		FUZZ_CHECK(rc < 0 && cfg == NULL);
		FUZZ_CHECK(err[0] != '\0' && fuzz_is_clean_line(err));
	}
	thr_config_free(cfg);
	free(text);
	return 0;
}
