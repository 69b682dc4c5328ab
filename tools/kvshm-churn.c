// SPDX-License-Identifier: MIT
/*
 * tools/kvshm-churn.c - how much of kvshmd's heap holds live data under
 * churn with mixed value sizes (DESIGN.md, "Memory: the heap": at least
 * 85%), measured on a kvshmd of its own per scenario.
 *
 * Each scenario starts a fresh kvshmd (--memory, --eviction, persistence
 * none, a unique --name, a temporary --data-dir), writes keys drawn
 * uniformly from a key space --key-factor times larger than fits until
 * the cache has been full for a while, then churns it: overwrites of
 * present keys, inserts of absent ones and deletes, 80/10/10, through
 * kvshm_mset() and kvshm_mdel() batches. Scenarios:
 *   mixed  values uniform 16..1024 B, fill then churn;
 *   shift  ~100 B values, then churn with ~1000 B values over the same
 *          keys, then back to ~100 B: a fill, then churn (slab
 *          calcification);
 *   wide   values log-uniform 10 B..64 KiB (large runs included).
 * After each phase it walks every key (kvshm_scan(), then
 * kvshm_get_meta() for the value length and TTL) and reads the heap's
 * counters (kvshm_stats()), and splits the heap into: live items (12-byte
 * header, 8 more with a TTL, key, value: the item as stored), the slack
 * of their size classes, free chunks in class pages, free pages, and the
 * rest of memory_used (the index's bucket arrays, items awaiting
 * reclamation). It ends with a Markdown table.
 *
 * Public API only (kvshm.h). Everything is seeded (--seed): a run is
 * repeatable up to the daemon's own timing (background eviction). The
 * daemon is stopped by PID and its segments and directory are removed.
 * Exit status: 0, 1 on any API error (evictions are not errors), 2 on a
 * bad command line. The percentages are measurements, never pass/fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <kvshm.h>

#include "churnload.h"

#define ITEM_TTL	8		/* the expiry, when the item has one */
#define PAGE		65536		/* kvshmd's heap page (daemon/alloc.h) */
#define MAX_BATCH	1000
#define MAX_ROWS	16
#define MAX_CLASSES	256
#define FIND_TRIES	16		/* draws to find a present/absent key */

struct opts {
	const char *kvshmd;
	const char *memory;
	const char *eviction;
	const char *scenarios;
	uint64_t seed;
	uint64_t churn_ops;		/* 0 = enough sets to write 2x memory */
	unsigned int batch;
	double key_factor;
	int watermark;			/* -1 = the daemon's default */
	bool classes;
	bool verbose;
};

static struct opts o = {
	.memory = "256M", .eviction = "lru", .scenarios = "mixed,shift,wide",
	.seed = 42, .batch = 100, .key_factor = 4.0, .watermark = -1,
};

/* ---- value sizes and the scenarios ---- */

static const struct scenario scenarios[] = {
	KVT_CHURN_SCENARIOS,
};
#define NSCEN (sizeof(scenarios) / sizeof(scenarios[0]))

static uint64_t rng;

static uint64_t rnd(void)
{
	return kvt_splitmix(&rng);
}

/* ---- the daemon ---- */

static pid_t daemon_pid;
static char daemon_dir[64];
static char daemon_name[64];

static void unlink_segments(void)
{
	char p[128];

	snprintf(p, sizeof(p), "/kvshm-%s", daemon_name);
	shm_unlink(p);
	snprintf(p, sizeof(p), "/kvshm-%s.rw", daemon_name);
	shm_unlink(p);
}

static void stop_daemon(void)
{
	char cmd[128];
	int st, i;

	if (daemon_pid > 0) {
		kill(daemon_pid, SIGTERM);
		for (i = 0; i < 200; i++) {
			if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid)
				break;
			usleep(50000);
		}
		if (i == 200) {
			kill(daemon_pid, SIGKILL);
			waitpid(daemon_pid, &st, 0);
		}
		daemon_pid = 0;
		unlink_segments();
	}
	if (daemon_dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", daemon_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "kvshm-churn: could not remove %s\n",
				daemon_dir);
		daemon_dir[0] = 0;
	}
}

