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

static const char *source_word(enum thr_pool_limit_source src)
{
	switch (src) {
	case THR_POOL_LIMIT_CONFIG:
		return "config";
	case THR_POOL_LIMIT_SET:
		return "set-limit";
	default:
		return "created";
	}
}

/* The FROM column: where the limit came from and, for set-limit, what the
 * config says when one has spoken. */
static void from_text(const struct thr_pool_snapshot *s, char *buf,
                      size_t len)
{
	if (s->limit_source == THR_POOL_LIMIT_SET && s->config_limit)
		snprintf(buf, len, "set-limit (config %" PRIu32 ")",
		         s->config_limit);
	else
		snprintf(buf, len, "%s", source_word(s->limit_source));
}

/* All but the dead's. A copy torn by writers may count more dead than
 * all; that shows as none live, not as a wrapped number. */
static uint32_t live(uint32_t all, uint32_t dead)
{
	return all > dead ? all - dead : 0;
}

uint32_t thr_status_in_use(const struct thr_pool_snapshot *s)
{
	return live(s->in_use, s->dead_in_use);
}

uint32_t thr_status_waiting(const struct thr_pool_snapshot *s)
{
	return live(s->waiting, s->dead_waiting);
}

/* ---- the table ---------------------------------------------------------- */

/* Columns: NAME, LIMIT, FROM (text, left-aligned), then numbers. */
#define NCOLS 11
#define FROM_COL 2
#define FROM_LEN 48

static const char *const headers[NCOLS] = {
	"NAME", "LIMIT", "FROM", "IN_USE", "WAITING", "PEAK", "GRANTED",
	"TIMEOUTS", "REFUSED", "OVER", "RECLAIMED",
};

/* The numeric columns of one pool, in header order after NAME; FROM's
 * place holds nothing. */
