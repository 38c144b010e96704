/* status.c - pool snapshots as an aligned table or as JSON, for throttlectl.
 * Only formatting: the caller opens the pools and owns the FILE; whether a
 * process is alive is the snapshot's verdict, never judged again here. */
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

static int pid_fd_order(pid_t pa, int fa, pid_t pb, int fb)
{
	if (pa != pb)
		return pa < pb ? -1 : 1;
	if (fa != fb)
		return fa < fb ? -1 : 1;
	return 0;
}

static int holders_by_pid_fd(const void *a, const void *b)
{
	const struct thr_pool_holder_info *x = a, *y = b;
	return pid_fd_order(x->pid, x->fd, y->pid, y->fd);
}

static int waiters_by_pid_fd(const void *a, const void *b)
{
	const struct thr_pool_waiter_info *x = a, *y = b;
	return pid_fd_order(x->pid, x->fd, y->pid, y->fd);
}

void thr_status_sort(struct thr_pool_snapshot *snaps, size_t n)
{
	if (n > 1)
		qsort(snaps, n, sizeof(*snaps), by_name);
	for (size_t i = 0; i < n; i++) {
		struct thr_pool_snapshot *s = &snaps[i];
		if (s->nholders > 1)
			qsort(s->holders, s->nholders, sizeof(*s->holders),
			      holders_by_pid_fd);
		if (s->nwaiters > 1)
			qsort(s->waiters, s->nwaiters, sizeof(*s->waiters),
			      waiters_by_pid_fd);
	}
}

/* ---- live and dead ------------------------------------------------------ */

static const char *process_word(enum thr_proc_verdict v)
{
	switch (v) {
	case THR_PROC_JUDGED_ALIVE:
		return "alive";
	case THR_PROC_JUDGED_DEAD:
		return "dead";
	default:
		return "unknown";
	}
}

/* What live processes hold or wait for: all but the dead's. A copy torn by
 * writers may count more dead than all; that shows as none live, not as a
 * wrapped number. */
static uint32_t live(uint32_t all, uint32_t dead)
{
	return all > dead ? all - dead : 0;
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
	v[1] = live(s->in_use, s->dead_in_use);
	v[2] = live(s->waiting, s->dead_waiting);
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
 * the table line up. state is 0 while every holder is alive: the column
 * is shown only where it says something. */
struct holder_widths {
	int pid, fd, held, state;
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
	bool all_alive = true;
	int state = 1;
	w->pid = w->fd = w->held = 1;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < snaps[i].nholders; j++) {
			const struct thr_pool_holder_info *h = &snaps[i].holders[j];
			int k = (int)strlen(process_word(h->process));
			if (k > state)
				state = k;
			all_alive &= h->process == THR_PROC_JUDGED_ALIVE;
			k = snprintf(buf, sizeof(buf), "%d", (int)h->pid);
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
	w->state = all_alive ? 0 : state;
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
		if (w->state)
			fprintf(out, "%-*s  ", w->state,
			        process_word(h->process));
		thr_status_text(out, h->target);
		fputc('\n', out);
	}
}

/* What dead processes still have, which the row does not count, on a line
 * of its own; nothing when they have nothing. */
static void print_dead(FILE *out, const struct thr_pool_snapshot *s)
{
	uint32_t held = s->dead_in_use, waiting = s->dead_waiting;
	if (!held && !waiting)
		return;
	fputs("  dead: ", out);
	if (held)
		fprintf(out, "%" PRIu32 " slot%s held%s", held,
		        held == 1 ? "" : "s", waiting ? ", " : "");
	if (waiting)
		fprintf(out, "%" PRIu32 " waiting", waiting);
	fprintf(out, "; not in %s, freed by the next reclaim\n",
	        !waiting ? "IN_USE" : !held ? "WAITING" : "IN_USE or WAITING");
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
		print_dead(out, &snaps[i]);
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

/* One holder or waiter: {"pid","fd","target",ms_key,"process"}. */
static void json_record(FILE *out, bool first, pid_t pid, int fd,
                        const char *target, const char *ms_key, uint64_t ms,
                        enum thr_proc_verdict v)
{
	fprintf(out, "%s{\"pid\":%d,\"fd\":%d,\"target\":", first ? "" : ",",
	        (int)pid, fd < 0 ? -1 : fd);
	thr_status_json_string(out, target);
	fprintf(out, ",\"%s\":%" PRIu64 ",\"process\":\"%s\"}", ms_key, ms,
	        process_word(v));
}

static void json_records(FILE *out, const struct thr_pool_snapshot *s)
{
	fputs("\"holders\":[", out);
	for (size_t j = 0; j < s->nholders; j++) {
		const struct thr_pool_holder_info *h = &s->holders[j];
		json_record(out, j == 0, h->pid, h->fd, h->target, "held_ms",
		            h->held_ms, h->process);
	}
	fputs("],\"waiters\":[", out);
	for (size_t j = 0; j < s->nwaiters; j++) {
		const struct thr_pool_waiter_info *w = &s->waiters[j];
		json_record(out, j == 0, w->pid, w->fd, w->target, "waited_ms",
		            w->waited_ms, w->process);
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
		        ",\"waiting\":%" PRIu32 ",\"dead_in_use\":%" PRIu32
		        ",\"dead_waiting\":%" PRIu32 ",\"peak\":%" PRIu32
		        ",\"granted\":%" PRIu64 ",\"timeouts\":%" PRIu64
		        ",\"refused\":%" PRIu64 ",\"over\":%" PRIu64
		        ",\"reclaimed\":%" PRIu64 ",", s->limit,
		        live(s->in_use, s->dead_in_use),
		        live(s->waiting, s->dead_waiting), s->dead_in_use,
		        s->dead_waiting, s->peak, s->granted, s->timeouts,
		        s->refused, s->over, s->reclaimed);
		json_records(out, s);
		fputc('}', out);
	}
	fputs("]}\n", out);
	return ferror(out) ? -EIO : 0;
}