static int spawn_daemon(unsigned int n, kvshm_t **cp)
{
	char log[96], wm[16];
	const char *argv[20];
	int i, a = 0;

	snprintf(daemon_name, sizeof(daemon_name), "churn-%d-%u",
		 (int)getpid(), n);
	snprintf(daemon_dir, sizeof(daemon_dir), "/tmp/kvshm-churn-XXXXXX");
	if (!mkdtemp(daemon_dir)) {
		daemon_dir[0] = 0;
		return -1;
	}
	snprintf(log, sizeof(log), "%s/kvshmd.log", daemon_dir);
	argv[a++] = o.kvshmd;
	argv[a++] = "--foreground";
	argv[a++] = "--name";
	argv[a++] = daemon_name;
	argv[a++] = "--data-dir";
	argv[a++] = daemon_dir;
	argv[a++] = "--log-file";
	argv[a++] = log;
	argv[a++] = "--persistence";
	argv[a++] = "none";
	argv[a++] = "--memory";
	argv[a++] = o.memory;
	argv[a++] = "--eviction";
	argv[a++] = o.eviction;
	if (o.watermark >= 0) {
		snprintf(wm, sizeof(wm), "%d", o.watermark);
		argv[a++] = "--eviction-watermark";
		argv[a++] = wm;
	}
	argv[a] = NULL;
	daemon_pid = fork();
	if (daemon_pid < 0)
		return -1;
	if (daemon_pid == 0) {
		execv(o.kvshmd, (char *const *)argv);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		int st;

		if (kvshm_open(cp, daemon_name, NULL) == 0)
			return 0;
		if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
			daemon_pid = 0;
			fprintf(stderr, "kvshm-churn: kvshmd exited (see %s)\n",
				log);
			return -1;
		}
		usleep(50000);
	}
	return -1;
}

/* ---- the heap's counters ---- */

struct cls {
	uint64_t size, pages, chunks, capacity;
};

struct heap {
	uint64_t used, limit, pages_total, pages_free, pages_large, frag;
	uint64_t keys, evictions;
	struct cls cls[MAX_CLASSES];
	unsigned int ncls;		/* sorted by size */
};

static int cls_slot(struct heap *h, uint64_t size)
{
	unsigned int i;

	for (i = 0; i < h->ncls; i++)
		if (h->cls[i].size == size)
			return (int)i;
	if (h->ncls == MAX_CLASSES)
		return -1;
	for (i = h->ncls; i > 0 && h->cls[i - 1].size > size; i--)
		h->cls[i] = h->cls[i - 1];
	memset(&h->cls[i], 0, sizeof(h->cls[i]));
	h->cls[i].size = size;
	h->ncls++;
	return (int)i;
}

static int read_heap(kvshm_t *c, struct heap *h)
{
	char *text, *line, *save = NULL;
	int rc = kvshm_stats(c, &text);

	if (rc) {
		fprintf(stderr, "kvshm-churn: stats: %s\n", kvshm_strerror(rc));
		return -1;
	}
	memset(h, 0, sizeof(*h));
	for (line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char name[128], what[32];
		unsigned long long v, size;
		int s;

		if (sscanf(line, "%127s %llu", name, &v) != 2)
			continue;
		if (!strcmp(name, "memory_used"))
			h->used = v;
		else if (!strcmp(name, "memory_limit"))
			h->limit = v;
		else if (!strcmp(name, "memory_pages_total"))
			h->pages_total = v;
		else if (!strcmp(name, "memory_pages_free"))
			h->pages_free = v;
		else if (!strcmp(name, "memory_pages_large"))
			h->pages_large = v;
		else if (!strcmp(name, "memory_fragmented"))
			h->frag = v;
		else if (!strcmp(name, "keys"))
			h->keys = v;
		else if (!strcmp(name, "evictions"))
			h->evictions = v;
		else if (sscanf(name, "memory_class_%llu_%31s", &size,
				what) == 2 && (s = cls_slot(h, size)) >= 0) {
			if (!strcmp(what, "pages"))
				h->cls[s].pages = v;
			else if (!strcmp(what, "chunks"))
				h->cls[s].chunks = v;
			else if (!strcmp(what, "capacity"))
				h->cls[s].capacity = v;
		}
	}
	free(text);
	if (!h->limit || !h->pages_total) {
		fprintf(stderr, "kvshm-churn: stats lack the heap counters\n");
		return -1;
	}
	return 0;
}

