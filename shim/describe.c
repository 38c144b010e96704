/* describe.c - a connect() address as text for the records, written by hand:
 * inet_ntop and snprintf cost more than all the rest of a gated connect.
 * Must write exactly what they would; never allocates or touches errno. */
#include "describe.h"
#include "match.h"

#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/un.h>

/* The longest text: "unix:@" and a whole sun_path, or a bracketed IPv6
 * address with its port. Each put_ function writes at p, with room for
 * what it writes, and returns the end. */
#define LONGEST (sizeof("unix:@") + sizeof(((struct sockaddr_un *)0)->sun_path))

static char *put_text(char *p, const char *s, size_t max)
{
	for (size_t i = 0; i < max && s[i]; i++)
		*p++ = s[i];
	return p;
}

static char *put_dec(char *p, unsigned v)
{
	char digits[10];
	int n = 0;
	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = digits[--n];
	return p;
}

static char *put_hex(char *p, unsigned v)
{
	int shift = 12;
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*p++ = "0123456789abcdef"[(v >> shift) & 15];
	return p;
}

static char *put_v4(char *p, const uint8_t *a)
{
	for (int i = 0; i < 4; i++) {
		if (i)
			*p++ = '.';
		p = put_dec(p, a[i]);
	}
	return p;
}

/* The first longest run of two or more zero groups, as inet_ntop folds
 * it: its start, or -1, and its length. */
static int zero_run(const uint16_t *w, int *ret_len)
{
	int best = -1, best_len = 0;
	for (int i = 0; i < 8;) {
		int j = i;
		while (j < 8 && !w[j])
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j > i ? j : i + 1;
	}
	*ret_len = best_len;
	return best_len >= 2 ? best : -1;
}

static char *put_v6(char *p, const uint8_t *a)
{
	uint16_t w[8];
	int run_len;
	for (int i = 0; i < 8; i++)
		w[i] = (uint16_t)(a[2 * i] << 8 | a[2 * i + 1]);
	int run = zero_run(w, &run_len);
	for (int i = 0; i < 8; i++) {
		if (run >= 0 && i >= run && i < run + run_len) {
			if (i == run)
				*p++ = ':';
			continue;
		}
		if (i)
			*p++ = ':';
		/* IPv4 inside (mapped ::ffff:a.b.c.d, or compatible ::a.b.c.d). */
		if (i == 6 && run == 0 &&
		    (run_len == 6 || (run_len == 5 && w[5] == 0xffff)))
			return put_v4(p, a + 12);
		p = put_hex(p, w[i]);
	}
	if (run >= 0 && run + run_len == 8)
		*p++ = ':';
	return p;
}

static char *put_unix(char *p, const struct sockaddr_un *un, socklen_t len)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t plen = len > off ? len - off : 0;
	if (plen > sizeof(un->sun_path))
		plen = sizeof(un->sun_path);
	p = put_text(p, "unix:", 5);
	if (plen && un->sun_path[0] == '\0') {
		*p++ = '@';
		return put_text(p, un->sun_path + 1, plen - 1);
	}
	return put_text(p, un->sun_path, plen);
}

static char *put_addr(char *p, const struct sockaddr *sa, socklen_t len)
{
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;
		p = put_v4(p, (const uint8_t *)&in->sin_addr);
		*p++ = ':';
		return put_dec(p, ntohs(in->sin_port));
	}
	if (sa->sa_family == AF_INET6 && len >= THR_MATCH_IN6_MIN) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		*p++ = '[';
		p = put_v6(p, in6->sin6_addr.s6_addr);
		p = put_text(p, "]:", 2);
		return put_dec(p, ntohs(in6->sin6_port));
	}
	if (sa->sa_family == AF_UNIX)
		return put_unix(p, (const void *)sa, len);
	p = put_text(p, "family ", 7);
	return put_dec(p, sa->sa_family);
}

size_t thr_describe_sockaddr(const struct sockaddr *sa, socklen_t len,
                             char *out, size_t n)
{
	char text[LONGEST];
	size_t k = (size_t)(put_addr(text, sa, len) - text);
	if (k > n - 1)
		k = n - 1;
	memcpy(out, text, k);
	out[k] = '\0';
	return k;
}
