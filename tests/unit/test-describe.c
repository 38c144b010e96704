/* test-describe.c - connect() addresses as the records write them: the same
 * text inet_ntop and snprintf give (the reference here), for IPv4, IPv6 in
 * every folding case, unix paths, abstract names, and cut to fit. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <cmocka.h>

#include "describe.h"

/* What the records said before, with the C library's formatters. */
static void reference(const struct sockaddr *sa, socklen_t len, char *out,
                      size_t n)
{
	char ip[INET6_ADDRSTRLEN];
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		snprintf(out, n, "%s:%u", ip, ntohs(in->sin_port));
	} else if (sa->sa_family == AF_INET6 &&
	           len >= 24) { /* RFC 2133's size, which connect() takes */
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		snprintf(out, n, "[%s]:%u", ip, ntohs(in6->sin6_port));
	} else if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t plen = len > off ? len - off : 0;
		if (plen > sizeof(un->sun_path))
			plen = sizeof(un->sun_path);
		if (plen && un->sun_path[0] == '\0')
			snprintf(out, n, "unix:@%.*s", (int)plen - 1,
			         un->sun_path + 1);
		else
			snprintf(out, n, "unix:%.*s",
			         (int)strnlen(un->sun_path, plen), un->sun_path);
	} else {
		snprintf(out, n, "family %d", sa->sa_family);
	}
}

static void same_as_reference(const void *sa, socklen_t len, size_t n)
{
	char got[160], want[160];
	memset(got, 'x', sizeof(got));
	size_t r = thr_describe_sockaddr(sa, len, got, n);
	reference(sa, len, want, n);
	if (strcmp(got, want) != 0)
		fail_msg("got '%s', want '%s'", got, want);
	assert_int_equal(r, strlen(want));
	assert_int_equal(got[n], 'x'); /* nothing written past n */
}

static void check_v6(const char *text, unsigned port)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
	                            .sin6_port = htons(port) };
	assert_int_equal(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
	same_as_reference(&in6, sizeof(in6), 128);
}

static void test_describe_ipv4(void **state)
{
	const char *addrs[] = { "0.0.0.0", "10.0.0.5", "127.0.0.1",
	                        "255.255.255.255", "192.168.100.9" };
	unsigned ports[] = { 0, 9, 80, 5432, 65535 };
	for (size_t i = 0; i < 5; i++) {
		struct sockaddr_in in = { .sin_family = AF_INET,
		                          .sin_port = htons(ports[i]) };
		inet_pton(AF_INET, addrs[i], &in.sin_addr);
		same_as_reference(&in, sizeof(in), 128);
	}
	struct sockaddr_in in = { .sin_family = AF_INET,
	                          .sin_port = htons(5432) };
	inet_pton(AF_INET, "10.0.0.5", &in.sin_addr);
	char out[32];
	thr_describe_sockaddr((void *)&in, sizeof(in), out, sizeof(out));
	assert_string_equal(out, "10.0.0.5:5432");
}

/* Every way inet_ntop folds zero groups, and IPv4 inside IPv6. */
static void test_describe_ipv6_folding(void **state)
{
	const char *addrs[] = {
		"::", "::1", "1::", "2001:db8::1", "2001:db8:0:0:1:0:0:1",
		"fe80::1:0:0:0", "1:0:2:0:3:0:4:0", "0:0:1::", "1:2:3:4:5:6:7:8",
		"::ffff:1.2.3.4", "::1.2.3.4", "::ffff:0:1.2.3.4", "1::ffff:1.2.3.4",
		"0:0:0:0:0:1:0:0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"2001:db8:0:1:0:0:0:1", "::ffff:0.0.0.0", "0:0:0:0:0:ffff:0:0",
	};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		check_v6(addrs[i], (unsigned)i * 1000);
	check_v6("::1", 8000);
	char out[64];
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
	                            .sin6_port = htons(8000) };
	inet_pton(AF_INET6, "::1", &in6.sin6_addr);
	thr_describe_sockaddr((void *)&in6, sizeof(in6), out, sizeof(out));
	assert_string_equal(out, "[::1]:8000");
	/* RFC 2133's 24-byte form, which Linux's connect() takes too. */
	thr_describe_sockaddr((void *)&in6, 24, out, sizeof(out));
	assert_string_equal(out, "[::1]:8000");
}

/* Random addresses, zero groups and 0xffff made likely. */
static void test_describe_ipv6_random(void **state)
{
	srand(12345);
	for (int k = 0; k < 20000; k++) {
		struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
		                            .sin6_port = htons(rand() & 0xffff) };
		for (int g = 0; g < 8; g++) {
			int r = rand() % 8;
			uint16_t w = r < 4 ? 0 : r == 4 ? 0xffff
			             : r == 5 ? (uint16_t)(rand() & 0xf)
			                      : (uint16_t)rand();
			in6.sin6_addr.s6_addr[2 * g] = (uint8_t)(w >> 8);
			in6.sin6_addr.s6_addr[2 * g + 1] = (uint8_t)w;
		}
		same_as_reference(&in6, sizeof(in6), 128);
	}
}

static void test_describe_unix(void **state)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	size_t off = offsetof(struct sockaddr_un, sun_path);
	strcpy(un.sun_path, "/run/postgresql/.s.PGSQL.5432");
	same_as_reference(&un, sizeof(un), 128);
	same_as_reference(&un, (socklen_t)(off + strlen(un.sun_path)), 128);
	/* Abstract: a NUL, then a name that need not end in one. */
	memset(un.sun_path, 0, sizeof(un.sun_path));
	memcpy(un.sun_path, "\0name", 5);
	same_as_reference(&un, (socklen_t)(off + 5), 128);
	char out[64];
	thr_describe_sockaddr((void *)&un, (socklen_t)(off + 5), out,
	                      sizeof(out));
	assert_string_equal(out, "unix:@name");
	/* Unnamed, and a full path with no NUL in the struct. */
	same_as_reference(&un, (socklen_t)off, 128);
	memset(un.sun_path, 'a', sizeof(un.sun_path));
	same_as_reference(&un, sizeof(un), 128);
	same_as_reference(&un, sizeof(un) + 20, 128);
}

static void test_describe_other_families(void **state)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	same_as_reference(&in, sizeof(in) - 1, 128); /* too short: "family 2" */
	struct sockaddr sa = { .sa_family = 17 };
	same_as_reference(&sa, sizeof(sa), 128);
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	same_as_reference(&in6, 23, 128); /* below RFC 2133's 24: too short */
}

/* Cut to fit as snprintf cuts: the first n - 1 bytes and a NUL. */
static void test_describe_cut_to_fit(void **state)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6,
	                            .sin6_port = htons(65535) };
	inet_pton(AF_INET6, "2001:db8:1:2:3:4:5:6", &in6.sin6_addr);
	for (size_t n = 1; n < 40; n++)
		same_as_reference(&in6, sizeof(in6), n);
	struct sockaddr_in in = { .sin_family = AF_INET,
	                          .sin_port = htons(5432) };
	for (size_t n = 1; n < 16; n++)
		same_as_reference(&in, sizeof(in), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe_ipv4),
		cmocka_unit_test(test_describe_ipv6_folding),
		cmocka_unit_test(test_describe_ipv6_random),
		cmocka_unit_test(test_describe_unix),
		cmocka_unit_test(test_describe_other_families),
		cmocka_unit_test(test_describe_cut_to_fit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
