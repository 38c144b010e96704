/* top.c - a frame of `throttlectl top` as plain text lines (see top.h).
 * Only formatting: rates and percentiles come from two snapshots the caller
 * took; nothing here reads a pool, a clock or the terminal. */
#include "top.h"
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define NBUCKETS THR_POOL_HIST_BUCKETS
#define NCOLS 10

static const char *const headers[NCOLS] = {
	"POOL", "LIMIT", "IN_USE", "USE", "WAITING", "DEAD", "GRANTS/S",
	"TIMEOUTS/S", "WAIT_P50", "WAIT_P99",
};

/* A row's cells as text, in header order. */
struct row {
	char cell[NCOLS][80];
};

int thr_top_quantile_bucket(const uint64_t d[NBUCKETS], double q)
{
	uint64_t total = 0, seen = 0;
	for (int b = 0; b < NBUCKETS; b++)
		total += d[b];
	if (total == 0)
		return -1;
	/* The smallest wait that at least q of them do not exceed. */
	uint64_t rank = (uint64_t)(q * (double)total);
	if ((double)rank < q * (double)total)
		rank++;
	if (rank == 0)
		rank = 1;
	for (int b = 0; b < NBUCKETS; b++) {
		seen += d[b];
		if (seen >= rank)
			return b;
	}
	return NBUCKETS - 1;
}

/* us microseconds for people, two or three significant digits. */
static void human_us(uint64_t us, char *buf, size_t len)
{
	if (us < 1000)
		snprintf(buf, len, "%" PRIu64 "us", us);
	else if (us < 10000)
		snprintf(buf, len, "%.1fms", (double)us / 1e3);
	else if (us < 1000000)
		snprintf(buf, len, "%.0fms", (double)us / 1e3);
	else if (us < 10000000)
		snprintf(buf, len, "%.1fs", (double)us / 1e6);
	else
		snprintf(buf, len, "%.0fs", (double)us / 1e6);
}

void thr_top_bucket_text(int b, char *buf, size_t len)
{
	char t[32];
	if (b <= 0) {
		snprintf(buf, len, "0");
	} else if (b >= NBUCKETS - 1) {
		/* The last bucket counts every wait from 2^30 us on. */
		snprintf(buf, len, ">%" PRIu64 "s",
		         (UINT64_C(1) << (NBUCKETS - 2)) / 1000000);
	} else {
		human_us(UINT64_C(1) << b, t, sizeof(t));
		snprintf(buf, len, "<%s", t);
	}
}

/* The pool called name in the frame before, if its counters only grew
 * since: otherwise it was made anew in between, and has no rates yet. */
static const struct thr_pool_snapshot *
before_of(const struct thr_top_frame *f, const struct thr_pool_snapshot *s)
{
	for (size_t i = 0; f->before && i < f->nbefore; i++) {
		const struct thr_pool_snapshot *b = &f->before[i];
		if (strcmp(b->name, s->name) != 0)
			continue;
		if (b->granted > s->granted || b->timeouts > s->timeouts)
			return NULL;
		for (int k = 0; k < NBUCKETS; k++)
			if (b->wait_hist[k] > s->wait_hist[k])
				return NULL;
		return b;
	}
	return NULL;
}

static void bar(uint32_t used, uint32_t limit, char *buf, size_t len)
{
	uint64_t full = THR_TOP_BAR;
	if (limit > 0 && used < limit)
		full = ((uint64_t)used * THR_TOP_BAR + limit - 1) / limit;
	char cells[THR_TOP_BAR + 1];
	for (int i = 0; i < THR_TOP_BAR; i++)
		cells[i] = (uint64_t)i < full ? '#' : '.';
	cells[THR_TOP_BAR] = '\0';
	snprintf(buf, len, "[%s]", cells);
}

