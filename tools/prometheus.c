// SPDX-License-Identifier: MIT
/*
 * tools/prometheus.c - kvshmctl stats --prometheus (see prometheus.h).
 *
 * Code of an ordinary client: it knows the stat names kvshm_stats(3)
 * documents, nothing of the daemon's insides.
 *
 * One table, rows[], decides for every stat the family it feeds, whether
 * that family is a counter, a gauge or a histogram, the unit it is scaled
 * to (seconds, bytes, ratios: Prometheus's base units) and its labels.
 * Families come out in table order, each once: a family's rows are
 * adjacent in the table, # HELP and # TYPE come before its samples, and a
 * family with no sample is left out (a daemon without a WAL has no wal_*
 * stats). Every sample carries name="CACHE".
 *
 * What no row claims still comes out: word stats (version, membarrier,
 * eviction_policy...) as labels of kvshm_info, and numeric stats (those
 * a later kvshmd adds) as untyped kvshm_STAT, so nothing is lost while
 * this table lags behind the daemon. tests/integration/test_stats.sh
 * fails if any stat of this release comes out untyped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prometheus.h"

enum kind {
	COUNTER,	/* only grows (until the daemon restarts): _total */
	GAUGE,		/* a level, a setting or a position */
	HISTOGRAM,	/* STAT_le_BOUND (cumulative), STAT_le_inf, STAT_sum */
	INFO,		/* a label of kvshm_info, not a sample */
	SKIP,		/* derived from other series: not exported */
};

/* What a value is divided by to reach Prometheus's base unit. */
enum unit { ONE = 1, PCT = 100, MS = 1000, US = 1000000 };

struct row {
	const char *stat;	/* a stats name; a '*' in it matches digits,
				 * which become the value of label @label.
				 * HISTOGRAM: the prefix of STAT_le_*. */
	const char *family;	/* the metric family (NULL: INFO, SKIP) */
	enum kind kind;
	enum unit unit;
	const char *label;	/* 'key="value"', or the label a '*' fills */
	const char *help;	/* the family's first row carries it */
};

#define C(stat, fam, help)	{ stat, fam, COUNTER, ONE, NULL, help }
#define G(stat, fam, help)	{ stat, fam, GAUGE, ONE, NULL, help }
#define GU(stat, fam, u, help)	{ stat, fam, GAUGE, u, NULL, help }
#define CL(stat, fam, l, help)	{ stat, fam, COUNTER, ONE, l, help }
#define GL(stat, fam, l, help)	{ stat, fam, GAUGE, ONE, l, help }
#define H(stat, fam, u, help)	{ stat, fam, HISTOGRAM, u, NULL, help }
#define I(stat)			{ stat, NULL, INFO, ONE, NULL, NULL }
#define S(stat)			{ stat, NULL, SKIP, ONE, NULL, NULL }

#define OP(stat, op)		CL(stat, "kvshm_ops_total", "op=\"" op "\"", \
				   NULL)
#define EVP(pol)		CL("evictions_" pol, "kvshm_evictions_total", \
				   "policy=\"" pol "\"", NULL)

/*
 * The table. Stats that are sums of a labelled family are SKIPped rather
 * than exported twice (sum() over the labels gives them back).
 */
