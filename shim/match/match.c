/* match.c - connect() destinations: parses the rules ("host:port", CIDR,
 * "[v6]:port", "unix:glob"), resolving host names at config load, and
 * matches connect() addresses against them. Path globs are in glob.c,
 * path normalisation in normal.c. The matching half runs inside the hooks,
 * maybe in a signal handler: it must never allocate, block, print, use
 * locale functions or touch errno. Only parsing (at config load) may
 * allocate and resolve. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "match.h"
#include "matchint.h"
#include "hot.h"

#define HOST_MAX 256            /* a DNS name is at most 253 bytes */

int thr_match__fail(const struct thr_match__parse *ps, int ret,
                    const char *fmt, ...)
{
	va_list ap;

	if (ps->err && ps->errlen) {
		va_start(ap, fmt);
		vsnprintf(ps->err, ps->errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* ---- matching addresses ---- */

bool thr_match_inet_key(const struct sockaddr *sa, socklen_t len,
                        uint8_t a[16], uint16_t *port)
{
	struct sockaddr_in in;
	struct sockaddr_in6 in6;

	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(in)) {
		memcpy(&in, sa, sizeof(in));
		memset(a, 0, 10);
		a[10] = a[11] = 0xff;
		memcpy(a + 12, &in.sin_addr, 4);
		*port = ntohs(in.sin_port);
		return true;
	}
	if (sa->sa_family == AF_INET6 && len >= THR_MATCH_IN6_MIN) {
		memcpy(&in6, sa, THR_MATCH_IN6_MIN);
		memcpy(a, &in6.sin6_addr, 16);
		*port = ntohs(in6.sin6_port);
		return true;
	}
	return false;
}

static bool in_prefix(const uint8_t *net, unsigned prefix, const uint8_t *a)
{
	unsigned i, full = prefix / 8, rest = prefix % 8;

	if (prefix > 128)
		return false;
	for (i = 0; i < full; i++)
		if (net[i] != a[i])
			return false;
	if (rest == 0)
		return true;
	return ((net[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/* A path socket is normalised first so "//run/./x" cannot dodge "/run/x".
 * A relative path never matches: the cwd is unknown here. */
static bool unix_matches(const char *glob, const struct sockaddr *sa,
                         socklen_t len)
{
	const size_t off = offsetof(struct sockaddr_un, sun_path);
	const char *sp = (const char *)sa + off;
	char raw[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	char norm[sizeof(raw)];
	size_t max, n;

	if (len <= off)
		return false;   /* unnamed */
	max = len - off;
	if (max > sizeof(raw) - 1)
		max = sizeof(raw) - 1;
	if (sp[0] == '\0')
		return glob[0] == '@' &&
		       thr_match__gmatch(glob + 1, sp + 1, max - 1);
	if (glob[0] != '/')
		return false;
	n = strnlen(sp, max);
	memcpy(raw, sp, n);
	raw[n] = '\0';
	if (thr_match_normalize(NULL, raw, norm, sizeof(norm)) < 0)
		return false;
	return thr_match__gmatch(glob, norm, strlen(norm));
}

THR_HOT bool thr_match_dest_matches(const struct thr_match_dest *rule,
                            const struct sockaddr *sa, socklen_t len)
{
	uint8_t a[16];
	uint16_t port;

	if (!rule || !sa || len < (socklen_t)sizeof(sa_family_t))
		return false;
	if (rule->kind == THR_MATCH_UNIX)
		return sa->sa_family == AF_UNIX && rule->glob &&
		       unix_matches(rule->glob, sa, len);
	if (!thr_match_inet_key(sa, len, a, &port))
		return false;
	if (port < rule->port_lo || port > rule->port_hi)
		return false;
	if (rule->kind == THR_MATCH_ANY)
		return true;
	return rule->kind == THR_MATCH_INET &&
	       in_prefix(rule->addr, rule->prefix, a);
}

/* ---- parsing ---- */

static int append(struct thr_match_dest **rules, size_t *nrules,
                  const struct thr_match_dest *r)
{
	struct thr_match_dest *grown;

	grown = realloc(*rules, (*nrules + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	*rules = grown;
	grown[(*nrules)++] = *r;
	return 0;
}

static int parse_unix(const struct thr_match__parse *ps,
                      struct thr_match_dest **rules, size_t *nrules)
{
	const char *g = ps->text + strlen("unix:");
	struct thr_match_dest r = { .kind = THR_MATCH_UNIX };
	int ret;

	if (g[0] == '\0')
		return thr_match__fail(ps, -EINVAL, "missing path in '%s'",
		                       ps->text);
	if (g[0] == '@' && g[1] == '\0')
		return thr_match__fail(ps, -EINVAL,
		                       "empty abstract socket name in '%s'",
		                       ps->text);
	if (g[0] != '@' && g[0] != '/')
		return thr_match__fail(ps, -EINVAL,
		                       "relative unix path '%s' in '%s'", g,
		                       ps->text);
	ret = g[0] == '@' ? thr_match__check_pattern(ps, g + 1)
	                  : thr_match__check_path_glob(ps, g);
	if (ret < 0)
		return ret;
	r.glob = strdup(g);
	if (!r.glob || append(rules, nrules, &r) < 0) {
		free(r.glob);
		return thr_match__fail(ps, -ENOMEM, "out of memory");
	}
	return 1;
}

/* Reads a port of 1 to 5 digits, at most 65535. Returns the end, or NULL. */
static const char *port_num(const char *s, uint16_t *v)
{
	unsigned long x = 0;
	size_t i;

	for (i = 0; i < 6 && is_digit(s[i]); i++)
		x = x * 10 + (unsigned long)(s[i] - '0');
	if (i == 0 || i > 5 || x > 65535)
		return NULL;
	*v = (uint16_t)x;
	return s + i;
}

static int parse_ports(const struct thr_match__parse *ps, const char *s,
                       struct thr_match_dest *r)
{
	const char *e = s + 1;

	if (*s == '\0')
		return thr_match__fail(ps, -EINVAL, "missing port in '%s'",
		                       ps->text);
	r->port_lo = 0;
	r->port_hi = 65535;
	if (*s != '*') {
		e = port_num(s, &r->port_lo);
		r->port_hi = r->port_lo;
		if (e && *e == '-')
			e = port_num(e + 1, &r->port_hi);
		if (!e)
			return thr_match__fail(ps, -EINVAL,
			                       "bad port '%s' in '%s'", s,
			                       ps->text);
	}
	if (*e)
		return thr_match__fail(ps, -EINVAL,
		                       "trailing junk '%s' in '%s'", e,
		                       ps->text);
	if (r->port_lo > r->port_hi)
		return thr_match__fail(ps, -EINVAL,
		                       "backwards port range '%s' in '%s'", s,
		                       ps->text);
	return 0;
}

static int parse_prefix(const struct thr_match__parse *ps, const char *s,
                        unsigned max, unsigned *out)
{
	size_t i;

	*out = 0;
	for (i = 0; is_digit(s[i]) && i < 4; i++)
		*out = *out * 10 + (unsigned)(s[i] - '0');
	if (i == 0 || s[i] != '\0')
		return thr_match__fail(ps, -EINVAL, "bad prefix '%s' in '%s'",
		                       s, ps->text);
	if (i > 3 || *out > max)
		return thr_match__fail(ps, -EINVAL,
		                       "prefix '%s' out of range (0-%u) in "
		                       "'%s'", s, max, ps->text);
	return 0;
}

/* Host bits past the prefix are dropped, as routing tables do, so
 * "10.1.2.3/16" means 10.1.0.0/16. */
static void mask_host_bits(struct thr_match_dest *r)
{
	unsigned i;

	for (i = r->prefix; i < 128; i++)
		r->addr[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

static void set_v4(struct thr_match_dest *r, const struct in_addr *in,
                   unsigned prefix)
{
	memset(r->addr, 0, 10);
	r->addr[10] = r->addr[11] = 0xff;
	memcpy(r->addr + 12, in, 4);
	r->prefix = (uint8_t)(96 + prefix);
	mask_host_bits(r);
}

/* Splits "addr/prefix" in place; no '/' means a full-length prefix. */
static int split_prefix(const struct thr_match__parse *ps, char *host,
                        unsigned max, unsigned *prefix)
{
	char *slash = strchr(host, '/');

	*prefix = max;
	if (!slash)
		return 0;
	*slash = '\0';
	return parse_prefix(ps, slash + 1, max, prefix);
}

static int parse_v6(const struct thr_match__parse *ps, char *host,
                    struct thr_match_dest *r)
{
	struct in6_addr in6;
	unsigned prefix;
	int ret = split_prefix(ps, host, 128, &prefix);

	if (ret < 0)
		return ret;
	if (inet_pton(AF_INET6, host, &in6) != 1)
		return thr_match__fail(ps, -EINVAL,
		                       "bad IPv6 address '%s' in '%s'", host,
		                       ps->text);
	r->kind = THR_MATCH_INET;
	memcpy(r->addr, &in6, 16);
	r->prefix = (uint8_t)prefix;
	mask_host_bits(r);
	return 0;
}

/* Only plausible DNS names go to the resolver: a numeric last label (a typo
 * such as "10.0.0.256") or anything inet_aton() would read as a number
 * ("127.1", "0x7f000001") would otherwise be looked up or silently parsed. */
static bool is_hostname(const char *h)
{
	size_t i, n = strlen(h), last = 0;
	bool numeric = true;
	struct in_addr in;

	if (n == 0 || n > 253)
		return false;
	if (h[n - 1] == '.')
		n--;    /* a fully qualified "name." */
	for (i = 0; i < n; i++) {
		if (!is_alpha(h[i]) && !is_digit(h[i]) && h[i] != '-' &&
		    h[i] != '.' && h[i] != '_')
			return false;
		if (h[i] == '.')
			last = i + 1;
	}
	for (i = last; i < n; i++)
		numeric &= is_digit(h[i]);
	return !numeric && inet_aton(h, &in) == 0;
}

/* Fills r from an unbracketed host; *resolve says a DNS name is left over. */
static int parse_host(const struct thr_match__parse *ps, char *host,
                      struct thr_match_dest *r, bool *resolve)
{
	struct in_addr in;
	unsigned prefix;
	bool cidr = strchr(host, '/') != NULL;
	int ret;

	*resolve = false;
	if (strcmp(host, "*") == 0) {
		r->kind = THR_MATCH_ANY;
		return 0;
	}
	ret = split_prefix(ps, host, 32, &prefix);
	if (ret < 0)
		return ret;
	r->kind = THR_MATCH_INET;
	if (inet_pton(AF_INET, host, &in) == 1) {
		set_v4(r, &in, prefix);
		return 0;
	}
	if (!cidr && is_hostname(host)) {
		*resolve = true;
		return 0;
	}
	return thr_match__fail(ps, -EINVAL, "bad address '%s' in '%s'", host,
	                       ps->text);
}

static bool seen(const struct thr_match_dest *r, size_t n, const uint8_t *a)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (memcmp(r[i].addr, a, 16) == 0)
			return true;
	return false;
}

/* One /128 rule per distinct address: getaddrinfo() repeats each address
 * once per socket type. */
static int add_resolved(const struct addrinfo *res, struct thr_match_dest r,
                        struct thr_match_dest **rules, size_t *nrules)
{
	size_t start = *nrules;
	uint16_t port;

	r.prefix = 128;
	for (; res; res = res->ai_next) {
		if (!res->ai_addr ||
		    !thr_match_inet_key(res->ai_addr, res->ai_addrlen, r.addr,
		                        &port) ||
		    seen(*rules + start, *nrules - start, r.addr))
			continue;
		if (append(rules, nrules, &r) < 0) {
			*nrules = start;
			return -ENOMEM;
		}
	}
	return (int)(*nrules - start);
}

static int resolve(const struct thr_match__parse *ps, const char *host,
                   const struct thr_match_dest *r,
                   struct thr_match_dest **rules, size_t *nrules)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC };
	struct addrinfo *res;
	int ret;

	ret = getaddrinfo(host, NULL, &hints, &res);
	if (ret == EAI_MEMORY)
		return thr_match__fail(ps, -ENOMEM,
		                       "out of memory resolving '%s'", host);
	/* A name that does not resolve now (a typo, or DNS down at start)
	 * gives no rule, and says why: the rest of the config still holds. */
	if (ret != 0)
		return thr_match__fail(ps, 0, "cannot resolve '%s' (%s)", host,
		                       gai_strerror(ret));
	ret = add_resolved(res, *r, rules, nrules);
	freeaddrinfo(res);
	if (ret == -ENOMEM)
		return thr_match__fail(ps, -ENOMEM, "out of memory");
	if (ret == 0)
		return thr_match__fail(ps, 0, "cannot resolve '%s' (no IP "
		                       "address)", host);
	return ret;
}

/* Splits "host:port" or "[v6]:port" into a copy of the host and the port. */
static int split_dest(const struct thr_match__parse *ps, char host[HOST_MAX],
                      const char **port, bool *bracket)
{
	const char *t = ps->text, *h = t, *end;

	*bracket = t[0] == '[';
	if (*bracket) {
		h = t + 1;
		end = strchr(h, ']');
		if (!end)
			return thr_match__fail(ps, -EINVAL,
			                       "missing ']' in '%s'", t);
		if (end[1] != ':' && end[1] != '\0')
			return thr_match__fail(ps, -EINVAL,
			                       "trailing junk '%s' in '%s'",
			                       end + 1, t);
		*port = end[1] ? end + 2 : end + 1;
	} else {
		end = strrchr(t, ':');
		if (!end)
			return thr_match__fail(ps, -EINVAL,
			                       "missing port in '%s'", t);
		if (memchr(t, ':', (size_t)(end - t)))
			return thr_match__fail(ps, -EINVAL,
			                       "IPv6 address needs [brackets] "
			                       "in '%s'", t);
		*port = end + 1;
	}
	if (end == h)
		return thr_match__fail(ps, -EINVAL, "missing address in '%s'",
		                       t);
	if (end - h >= HOST_MAX)
		return thr_match__fail(ps, -EINVAL,
		                       "bad address (too long) in '%s'", t);
	memcpy(host, h, (size_t)(end - h));
	host[end - h] = '\0';
	return 0;
}

static int parse_inet(const struct thr_match__parse *ps,
                      struct thr_match_dest **rules, size_t *nrules)
{
	char host[HOST_MAX];
	const char *port = "";
	struct thr_match_dest r = { .kind = THR_MATCH_INET };
	bool bracket, dns = false;
	int ret;

	ret = split_dest(ps, host, &port, &bracket);
	if (ret == 0)
		ret = bracket ? parse_v6(ps, host, &r)
		              : parse_host(ps, host, &r, &dns);
	/* the port is checked before any DNS lookup is spent on the rule */
	if (ret == 0)
		ret = parse_ports(ps, port, &r);
	if (ret < 0)
		return ret;
	if (dns)
		return resolve(ps, host, &r, rules, nrules);
	if (append(rules, nrules, &r) < 0)
		return thr_match__fail(ps, -ENOMEM, "out of memory");
	return 1;
}

int thr_match_parse_dest(const char *text, struct thr_match_dest **rules,
                         size_t *nrules, char *err, size_t errlen)
{
	struct thr_match__parse ps = { text, err, errlen };

	if (!text || !rules || !nrules)
		return thr_match__fail(&ps, -EINVAL, "no destination");
	if (text[0] == '\0')
		return thr_match__fail(&ps, -EINVAL, "empty destination");
	if (strncmp(text, "unix:", strlen("unix:")) == 0)
		return parse_unix(&ps, rules, nrules);
	return parse_inet(&ps, rules, nrules);
}

void thr_match_free_dests(struct thr_match_dest *rules, size_t n)
{
	size_t i;

	if (!rules)
		return;
	for (i = 0; i < n; i++)
		free(rules[i].glob);
	free(rules);
}
