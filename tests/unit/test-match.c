/* test-match.c - unit tests for shim/match/match.c: destination parsing, address and
 * path matching, globs and normalisation. getaddrinfo() is interposed so the
 * resolver's failure paths run without a network; "localhost" is real. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/un.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "destindex.h"
#include "globindex.h"
#include "match.h"

/* ---- resolver interposition ---- */

static int resolver_calls;

typedef int (*gai_fn)(const char *, const char *, const struct addrinfo *,
                      struct addrinfo **);

/* Names under ".unresolvable.test" fail and "nomem.test" runs out of memory
 * without asking any server; everything else goes to the real resolver. */
int getaddrinfo(const char *node, const char *service,
                const struct addrinfo *hints, struct addrinfo **res)
{
	static const char fail_suffix[] = ".unresolvable.test";
	size_t n = node ? strlen(node) : 0, k = sizeof(fail_suffix) - 1;
	void *sym;
	gai_fn real;

	resolver_calls++;
	if (n > k && strcmp(node + n - k, fail_suffix) == 0)
		return EAI_NONAME;
	if (node && strcmp(node, "nomem.test") == 0)
		return EAI_MEMORY;
	sym = dlsym(RTLD_NEXT, "getaddrinfo");
	if (!sym)
		return EAI_SYSTEM;
	memcpy(&real, &sym, sizeof(real));
	return real(node, service, hints, res);
}

/* ---- helpers ---- */

static struct sockaddr_in sa4(const char *addr, uint16_t port)
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(port) };

	assert_int_equal(inet_pton(AF_INET, addr, &in.sin_addr), 1);
	return in;
}

static struct sockaddr_in6 sa6(const char *addr, uint16_t port)
{
	struct sockaddr_in6 in6 = {
		.sin6_family = AF_INET6, .sin6_port = htons(port),
	};

	assert_int_equal(inet_pton(AF_INET6, addr, &in6.sin6_addr), 1);
	return in6;
}

static bool hits4(const struct thr_match_dest *r, const char *addr,
                  uint16_t port)
{
	struct sockaddr_in in = sa4(addr, port);

	return thr_match_dest_matches(r, (struct sockaddr *)&in, sizeof(in));
}

static bool hits6(const struct thr_match_dest *r, const char *addr,
                  uint16_t port)
{
	struct sockaddr_in6 in6 = sa6(addr, port);

	return thr_match_dest_matches(r, (struct sockaddr *)&in6, sizeof(in6));
}

static bool hits_path(const struct thr_match_dest *r, const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	size_t n = strlen(path);

	assert_true(n < sizeof(un.sun_path));
	memcpy(un.sun_path, path, n);
	return thr_match_dest_matches(r, (struct sockaddr *)&un,
	        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1));
}

/* The abstract name is n bytes after the leading NUL, as the kernel sees it. */
static bool hits_abstract(const struct thr_match_dest *r, const char *name,
                          size_t n)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	assert_true(n < sizeof(un.sun_path));
	memcpy(un.sun_path + 1, name, n);
	return thr_match_dest_matches(r, (struct sockaddr *)&un,
	        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n));
}

/* Parses text, which must give exactly one rule; free with free_one(). */
static struct thr_match_dest *parse_one(const char *text)
{
	struct thr_match_dest *rules = NULL;
	size_t n = 0;
	char err[256] = "";
	int ret = thr_match_parse_dest(text, &rules, &n, err, sizeof(err));

	if (ret != 1)
		fail_msg("'%s': ret %d, err \"%s\"", text, ret, err);
	assert_int_equal(n, 1);
	return rules;
}

static void free_one(struct thr_match_dest *r)
{
	thr_match_free_dests(r, 1);
}

static void assert_v4(const struct thr_match_dest *r, const char *addr,
                      unsigned prefix)
{
	uint8_t want[16] = { [10] = 0xff, [11] = 0xff };

	assert_int_equal(inet_pton(AF_INET, addr, want + 12), 1);
	assert_int_equal(r->kind, THR_MATCH_INET);
	assert_memory_equal(r->addr, want, 16);
	assert_int_equal(r->prefix, prefix);
	assert_null(r->glob);
}

static void assert_v6(const struct thr_match_dest *r, const char *addr,
                      unsigned prefix)
{
	uint8_t want[16];

	assert_int_equal(inet_pton(AF_INET6, addr, want), 1);
	assert_int_equal(r->kind, THR_MATCH_INET);
	assert_memory_equal(r->addr, want, 16);
	assert_int_equal(r->prefix, prefix);
}

static void assert_ports(const struct thr_match_dest *r, unsigned lo,
                         unsigned hi)
{
	assert_int_equal(r->port_lo, lo);
	assert_int_equal(r->port_hi, hi);
}

/* A rejected rule: the reason must quote the offending text (says). */
struct bad {
	const char *text;
	const char *says;
	bool resolves;          /* may reach getaddrinfo() */
};

static void assert_rejects(const struct bad *b, size_t n)
{
	struct thr_match_dest *rules;
	size_t nrules, i;
	char err[256];
	int ret, calls;

	for (i = 0; i < n; i++) {
		rules = NULL;
		nrules = 0;
		err[0] = '\0';
		calls = resolver_calls;
		ret = thr_match_parse_dest(b[i].text, &rules, &nrules, err,
		                           sizeof(err));
		if (ret != -EINVAL || !strstr(err, b[i].says))
			fail_msg("'%s': ret %d, err \"%s\", want \"%s\"",
			         b[i].text, ret, err, b[i].says);
		assert_null(rules);
		assert_int_equal(nrules, 0);
		if (!b[i].resolves && resolver_calls != calls)
			fail_msg("'%s' was sent to the resolver", b[i].text);
	}
}

#define REJECTS(...) do { \
	static const struct bad cases_[] = { __VA_ARGS__ }; \
	assert_rejects(cases_, sizeof(cases_) / sizeof(cases_[0])); \
} while (0)

/* ---- parsing ---- */

static void test_match_parse_ipv4(void **state)
{
	struct thr_match_dest *r = parse_one("10.0.0.5:5432");

	assert_v4(r, "10.0.0.5", 128);
	assert_ports(r, 5432, 5432);
	free_one(r);
}

static void test_match_parse_ipv4_cidr(void **state)
{
	struct thr_match_dest *r = parse_one("10.1.0.0/16:*");

	assert_v4(r, "10.1.0.0", 112);
	assert_ports(r, 0, 65535);
	free_one(r);
	r = parse_one("0.0.0.0/0:1");
	assert_v4(r, "0.0.0.0", 96);
	free_one(r);
	r = parse_one("10.0.0.5/32:1");
	assert_v4(r, "10.0.0.5", 128);
	free_one(r);
}

static void test_match_parse_cidr_drops_host_bits(void **state)
{
	struct thr_match_dest *r = parse_one("10.1.2.3/16:80");

	assert_v4(r, "10.1.0.0", 112);
	free_one(r);
	r = parse_one("[2001:db8:ffff::1/33]:80");
	assert_v6(r, "2001:db8:8000::", 33);
	free_one(r);
}

static void test_match_parse_ipv6(void **state)
{
	struct thr_match_dest *r = parse_one("[2001:db8::/32]:5432");

	assert_v6(r, "2001:db8::", 32);
	assert_ports(r, 5432, 5432);
	free_one(r);
	r = parse_one("[::1]:8000-8100");
	assert_v6(r, "::1", 128);
	assert_ports(r, 8000, 8100);
	free_one(r);
	r = parse_one("[::/0]:*");
	assert_v6(r, "::", 0);
	free_one(r);
	r = parse_one("[::/128]:1");
	assert_v6(r, "::", 128);
	free_one(r);
}

static void test_match_parse_any(void **state)
{
	struct thr_match_dest *r = parse_one("*:443");

	assert_int_equal(r->kind, THR_MATCH_ANY);
	assert_ports(r, 443, 443);
	assert_null(r->glob);
	free_one(r);
	r = parse_one("*:*");
	assert_int_equal(r->kind, THR_MATCH_ANY);
	assert_ports(r, 0, 65535);
	free_one(r);
}

static void test_match_parse_port_edges(void **state)
{
	static const struct {
		const char *text;
		unsigned lo, hi;
	} cases[] = {
		{ "10.0.0.5:0", 0, 0 },
		{ "10.0.0.5:65535", 65535, 65535 },
		{ "10.0.0.5:0-65535", 0, 65535 },
		{ "10.0.0.5:80-80", 80, 80 },
		{ "10.0.0.5:00080", 80, 80 },
		{ "[::1]:65534-65535", 65534, 65535 },
	};
	struct thr_match_dest *r;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		r = parse_one(cases[i].text);
		assert_ports(r, cases[i].lo, cases[i].hi);
		free_one(r);
	}
}

