/* status.c - pool snapshots as an aligned table or as JSON, for throttlectl.
 * Only formatting: the caller opens the pools and owns the FILE. */
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- sorting ------------------------------------------------------------ */

static int by_name(const void *a, const void *b)
{
	const struct thr_pool_snapshot *x = a, *y = b;
	return strcmp(x->name, y->name);
}

static int by_pid_fd(const void *a, const void *b)
{
	const struct thr_pool_holder_info *x = a, *y = b;
	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	if (x->fd != y->fd)
		return x->fd < y->fd ? -1 : 1;
	return 0;
}

void thr_status_sort(struct thr_pool_snapshot *snaps, size_t n)
{
	if (n > 1)
		qsort(snaps, n, sizeof(*snaps), by_name);
	for (size_t i = 0; i < n; i++)
		if (snaps[i].nholders > 1)
			qsort(snaps[i].holders, snaps[i].nholders,
			      sizeof(*snaps[i].holders), by_pid_fd);
}

/* ---- the table ---------------------------------------------------------- */

#define NCOLS 10

static const char *const headers[NCOLS] = {
	"NAME", "LIMIT", "IN_USE", "WAITING", "PEAK", "GRANTED", "TIMEOUTS",
	"REFUSED", "OVER", "RECLAIMED",
};

/* The numeric columns of one pool, in header order after NAME. */
static void row_values(const struct thr_pool_snapshot *s,
                       uint64_t v[NCOLS - 1])
{
	v[0] = s->limit;
	v[1] = s->in_use;
	v[2] = s->waiting;
	v[3] = s->peak;
	v[4] = s->granted;
	v[5] = s->timeouts;
	v[6] = s->refused;
	v[7] = s->over;
	v[8] = s->reclaimed;
}

static int digits(uint64_t v)
{
	int n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

void thr_status_duration(uint64_t ms, char *buf, size_t len)
{
	const uint64_t s = ms / 1000, m = s / 60, h = m / 60, d = h / 24;
	if (ms < 1000)
		snprintf(buf, len, "%" PRIu64 "ms", ms);
	else if (s < 60)
		snprintf(buf, len, "%" PRIu64 ".%" PRIu64 "s", s,
		         ms % 1000 / 100);
	else if (m < 60)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", m, s % 60);
	else if (h < 24)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", h, m % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", d, h % 24);
}

/* Widths of the holder columns across every pool, so all holder lines of
 * the table line up. */
struct holder_widths {
	int pid, fd, held;
};

static void fd_text(int fd, char *buf, size_t len)
{
	if (fd < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%d", fd);
}

static void measure_holders(const struct thr_pool_snapshot *snaps, size_t n,
                            struct holder_widths *w)
{
	char buf[32];
	w->pid = w->fd = w->held = 1;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < snaps[i].nholders; j++) {
			const struct thr_pool_holder_info *h = &snaps[i].holders[j];
			int k = snprintf(buf, sizeof(buf), "%d", (int)h->pid);
			if (k > w->pid)
				w->pid = k;
			fd_text(h->fd, buf, sizeof(buf));
			if ((int)strlen(buf) > w->fd)
				w->fd = (int)strlen(buf);
			thr_status_duration(h->held_ms, buf, sizeof(buf));
			if ((int)strlen(buf) > w->held)
				w->held = (int)strlen(buf);
		}
	}
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if p does not start
 * one: overlong forms, surrogates and values above U+10FFFF are invalid. */
static size_t utf8_len(const unsigned char *p)
{
	size_t n;
	uint32_t cp;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) /* also stops at the NUL */
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return n;
}

/* Is the valid n-byte sequence at p a C1 control, U+0080..U+009F? */
static bool is_c1(const unsigned char *p, size_t n)
{
	return n == 2 && p[0] == 0xc2 && p[1] < 0xa0;
}

void thr_status_text(FILE *out, const char *t)
{
	if (!*t) {
		fputc('-', out);
		return;
	}
	const unsigned char *p = (const unsigned char *)t;
	while (*p) {
		size_t n = utf8_len(p);
		if (*p == '\\')
			fputs("\\\\", out);
		else if (*p < 0x20 || *p == 0x7f || n == 0)
			fprintf(out, "\\x%02x", *p);
		else if (is_c1(p, n))
			fprintf(out, "\\x%02x\\x%02x", p[0], p[1]);
		else
			fwrite(p, 1, n, out);
		p += n ? n : 1;
	}
}