static const struct row rows[] = {
	I("pid"), I("generation"), I("layout_version"),
	G("uptime_s", "kvshm_uptime_seconds",
	  "Seconds since the daemon started."),
	G("shards", "kvshm_shards", "Hash-table shards."),
	G("keys", "kvshm_keys", "Keys stored, expired ones not yet removed "
	  "included."),

	/* memory */
	G("memory_used", "kvshm_memory_used_bytes",
	  "Bytes of the data heap in allocated chunks and runs."),
	G("memory_limit", "kvshm_memory_limit_bytes",
	  "Size of the data heap (--memory)."),
	G("memory_free", "kvshm_memory_free_bytes",
	  "Bytes of the data heap not allocated."),
	G("memory_page_size", "kvshm_memory_page_size_bytes",
	  "Size of a heap page."),
	GL("memory_pages_free", "kvshm_memory_pages", "state=\"free\"",
	   "Heap pages: free, serving size classes, or in large runs."),
	GL("memory_pages_classes", "kvshm_memory_pages", "state=\"classes\"",
	   NULL),
	GL("memory_pages_large", "kvshm_memory_pages", "state=\"large\"", NULL),
	S("memory_pages_total"),
	G("memory_pages_held", "kvshm_memory_pages_held",
	  "Heap pages with no chunk in use, held for their size class and "
	  "kind while a revoked reader remains (counted as serving classes)."),
	G("memory_fragmented", "kvshm_memory_fragmented_bytes",
	  "Bytes of pages serving size classes that hold no chunk in use."),
	GU("memory_fragmentation_pct", "kvshm_memory_fragmentation_ratio", PCT,
	   "memory_fragmented over the bytes of pages serving size classes "
	   "(1% steps)."),
	{ "memory_class_*_pages", "kvshm_memory_class_pages", GAUGE, ONE,
	  "size_class", "Heap pages serving each size class (chunk bytes)." },
	{ "memory_class_*_chunks", "kvshm_memory_class_chunks_used", GAUGE, ONE,
	  "size_class", "Chunks in use in each size class." },
	{ "memory_class_*_capacity", "kvshm_memory_class_chunks_capacity",
	  GAUGE, ONE, "size_class",
	  "Chunks the pages of each size class hold." },
	{ "memory_class_*_used", "kvshm_memory_class_used_bytes", GAUGE, ONE,
	  "size_class", "Bytes of chunks in use in each size class." },

	/* limits and reader slots */
	G("max_key", "kvshm_max_key_bytes", "Longest key accepted."),
	G("max_value", "kvshm_max_value_bytes", "Longest value accepted."),
	G("max_entries", "kvshm_max_entries",
	  "Most keys stored at once; 0 = no limit but memory."),
	G("reader_slots", "kvshm_reader_slots",
	  "Reader slots (--max-readers)."),
	G("reader_slots_per_client", "kvshm_reader_slots_per_client",
	  "Most reader slots one handle may hold."),
	G("reader_slots_used", "kvshm_reader_slots_used",
	  "Reader slots assigned to handles and orphans."),
	G("hint_words", "kvshm_hint_words",
	  "Access-hint words in the reader area."),
	G("hint_words_used", "kvshm_hint_words_used",
	  "Access-hint words of the current bucket arrays' entries."),
	G("hints_by_readers", "kvshm_hints_by_readers",
	  "What reads leave in access hints: 0 nothing, 1 every field, "
	  "2 the visited bit only (sieve)."),
	G("readers_stalled", "kvshm_readers_stalled",
	  "Reader slots inside one read section for over a second now."),
	C("readers_stalled_total", "kvshm_reader_stalls_total",
	  "Times a reader slot was found inside one read section for over a "
	  "second."),
	G("readers_revoked", "kvshm_readers_revoked",
	  "Reader slots whose read section kvshmd revoked and that are still "
	  "inside it."),
	C("readers_revoked_total", "kvshm_reader_revocations_total",
	  "Read sections revoked after --reader-revoke-ms."),

	/* connections */
	G("connections", "kvshm_connections", "Client connections open."),
	C("connections_total", "kvshm_connections_accepted_total",
	  "Client connections accepted."),
	G("connections_orphaned", "kvshm_connections_orphaned",
	  "Connections closed without kvshm_close() whose process lives on "
	  "(reader slots kept)."),

	/* operations */
	CL("gets", "kvshm_ops_total", "op=\"get\"",
	   "Operations by type: reader lookups (get), requests executed "
	   "(writes) or received (admin)."),
	OP("cmd_set", "set"), OP("cmd_del", "del"), OP("cmd_incr", "incr"),
	OP("cmd_expire", "expire"), OP("cmd_persist", "persist"),
	OP("cmd_mset", "mset"), OP("cmd_append", "append"),
	OP("cmd_getdel", "getdel"), OP("cmd_getset", "getset"),
	OP("cmd_flush", "flush"), OP("cmd_mdel", "mdel"), OP("cmd_cas", "cas"),
	OP("cmd_casdel", "casdel"), OP("cmd_batch", "batch"),
	OP("cmd_ping", "ping"), OP("cmd_slot", "slot"),
	OP("cmd_stats", "stats"), OP("cmd_snapshot", "snapshot"),
	OP("cmd_config_get", "config_get"), OP("cmd_config_set", "config_set"),
	OP("cmd_clients", "clients"),
	C("requests", "kvshm_requests_total",
	  "Requests received on the write channel, of any kind."),
	C("hits", "kvshm_hits_total",
	  "Reader lookups that found a live key, summed over reader slots."),
	C("misses", "kvshm_misses_total",
	  "Reader lookups that found no live key, summed over reader slots."),

	/* evictions and expirations */
	S("evictions"),
	CL("evictions_lru", "kvshm_evictions_total", "policy=\"lru\"",
	   "Keys evicted for memory, by the policy in force."),
	EVP("lfu"), EVP("random"),
	CL("evictions_volatile_ttl", "kvshm_evictions_total",
	   "policy=\"volatile-ttl\"", NULL),
	CL("evictions_volatile_lru", "kvshm_evictions_total",
	   "policy=\"volatile-lru\"", NULL),
	CL("evictions_volatile_lfu", "kvshm_evictions_total",
	   "policy=\"volatile-lfu\"", NULL),
	CL("evictions_volatile_random", "kvshm_evictions_total",
	   "policy=\"volatile-random\"", NULL),
	EVP("sieve"),
	S("expirations"),
	CL("expiry_swept", "kvshm_expirations_total", "by=\"sweep\"",
	   "Expired keys removed: by the sweep, by a write that met them, or "
	   "by eviction."),
	CL("expirations_write", "kvshm_expirations_total", "by=\"write\"",
	   NULL),
	CL("eviction_expired", "kvshm_expirations_total", "by=\"eviction\"",
	   NULL),
	C("evictions_sync", "kvshm_evictions_sync_total",
	  "Keys evicted by writes that found no room and waited."),
	C("evictions_background", "kvshm_evictions_background_total",
	  "Keys evicted by the evictor thread to keep memory free."),
	C("eviction_sampled", "kvshm_eviction_sampled_total",
	  "Keys examined to choose eviction victims."),
	C("eviction_failed", "kvshm_eviction_failures_total",
	  "Writes eviction could make no room for (KVSHM_ENOMEM)."),
	G("eviction_sieve_queue", "kvshm_eviction_sieve_queue",
	  "Keys in the sieve policy's queue."),
	G("eviction_samples", "kvshm_eviction_samples",
	  "Keys sampled per eviction (setting)."),
	GU("eviction_watermark", "kvshm_eviction_watermark_ratio", PCT,
	   "Part of the heap the evictor keeps free (setting)."),
	G("expiry_index_entries", "kvshm_expiry_index_entries",
	  "Entries in the expiry index, stale ones included."),
	C("expiry_examined", "kvshm_expiry_examined_total",
	  "Expiry index entries the sweep took off the index."),
	C("expiry_stale", "kvshm_expiry_stale_total",
	  "Stale expiry index entries dropped."),
	C("expiry_compacted", "kvshm_expiry_compacted_total",
	  "Expiry index entries scanned by compactions."),
	C("expiry_sweeps", "kvshm_expiry_sweeps_total",
	  "Passes of the expiry sweep."),
	GU("expiry_lag_p99_ms", "kvshm_expiry_lag_p99_seconds", MS,
	   "99th percentile of the delay from expiry to removal by the sweep."),
	GU("expiry_lag_max_ms", "kvshm_expiry_lag_max_seconds", MS,
	   "Longest delay from expiry to removal by the sweep."),

	/* grace periods */
	C("grace_periods", "kvshm_grace_periods_total",
	  "Grace periods completed."),
	H("grace_period_us", "kvshm_grace_period_duration_seconds", US,
	  "Duration of each grace period: epoch bump, barrier, wait for "
	  "readers."),
	GU("grace_period_us_max", "kvshm_grace_period_max_seconds", US,
	   "Longest grace period."),
	G("retired_pending", "kvshm_retired_pending",
	  "Objects waiting for a grace period before they are freed."),

	/* WAL */
	G("wal_lsn", "kvshm_wal_lsn", "LSN of the last WAL record queued."),
	G("wal_written_lsn", "kvshm_wal_written_lsn",
	  "LSN of the last WAL record written."),
	G("wal_synced_lsn", "kvshm_wal_synced_lsn",
	  "LSN of the last WAL record known on stable storage."),
	C("wal_bytes", "kvshm_wal_written_bytes_total",
	  "Bytes written to the WAL."),
	C("wal_records", "kvshm_wal_records_total", "WAL records written."),
	C("wal_commits", "kvshm_wal_commits_total",
	  "WAL group writes (one per event-loop round with writes)."),
	S("wal_fsyncs"), S("wal_fsync_us_avg"),
	H("wal_fsync_us", "kvshm_wal_fsync_duration_seconds", US,
	  "Duration of each fdatasync() of a WAL segment."),
	GU("wal_fsync_us_max", "kvshm_wal_fsync_max_seconds", US,
	   "Longest fdatasync() of a WAL segment."),
	G("wal_segments", "kvshm_wal_segments", "WAL segment files."),

	/* snapshots */
	C("snapshots", "kvshm_snapshots_total", "Snapshots written."),
	C("snapshots_failed", "kvshm_snapshot_failures_total",
	  "Snapshots that failed."),
	G("snapshot_in_progress", "kvshm_snapshot_in_progress",
	  "1 while a snapshot is being written."),
	G("snapshot_last_lsn", "kvshm_snapshot_last_lsn",
	  "WAL position the last snapshot is consistent with."),
	GU("snapshot_last_time_ms", "kvshm_snapshot_last_timestamp_seconds", MS,
	   "When the last snapshot was made (Unix time; 0: none)."),
	GU("snapshot_last_duration_ms", "kvshm_snapshot_last_duration_seconds",
	   MS, "How long the last snapshot took."),
	G("snapshot_last_bytes", "kvshm_snapshot_last_size_bytes",
	  "Size of the last snapshot file."),
	G("snapshot_last_keys", "kvshm_snapshot_last_keys",
	  "Keys in the last snapshot."),
};