static void test_match_parse_unix(void **state)
{
	struct thr_match_dest *r = parse_one("unix:/run/postgresql/*");

	assert_int_equal(r->kind, THR_MATCH_UNIX);
	assert_string_equal(r->glob, "/run/postgresql/*");
	free_one(r);
	r = parse_one("unix:@dbus-*");
	assert_int_equal(r->kind, THR_MATCH_UNIX);
	assert_string_equal(r->glob, "@dbus-*");
	free_one(r);
}

static void test_match_parse_appends(void **state)
{
	struct thr_match_dest *rules = NULL;
	size_t n = 0;
	char err[128];

	assert_int_equal(thr_match_parse_dest("10.0.0.1:1", &rules, &n, err,
	                                      sizeof(err)), 1);
	assert_int_equal(thr_match_parse_dest("unix:/x", &rules, &n, err,
	                                      sizeof(err)), 1);
	assert_int_equal(thr_match_parse_dest("[::1]:2", &rules, &n, err,
	                                      sizeof(err)), 1);
	/* a failure leaves what is there alone */
	assert_int_equal(thr_match_parse_dest("[::1]:x", &rules, &n, err,
	                                      sizeof(err)), -EINVAL);
	assert_int_equal(n, 3);
	assert_v4(&rules[0], "10.0.0.1", 128);
	assert_string_equal(rules[1].glob, "/x");
	assert_v6(&rules[2], "::1", 128);
	assert_ports(&rules[2], 2, 2);
	thr_match_free_dests(rules, n);
}

static bool is_loopback(const struct thr_match_dest *r)
{
	static const uint8_t v4[16] = { [10] = 0xff, [11] = 0xff, [12] = 127,
	                                [15] = 1 };
	static const uint8_t v6[16] = { [15] = 1 };

	return memcmp(r->addr, v4, 16) == 0 || memcmp(r->addr, v6, 16) == 0;
}

static void test_match_parse_localhost(void **state)
{
	struct thr_match_dest *rules = NULL;
	size_t n = 0, i;
	char err[256] = "";
	int ret = thr_match_parse_dest("localhost:80-81", &rules, &n, err,
	                               sizeof(err));

	if (ret < 1)
		fail_msg("localhost: ret %d, err \"%s\"", ret, err);
	/* one rule per distinct address, though the resolver repeats each */
	assert_true(ret <= 2);
	assert_int_equal(n, (size_t)ret);
	for (i = 0; i < n; i++) {
		assert_int_equal(rules[i].kind, THR_MATCH_INET);
		assert_int_equal(rules[i].prefix, 128);
		assert_ports(&rules[i], 80, 81);
		assert_true(is_loopback(&rules[i]));
	}
	if (n == 2)
		assert_memory_not_equal(rules[0].addr, rules[1].addr, 16);
	assert_true(hits4(&rules[0], "127.0.0.1", 81) ||
	            hits6(&rules[0], "::1", 81));
	thr_match_free_dests(rules, n);
}

static void test_match_parse_rejects_bad_address(void **state)
{
	REJECTS(
		{ "10.0.0.256:80", "bad address '10.0.0.256'", false },
		{ "10.0.0:80", "bad address '10.0.0'", false },
		{ "127.1:80", "bad address '127.1'", false },
		{ "0x7f000001:80", "bad address '0x7f000001'", false },
		{ "db example:80", "bad address 'db example'", false },
		{ "*/8:80", "bad address '*'", false },
		{ "db.example/24:80", "bad address 'db.example'", false },
		{ "[2001:db8::zz]:80", "bad IPv6 address '2001:db8::zz'", false },
		{ "[10.0.0.1]:80", "bad IPv6 address '10.0.0.1'", false },
		{ "[*]:80", "bad IPv6 address '*'", false },
		{ "::1:80", "needs [brackets] in '::1:80'", false },
		{ "2001:db8::1", "needs [brackets] in '2001:db8::1'", false },
		{ ":80", "missing address in ':80'", false },
		{ "[]:80", "missing address in '[]:80'", false },
		{ "[::1:80", "missing ']' in '[::1:80'", false },
		{ "", "empty destination", false },
	);
}

static void test_match_parse_rejects_bad_prefix(void **state)
{
	REJECTS(
		{ "10.0.0.0/33:80", "prefix '33' out of range", false },
		{ "10.0.0.0/1000:80", "prefix '1000' out of range", false },
		{ "[::/129]:80", "prefix '129' out of range", false },
		{ "10.0.0.0/:80", "bad prefix '' in '10.0.0.0/:80'", false },
		{ "10.0.0.0/x:80", "bad prefix 'x'", false },
		{ "10.0.0.0/-1:80", "bad prefix '-1'", false },
		{ "[::/8x]:80", "bad prefix '8x'", false },
	);
}

static void test_match_parse_rejects_bad_port(void **state)
{
	REJECTS(
		{ "10.0.0.5:70000", "bad port '70000' in '10.0.0.5:70000'", false },
		{ "10.0.0.5:65536", "bad port '65536'", false },
		{ "10.0.0.5:000080", "bad port '000080'", false },
		{ "10.0.0.5:-80", "bad port '-80'", false },
		{ "10.0.0.5:+80", "bad port '+80'", false },
		{ "10.0.0.5:80-", "bad port '80-'", false },
		{ "10.0.0.5:80-70000", "bad port '80-70000'", false },
		{ "10.0.0.5:x", "bad port 'x'", false },
		{ "10.0.0.5:90-80", "backwards port range '90-80'", false },
		{ "db.unresolvable.test:http", "bad port 'http'", false },
	);
}

static void test_match_parse_rejects_missing_port(void **state)
{
	REJECTS(
		{ "10.0.0.5", "missing port in '10.0.0.5'", false },
		{ "10.0.0.5:", "missing port in '10.0.0.5:'", false },
		{ "[::1]", "missing port in '[::1]'", false },
		{ "[::1]:", "missing port in '[::1]:'", false },
		{ "*", "missing port in '*'", false },
		{ "db.example.com", "missing port in 'db.example.com'", false },
	);
}

static void test_match_parse_rejects_trailing_junk(void **state)
{
	REJECTS(
		{ "10.0.0.5:80x", "trailing junk 'x' in '10.0.0.5:80x'", false },
		{ "10.0.0.5:80 ", "trailing junk ' '", false },
		{ "10.0.0.5:80-90-100", "trailing junk '-100'", false },
		{ "*:*x", "trailing junk 'x'", false },
		{ "[::1]x:80", "trailing junk 'x:80' in '[::1]x:80'", false },
		{ "[::1]:80]", "trailing junk ']'", false },
	);
}

static void test_match_parse_rejects_bad_unix(void **state)
{
	REJECTS(
		{ "unix:run/x", "relative unix path 'run/x'", false },
		{ "unix:", "missing path in 'unix:'", false },
		{ "unix:@", "empty abstract socket name in 'unix:@'", false },
		{ "unix:/run/[ab", "unterminated '[' in 'unix:/run/[ab'", false },
		{ "unix:@x[ab", "unterminated '[' in 'unix:@x[ab'", false },
		{ "unix:/run/[z-a]", "backwards range in '[z-a]'", false },
		{ "unix:/run/", "trailing '/' never matches", false },
	);
}

/* A name that does not resolve now gives no rule and no error, but says
 * why: the config around it still holds. */
static void test_match_parse_unresolvable_gives_no_rule(void **state)
{
	struct thr_match_dest *rules = NULL;
	size_t n = 0;
	char err[128] = "";
	int calls = resolver_calls;

	assert_int_equal(thr_match_parse_dest("db.unresolvable.test:5432",
	                                      &rules, &n, err, sizeof(err)), 0);
	assert_int_equal(n, 0);
	assert_null(rules);
	assert_non_null(strstr(err, "cannot resolve 'db.unresolvable.test'"));
	assert_int_equal(resolver_calls, calls + 1);
}

static void test_match_parse_resolver_out_of_memory(void **state)
{
	struct thr_match_dest *rules = NULL;
	size_t n = 0;
	char err[128] = "";

	assert_int_equal(thr_match_parse_dest("nomem.test:1", &rules, &n, err,
	                                      sizeof(err)), -ENOMEM);
	assert_null(rules);
	assert_int_equal(n, 0);
	assert_true(err[0] != '\0');
}

static void test_match_parse_small_err_buffer(void **state)
{
	struct thr_match_dest *rules = NULL;
	size_t n = 0;
	char err[8];

	memset(err, 'x', sizeof(err));
	assert_int_equal(thr_match_parse_dest("10.0.0.5:70000", &rules, &n, err,
	                                      sizeof(err)), -EINVAL);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(thr_match_parse_dest("10.0.0.5:70000", &rules, &n,
	                                      NULL, 0), -EINVAL);
	assert_int_equal(thr_match_parse_dest(NULL, &rules, &n, NULL, 0),
	                 -EINVAL);
	assert_null(rules);
}

/* ---- matching addresses ---- */