/* The cells of the interval: rates and percentiles, or "-" without one. */
static void interval_cells(const struct thr_top_frame *f,
                           const struct thr_pool_snapshot *s, struct row *r)
{
	const struct thr_pool_snapshot *b = before_of(f, s);
	if (!b || f->elapsed <= 0) {
		for (int c = 6; c < NCOLS; c++)
			snprintf(r->cell[c], sizeof(r->cell[c]), "-");
		return;
	}
	uint64_t d[NBUCKETS];
	for (int k = 0; k < NBUCKETS; k++)
		d[k] = s->wait_hist[k] - b->wait_hist[k];
	snprintf(r->cell[6], sizeof(r->cell[6]), "%.1f",
	         (double)(s->granted - b->granted) / f->elapsed);
	snprintf(r->cell[7], sizeof(r->cell[7]), "%.1f",
	         (double)(s->timeouts - b->timeouts) / f->elapsed);
	const double q[2] = { 0.5, 0.99 };
	for (int i = 0; i < 2; i++) {
		int k = thr_top_quantile_bucket(d, q[i]);
		if (k < 0)
			snprintf(r->cell[8 + i], sizeof(r->cell[8]), "-");
		else
			thr_top_bucket_text(k, r->cell[8 + i], sizeof(r->cell[8]));
	}
}

static void fill_row(const struct thr_top_frame *f,
                     const struct thr_pool_snapshot *s, struct row *r)
{
	uint32_t used = thr_status_in_use(s);
	snprintf(r->cell[0], sizeof(r->cell[0]), "%s", s->name);
	snprintf(r->cell[1], sizeof(r->cell[1]), "%" PRIu32, s->limit);
	snprintf(r->cell[2], sizeof(r->cell[2]), "%" PRIu32, used);
	bar(used, s->limit, r->cell[3], sizeof(r->cell[3]));
	snprintf(r->cell[4], sizeof(r->cell[4]), "%" PRIu32,
	         thr_status_waiting(s));
	snprintf(r->cell[5], sizeof(r->cell[5]), "%" PRIu32, s->dead_in_use);
	interval_cells(f, s, r);
}

/* Writes line (no newline in it) cut to the frame's width, then '\n'. */
static void put_line(FILE *out, const struct thr_top_frame *f,
                     const char *line)
{
	size_t n = strlen(line);
	if (f->width > 0 && n > (size_t)f->width)
		n = (size_t)f->width;
	fwrite(line, 1, n, out);
	fputc('\n', out);
}

/* Cells joined by two spaces, the first column left-aligned and the
 * others right-aligned to width[]. */
static void put_cells(FILE *out, const struct thr_top_frame *f,
                      const char *const cell[NCOLS], const int width[NCOLS])
{
	char line[NCOLS * 96];
	int at = snprintf(line, sizeof(line), "%-*s", width[0], cell[0]);
	for (int c = 1; c < NCOLS && at < (int)sizeof(line); c++)
		at += snprintf(line + at, sizeof(line) - (size_t)at, "  %*s",
		               width[c], cell[c]);
	put_line(out, f, line);
}

static void put_header(FILE *out, const struct thr_top_frame *f)
{
	char line[256];
	snprintf(line, sizeof(line), "throttlectl top  %s  every %gs  %zu pool%s"
	         "  q quits", f->clock, f->every, f->n, f->n == 1 ? "" : "s");
	put_line(out, f, line);
}

int thr_top_write(FILE *out, const struct thr_top_frame *f)
{
	int width[NCOLS];
	struct row *rows = f->n ? calloc(f->n, sizeof(*rows)) : NULL;
	if (f->n && !rows)
		return -ENOMEM;
	for (int c = 0; c < NCOLS; c++)
		width[c] = (int)strlen(headers[c]);
	for (size_t i = 0; i < f->n; i++) {
		fill_row(f, &f->now[i], &rows[i]);
		for (int c = 0; c < NCOLS; c++)
			if ((int)strlen(rows[i].cell[c]) > width[c])
				width[c] = (int)strlen(rows[i].cell[c]);
	}
	put_header(out, f);
	put_cells(out, f, headers, width);
	for (size_t i = 0; i < f->n; i++) {
		const char *cell[NCOLS];
		for (int c = 0; c < NCOLS; c++)
			cell[c] = rows[i].cell[c];
		put_cells(out, f, cell, width);
	}
	free(rows);
	return ferror(out) ? -EIO : 0;
}