/*
 * The chunk an item of @size takes: the smallest class listed that holds
 * it (its own class holds pages, since the item is in one of them), or a
 * run of whole pages above the largest class (half a page).
 */
static uint64_t chunk_of(const struct heap *h, uint64_t size)
{
	unsigned int i;

	if (size > PAGE / 2)
		return (size + PAGE - 1) / PAGE * PAGE;
	for (i = 0; i < h->ncls; i++)
		if (h->cls[i].size >= size)
			return h->cls[i].size;
	return (size + 7) & ~7ULL;
}

/* Let items removed by the phase come back (grace period, background
 * eviction): until memory_used holds still over 200 ms, 3 s at most. */
static int settle(kvshm_t *c, struct heap *h)
{
	uint64_t last = UINT64_MAX;
	int i;

	for (i = 0; i < 15; i++) {
		if (read_heap(c, h))
			return -1;
		if (h->used == last)
			break;
		last = h->used;
		usleep(200000);
	}
	return 0;
}

/* ---- the key space ---- */

struct keyspace {
	uint64_t n;
	uint8_t *seen;			/* one bit per key: the walk's dedup */
};

static void key_of(char *k, uint64_t i)
{
	char t[24];

	snprintf(t, sizeof(t), "c%013" PRIu64, i);
	memcpy(k, t, KLEN);
}

/* ---- writing ---- */

struct writer {
	kvshm_t *c;
	struct kvshm_kv kv[MAX_BATCH];
	struct kvshm_key dk[MAX_BATCH];
	char kbuf[MAX_BATCH][KLEN], dbuf[MAX_BATCH][KLEN];
	unsigned int nkv, ndk;
	uint64_t ops, bytes;		/* bytes: items written */
	const char *vbuf;
};

static int flush_sets(struct writer *w)
{
	int rc;

	if (!w->nkv)
		return 0;
	rc = kvshm_mset(w->c, w->kv, w->nkv);
	if (rc) {
		struct heap h;

		fprintf(stderr, "kvshm-churn: mset of %u: %s\n", w->nkv,
			kvshm_strerror(rc));
		if (read_heap(w->c, &h) == 0)
			fprintf(stderr, "kvshm-churn: then: %" PRIu64 " keys, "
				"%" PRIu64 " evictions, memory_used %" PRIu64
				" of %" PRIu64 ", %" PRIu64 " free pages\n",
				h.keys, h.evictions, h.used, h.limit,
				h.pages_free);
		return -1;
	}
	w->nkv = 0;
	return 0;
}

static int flush_dels(struct writer *w)
{
	int rc;

	if (!w->ndk)
		return 0;
	rc = kvshm_mdel(w->c, w->dk, w->ndk, NULL);
	if (rc) {
		fprintf(stderr, "kvshm-churn: mdel of %u: %s\n", w->ndk,
			kvshm_strerror(rc));
		return -1;
	}
	w->ndk = 0;
	return 0;
}