static void test_match_dest_ipv4(void **state)
{
	struct thr_match_dest *r = parse_one("10.0.0.5:5432");

	assert_true(hits4(r, "10.0.0.5", 5432));
	assert_false(hits4(r, "10.0.0.6", 5432));
	assert_false(hits4(r, "10.0.0.5", 5433));
	assert_false(hits6(r, "::a00:5", 5432));        /* v4-compatible, not mapped */
	free_one(r);
}

static void test_match_dest_ipv4_cidr(void **state)
{
	struct thr_match_dest *r = parse_one("10.1.0.0/16:*");

	assert_true(hits4(r, "10.1.0.0", 1));
	assert_true(hits4(r, "10.1.255.255", 65535));
	assert_false(hits4(r, "10.2.0.0", 1));
	assert_false(hits4(r, "10.0.255.255", 1));
	free_one(r);
	r = parse_one("10.0.0.0/9:1");                  /* not on a byte edge */
	assert_true(hits4(r, "10.127.255.255", 1));
	assert_false(hits4(r, "10.128.0.0", 1));
	free_one(r);
	r = parse_one("0.0.0.0/0:1");
	assert_true(hits4(r, "255.255.255.255", 1));
	assert_false(hits6(r, "::1", 1));               /* IPv4 rules stay IPv4 */
	free_one(r);
}

static void test_match_dest_v4_mapped_v6(void **state)
{
	struct thr_match_dest *r = parse_one("10.1.0.0/16:5432");

	assert_true(hits6(r, "::ffff:10.1.2.3", 5432));
	assert_false(hits6(r, "::ffff:10.2.2.3", 5432));
	assert_false(hits6(r, "::ffff:10.1.2.3", 5431));
	free_one(r);
	r = parse_one("[::ffff:10.0.0.0/104]:1");       /* and the other way */
	assert_true(hits4(r, "10.9.9.9", 1));
	assert_false(hits4(r, "11.0.0.0", 1));
	free_one(r);
}

static void test_match_dest_ipv6_cidr(void **state)
{
	struct thr_match_dest *r = parse_one("[2001:db8::/32]:5432");

	assert_true(hits6(r, "2001:db8::1", 5432));
	assert_true(hits6(r, "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", 5432));
	assert_false(hits6(r, "2001:db9::", 5432));
	assert_false(hits4(r, "32.1.13.184", 5432));
	free_one(r);
	r = parse_one("[2001:db8::/33]:1");
	assert_true(hits6(r, "2001:db8:7fff::", 1));
	assert_false(hits6(r, "2001:db8:8000::", 1));
	free_one(r);
}

/* Linux takes RFC 2133's 24-byte IPv6 address (no scope id) as well: it
 * is gated as the full one is; one byte shorter, connect() refuses it. */
static void test_match_dest_ipv6_short_address(void **state)
{
	struct thr_match_dest *r = parse_one("[::1]:47123");
	struct sockaddr_in6 in6 = sa6("::1", 47123);

	assert_true(thr_match_dest_matches(r, (struct sockaddr *)&in6, 24));
	assert_false(thr_match_dest_matches(r, (struct sockaddr *)&in6, 23));
	free_one(r);
}

static void test_match_dest_port_range_edges(void **state)
{
	struct thr_match_dest *r = parse_one("[::1]:8000-8100");

	assert_true(hits6(r, "::1", 8000));
	assert_true(hits6(r, "::1", 8100));
	assert_false(hits6(r, "::1", 7999));
	assert_false(hits6(r, "::1", 8101));
	free_one(r);
	r = parse_one("10.0.0.5:0-65535");
	assert_true(hits4(r, "10.0.0.5", 0));
	assert_true(hits4(r, "10.0.0.5", 65535));
	free_one(r);
	r = parse_one("10.0.0.5:65535");
	assert_true(hits4(r, "10.0.0.5", 65535));
	assert_false(hits4(r, "10.0.0.5", 65534));
	free_one(r);
}

static void test_match_dest_any_both_families(void **state)
{
	struct thr_match_dest *r = parse_one("*:443");

	assert_true(hits4(r, "1.2.3.4", 443));
	assert_true(hits6(r, "2001:db8::5", 443));
	assert_true(hits6(r, "::ffff:1.2.3.4", 443));
	assert_false(hits4(r, "1.2.3.4", 80));
	assert_false(hits6(r, "::1", 444));
	assert_false(hits_path(r, "/run/x"));
	free_one(r);
}

static void test_match_dest_unix_path(void **state)
{
	struct thr_match_dest *r = parse_one("unix:/run/postgresql/*");

	assert_true(hits_path(r, "/run/postgresql/.s.PGSQL.5432"));
	assert_false(hits_path(r, "/run/postgresql/a/b"));
	assert_false(hits_path(r, "/run/mysqld/x"));
	/* the path is normalised, so spelling cannot dodge a rule */
	assert_true(hits_path(r, "//run/./postgresql/../postgresql//x"));
	assert_false(hits_path(r, "run/postgresql/x"));  /* cwd unknown */
	assert_false(hits_abstract(r, "/run/postgresql/x", 17));
	assert_false(hits4(r, "127.0.0.1", 5432));
	free_one(r);
}

static void test_match_dest_unix_full_sun_path(void **state)
{
	struct thr_match_dest *r = parse_one("unix:/a*");
	struct sockaddr_un un = { .sun_family = AF_UNIX };

	/* sun_path may fill the struct with no terminating NUL */
	memset(un.sun_path, 'a', sizeof(un.sun_path));
	un.sun_path[0] = '/';
	assert_true(thr_match_dest_matches(r, (struct sockaddr *)&un,
	                                   sizeof(un)));
	free_one(r);
}

static void test_match_dest_unix_abstract(void **state)
{
	struct thr_match_dest *r = parse_one("unix:@dbus-*");

	assert_true(hits_abstract(r, "dbus-abc", 8));
	assert_false(hits_abstract(r, "xdbus-abc", 9));
	assert_false(hits_path(r, "/dbus-abc"));
	assert_false(hits_path(r, "@dbus-abc"));
	free_one(r);
	/* the name is exactly addrlen long: NUL padding is part of it */
	r = parse_one("unix:@dbus-1");
	assert_true(hits_abstract(r, "dbus-1", 6));
	assert_false(hits_abstract(r, "dbus-1\0\0", 8));
	assert_false(hits_abstract(r, "dbus-", 5));
	free_one(r);
}

static void test_match_dest_unnamed_and_short(void **state)
{
	struct thr_match_dest *u = parse_one("unix:/**");
	struct thr_match_dest *a = parse_one("*:*");
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct sockaddr_in in = sa4("1.2.3.4", 80);

	/* an unnamed (autobind) socket has no path at all */
	assert_false(thr_match_dest_matches(u, (struct sockaddr *)&un,
	                                    sizeof(sa_family_t)));
	assert_false(thr_match_dest_matches(a, (struct sockaddr *)&in,
	                                    sizeof(in) - 1));
	assert_false(thr_match_dest_matches(a, (struct sockaddr *)&in, 0));
	assert_false(thr_match_dest_matches(a, NULL, sizeof(in)));
	assert_false(thr_match_dest_matches(NULL, (struct sockaddr *)&in,
	                                    sizeof(in)));
	assert_true(thr_match_dest_matches(a, (struct sockaddr *)&in,
	                                   sizeof(in)));
	free_one(u);
	free_one(a);
}

static void test_match_dest_unknown_family(void **state)
{
	struct thr_match_dest *rules = NULL;
	size_t n = 0, i;
	char err[64];
	struct sockaddr_storage ss;

	assert_int_equal(thr_match_parse_dest("*:*", &rules, &n, err,
	                                      sizeof(err)), 1);
	assert_int_equal(thr_match_parse_dest("[::/0]:*", &rules, &n, err,
	                                      sizeof(err)), 1);
	assert_int_equal(thr_match_parse_dest("unix:/**", &rules, &n, err,
	                                      sizeof(err)), 1);
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_NETLINK;
	for (i = 0; i < n; i++)
		assert_false(thr_match_dest_matches(&rules[i],
		             (struct sockaddr *)&ss, sizeof(ss)));
	thr_match_free_dests(rules, n);
}

/* ---- globs ---- */

static void test_match_glob_star_stays_in_folder(void **state)
{
	assert_true(thr_match_glob("/etc/*.conf", "/etc/a.conf"));
	assert_true(thr_match_glob("/etc/*.conf", "/etc/.conf"));
	assert_false(thr_match_glob("/etc/*.conf", "/etc/x/a.conf"));
	assert_true(thr_match_glob("/a/*/c", "/a/b/c"));
	assert_false(thr_match_glob("/a/*/c", "/a/b/b/c"));
	assert_true(thr_match_glob("/a/*b*c", "/a/xbybzc"));
	assert_false(thr_match_glob("/a*", "/ab/c"));
	assert_true(thr_match_glob("/*", "/"));
}

static void test_match_glob_question_mark(void **state)
{
	assert_true(thr_match_glob("/a?c", "/abc"));
	assert_false(thr_match_glob("/a?c", "/ac"));
	assert_false(thr_match_glob("/a?c", "/a/c"));
	assert_false(thr_match_glob("/a?", "/a"));
}