struct line {
	const char *name, *val;
	size_t nlen, vlen;
	bool numeric;
	bool used;		/* claimed by a row (or a kvshm_info label) */
};

struct prom {
	FILE *f;
	struct line *st;
	size_t n;
	const char *cache;
	size_t cache_len;
};

static bool is_decimal(const char *s, size_t len)
{
	size_t i = len > 0 && s[0] == '-';

	if (i == len)
		return false;
	for (; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Split @text into "name value" lines (pointers into it). */
static int parse(struct prom *pr, const char *text)
{
	const char *p = text, *eol, *sp;
	size_t cap = 0;

	for (p = text; *p; p++)
		cap += *p == '\n';
	pr->st = calloc(cap + 1, sizeof(*pr->st));
	if (!pr->st)
		return -1;
	for (p = text; *p; p = *eol ? eol + 1 : eol) {
		struct line *s = &pr->st[pr->n];

		eol = strchr(p, '\n');
		if (!eol)
			eol = p + strlen(p);
		sp = memchr(p, ' ', (size_t)(eol - p));
		if (!sp || sp == p || pr->n > cap)
			continue;	/* not "name value" */
		s->name = p;
		s->nlen = (size_t)(sp - p);
		s->val = sp + 1;
		s->vlen = (size_t)(eol - sp - 1);
		s->numeric = is_decimal(s->val, s->vlen);
		pr->n++;
	}
	return 0;
}

static bool name_is(const struct line *s, const char *name)
{
	return s->nlen == strlen(name) && memcmp(s->name, name, s->nlen) == 0;
}

/*
 * match - does @s's name fit @pat? A '*' in @pat matches one or more
 * digits, returned in @digits/@dlen.
 */
static bool match(const struct line *s, const char *pat, const char **digits,
		  size_t *dlen)
{
	const char *star = strchr(pat, '*');
	size_t pre, suf, i;

	*dlen = 0;
	if (!star)
		return name_is(s, pat);
	pre = (size_t)(star - pat);
	suf = strlen(star + 1);
	if (s->nlen <= pre + suf || memcmp(s->name, pat, pre) != 0 ||
	    memcmp(s->name + s->nlen - suf, star + 1, suf) != 0)
		return false;
	*digits = s->name + pre;
	*dlen = s->nlen - pre - suf;
	for (i = 0; i < *dlen; i++)
		if ((*digits)[i] < '0' || (*digits)[i] > '9')
			return false;
	return true;
}

/* A label value, escaped as the format wants (\\, \", \n). */
static void put_label_value(FILE *f, const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (s[i] == '\\' || s[i] == '"')
			fputc('\\', f);
		if (s[i] == '\n')
			fputs("\\n", f);
		else
			fputc(s[i], f);
	}
}

/*
 * fmt_value - a decimal integer, as the daemon printed it, divided by @u,
 * exactly (no float in between): "1500" in ms is "1.5".
 */
static void fmt_value(char *out, size_t cap, const char *v, size_t len,
		      enum unit u)
{
	unsigned long long q, r, x;
	bool neg = len > 0 && v[0] == '-';
	char buf[32];
	int width = 0;

	if (u == ONE || len >= sizeof(buf)) {
		snprintf(out, cap, "%.*s", (int)len, v);
		return;
	}
	memcpy(buf, v + neg, len - neg);
	buf[len - neg] = '\0';
	x = strtoull(buf, NULL, 10);
	q = x / u;
	r = x % u;
	for (x = u; x > 1; x /= 10)
		width++;
	while (r && r % 10 == 0) {
		r /= 10;
		width--;
	}
	if (r)
		snprintf(out, cap, "%s%llu.%0*llu", neg ? "-" : "", q, width,
			 r);
	else
		snprintf(out, cap, "%s%llu", neg && q ? "-" : "", q);
}

/* '{name="CACHE"[,LABEL][,le="LE"]}' */
static void put_labels(struct prom *pr, FILE *f, const char *label,
		       const char *lv, size_t lvlen, const char *le)
{
	fputs("{name=\"", f);
	put_label_value(f, pr->cache, pr->cache_len);
	fputc('"', f);
	if (label && lvlen) {
		fprintf(f, ",%s=\"", label);
		put_label_value(f, lv, lvlen);
		fputc('"', f);
	} else if (label) {
		fprintf(f, ",%s", label);
	}
	if (le)
		fprintf(f, ",le=\"%s\"", le);
	fputs("} ", f);
}

static void put_sample(struct prom *pr, FILE *f, const char *family,
		       const char *suffix, const char *label, const char *lv,
		       size_t lvlen, const char *le, const struct line *s,
		       enum unit u)
{
	char v[64];

	fmt_value(v, sizeof(v), s->val, s->vlen, u);
	fprintf(f, "%s%s", family, suffix);
	put_labels(pr, f, label, lv, lvlen, le);
	fprintf(f, "%s\n", v);
}

/*
 * A histogram's samples: STAT_le_BOUND (BOUND in the stat's unit, already
 * cumulative), STAT_le_inf (+Inf, and the count) and STAT_sum.
 */
static void put_histogram(struct prom *pr, FILE *f, const struct row *r)
{
	size_t plen = strlen(r->stat), i;
	const struct line *inf = NULL, *sum = NULL;
	char le[64];

	for (i = 0; i < pr->n; i++) {
		struct line *s = &pr->st[i];
		const char *b;
		size_t blen;

		if (s->nlen > plen + 4 && memcmp(s->name, r->stat, plen) == 0 &&
		    memcmp(s->name + plen, "_le_", 4) == 0 && s->numeric) {
			s->used = true;
			b = s->name + plen + 4;
			blen = s->nlen - plen - 4;
			if (blen == 3 && memcmp(b, "inf", 3) == 0) {
				inf = s;
				continue;
			}
			if (!is_decimal(b, blen))
				continue;
			fmt_value(le, sizeof(le), b, blen, r->unit);
			put_sample(pr, f, r->family, "_bucket", NULL, NULL, 0,
				   le, s, ONE);
		} else if (s->nlen == plen + 4 &&
			   memcmp(s->name, r->stat, plen) == 0 &&
			   memcmp(s->name + plen, "_sum", 4) == 0 &&
			   s->numeric) {
			s->used = true;
			sum = s;
		}
	}
	if (!inf)
		return;		/* no +Inf bucket: not a histogram after all */
	put_sample(pr, f, r->family, "_bucket", NULL, NULL, 0, "+Inf", inf,
		   ONE);
	if (sum)
		put_sample(pr, f, r->family, "_sum", NULL, NULL, 0, NULL, sum,
			   r->unit);
	put_sample(pr, f, r->family, "_count", NULL, NULL, 0, NULL, inf, ONE);
}

/* The samples of row @r (one row of a family) into @f. */
static void put_row(struct prom *pr, FILE *f, const struct row *r)
{
	const char *digits = NULL;
	size_t i, dlen;

	if (r->kind == HISTOGRAM) {
		put_histogram(pr, f, r);
		return;
	}
	for (i = 0; i < pr->n; i++) {
		struct line *s = &pr->st[i];

		if (s->used || !s->numeric ||
		    !match(s, r->stat, &digits, &dlen))
			continue;
		s->used = true;
		put_sample(pr, f, r->family, "", r->label, digits, dlen, NULL,
			   s, r->unit);
	}
}

static const char *const type_names[] = {
	[COUNTER] = "counter", [GAUGE] = "gauge", [HISTOGRAM] = "histogram",
};

/* Rows [from, to) are one family: its header, then its samples, if any. */
static int put_family(struct prom *pr, size_t from, size_t to)
{
	char *buf = NULL;
	size_t len = 0, i;
	FILE *m = open_memstream(&buf, &len);

	if (!m)
		return -1;
	for (i = from; i < to; i++)
		put_row(pr, m, &rows[i]);
	if (fclose(m) != 0) {
		free(buf);
		return -1;
	}
	if (len) {
		fprintf(pr->f, "# HELP %s %s\n", rows[from].family,
			rows[from].help);
		fprintf(pr->f, "# TYPE %s %s\n", rows[from].family,
			type_names[rows[from].kind]);
		fwrite(buf, 1, len, pr->f);
	}
	free(buf);
	return 0;
}

/* kvshm_info: 1, labelled with every word stat and the INFO rows. */
static void put_info(struct prom *pr)
{
	size_t i, j;

	fputs("# HELP kvshm_info The daemon's identity and modes as labels; "
	      "always 1.\n# TYPE kvshm_info gauge\nkvshm_info{name=\"", pr->f);
	put_label_value(pr->f, pr->cache, pr->cache_len);
	fputc('"', pr->f);
	for (i = 0; i < pr->n; i++) {
		struct line *s = &pr->st[i];
		bool info = !s->numeric;

		for (j = 0; !info && j < sizeof(rows) / sizeof(rows[0]); j++)
			info = rows[j].kind == INFO && name_is(s, rows[j].stat);
		if (!info || s->used)
			continue;
		s->used = true;
		if (name_is(s, "name"))
			continue;
		fprintf(pr->f, ",%.*s=\"", (int)s->nlen, s->name);
		put_label_value(pr->f, s->val, s->vlen);
		fputc('"', pr->f);
	}
	fputs("} 1\n", pr->f);
}

int prom_write(FILE *f, const char *text, const char *cache)
{
	struct prom pr = { .f = f, .cache = cache };
	size_t i, j, n = sizeof(rows) / sizeof(rows[0]);
	int rc = 0;

	if (parse(&pr, text) < 0)
		return -1;
	for (i = 0; i < pr.n; i++) {
		if (name_is(&pr.st[i], "name")) {
			pr.cache = pr.st[i].val;
			pr.cache_len = pr.st[i].vlen;
		}
		for (j = 0; j < n; j++)
			if (rows[j].kind == SKIP &&
			    name_is(&pr.st[i], rows[j].stat))
				pr.st[i].used = true;
	}
	if (pr.cache == cache)
		pr.cache_len = strlen(cache);
	put_info(&pr);
	for (i = 0; i < n && rc == 0; i = j) {
		for (j = i + 1; j < n && rows[j].family && rows[i].family &&
		     strcmp(rows[j].family, rows[i].family) == 0; j++)
			;
		if (rows[i].family)
			rc = put_family(&pr, i, j);
	}
	/* Numeric stats no row knows: a later daemon's. */
	for (i = 0; i < pr.n && rc == 0; i++) {
		struct line *s = &pr.st[i];
		char fam[128];

		if (s->used || s->nlen > sizeof(fam) - 8)
			continue;
		snprintf(fam, sizeof(fam), "kvshm_%.*s", (int)s->nlen, s->name);
		fprintf(f, "# HELP %s kvshm stat %.*s (not known to this "
			"kvshmctl).\n# TYPE %s untyped\n", fam, (int)s->nlen,
			s->name, fam);
		put_sample(&pr, f, fam, "", NULL, NULL, 0, NULL, s, ONE);
	}
	free(pr.st);
	return rc;
}
