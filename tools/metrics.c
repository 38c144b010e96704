/* metrics.c - pool snapshots in the Prometheus text format, for
 * `throttlectl metrics`. Only formatting: the caller opens the pools and owns
 * the FILE; every figure is the snapshot's, never estimated here. */
#include "metrics.h"
#include "status.h"

#include <errno.h>
#include <inttypes.h>
#include <string.h>

/* The engine's log2 buckets. All but the last have a bound (2^b us); the
 * last counts every longer wait too, so it has only +Inf. */
#define NBUCKETS THR_POOL_HIST_BUCKETS
#define BOUNDED_BUCKETS (NBUCKETS - 1)

static uint64_t limit_of(const struct thr_pool_snapshot *s) { return s->limit; }
static uint64_t in_use_of(const struct thr_pool_snapshot *s)
{
	return thr_status_in_use(s);
}
static uint64_t waiting_of(const struct thr_pool_snapshot *s)
{
	return thr_status_waiting(s);
}
static uint64_t dead_in_use_of(const struct thr_pool_snapshot *s)
{
	return s->dead_in_use;
}
static uint64_t dead_waiting_of(const struct thr_pool_snapshot *s)
{
	return s->dead_waiting;
}
static uint64_t peak_of(const struct thr_pool_snapshot *s) { return s->peak; }
static uint64_t granted_of(const struct thr_pool_snapshot *s)
{
	return s->granted;
}
static uint64_t timeouts_of(const struct thr_pool_snapshot *s)
{
	return s->timeouts;
}
static uint64_t refused_of(const struct thr_pool_snapshot *s)
{
	return s->refused;
}
static uint64_t over_of(const struct thr_pool_snapshot *s) { return s->over; }
static uint64_t reclaimed_of(const struct thr_pool_snapshot *s)
{
	return s->reclaimed;
}
static uint64_t interrupted_of(const struct thr_pool_snapshot *s)
{
	return s->interrupted;
}

/* A family of one sample per pool. Help texts hold neither '\' nor a
 * newline, the two bytes a HELP line would have to escape. */
struct family {
	const char *name, *type, *help;
	uint64_t (*value)(const struct thr_pool_snapshot *s);
};

static const struct family families[] = {
	{ "throttle_pool_limit", "gauge",
	  "Slots the pool grants at once at most.", limit_of },
	{ "throttle_pool_in_use", "gauge",
	  "Slots held by live processes (and by ones that cannot be judged); "
	  "slots only dead processes hold are in throttle_pool_dead_in_use.",
	  in_use_of },
	{ "throttle_pool_waiting", "gauge",
	  "Live processes queued for a slot.", waiting_of },
	{ "throttle_pool_dead_in_use", "gauge",
	  "Slots held only by dead processes, until the next reclaim.",
	  dead_in_use_of },
	{ "throttle_pool_dead_waiting", "gauge",
	  "Queue places of dead processes, until the next reclaim.",
	  dead_waiting_of },
	{ "throttle_pool_peak", "gauge",
	  "Most slots held at once since the pool was created.", peak_of },
	{ "throttle_pool_granted_total", "counter",
	  "Slots granted, at once or after a wait.", granted_of },
	{ "throttle_pool_timeouts_total", "counter",
	  "Waits that reached their deadline without a slot.", timeouts_of },
	{ "throttle_pool_refused_total", "counter",
	  "Try-acquires that found the pool full.", refused_of },
	{ "throttle_pool_over_total", "counter",
	  "Observe-mode calls that found the pool full (and went on).",
	  over_of },
	{ "throttle_pool_reclaimed_total", "counter",
	  "Slots taken back from dead processes.", reclaimed_of },
	{ "throttle_pool_interrupted_total", "counter",
	  "Waits ended by a signal.", interrupted_of },
};

#define NFAMILIES (sizeof(families) / sizeof(families[0]))

static const char wait_name[] = "throttle_pool_wait_seconds";
static const char wait_help[] =
	"Time each grant waited for its slot (0 for one granted at once); "
	"timed-out and interrupted waits are not in it.";

void thr_metrics_label_value(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			fputs("\\\\", out);
		else if (*s == '"')
			fputs("\\\"", out);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

void thr_metrics_bound(unsigned b, char *buf, size_t len)
{
	uint64_t us = UINT64_C(1) << b;
	int n = snprintf(buf, len, "%" PRIu64 ".%06" PRIu64, us / 1000000,
	                 us % 1000000);
	if (n <= 0 || (size_t)n >= len)
		return;
	while (buf[n - 1] == '0')
		buf[--n] = '\0';
	if (buf[n - 1] == '.')
		buf[n - 1] = '\0';
}

static void header(FILE *out, const char *name, const char *type,
                   const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{pool="NAME"  - the caller closes the braces, maybe after more. */
static void sample_start(FILE *out, const char *name, const char *suffix,
                         const struct thr_pool_snapshot *s)
{
	fprintf(out, "%s%s{pool=\"", name, suffix);
	thr_metrics_label_value(out, s->name);
	fputc('"', out);
}

static void histogram(FILE *out, const struct thr_pool_snapshot *s)
{
	char le[32];
	uint64_t count = 0;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		count += s->wait_hist[b];
		if (b == BOUNDED_BUCKETS)
			break;
		thr_metrics_bound(b, le, sizeof(le));
		sample_start(out, wait_name, "_bucket", s);
		fprintf(out, ",le=\"%s\"} %" PRIu64 "\n", le, count);
	}
	sample_start(out, wait_name, "_bucket", s);
	fprintf(out, ",le=\"+Inf\"} %" PRIu64 "\n", count);
	sample_start(out, wait_name, "_sum", s);
	fprintf(out, "} %" PRIu64 ".%09" PRIu64 "\n", s->wait_ns / 1000000000,
	        s->wait_ns % 1000000000);
	sample_start(out, wait_name, "_count", s);
	fprintf(out, "} %" PRIu64 "\n", count);
}

int thr_metrics_write(FILE *out, const struct thr_pool_snapshot *snaps,
                      size_t n)
{
	for (size_t f = 0; f < NFAMILIES; f++) {
		const struct family *fam = &families[f];
		header(out, fam->name, fam->type, fam->help);
		for (size_t i = 0; i < n; i++) {
			sample_start(out, fam->name, "", &snaps[i]);
			fprintf(out, "} %" PRIu64 "\n", fam->value(&snaps[i]));
		}
	}
	header(out, wait_name, "histogram", wait_help);
	for (size_t i = 0; i < n; i++)
		histogram(out, &snaps[i]);
	return ferror(out) ? -EIO : 0;
}