static void test_match_glob_literal(void **state)
{
	assert_true(thr_match_glob("/", "/"));
	assert_true(thr_match_glob("/a/b", "/a/b"));
	assert_false(thr_match_glob("/a/b", "/a/bc"));
	assert_false(thr_match_glob("/a/bc", "/a/b"));
	assert_false(thr_match_glob("/a/b", "/A/b"));   /* bytes, no case folding */
	assert_false(thr_match_glob(NULL, "/"));
	assert_false(thr_match_glob("/", NULL));
}

static void test_match_glob_deep_at_end(void **state)
{
	assert_true(thr_match_glob("/mnt/nfs/**", "/mnt/nfs/a"));
	assert_true(thr_match_glob("/mnt/nfs/**", "/mnt/nfs/a/b/c"));
	assert_false(thr_match_glob("/mnt/nfs/**", "/mnt/nfs"));
	assert_false(thr_match_glob("/mnt/nfs/**", "/mnt/nfsx/a"));
	assert_true(thr_match_glob("/**", "/"));
	assert_true(thr_match_glob("/**", "/a/b"));
}

static void test_match_glob_deep_in_middle(void **state)
{
	assert_true(thr_match_glob("/a/**/b", "/a/b"));
	assert_true(thr_match_glob("/a/**/b", "/a/x/b"));
	assert_true(thr_match_glob("/a/**/b", "/a/x/y/b"));
	assert_false(thr_match_glob("/a/**/b", "/a/xb"));
	assert_false(thr_match_glob("/a/**/b", "/ab"));
	assert_false(thr_match_glob("/a/**/b", "/a/x/b/c"));
	assert_true(thr_match_glob("/a/**/**/b", "/a/b"));
	assert_true(thr_match_glob("/a/**/x/**/b", "/a/x/b"));
	assert_true(thr_match_glob("/a/**/x/**/b", "/a/1/x/2/3/b"));
	assert_false(thr_match_glob("/a/**/x/**/b", "/a/1/y/2/b"));
}

static void test_match_glob_deep_at_start(void **state)
{
	assert_true(thr_match_glob("/**/foo", "/foo"));
	assert_true(thr_match_glob("/**/foo", "/a/b/foo"));
	assert_false(thr_match_glob("/**/foo", "/a/b/xfoo"));
	assert_true(thr_match_glob("/**/*.sock", "/run/a/b.sock"));
	assert_false(thr_match_glob("/**/*.sock", "/run/a.sock/b"));
}

static void test_match_glob_deep_inside_name(void **state)
{
	/* not a whole component: crosses folders within the name */
	assert_true(thr_match_glob("/data/**.db", "/data/x/y/z.db"));
	assert_true(thr_match_glob("/data/**.db", "/data/.db"));
	assert_false(thr_match_glob("/data/**.db", "/data/x.dbx"));
	assert_true(thr_match_glob("/a**b/*", "/a/x/b/c"));
}

static void test_match_glob_class(void **state)
{
	assert_true(thr_match_glob("/[abc]", "/b"));
	assert_false(thr_match_glob("/[abc]", "/d"));
	assert_true(thr_match_glob("/dev/sd[a-c]", "/dev/sdc"));
	assert_false(thr_match_glob("/dev/sd[a-c]", "/dev/sdd"));
	assert_true(thr_match_glob("/[a-cx-z]", "/y"));
	assert_true(thr_match_glob("/[]]", "/]"));
	assert_true(thr_match_glob("/[a-]", "/-"));
	assert_true(thr_match_glob("/[-a]", "/-"));
	assert_false(thr_match_glob("/[abc]", "/"));
	assert_false(thr_match_glob("/a[/]b", "/a/b")); /* never '/' */
	assert_true(thr_match_glob("/[\x80-\xff]", "/\xe9"));
}

static void test_match_glob_class_negation(void **state)
{
	assert_true(thr_match_glob("/[!abc]", "/d"));
	assert_false(thr_match_glob("/[!abc]", "/a"));
	assert_true(thr_match_glob("/[^a-c]", "/d"));
	assert_false(thr_match_glob("/[^a-c]", "/b"));
	assert_true(thr_match_glob("/[!]]", "/a"));
	assert_false(thr_match_glob("/[!]]", "/]"));
	assert_false(thr_match_glob("/a[!x]b", "/a/b"));
}

static void test_match_glob_unterminated_class_is_literal(void **state)
{
	/* rejected by thr_match_check_glob, but must still be safe */
	assert_true(thr_match_glob("/a[b", "/a[b"));
	assert_false(thr_match_glob("/a[b", "/ab"));
	assert_true(thr_match_glob("/[!", "/[!"));
}

static void test_match_glob_pathological(void **state)
{
	size_t n = 4000, i;
	char *path = malloc(n + 1);
	char pat[128];

	assert_non_null(path);
	path[0] = '/';
	for (i = 1; i < n; i++)
		path[i] = i % 2 ? 'a' : '/';
	path[n] = '\0';
	strcpy(pat, "/");
	for (i = 0; i < 12; i++)
		strcat(pat, "**a");
	strcat(pat, "b");
	assert_false(thr_match_glob(pat, path));
	assert_false(thr_match_glob("/**/a/**/a/**/a/**/a/**/b", path));
	memset(path + 1, 'a', n - 1);
	assert_false(thr_match_glob("/*a*a*a*a*a*a*a*a*a*a*a*b", path));
	assert_true(thr_match_glob("/*a*a*a*a*a*a*a*a*a*a*a*", path));
	free(path);
}

/* A direct, exponential reading of the glob rules (no classes), to check the
 * iterative matcher against on small random inputs. */
static bool ref_match(const char *p0, const char *p, const char *s)
{
	size_t r = 0;

	if (*p == '\0')
		return *s == '\0';
	if (*p != '*') {
		if (*s == '\0' || (*p == '?' ? *s == '/' : *p != *s))
			return false;
		return ref_match(p0, p + 1, s + 1);
	}
	while (p[r] == '*')
		r++;
	if (r == 1) {
		for (;; s++) {
			if (ref_match(p0, p + 1, s))
				return true;
			if (*s == '\0' || *s == '/')
				return false;
		}
	}
	if ((p == p0 || p[-1] == '/') && p[r] == '/') {
		/* whole folders: stop right after a '/' (or take none) */
		if (ref_match(p0, p + r + 1, s))
			return true;
		for (; *s; s++)
			if (*s == '/' && ref_match(p0, p + r + 1, s + 1))
				return true;
		return false;
	}
	for (;; s++) {
		if (ref_match(p0, p + r, s))
			return true;
		if (*s == '\0')
			return false;
	}
}

static unsigned next_rand(unsigned *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 16) & 0x7fff;
}

static void test_match_glob_agrees_with_reference(void **state)
{
	static const char *const tok[] = { "a", "b", "/", "*", "**", "?" };
	unsigned seed = 20240601, it, k, len;
	char pat[32], path[16];

	for (it = 0; it < 200000; it++) {
		strcpy(pat, "/");
		len = next_rand(&seed) % 7;
		for (k = 0; k < len; k++)
			strcat(pat, tok[next_rand(&seed) % 6]);
		path[0] = '/';
		len = 1 + next_rand(&seed) % 8;
		for (k = 1; k < len; k++)
			path[k] = "ab/"[next_rand(&seed) % 3];
		path[len] = '\0';
		if (thr_match_glob(pat, path) != ref_match(pat, pat, path))
			fail_msg("glob '%s' path '%s': got %d", pat, path,
			         thr_match_glob(pat, path));
	}
}

/* A glob prepared with thr_match_glob_compile() matches what the glob
 * itself does, for heads of every length (word compares, memcmp) and every
 * kind of tail. */
static void test_match_cglob_agrees_with_glob(void **state)
{
	static const char *const tok[] = { "a", "b", "/", "*", "**", "?",
	                                   "abcdefgh", "[ab]" };
	static const char *const ptok[] = { "a", "b", "/", "abcdefgh" };
	unsigned seed = 20261125, it, k, len;
	char pat[128], path[128];
	struct thr_match_cglob g;

	for (it = 0; it < 200000; it++) {
		strcpy(pat, "/");
		len = next_rand(&seed) % 8;
		for (k = 0; k < len; k++)
			strcat(pat, tok[next_rand(&seed) % 8]);
		strcpy(path, "/");
		len = next_rand(&seed) % 10;
		for (k = 0; k < len; k++)
			strcat(path, ptok[next_rand(&seed) % 4]);
		thr_match_glob_compile(pat, &g);
		if (thr_match_cglob(&g, path, strlen(path)) !=
		    thr_match_glob(pat, path))
			fail_msg("glob '%s' path '%s': got %d", pat, path,
			         thr_match_cglob(&g, path, strlen(path)));
	}
}