static int put(struct writer *w, uint64_t key, uint32_t vlen)
{
	struct kvshm_kv *kv = &w->kv[w->nkv];

	key_of(w->kbuf[w->nkv], key);
	kv->key = w->kbuf[w->nkv];
	kv->klen = KLEN;
	kv->val = w->vbuf + rnd() % 4096;
	kv->vlen = vlen;
	kv->ttl_ms = 0;
	w->bytes += ITEM_HDR + KLEN + vlen;
	w->ops++;
	if (++w->nkv == o.batch)
		return flush_sets(w);
	return 0;
}

static int del(struct writer *w, uint64_t key)
{
	key_of(w->dbuf[w->ndk], key);
	w->dk[w->ndk].key = w->dbuf[w->ndk];
	w->dk[w->ndk].klen = KLEN;
	w->ops++;
	if (++w->ndk == o.batch)
		return flush_dels(w);
	return 0;
}

/* A key that is present (@want) or absent: FIND_TRIES draws at most. */
static int find_key(struct writer *w, const struct keyspace *ks, bool want,
		    uint64_t *key)
{
	char k[KLEN];
	unsigned int t;
	int rc = 0;

	for (t = 0; t < FIND_TRIES; t++) {
		*key = rnd() % ks->n;
		key_of(k, *key);
		rc = kvshm_exists(w->c, k, KLEN);
		if (rc == 0 && want)
			return 0;
		if (rc == KVSHM_ENOTFOUND && !want)
			return 0;
		if (rc && rc != KVSHM_ENOTFOUND) {
			fprintf(stderr, "kvshm-churn: exists: %s\n",
				kvshm_strerror(rc));
			return -1;
		}
	}
	return 1;			/* the last draw: not what was wanted */
}

/*
 * Fill: uniform keys until items of twice the heap have been written and
 * kvshmd has evicted during the phase (at most eight times the heap).
 * Since the churn keeps the number of keys (as many inserts as deletes),
 * a phase that shrinks the values must start with a fill to be full.
 */
static int run_fill(struct writer *w, const struct keyspace *ks,
		    const struct phase *p, uint64_t limit)
{
	uint64_t start = w->bytes, ev0;
	struct heap h;

	if (read_heap(w->c, &h))
		return -1;
	ev0 = h.evictions;
	for (;;) {
		uint64_t stop = w->bytes + limit / 4;

		while (w->bytes < stop)
			if (put(w, rnd() % ks->n, kvt_draw_vlen(p, &rng)))
				return -1;
		if (flush_sets(w))
			return -1;
		if (w->bytes - start < 2 * limit)
			continue;
		if (read_heap(w->c, &h))
			return -1;
		if (h.evictions > ev0 || w->bytes - start >= 8 * limit)
			return 0;
	}
}

/* Churn: @ops operations, 80% overwrites, 10% inserts, 10% deletes. */
static int run_churn(struct writer *w, const struct keyspace *ks,
		     const struct phase *p, uint64_t ops)
{
	uint64_t end = w->ops + ops, key;
	int rc;

	while (w->ops < end) {
		unsigned int r = (unsigned int)(rnd() % 100);

		rc = find_key(w, ks, r < 80 || r >= 90, &key);
		if (rc < 0)
			return -1;
		if (r < 90)
			rc = put(w, key, kvt_draw_vlen(p, &rng));
		else
			rc = del(w, key);
		if (rc)
			return -1;
	}
	return flush_sets(w) || flush_dels(w) ? -1 : 0;
}

/* ---- measuring ---- */

struct row {
	const char *scen, *phase;
	uint64_t ops, written, keyspace, keys, evictions;
	uint64_t limit, held, used, frag, free_pages;
	uint64_t items, payload, chunks;
	double secs;
};

static struct row rows[MAX_ROWS];
static unsigned int nrows;

struct walk {
	kvshm_t *c;
	struct keyspace *ks;
	const struct heap *h;
	struct row *r;
	int err;
};