static void print_holders(FILE *out, const struct thr_pool_snapshot *s,
                          const struct holder_widths *w)
{
	char fd[32], held[32];
	for (size_t j = 0; j < s->nholders; j++) {
		const struct thr_pool_holder_info *h = &s->holders[j];
		fd_text(h->fd, fd, sizeof(fd));
		thr_status_duration(h->held_ms, held, sizeof(held));
		fprintf(out, "  pid %*d  fd %*s  held %*s  ", w->pid,
		        (int)h->pid, w->fd, fd, w->held, held);
		thr_status_text(out, h->target);
		fputc('\n', out);
	}
}

int thr_status_table(FILE *out, const struct thr_pool_snapshot *snaps,
                     size_t n)
{
	int width[NCOLS];
	uint64_t v[NCOLS - 1];
	struct holder_widths hw;

	for (int c = 0; c < NCOLS; c++)
		width[c] = (int)strlen(headers[c]);
	for (size_t i = 0; i < n; i++) {
		if ((int)strlen(snaps[i].name) > width[0])
			width[0] = (int)strlen(snaps[i].name);
		row_values(&snaps[i], v);
		for (int c = 1; c < NCOLS; c++)
			if (digits(v[c - 1]) > width[c])
				width[c] = digits(v[c - 1]);
	}
	measure_holders(snaps, n, &hw);

	fprintf(out, "%-*s", width[0], headers[0]);
	for (int c = 1; c < NCOLS; c++)
		fprintf(out, "  %*s", width[c], headers[c]);
	fputc('\n', out);
	for (size_t i = 0; i < n; i++) {
		row_values(&snaps[i], v);
		fprintf(out, "%-*s", width[0], snaps[i].name);
		for (int c = 1; c < NCOLS; c++)
			fprintf(out, "  %*" PRIu64, width[c], v[c - 1]);
		fputc('\n', out);
		print_holders(out, &snaps[i], &hw);
	}
	return ferror(out) ? -EIO : 0;
}

/* ---- JSON --------------------------------------------------------------- */

void thr_status_json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	fputc('"', out);
	while (*p) {
		size_t n;
		switch (*p) {
		case '"': fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\b': fputs("\\b", out); break;
		case '\f': fputs("\\f", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20 || *p == 0x7f) {
				fprintf(out, "\\u%04x", *p);
			} else if ((n = utf8_len(p)) == 0) {
				fputs("\\ufffd", out);
			} else if (is_c1(p, n)) {
				fprintf(out, "\\u%04x", p[1]);
				p += n;
				continue;
			} else {
				fwrite(p, 1, n, out);
				p += n;
				continue;
			}
		}
		p++;
	}
	fputc('"', out);
}

static void json_holders(FILE *out, const struct thr_pool_snapshot *s)
{
	fputs("\"holders\":[", out);
	for (size_t j = 0; j < s->nholders; j++) {
		const struct thr_pool_holder_info *h = &s->holders[j];
		fprintf(out, "%s{\"pid\":%d,\"fd\":%d,\"target\":", j ? "," : "",
		        (int)h->pid, h->fd < 0 ? -1 : h->fd);
		thr_status_json_string(out, h->target);
		fprintf(out, ",\"held_ms\":%" PRIu64 "}", h->held_ms);
	}
	fputc(']', out);
}

int thr_status_json(FILE *out, const struct thr_pool_snapshot *snaps,
                    size_t n)
{
	fputs("{\"pools\":[", out);
	for (size_t i = 0; i < n; i++) {
		const struct thr_pool_snapshot *s = &snaps[i];
		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		thr_status_json_string(out, s->name);
		fprintf(out, ",\"limit\":%" PRIu32 ",\"in_use\":%" PRIu32
		        ",\"waiting\":%" PRIu32 ",\"peak\":%" PRIu32
		        ",\"granted\":%" PRIu64 ",\"timeouts\":%" PRIu64
		        ",\"refused\":%" PRIu64 ",\"over\":%" PRIu64
		        ",\"reclaimed\":%" PRIu64 ",", s->limit, s->in_use,
		        s->waiting, s->peak, s->granted, s->timeouts,
		        s->refused, s->over, s->reclaimed);
		json_holders(out, s);
		fputc('}', out);
	}
	fputs("]}\n", out);
	return ferror(out) ? -EIO : 0;
}