static void test_match_check_glob_accepts(void **state)
{
	static const char *const ok[] = {
		"/", "/a/*", "/mnt/nfs/**", "/a/**/b", "/[a-z]?", "/[]]", "/[!]a]",
		"/[^x]", "/**", "/a**b", "/a/.hidden", "/a/...", "/a/..b/.c",
		"/a/.*",
	};
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		err[0] = '\0';
		if (thr_match_check_glob(ok[i], err, sizeof(err)) != 0)
			fail_msg("'%s' rejected: %s", ok[i], err);
	}
}

static void test_match_check_glob_rejects(void **state)
{
	static const struct bad cases[] = {
		{ "", "empty glob", false },
		{ "a/b", "relative glob 'a/b'", false },
		{ "*.conf", "relative glob '*.conf'", false },
		{ "/a/[bc", "unterminated '[' in '/a/[bc'", false },
		{ "/a/[]", "unterminated '[' in '/a/[]'", false },
		{ "/a/[!]", "unterminated '['", false },
		{ "/[z-a]", "backwards range in '[z-a]'", false },
		{ "/a/", "trailing '/' never matches a path in '/a/'", false },
		{ "/a//b", "'//' never matches a path in '/a//b'", false },
		{ "/srv/./data/*", "'.' or '..' never matches a normalised path "
		  "in '/srv/./data/*'", false },
		{ "/srv/../data", "'.' or '..' never matches", false },
		{ "/srv/..", "'.' or '..' never matches", false },
		{ "/.", "'.' or '..' never matches", false },
	};
	char err[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err[0] = '\0';
		if (thr_match_check_glob(cases[i].text, err, sizeof(err)) != -EINVAL ||
		    !strstr(err, cases[i].says))
			fail_msg("'%s': err \"%s\", want \"%s\"", cases[i].text, err,
			         cases[i].says);
	}
	assert_int_equal(thr_match_check_glob(NULL, err, sizeof(err)), -EINVAL);
	assert_true(err[0] != '\0');
}

/* ---- normalisation ---- */

/* ---- thr_match_normal_length ---- */

/* The answer the fast check must give: strlen for a path that is its own
 * normal form and has no '/' before a '.', else -1. */
static ptrdiff_t normal_reference(const char *path)
{
	char out[4096];
	size_t n = strlen(path);
	if (path[0] != '/' || strstr(path, "/.") ||
	    thr_match_normalize(NULL, path, out, sizeof(out)) != (int)n ||
	    strcmp(out, path) != 0)
		return -1;
	return (ptrdiff_t)n;
}

static void test_match_normal_length_agrees(void **state)
{
	static const char *const paths[] = {
		"/", "//", "/a", "/a/", "/a//b", "/a/./b", "/a/../b", "/.", "/..",
		"/a/.hidden", "/tmp/bab/file", "relative/x", "", "a", "/a/b/c/d",
		"/abcdefghijklmno", "/abcdefghijklmn/", "/abcdefghijklmnop/q",
		"/abcdefghijklmno/", "/abcdefghijklmno//", "/abcdefghijklmno/.",
		"/srv/data/some/long/folder/name/with/many/parts/file.txt",
		"/srv/data/some/long/folder/name/with/many/parts/.file.txt",
		"/srv/data/some/long/folder/name/with/many//parts/file.txt",
		"/srv/data/some/long/folder/name/with/many/parts/file.txt/",
		"/a.b/c..d/e.", "/x/y./z", "/..a", "/a/b..",
	};
	/* Every alignment, so that each pair also straddles a block edge. */
	char buf[160];
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (size_t off = 0; off < 32; off++) {
			memset(buf, '/', sizeof(buf));
			strcpy(buf + off, paths[i]);
			ptrdiff_t want = normal_reference(paths[i]);
			if (thr_match_normal_length(buf + off) != want)
				fail_msg("'%s' at offset %zu: %td, want %td", paths[i],
				         off, thr_match_normal_length(buf + off), want);
		}
	}
}

/* Every "/x" pair of every byte at every position of a 40-byte path. */
static void test_match_normal_length_each_pair(void **state)
{
	static const char bytes[] = { '/', '.', 'a', '-' };
	char path[48];
	for (size_t pos = 1; pos + 1 < 40; pos++) {
		for (size_t a = 0; a < sizeof(bytes); a++) {
			for (size_t b = 0; b < sizeof(bytes); b++) {
				memset(path, 'q', 40);
				path[0] = '/';
				path[40] = '\0';
				path[pos] = bytes[a];
				path[pos + 1] = bytes[b];
				ptrdiff_t want = normal_reference(path);
				assert_int_equal(thr_match_normal_length(path), want);
			}
		}
	}
}

/* A path that ends at the end of a page, with nothing mapped after it, of
 * every length up to 40: no read may cross into the next page. */
static void test_match_normal_length_page_end(void **state)
{
	long page = sysconf(_SC_PAGESIZE);
	char *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
	                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(map != MAP_FAILED);
	assert_int_equal(mprotect(map + page, (size_t)page, PROT_NONE), 0);
	for (size_t len = 1; len <= 40; len++) {
		char *p = map + page - len - 1;
		memset(p, 'z', len);
		p[0] = '/';
		p[len] = '\0';
		assert_int_equal(thr_match_normal_length(p), (ptrdiff_t)len);
		p[len - 1] = '/';
		assert_int_equal(thr_match_normal_length(p), len > 1 ? -1 : 1);
	}
	munmap(map, (size_t)page * 2);
}

static void test_match_normalize_folds(void **state)
{
	static const struct {
		const char *base, *path, *want;
	} cases[] = {
		{ NULL, "/", "/" },
		{ NULL, "/a/b/../c/./d", "/a/c/d" },
		{ NULL, "//a///b//", "/a/b" },
		{ NULL, "/..", "/" },
		{ NULL, "/../../a", "/a" },
		{ NULL, "/a/..", "/" },
		{ NULL, "/a/b/../..", "/" },
		{ NULL, "/./.", "/" },
		{ NULL, "/a/.../b", "/a/.../b" },
		{ NULL, "/a/..b/.c", "/a/..b/.c" },
		{ "/home/u", "x/../y", "/home/u/y" },
		{ "/home/u", ".", "/home/u" },
		{ "/home/u", "", "/home/u" },
		{ "/home/u", "..", "/home" },
		{ "/a", "../../../../x", "/x" },
		{ "//a/./b/", "c//", "/a/b/c" },
		{ "/a/b", "../../..", "/" },
		{ "relative/ignored", "/abs", "/abs" },
		{ NULL, "/a/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb/..", "/a" },
	};
	char out[16];
	size_t i;
	int ret;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(out, 'x', sizeof(out));
		ret = thr_match_normalize(cases[i].base, cases[i].path, out,
		                          sizeof(out));
		if (ret < 0 || strcmp(out, cases[i].want) != 0)
			fail_msg("'%s' + '%s': ret %d, out '%.*s', want '%s'",
			         cases[i].base ? cases[i].base : "(null)",
			         cases[i].path, ret, (int)sizeof(out), out,
			         cases[i].want);
		assert_int_equal(ret, strlen(cases[i].want));
	}
}

static void test_match_normalize_too_long(void **state)
{
	char out[8];

	assert_int_equal(thr_match_normalize(NULL, "/abcdef", out, 8), 7);
	assert_string_equal(out, "/abcdef");
	assert_int_equal(thr_match_normalize(NULL, "/abcdefg", out, 8),
	                 -ENAMETOOLONG);
	assert_int_equal(thr_match_normalize("/abcd", "efg", out, 8),
	                 -ENAMETOOLONG);
	assert_int_equal(thr_match_normalize(NULL, "/", out, 2), 1);
	assert_string_equal(out, "/");
	assert_int_equal(thr_match_normalize(NULL, "/", out, 1), -ENAMETOOLONG);
	assert_int_equal(thr_match_normalize(NULL, "/", out, 0), -ENAMETOOLONG);
}

static void test_match_normalize_needs_base(void **state)
{
	char out[64];

	assert_int_equal(thr_match_normalize(NULL, "a/b", out, sizeof(out)),
	                 -EINVAL);
	assert_int_equal(thr_match_normalize("home/u", "a", out, sizeof(out)),
	                 -EINVAL);
	assert_int_equal(thr_match_normalize("", "a", out, sizeof(out)), -EINVAL);
	assert_int_equal(thr_match_normalize("/", NULL, out, sizeof(out)),
	                 -EINVAL);
}

/* ---- the glob index ---- */

static uint64_t next64(uint64_t *x)
{
	/* xorshift64*: enough for test data, and the same on every run */
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * UINT64_C(2685821657736338717);
}

static size_t pick(uint64_t *x, size_t n)
{
	return (size_t)(next64(x) % n);
}

/* What the index stands in for: the loop over the globs in order. */
static size_t loop_first(const struct thr_match_cglob *g, size_t n,
                         const char *path, size_t len, size_t from)
{
	size_t i;

	for (i = from; i < n; i++)
		if (thr_match_cglob(&g[i], path, len))
			break;
	return i;
}