static int walk_one(const void *key, size_t klen, void *arg)
{
	struct walk *wk = arg;
	struct kvshm_meta m = { .struct_size = sizeof(m) };
	char t[KLEN + 1];
	uint64_t i, size;
	int rc;

	if (klen != KLEN) {
		fprintf(stderr, "kvshm-churn: a key not ours\n");
		wk->err = 1;
		return 1;
	}
	memcpy(t, key, KLEN);
	t[KLEN] = 0;
	i = strtoull(t + 1, NULL, 10);
	if (i >= wk->ks->n) {
		fprintf(stderr, "kvshm-churn: key %s out of range\n", t);
		wk->err = 1;
		return 1;
	}
	if (wk->ks->seen[i / 8] & (1U << (i % 8)))
		return 0;		/* returned again: the table grew */
	wk->ks->seen[i / 8] |= (uint8_t)(1U << (i % 8));
	rc = kvshm_get_meta(wk->c, key, klen, NULL, 0, &m);
	if (rc == KVSHM_ENOTFOUND)
		return 0;		/* evicted in the background since */
	if (rc) {
		fprintf(stderr, "kvshm-churn: get_meta: %s\n",
			kvshm_strerror(rc));
		wk->err = 1;
		return 1;
	}
	size = ITEM_HDR + (m.expire_ms ? ITEM_TTL : 0) + klen + m.vlen;
	wk->r->keys++;
	wk->r->items += size;
	wk->r->payload += klen + m.vlen;
	wk->r->chunks += chunk_of(wk->h, size);
	return 0;
}