static void row_values(const struct thr_pool_snapshot *s,
                       uint64_t v[NCOLS - 1])
{
	v[0] = s->limit;
	v[1] = 0;
	v[2] = thr_status_in_use(s);
	v[3] = thr_status_waiting(s);
	v[4] = s->peak;
	v[5] = s->granted;
	v[6] = s->timeouts;
	v[7] = s->refused;
	v[8] = s->over;
	v[9] = s->reclaimed;
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

/* One holder or waiter line's fields, as shown. */
struct record {
	pid_t pid;
	const char *comm;
	int fd;
	const char *verb;       /* "held" or "wait" */
	uint64_t ms;
	const char *target;
	enum thr_proc_verdict process;
};

static struct record holder_record(const struct thr_pool_holder_info *h)
{
	return (struct record){ h->pid, h->comm, h->fd, "held", h->held_ms,
	                        h->target, h->process };
}

static struct record waiter_record(const struct thr_pool_waiter_info *w)
{
	return (struct record){ w->pid, w->comm, w->fd, "wait", w->waited_ms,
	                        w->target, w->process };
}

/* Widths of the record columns across every pool, so all holder and
 * waiter lines of the table line up. state is 0 while every process is
 * alive: the column is shown only where it says something. */
struct record_widths {
	int pid, comm, fd, ms, state;
	bool all_alive;
};

static void fd_text(int fd, char *buf, size_t len)
{
	if (fd < 0)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%d", fd);
}

/* A command name fit for a terminal and for columns: one byte shown per
 * byte, '?' for any that is not printable ASCII; "-" when unknown. */
static void comm_text(const char *comm, char buf[THR_PROC_COMM_LEN])
{
	size_t i;
	for (i = 0; i + 1 < THR_PROC_COMM_LEN && comm[i]; i++)
		buf[i] = comm[i] >= 0x20 && comm[i] < 0x7f ? comm[i] : '?';
	buf[i] = '\0';
	if (i == 0)
		strcpy(buf, "-");
}

static void widen(int *width, int len)
{
	if (len > *width)
		*width = len;
}

static void measure_record(const struct record *r, struct record_widths *w)
{
	char buf[32];
	widen(&w->state, (int)strlen(process_word(r->process)));
	w->all_alive &= r->process == THR_PROC_JUDGED_ALIVE;
	widen(&w->pid, snprintf(buf, sizeof(buf), "%d", (int)r->pid));
	comm_text(r->comm, buf);
	widen(&w->comm, (int)strlen(buf));
	fd_text(r->fd, buf, sizeof(buf));
	widen(&w->fd, (int)strlen(buf));
	thr_status_duration(r->ms, buf, sizeof(buf));
	widen(&w->ms, (int)strlen(buf));
}

static void measure_records(const struct thr_pool_snapshot *snaps, size_t n,
                            struct record_widths *w)
{
	*w = (struct record_widths){ 1, 1, 1, 1, 1, true };
	for (size_t i = 0; i < n; i++) {
		const struct thr_pool_snapshot *s = &snaps[i];
		for (size_t j = 0; j < s->nholders; j++) {
			struct record r = holder_record(&s->holders[j]);
			measure_record(&r, w);
		}
		for (size_t j = 0; j < s->nwaiters; j++) {
			struct record r = waiter_record(&s->waiters[j]);
			measure_record(&r, w);
		}
	}
	if (w->all_alive)
		w->state = 0;
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

static void print_record(FILE *out, const struct record *r,
                         const struct record_widths *w)
{
	char fd[32], ms[32], comm[THR_PROC_COMM_LEN];
	fd_text(r->fd, fd, sizeof(fd));
	thr_status_duration(r->ms, ms, sizeof(ms));
	comm_text(r->comm, comm);
	fprintf(out, "  pid %*d  %-*s  fd %*s  %s %*s  ", w->pid, (int)r->pid,
	        w->comm, comm, w->fd, fd, r->verb, w->ms, ms);
	if (w->state)
		fprintf(out, "%-*s  ", w->state, process_word(r->process));
	thr_status_text(out, r->target);
	fputc('\n', out);
}

/* A pool's holders, then its waiters. */
static void print_records(FILE *out, const struct thr_pool_snapshot *s,
                          const struct record_widths *w)
{
	for (size_t j = 0; j < s->nholders; j++) {
		struct record r = holder_record(&s->holders[j]);
		print_record(out, &r, w);
	}
	for (size_t j = 0; j < s->nwaiters; j++) {
		struct record r = waiter_record(&s->waiters[j]);
		print_record(out, &r, w);
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

static void measure_rows(const struct thr_pool_snapshot *snaps, size_t n,
                         int width[NCOLS])
{
	uint64_t v[NCOLS - 1];
	char from[FROM_LEN];
	for (int c = 0; c < NCOLS; c++)
		width[c] = (int)strlen(headers[c]);
	for (size_t i = 0; i < n; i++) {
		widen(&width[0], (int)strlen(snaps[i].name));
		from_text(&snaps[i], from, sizeof(from));
		widen(&width[FROM_COL], (int)strlen(from));
		row_values(&snaps[i], v);
		for (int c = 1; c < NCOLS; c++)
			if (c != FROM_COL)
				widen(&width[c], digits(v[c - 1]));
	}
}

/* A row's cells (headers when s is NULL): text ones left-aligned, numbers
 * right-aligned. The last cell is never padded after its text. */
static void print_row(FILE *out, const struct thr_pool_snapshot *s,
                      const int width[NCOLS])
{
	uint64_t v[NCOLS - 1];
	char from[FROM_LEN];
	if (s) {
		row_values(s, v);
		from_text(s, from, sizeof(from));
	}
	fprintf(out, "%-*s", width[0], s ? s->name : headers[0]);
	for (int c = 1; c < NCOLS; c++) {
		if (c == FROM_COL)
			fprintf(out, "  %-*s", width[c], s ? from : headers[c]);
		else if (s)
			fprintf(out, "  %*" PRIu64, width[c], v[c - 1]);
		else
			fprintf(out, "  %*s", width[c], headers[c]);
	}
	fputc('\n', out);
}

int thr_status_table(FILE *out, const struct thr_pool_snapshot *snaps,
                     size_t n)
{
	int width[NCOLS];
	struct record_widths rw;
	measure_rows(snaps, n, width);
	measure_records(snaps, n, &rw);
	print_row(out, NULL, width);
	for (size_t i = 0; i < n; i++) {
		print_row(out, &snaps[i], width);
		print_dead(out, &snaps[i]);
		print_records(out, &snaps[i], &rw);
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

/* One holder or waiter: {"pid","comm","fd","target",ms_key,"process"}. */
static void json_record(FILE *out, bool first, const struct record *r,
                        const char *ms_key)
{
	fprintf(out, "%s{\"pid\":%d,\"comm\":", first ? "" : ",",
	        (int)r->pid);
	thr_status_json_string(out, r->comm);
	fprintf(out, ",\"fd\":%d,\"target\":", r->fd < 0 ? -1 : r->fd);
	thr_status_json_string(out, r->target);
	fprintf(out, ",\"%s\":%" PRIu64 ",\"process\":\"%s\"}", ms_key,
	        r->ms, process_word(r->process));
}

static void json_records(FILE *out, const struct thr_pool_snapshot *s)
{
	fputs("\"holders\":[", out);
	for (size_t j = 0; j < s->nholders; j++) {
		struct record r = holder_record(&s->holders[j]);
		json_record(out, j == 0, &r, "held_ms");
	}
	fputs("],\"waiters\":[", out);
	for (size_t j = 0; j < s->nwaiters; j++) {
		struct record r = waiter_record(&s->waiters[j]);
		json_record(out, j == 0, &r, "waited_ms");
	}
	fputc(']', out);
}

/* "limit_source" and "config_limit" (null when no config has spoken). */
static void json_source(FILE *out, const struct thr_pool_snapshot *s)
{
	fprintf(out, ",\"limit_source\":\"%s\",\"config_limit\":",
	        source_word(s->limit_source));
	if (s->config_limit)
		fprintf(out, "%" PRIu32, s->config_limit);
	else
		fputs("null", out);
}

int thr_status_json(FILE *out, const struct thr_pool_snapshot *snaps,
                    size_t n)
{
	fputs("{\"pools\":[", out);
	for (size_t i = 0; i < n; i++) {
		const struct thr_pool_snapshot *s = &snaps[i];
		fputs(i ? ",{\"name\":" : "{\"name\":", out);
		thr_status_json_string(out, s->name);
		fprintf(out, ",\"limit\":%" PRIu32, s->limit);
		json_source(out, s);
		fprintf(out, ",\"in_use\":%" PRIu32
		        ",\"waiting\":%" PRIu32 ",\"dead_in_use\":%" PRIu32
		        ",\"dead_waiting\":%" PRIu32 ",\"peak\":%" PRIu32
		        ",\"granted\":%" PRIu64 ",\"timeouts\":%" PRIu64
		        ",\"refused\":%" PRIu64 ",\"over\":%" PRIu64
		        ",\"reclaimed\":%" PRIu64 ",", thr_status_in_use(s),
		        thr_status_waiting(s), s->dead_in_use,
		        s->dead_waiting, s->peak, s->granted, s->timeouts,
		        s->refused, s->over, s->reclaimed);
		json_records(out, s);
		fputc('}', out);
	}
	fputs("]}\n", out);
	return ferror(out) ? -EIO : 0;
}