/* Folder and file names from a small vocabulary, so that globs share heads
 * and paths walk deep; and a name of 70 bytes, past a head group's key. */
static const char *const names[] = {
	"a", "b", "ab", "abc", "srv", "data", "x.log", "app-1", "app-12",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

/* One component of a glob: a name, or a name with wildcards in it. */
static void glob_part(uint64_t *x, char *out, size_t cap)
{
	/* what goes before and after the name */
	static const char *const shapes[][2] = {
		{ "", "" }, { "", "" }, { "", "" }, { "", "*" }, { "*", "" },
		{ "?", "" }, { "", "?" }, { "[ab]", "" }, { "[!a]", "" },
		{ "", "[a-c]*" }, { "[a", "" }, { "", "]" }, { "*", "*" },
		{ "", "**" }, { "[]a]", "" }, { "", "[^b]" }, { "[/", "]" },
		{ "[", "/x]" },
	};
	const char *const *shape =
		shapes[pick(x, sizeof(shapes) / sizeof(shapes[0]))];
	switch (pick(x, 8)) {
	case 0:
		snprintf(out, cap, "*");
		break;
	case 1:
		snprintf(out, cap, "**");
		break;
	default:
		snprintf(out, cap, "%s%s%s", shape[0], names[pick(x, NNAMES)],
		         shape[1]);
	}
}

/* catch_all: now and then a glob that every path must try; wild_first:
 * most start with a wildcard. */
static void random_glob(uint64_t *x, char *out, size_t cap, bool catch_all,
                        bool wild_first)
{
	char part[128];
	size_t depth = 1 + pick(x, 5);

	out[0] = '\0';
	if (catch_all && pick(x, 40) == 0) {
		snprintf(out, cap, "%s", pick(x, 2) ? "/**" : "/*");
		return;
	}
	for (size_t d = 0; d < depth; d++) {
		/* mostly literal folders first, wildcards towards the end;
		 * in some sets, wildcards first and literal folders after */
		if (wild_first ? d > 0 && pick(x, 3)
		               : (d == 0 && pick(x, 10)) ||
		                 (d + 1 < depth && pick(x, 3)))
			snprintf(part, sizeof(part), "%s", names[pick(x, NNAMES)]);
		else
			glob_part(x, part, sizeof(part));
		strncat(out, "/", cap - strlen(out) - 1);
		strncat(out, part, cap - strlen(out) - 1);
	}
}

/* A path that a glob may match: its wildcards filled in at random. */
static void instance(uint64_t *x, const char *glob, char *out, size_t cap)
{
	size_t o = 0;

	for (const char *p = glob; *p && o + 8 < cap; p++) {
		if (p[0] == '*' && p[1] == '*') {
			static const char *const deep[] = { "", "a", "a/b", "ab/x.log",
			                                    "/", "b/" };
			const char *d = deep[pick(x, 6)];
			while (*d && o + 8 < cap)
				out[o++] = *d++;
			p++;
		} else if (*p == '*') {
			for (size_t k = pick(x, 4); k > 0; k--)
				out[o++] = "abc-"[pick(x, 4)];
		} else if (*p == '?') {
			out[o++] = "abc"[pick(x, 3)];
		} else if (*p == '[' && pick(x, 2)) {
			const char *end = strchr(p + 2, ']');
			if (end) {
				out[o++] = "abc]"[pick(x, 4)];
				p = end;
			} else {
				out[o++] = '[';
			}
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static void random_path(uint64_t *x, char *out, size_t cap)
{
	size_t depth = pick(x, 7);

	out[0] = '\0';
	if (depth == 0) {
		snprintf(out, cap, "/");
		return;
	}
	for (size_t d = 0; d < depth; d++) {
		strncat(out, "/", cap - strlen(out) - 1);
		strncat(out, names[pick(x, NNAMES)], cap - strlen(out) - 1);
		if (pick(x, 8) == 0)
			strncat(out, "-", cap - strlen(out) - 1);
	}
}

#define INDEX_ROUNDS 2000
#define INDEX_PATHS 500
#define GLOB_CAP 512

/* The index answers what the loop over the globs answers, from any start:
 * random sets of 1 to 3,000 globs (every wildcard, classes negated and
 * unterminated, duplicates, heads longer than a group's key), asked about
 * random paths and about paths made from the globs themselves. */
static void test_globindex_agrees_with_loop(void **state)
{
	uint64_t x = UINT64_C(0x5eed2026);
	size_t cap = 3000, lookups = 0, hits = 0;
	char (*text)[GLOB_CAP] = malloc(cap * GLOB_CAP);
	struct thr_match_cglob *g = malloc(cap * sizeof(*g));
	char path[2 * GLOB_CAP];

	assert_non_null(text);
	assert_non_null(g);
	for (int round = 0; round < INDEX_ROUNDS; round++) {
		/* many small sets and a few large ones */
		size_t n = 1 + pick(&x, round % 8 ? 100 : cap);
		/* a catch-all early on decides most paths: only in some sets */
		bool catch_all = round % 4 == 0, wild_first = round % 3 == 1;
		struct thr_globindex *ix;

		for (size_t i = 0; i < n; i++) {
			if (i && pick(&x, 20) == 0)
				memcpy(text[i], text[pick(&x, i)], GLOB_CAP);
			else
				random_glob(&x, text[i], GLOB_CAP, catch_all,
				            wild_first);
			thr_match_glob_compile(text[i], &g[i]);
		}
		assert_int_equal(thr_globindex_build(g, n, 0, &ix), 0);
		assert_non_null(ix);
		for (int k = 0; k < INDEX_PATHS; k++) {
			if (pick(&x, 2))
				instance(&x, text[pick(&x, n)], path, sizeof(path));
			else
				random_path(&x, path, sizeof(path));
			size_t len = strlen(path);
			size_t from = pick(&x, 4) ? 0 : pick(&x, n + 1);
			size_t want = loop_first(g, n, path, len, from);
			size_t got = thr_globindex_first(ix, path, len, from);
			if (got != want)
				fail_msg("round %d, %zu globs, path '%s', from %zu: "
				         "index %zu ('%s'), loop %zu ('%s')", round,
				         n, path, from, got, got < n ? text[got] : "",
				         want, want < n ? text[want] : "");
			lookups++;
			hits += want < n;
		}
		thr_globindex_free(ix);
	}
	/* the paths must find globs often, or little was compared */
	assert_true(hits > lookups / 4);
	print_message("%zu lookups, %zu found a glob\n", lookups, hits);
	free(text);
	free(g);
}

/* Globs and paths that are not what the config lets through (relative,
 * empty, "//") are still answered as the loop answers them. */
static void test_globindex_odd_globs_and_paths(void **state)
{
	static const char *const globs[] = {
		"*", "a/*", "//x", "/a//b*", "/a/", "", "?", "/**", "[/]x",
	};
	static const char *const paths[] = {
		"", "a", "a/b", "//x", "/a//b", "/a//bc", "/a/", "/", "x", "/x",
		"b/x",
	};
	const size_t ng = sizeof(globs) / sizeof(globs[0]);
	struct thr_match_cglob g[sizeof(globs) / sizeof(globs[0])];
	struct thr_globindex *ix;

	for (size_t start = 0; start < ng; start++) {
		for (size_t i = start; i < ng; i++)
			thr_match_glob_compile(globs[i], &g[i - start]);
		assert_int_equal(thr_globindex_build(g, ng - start, 0, &ix), 0);
		for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
			size_t len = strlen(paths[p]);
			assert_int_equal(thr_globindex_first(ix, paths[p], len, 0),
			                 loop_first(g, ng - start, paths[p], len, 0));
		}
		thr_globindex_free(ix);
	}
}

/* Below the threshold nothing is built: the caller loops. */
static void test_globindex_small_sets_build_none(void **state)
{
	struct thr_match_cglob g[2];
	struct thr_globindex *ix = (void *)1;

	thr_match_glob_compile("/a/*", &g[0]);
	thr_match_glob_compile("/b/*", &g[1]);
	assert_int_equal(thr_globindex_build(g, 2, 3, &ix), 0);
	assert_null(ix);
	assert_int_equal(thr_globindex_build(g, 0, 0, &ix), 0);
	assert_null(ix);
	assert_int_equal(thr_globindex_build(g, 2, 2, &ix), 0);
	assert_non_null(ix);
	assert_int_equal(thr_globindex_first(ix, "/b/c", 4, 0), 1);
	assert_int_equal(thr_globindex_first(ix, "/c/c", 4, 0), 2);
	thr_globindex_free(ix);
	thr_globindex_free(NULL);
}

#define GLOB_LEN 48

/* n globs, the i-th written by make(i, out), compiled. */
struct glob_set {
	size_t n;
	char (*text)[GLOB_LEN];
	struct thr_match_cglob *g;
};

static void glob_set_make(struct glob_set *gs, size_t n,
                          void (*make)(size_t i, char out[GLOB_LEN]))
{
	gs->n = n;
	gs->text = malloc(n * GLOB_LEN);
	gs->g = malloc(n * sizeof(*gs->g));
	assert_non_null(gs->text);
	assert_non_null(gs->g);
	for (size_t i = 0; i < n; i++) {
		make(i, gs->text[i]);
		thr_match_glob_compile(gs->text[i], &gs->g[i]);
	}
}

static void glob_set_free(struct glob_set *gs)
{
	free(gs->text);
	free(gs->g);
}

static void sibling(size_t i, char out[GLOB_LEN])
{
	/* the same folder's "*" twice: the later one never wins */
	if (i % 3 == 0)
		snprintf(out, GLOB_LEN, "/srv/u%zu/*", i / 3);
	else if (i % 3 == 1)
		snprintf(out, GLOB_LEN, "/srv/log/app%zu-*.log", i);
	else
		snprintf(out, GLOB_LEN, "/srv/u%zu/*", (i - 2) / 3);
}

/* 60,000 globs under one folder: a path tries the one or two whose heads
 * it starts with, and the first in the globs' order wins. */
static void test_globindex_many_siblings(void **state)
{
	const size_t n = 60000;
	struct glob_set gs;
	struct thr_globindex *ix;

	glob_set_make(&gs, n, sibling);
	assert_int_equal(thr_globindex_build(gs.g, n, THR_GLOBINDEX_MIN, &ix),
	                 0);
	assert_non_null(ix);
	assert_int_equal(thr_globindex_first(ix, "/srv/u123/f", 11, 0), 369);
	assert_int_equal(thr_globindex_first(ix, "/srv/u123/f", 11, 370), 371);
	assert_int_equal(thr_globindex_first(ix, "/srv/u123/f", 11, 372), n);
	assert_int_equal(thr_globindex_first(ix, "/srv/u123", 9, 0), n);
	assert_int_equal(thr_globindex_first(ix, "/srv/log/app4-x.log", 19, 0),
	                 4);
	assert_int_equal(thr_globindex_first(ix, "/srv/log/app40-x.log", 20,
	                                      0), 40);
	assert_int_equal(thr_globindex_first(ix, "/srv/log/app-x.log", 18, 0),
	                 n);
	assert_int_equal(thr_globindex_first(ix, "/tmp/x", 6, 0), n);
	thr_globindex_free(ix);
	glob_set_free(&gs);
}

static void wildcard_first(size_t i, char out[GLOB_LEN])
{
	if (i % 3 == 0)
		snprintf(out, GLOB_LEN, "/*/u%zu/**", i / 3);
	else if (i % 3 == 1)
		snprintf(out, GLOB_LEN, "/home/*/p%zu/**", i / 3);
	else
		snprintf(out, GLOB_LEN, "/**/name%zu", i / 3);
}

/* Globs that start with a wildcard, thousands on one node, are told apart
 * by a component with no wildcard after it (the "u7" after a '*' folder):
 * a path tries those whose component it has, and the first still wins. */
static void test_globindex_wildcard_first(void **state)
{
	static const char *const paths[] = {
		"/srv/u7/x", "/home/u7/p7/a", "/a/b/name7", "/name7", "/u7",
		"/home/u8/p7/a/b", "/x/u70000/y", "/home/x/p19999/y",
		"/x/name19999", "/x/y/z", "/home/u7", "/x/u7/name7/p7",
	};
	const size_t n = 60000;
	struct glob_set gs;
	struct thr_globindex *ix;

	glob_set_make(&gs, n, wildcard_first);
	assert_int_equal(thr_globindex_build(gs.g, n, THR_GLOBINDEX_MIN, &ix),
	                 0);
	for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++) {
		size_t len = strlen(paths[p]);
		assert_int_equal(thr_globindex_first(ix, paths[p], len, 0),
		                 loop_first(gs.g, n, paths[p], len, 0));
	}
	assert_int_equal(thr_globindex_first(ix, "/srv/u7/x", 9, 0), 21);
	assert_int_equal(thr_globindex_first(ix, "/x/u7/name7", 11, 0), 21);
	assert_int_equal(thr_globindex_first(ix, "/x/u7/name7", 11, 22), 23);
	assert_int_equal(thr_globindex_first(ix, "/x/u7/name7/p7", 14, 22), n);
	thr_globindex_free(ix);
	glob_set_free(&gs);
}

/* ---- the destination index ---- */

/* What the index stands in for: the loop over the sets and their rules. */
static size_t loop_first_dest(const struct thr_destindex_set *sets,
                              size_t nsets, const struct sockaddr *sa,
                              socklen_t len, size_t from)
{
	size_t s;

	for (s = from; s < nsets; s++)
		for (size_t k = 0; k < sets[s].n; k++)
			if (thr_match_dest_matches(&sets[s].rules[k], sa, len))
				return s;
	return s;
}

static const char *const ports[] = { "80", "80-90", "*", "85", "443",
                                     "0-79", "91-65535", "65535" };
#define NPORTS (sizeof(ports) / sizeof(ports[0]))

/* A rule over a small space of addresses and ports, so that rules overlap
 * and addresses hit them: IPv4 hosts and networks of every size, IPv6,
 * IPv4-mapped IPv6, "*", unix paths and abstract names. */
static void random_dest(uint64_t *x, char *out, size_t cap)
{
	static const unsigned v4len[] = { 32, 32, 32, 31, 30, 24, 23, 16, 8,
	                                  1, 0 };
	static const unsigned v6len[] = { 128, 128, 127, 120, 112, 64, 32, 0 };
	const char *port = ports[pick(x, NPORTS)];
	unsigned c = (unsigned)pick(x, 4), d = (unsigned)pick(x, 8);

	switch (pick(x, 8)) {
	case 0:
	case 1:
		snprintf(out, cap, "10.0.%u.%u:%s", c, d, port);
		break;
	case 2:
	case 3:
		snprintf(out, cap, "10.0.%u.%u/%u:%s", c, d,
		         v4len[pick(x, sizeof(v4len) / sizeof(v4len[0]))], port);
		break;
	case 4:
		snprintf(out, cap, "[2001:db8::%x:%x/%u]:%s", c, d,
		         v6len[pick(x, sizeof(v6len) / sizeof(v6len[0]))], port);
		break;
	case 5:
		snprintf(out, cap, "[::ffff:10.0.%u.%u/%u]:%s", c, d,
		         96 + v4len[pick(x, sizeof(v4len) / sizeof(v4len[0]))],
		         port);
		break;
	case 6:
		snprintf(out, cap, "*:%s", port);
		break;
	default:
		if (pick(x, 2))
			snprintf(out, cap, "unix:/run/s%u/*", c);
		else if (pick(x, 2))
			snprintf(out, cap, "unix:/run/s%u/x%u", c, d);
		else
			snprintf(out, cap, "unix:@abs%u*", c);
	}
}

/* An address to connect to, from the same small space, or an odd one. */
static socklen_t random_sockaddr(uint64_t *x, struct sockaddr_storage *ss)
{
	static const uint16_t port[] = { 80, 79, 85, 90, 91, 443, 0, 65535 };
	uint16_t p = port[pick(x, 8)];
	unsigned c = (unsigned)pick(x, 5), d = (unsigned)pick(x, 9);
	char text[64];

	memset(ss, 0, sizeof(*ss));
	switch (pick(x, 7)) {
	case 0:
	case 1:
	case 2: {
		snprintf(text, sizeof(text), "10.%u.%u.%u", pick(x, 8) ? 0 : c,
		         c, d);
		struct sockaddr_in in = sa4(text, p);
		memcpy(ss, &in, sizeof(in));
		/* now and then too short for an IPv4 address */
		return pick(x, 16) ? sizeof(in) : sizeof(in) - 1;
	}
	case 3:
		snprintf(text, sizeof(text), "2001:db8::%x:%x", c, d);
		break;
	case 4:
		snprintf(text, sizeof(text), "::ffff:10.0.%u.%u", c, d);
		break;
	case 5: {
		struct sockaddr_un un = { .sun_family = AF_UNIX };
		int n = pick(x, 2)
		        ? snprintf(un.sun_path, sizeof(un.sun_path),
		                   "/run/s%u/x%u", c, d)
		        : snprintf(un.sun_path + 1, sizeof(un.sun_path) - 1,
		                   "abs%u%u", c, d) + 1;
		memcpy(ss, &un, sizeof(un));
		return (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		                   (size_t)n + 1);
	}
	default:
		ss->ss_family = pick(x, 2) ? AF_APPLETALK : AF_INET6;
		return pick(x, 2) ? sizeof(sa_family_t) : 1;
	}
	struct sockaddr_in6 in6 = sa6(text, p);
	memcpy(ss, &in6, sizeof(in6));
	/* the short form without sin6_scope_id, or shorter still */
	return pick(x, 4) ? sizeof(in6)
	                  : pick(x, 2) ? THR_MATCH_IN6_MIN : THR_MATCH_IN6_MIN - 1;
}

#define DEST_ROUNDS 1000
#define DEST_ADDRS 500

/* The index answers what the loop over the pools' rules answers, from
 * any pool on: random pools of random rules (hosts, networks of every
 * length, IPv6, IPv4-mapped, "*", port ranges, unix paths and abstract
 * names), asked about random addresses of every family and length. */
static void test_destindex_agrees_with_loop(void **state)
{
	uint64_t x = UINT64_C(0xde57);
	size_t lookups = 0, hits = 0, nrules = 0;
	char text[96], err[256];

	for (int round = 0; round < DEST_ROUNDS; round++) {
		size_t nsets = 1 + pick(&x, 12), per = 1 + pick(&x, round % 8
		                                                  ? 30 : 400);
		struct thr_destindex_set sets[12];
		struct thr_destindex *ix;

		for (size_t s = 0; s < nsets; s++) {
			struct thr_match_dest *rules = NULL;
			size_t n = 0, want = pick(&x, per + 1);
			while (n < want) {
				random_dest(&x, text, sizeof(text));
				if (thr_match_parse_dest(text, &rules, &n, err,
				                         sizeof(err)) < 0)
					fail_msg("'%s': %s", text, err);
			}
			sets[s] = (struct thr_destindex_set){ rules, n };
			nrules += n;
		}
		assert_int_equal(thr_destindex_build(sets, nsets, 0, &ix), 0);
		for (int k = 0; ix && k < DEST_ADDRS; k++) {
			struct sockaddr_storage ss;
			socklen_t len = random_sockaddr(&x, &ss);
			const struct sockaddr *sa = (const struct sockaddr *)&ss;
			size_t from = pick(&x, 3) ? 0 : pick(&x, nsets + 1);
			size_t want = loop_first_dest(sets, nsets, sa, len, from);
			size_t got = thr_destindex_first(ix, sa, len, from);
			if (got != want)
				fail_msg("round %d, address %d (family %d, length "
				         "%u), from %zu: index %zu, loop %zu", round,
				         k, ss.ss_family, (unsigned)len, from, got,
				         want);
			lookups++;
			hits += want < nsets;
		}
		thr_destindex_free(ix);
		for (size_t s = 0; s < nsets; s++)
			thr_match_free_dests((struct thr_match_dest *)sets[s].rules,
			                     sets[s].n);
	}
	/* the addresses must find pools often, and not always */
	assert_true(hits > lookups / 4 && hits < lookups - lookups / 10);
	print_message("%zu rules, %zu lookups, %zu found a pool\n", nrules,
	              lookups, hits);
}

/* Below the threshold nothing is built; a rule no address can match
 * (a prefix past 128, a backwards port range) goes in no bucket. */
static void test_destindex_small_and_odd_rules(void **state)
{
	struct thr_match_dest r[3] = {
		{ .kind = THR_MATCH_INET, .prefix = 129, .port_hi = 65535 },
		{ .kind = THR_MATCH_ANY, .port_lo = 9, .port_hi = 8 },
		{ .kind = THR_MATCH_ANY, .port_lo = 80, .port_hi = 80 },
	};
	struct thr_destindex_set sets[2] = { { r, 2 }, { r + 2, 1 } };
	struct thr_destindex *ix = (void *)1;
	struct sockaddr_in in = sa4("0.0.0.0", 80);

	assert_int_equal(thr_destindex_build(sets, 2, 4, &ix), 0);
	assert_null(ix);
	assert_int_equal(thr_destindex_build(sets, 0, 0, &ix), 0);
	assert_null(ix);
	assert_int_equal(thr_destindex_build(sets, 2, 3, &ix), 0);
	assert_non_null(ix);
	assert_int_equal(thr_destindex_first(ix, (struct sockaddr *)&in,
	                                     sizeof(in), 0), 1);
	in.sin_port = htons(9);
	assert_int_equal(thr_destindex_first(ix, (struct sockaddr *)&in,
	                                     sizeof(in), 0), 2);
	assert_int_equal(thr_destindex_first(ix, NULL, 0, 0), 2);
	thr_destindex_free(ix);
	thr_destindex_free(NULL);
}

/* ---- async-signal safety ---- */

static void test_match_matchers_keep_errno(void **state)
{
	struct thr_match_dest *u = parse_one("unix:/run/*");
	struct thr_match_dest *v = parse_one("10.0.0.0/8:*");
	const char long_path[] = "/abcdefghijklmnopqrstuvwxyz0123456";
	char out[sizeof(long_path) - 2];

	errno = 4242;
	assert_true(hits_path(u, "/run/./x"));
	assert_false(hits_path(u, "rel"));
	assert_true(hits4(v, "10.1.1.1", 1));
	assert_true(hits6(v, "::ffff:10.1.1.1", 1));
	assert_true(thr_match_glob("/a/**/b", "/a/x/b"));
	assert_int_equal(thr_match_normalize(NULL, "a", out, sizeof(out)),
	                 -EINVAL);
	assert_int_equal(thr_match_normalize(NULL, long_path, out, sizeof(out)),
	                 -ENAMETOOLONG);
	assert_int_equal(errno, 4242);
	free_one(u);
	free_one(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match_parse_ipv4),
		cmocka_unit_test(test_match_parse_ipv4_cidr),
		cmocka_unit_test(test_match_parse_cidr_drops_host_bits),
		cmocka_unit_test(test_match_parse_ipv6),
		cmocka_unit_test(test_match_parse_any),
		cmocka_unit_test(test_match_parse_port_edges),
		cmocka_unit_test(test_match_parse_unix),
		cmocka_unit_test(test_match_parse_appends),
		cmocka_unit_test(test_match_parse_localhost),
		cmocka_unit_test(test_match_parse_rejects_bad_address),
		cmocka_unit_test(test_match_parse_rejects_bad_prefix),
		cmocka_unit_test(test_match_parse_rejects_bad_port),
		cmocka_unit_test(test_match_parse_rejects_missing_port),
		cmocka_unit_test(test_match_parse_rejects_trailing_junk),
		cmocka_unit_test(test_match_parse_rejects_bad_unix),
		cmocka_unit_test(test_match_parse_unresolvable_gives_no_rule),
		cmocka_unit_test(test_match_parse_resolver_out_of_memory),
		cmocka_unit_test(test_match_parse_small_err_buffer),
		cmocka_unit_test(test_match_dest_ipv4),
		cmocka_unit_test(test_match_dest_ipv4_cidr),
		cmocka_unit_test(test_match_dest_v4_mapped_v6),
		cmocka_unit_test(test_match_dest_ipv6_cidr),
		cmocka_unit_test(test_match_dest_ipv6_short_address),
		cmocka_unit_test(test_match_dest_port_range_edges),
		cmocka_unit_test(test_match_dest_any_both_families),
		cmocka_unit_test(test_match_dest_unix_path),
		cmocka_unit_test(test_match_dest_unix_full_sun_path),
		cmocka_unit_test(test_match_dest_unix_abstract),
		cmocka_unit_test(test_match_dest_unnamed_and_short),
		cmocka_unit_test(test_match_dest_unknown_family),
		cmocka_unit_test(test_match_glob_star_stays_in_folder),
		cmocka_unit_test(test_match_glob_question_mark),
		cmocka_unit_test(test_match_glob_literal),
		cmocka_unit_test(test_match_glob_deep_at_end),
		cmocka_unit_test(test_match_glob_deep_in_middle),
		cmocka_unit_test(test_match_glob_deep_at_start),
		cmocka_unit_test(test_match_glob_deep_inside_name),
		cmocka_unit_test(test_match_glob_class),
		cmocka_unit_test(test_match_glob_class_negation),
		cmocka_unit_test(test_match_glob_unterminated_class_is_literal),
		cmocka_unit_test(test_match_glob_pathological),
		cmocka_unit_test(test_match_glob_agrees_with_reference),
		cmocka_unit_test(test_match_cglob_agrees_with_glob),
		cmocka_unit_test(test_match_check_glob_accepts),
		cmocka_unit_test(test_match_check_glob_rejects),
		cmocka_unit_test(test_match_normal_length_agrees),
		cmocka_unit_test(test_match_normal_length_each_pair),
		cmocka_unit_test(test_match_normal_length_page_end),
		cmocka_unit_test(test_match_normalize_folds),
		cmocka_unit_test(test_match_normalize_too_long),
		cmocka_unit_test(test_match_normalize_needs_base),
		cmocka_unit_test(test_globindex_agrees_with_loop),
		cmocka_unit_test(test_globindex_odd_globs_and_paths),
		cmocka_unit_test(test_globindex_small_sets_build_none),
		cmocka_unit_test(test_globindex_many_siblings),
		cmocka_unit_test(test_globindex_wildcard_first),
		cmocka_unit_test(test_destindex_agrees_with_loop),
		cmocka_unit_test(test_destindex_small_and_odd_rules),
		cmocka_unit_test(test_match_matchers_keep_errno),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
