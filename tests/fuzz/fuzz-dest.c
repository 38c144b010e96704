/* fuzz-dest.c - libFuzzer target: the connect destination parser
 * (thr_match_parse_dest) on any text, and the matcher on what it accepts.
 * Host names are not looked up, but *.test ones stand for loopback
 * (confine.h). Parsed rules must be well formed, and matching them against
 * IPv4, IPv6 and unix addresses must not crash. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "confine.h"
#include "fuzz.h"
#include "match.h"

static const char *dir;
static struct sockaddr_in v4;
static struct sockaddr_in6 v6;
static struct sockaddr_un un, abstract;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	dir = fuzz_tmpdir("dest");
	v4.sin_family = AF_INET;
	v4.sin_port = htons(5432);
	inet_pton(AF_INET, "10.0.0.5", &v4.sin_addr);
	v6.sin6_family = AF_INET6;
	v6.sin6_port = htons(443);
	inet_pton(AF_INET6, "2001:db8::1", &v6.sin6_addr);
	un.sun_family = AF_UNIX;
	strcpy(un.sun_path, "/run/postgresql/.s.PGSQL.5432");
	abstract.sun_family = AF_UNIX;
	memcpy(abstract.sun_path, "\0name", 5);
	return 0;
}

static void match_all(const struct thr_match_dest *r)
{
	(void)thr_match_dest_matches(r, (const struct sockaddr *)&v4,
	                             sizeof(v4));
	(void)thr_match_dest_matches(r, (const struct sockaddr *)&v6,
	                             sizeof(v6));
	(void)thr_match_dest_matches(r, (const struct sockaddr *)&v6,
	                             THR_MATCH_IN6_MIN);
	(void)thr_match_dest_matches(r, (const struct sockaddr *)&un,
	                             sizeof(un));
	(void)thr_match_dest_matches(r, (const struct sockaddr *)&abstract,
	                             (socklen_t)(offsetof(struct sockaddr_un,
	                                                  sun_path) + 5));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct thr_match_dest *rules = NULL;
	char *text = fuzz_text(data, size), err[256];
	size_t n = 0;
	int rc;

	if (!text)
		return 0;
	fuzz_confine(dir);
	rc = thr_match_parse_dest(text, &rules, &n, err, sizeof(err));
	fuzz_confine(NULL);
	if (rc > 0) {
		FUZZ_CHECK((size_t)rc == n && rules != NULL);
		for (size_t i = 0; i < n; i++) {
			const struct thr_match_dest *r = &rules[i];

			FUZZ_CHECK(r->port_lo <= r->port_hi);
			FUZZ_CHECK(r->prefix <= 128);
			FUZZ_CHECK((r->kind == THR_MATCH_UNIX) == (r->glob != NULL));
			match_all(r);
		}
	} else if (rc == 0) {
		/* a hostname that did not resolve: no rule, and why */
		FUZZ_CHECK(n == 0 && rules == NULL && err[0] != '\0');
	} else {
		FUZZ_CHECK(rc == -EINVAL || rc == -ENOMEM);
		FUZZ_CHECK(err[0] != '\0');
	}
	if (rules)
		thr_match_free_dests(rules, n);
	free(text);
	return 0;
}