static void print_classes(const struct heap *h)
{
	unsigned int i;

	printf("\n| class | pages | chunks | capacity | chunks used |\n"
	       "|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < h->ncls; i++)
		printf("| %" PRIu64 " | %" PRIu64 " | %" PRIu64 " | %" PRIu64
		       " | %.1f%% |\n", h->cls[i].size, h->cls[i].pages,
		       h->cls[i].chunks, h->cls[i].capacity,
		       h->cls[i].capacity ? 100.0 * h->cls[i].chunks /
		       h->cls[i].capacity : 0);
	printf("\nlarge runs: %" PRIu64 " pages; free pages: %" PRIu64 "\n\n",
	       h->pages_large, h->pages_free);
}

static int measure(kvshm_t *c, struct keyspace *ks, struct row *r)
{
	struct heap h, h2;
	struct walk wk = { .c = c, .ks = ks, .h = &h, .r = r };
	struct kvshm_scan_opts so = { .limit = 1000 };
	uint64_t cursor = 0;
	int rc;

	if (settle(c, &h))
		return -1;
	memset(ks->seen, 0, (ks->n + 7) / 8);
	do {
		rc = kvshm_scan(c, &cursor, &so, walk_one, &wk);
		if (wk.err)
			return -1;
		if (rc) {
			fprintf(stderr, "kvshm-churn: scan: %s\n",
				kvshm_strerror(rc));
			return -1;
		}
	} while (cursor);
	if (read_heap(c, &h2))
		return -1;
	if (h2.used != h.used || h2.keys != r->keys)
		fprintf(stderr, "kvshm-churn: %s/%s: the heap moved during the "
			"walk (used %" PRIu64 " -> %" PRIu64 ", keys %" PRIu64
			" walked, %" PRIu64 " counted)\n", r->scen, r->phase,
			h.used, h2.used, r->keys, h2.keys);
	r->limit = h.limit;
	r->held = (h.pages_total - h.pages_free) * PAGE;
	r->used = h.used;
	r->frag = h.frag;
	r->free_pages = h.pages_free * PAGE;
	r->evictions = h2.evictions;
	if (o.classes) {
		printf("### %s, after %s\n", r->scen, r->phase);
		print_classes(&h);
	}
	return 0;
}

/* ---- one scenario ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int run_scenario(unsigned int n, const struct scenario *s,
			const char *vbuf)
{
	static struct writer w;
	struct keyspace ks = { 0 };
	struct heap h;
	kvshm_t *c = NULL;
	unsigned int i;
	int rc = -1;

	rng = o.seed * 0x100000001b3ULL + n;
	if (spawn_daemon(n, &c) < 0) {
		fprintf(stderr, "kvshm-churn: could not start %s\n", o.kvshmd);
		goto out;
	}
	if (read_heap(c, &h))
		goto out;
	ks.n = (uint64_t)(o.key_factor * (double)h.limit /
			  kvt_mean_item(&s->ph[0]));
	if (ks.n < 1000)
		ks.n = 1000;
	ks.seen = calloc((ks.n + 7) / 8, 1);
	if (!ks.seen)
		goto out;
	memset(&w, 0, sizeof(w));
	w.c = c;
	w.vbuf = vbuf;
	for (i = 0; i < s->nph; i++) {
		const struct phase *p = &s->ph[i];
		struct row *r = &rows[nrows];
		uint64_t ops0 = w.ops, bytes0 = w.bytes;
		double t0 = now_s();

		if (nrows == MAX_ROWS)
			goto out;
		memset(r, 0, sizeof(*r));
		r->scen = s->name;
		r->phase = p->name;
		r->keyspace = ks.n;
		if (p->fill)
			rc = run_fill(&w, &ks, p, h.limit);
		else
			rc = run_churn(&w, &ks, p, o.churn_ops ? o.churn_ops :
				       (uint64_t)(2.0 * h.limit /
						  kvt_mean_item(p) / 0.9));
		if (rc)
			goto out;
		r->secs = now_s() - t0;
		r->ops = w.ops - ops0;
		r->written = w.bytes - bytes0;
		rc = measure(c, &ks, r);
		if (rc)
			goto out;
		nrows++;
		if (o.verbose)
			fprintf(stderr, "kvshm-churn: %s/%s: %" PRIu64
				" ops in %.1f s, %" PRIu64 " keys, live %.1f%%"
				" of the limit\n", s->name, p->name, r->ops,
				r->secs, r->keys, 100.0 * r->items / r->limit);
	}
	rc = 0;
out:
	kvshm_close(c);
	if (rc && daemon_dir[0]) {
		char cmd[160];

		fprintf(stderr, "kvshm-churn: the end of kvshmd's log:\n");
		snprintf(cmd, sizeof(cmd), "tail -n 20 '%s/kvshmd.log' >&2",
			 daemon_dir);
		if (system(cmd) != 0)
			fprintf(stderr, "kvshm-churn: (no log)\n");
	}
	stop_daemon();
	free(ks.seen);
	return rc;
}

/* ---- the report ---- */

static double pct(uint64_t a, uint64_t b)
{
	return b ? 100.0 * (double)a / (double)b : 0;
}

static void print_table(void)
{
	unsigned int i;

	printf("| scenario | phase | ops | keys | evictions | live / limit | "
	       "live / held | payload / limit | class slack | free in class "
	       "pages | free pages | index + other |\n"
	       "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];

		printf("| %s | %s | %" PRIu64 " | %" PRIu64 " | %" PRIu64
		       " | %.1f%% | %.1f%% | %.1f%% | %.1f%% | %.1f%% | "
		       "%.1f%% | %.1f%% |\n", r->scen, r->phase, r->ops,
		       r->keys, r->evictions, pct(r->items, r->limit),
		       pct(r->items, r->held), pct(r->payload, r->limit),
		       pct(r->chunks - r->items, r->limit),
		       pct(r->frag, r->limit), pct(r->free_pages, r->limit),
		       pct(r->used > r->chunks ? r->used - r->chunks : 0,
			   r->limit));
	}
	printf("\nlive = items as stored (12 B header, key, value); held = "
	       "pages serving size classes or large runs; the last four "
	       "columns with live / limit make up the limit: class slack = "
	       "chunk minus item, free in class pages = memory_fragmented, "
	       "index + other = memory_used not in live items' chunks (bucket "
	       "arrays, items awaiting reclamation).\n");
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: kvshm-churn --kvshmd PATH [OPTION]...\n"
"How much of kvshmd's heap holds live data under churn (a Markdown table).\n"
"\n"
"  --kvshmd PATH       the kvshmd to start, once per scenario (required)\n"
"  --memory SIZE       its --memory (default: 256M)\n"
"  --eviction POLICY   its --eviction (default: lru)\n"
"  --watermark PCT     its --eviction-watermark (default: kvshmd's)\n"
"  --scenarios LIST    of mixed, shift, wide (default: all three)\n"
"  --churn-ops N       operations per churn phase (default: enough sets\n"
"                      to write twice the heap)\n"
"  --key-factor F      key space: F times the keys that fit (default: 4)\n"
"  --batch N           keys per kvshm_mset/kvshm_mdel, 1..%d (default: 100)\n"
"  --seed N            random seed (default: 42)\n"
"  --classes           print the size classes after each phase\n"
"  --verbose           a progress line per phase on stderr\n"
"  -h, --help          this help\n", MAX_BATCH);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "kvshmd", required_argument, NULL, 'd' },
		{ "memory", required_argument, NULL, 'm' },
		{ "eviction", required_argument, NULL, 'e' },
		{ "watermark", required_argument, NULL, 'w' },
		{ "scenarios", required_argument, NULL, 's' },
		{ "churn-ops", required_argument, NULL, 'o' },
		{ "key-factor", required_argument, NULL, 'k' },
		{ "batch", required_argument, NULL, 'b' },
		{ "seed", required_argument, NULL, 'S' },
		{ "classes", no_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *vbuf;
	bool want[NSCEN] = { false };
	char wm[48] = "";
	unsigned int i;
	int opt, rc = 0;

	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'd': o.kvshmd = optarg; break;
		case 'm': o.memory = optarg; break;
		case 'e': o.eviction = optarg; break;
		case 'w': o.watermark = atoi(optarg); break;
		case 's': o.scenarios = optarg; break;
		case 'o': o.churn_ops = strtoull(optarg, NULL, 10); break;
		case 'k': o.key_factor = atof(optarg); break;
		case 'b': o.batch = (unsigned int)atoi(optarg); break;
		case 'S': o.seed = strtoull(optarg, NULL, 10); break;
		case 'c': o.classes = true; break;
		case 'v': o.verbose = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!o.kvshmd || o.batch < 1 || o.batch > MAX_BATCH ||
	    o.key_factor < 1 || o.watermark > 50 || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (kvt_pick_scenarios("kvshm-churn", o.scenarios, scenarios, NSCEN,
			       want)) {
		usage(stderr);
		return 2;
	}
	/* Values are slices of one random buffer. */
	vbuf = malloc(MAX_VALUE + 4096);
	rng = o.seed;
	for (i = 0; i < MAX_VALUE + 4096; i++)
		vbuf[i] = (char)rnd();
	signal(SIGPIPE, SIG_IGN);
	if (o.watermark >= 0)
		snprintf(wm, sizeof(wm), " --eviction-watermark %d",
			 o.watermark);
	printf("kvshm-churn: --memory %s --eviction %s%s, seed %" PRIu64
	       ", key space %.1fx what fits, batches of %u\n\n", o.memory,
	       o.eviction, wm, o.seed, o.key_factor, o.batch);
	for (i = 0; i < NSCEN; i++) {
		if (!want[i])
			continue;
		if (run_scenario(i, &scenarios[i], vbuf)) {
			fprintf(stderr, "kvshm-churn: scenario %s failed\n",
				scenarios[i].name);
			rc = 1;
			break;
		}
	}
	print_table();
	free(vbuf);
	return rc;
}
