// SPDX-License-Identifier: MIT
/*
 * daemon/expiry.c - per-shard expiry heaps and the sweep thread (see
 * expiry.h).
 *
 * Why a thread of its own, not a timer in the server loop: the sweep's
 * work comes in bursts (100k keys set together expire together), and in
 * the single-threaded server loop every burst would sit in front of
 * pipelined writes. On its own thread it runs beside the server on the
 * second core, and a writer waits at most for one batch of SWEEP_BATCH
 * removals in one shard, the only time the sweep holds a shard lock.
 * Readers never wait at all: removal is kvd_exec_remove(), a release
 * store plus retirement, and the item is freed only after a grace period.
 *
 * Every SWEEP_MS the thread reads each shard's next[] (the soonest expiry
 * in its heap) without locking, and locks only the shards whose next is
 * due: an idle pass costs nshards relaxed loads, whatever the number of
 * keys, and a busy one O(log n) per expired key. So an expired key is
 * freed SWEEP_MS plus the burst's own work after its time (the lag is
 * measured: stats expiry_lag_p99_ms).
 *
 * Lock order: shard lock, then nothing here (the heaps are under the
 * shard lock). The sweep holds one shard lock at a time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "atomic.h"
#include "clock.h"
#include "expiry.h"
#include "kvshmd.h"
#include "hint.h"
#include "log.h"

#define SWEEP_MS	50	/* pass period */
#define SWEEP_BATCH	256	/* removals per shard-lock hold */
#define COMPACT_MIN	64	/* a heap shorter than this is never compacted */
#define LAG_STEP_MS	10	/* histogram bucket width */
#define LAG_BUCKETS	512	/* 0 .. 5.12 s, then one overflow bucket */

struct xent {
	int64_t exp;		/* absolute ms, CLOCK_REALTIME */
	uint64_t hash;
	kvs_off_t off;		/* the item that carried @exp */
};

struct xshard {
	struct xent *h;		/* min-heap on exp; shard lock */
	uint32_t len, cap;	/* shard lock */
	int64_t next;		/* h[0].exp or INT64_MAX: written under the
				 * shard lock (relaxed), read by the sweep
				 * without it; a stale read only shifts a
				 * removal by one pass */
};

struct kvd_expiry {
	struct kvd *d;
	struct xshard *sh;
	uint32_t nshards;
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;	/* stop flag and cond */
	pthread_cond_t cond;
	bool stop;
	/* Counters: written by the sweep thread (and by exec threads for
	 * compaction), read by stats; relaxed atomics. */
	uint64_t entries, examined, stale, removed, compacted, sweeps;
	uint64_t lag[LAG_BUCKETS + 1];
	uint64_t lag_max;
};

static void cnt_add(uint64_t *c, uint64_t v)
{
	__atomic_add_fetch(c, v, __ATOMIC_RELAXED);
}

static uint64_t cnt(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

static void set_next(struct xshard *s)
{
	__atomic_store_n(&s->next, s->len ? s->h[0].exp : INT64_MAX,
			 __ATOMIC_RELAXED);
}

static void sift_up(struct xent *h, uint32_t i)
{
	struct xent e = h[i];

	while (i) {
		uint32_t p = (i - 1) / 2;

		if (h[p].exp <= e.exp)
			break;
		h[i] = h[p];
		i = p;
	}
	h[i] = e;
}

static void sift_down(struct xent *h, uint32_t len, uint32_t i)
{
	struct xent e = h[i];

	for (;;) {
		uint32_t c = 2 * i + 1;

		if (c >= len)
			break;
		if (c + 1 < len && h[c + 1].exp < h[c].exp)
			c++;
		if (e.exp <= h[c].exp)
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = e;
}

/* Remove entry @i from shard @s's heap. */
static void heap_del(struct kvd_expiry *ex, struct xshard *s, uint32_t i)
{
	s->len--;
	cnt_add(&ex->entries, (uint64_t)-1);
	if (i < s->len) {
		s->h[i] = s->h[s->len];
		sift_down(s->h, s->len, i);
		sift_up(s->h, i);
	}
	set_next(s);
}

/* Is entry @e still its key's live item? Fills @pos, @r if so. */
static bool ent_live(struct kvd_expiry *ex, const struct xent *e,
		     struct kvs_pos *pos, struct kvs_iref *r)
{
	return kvd_index_find_item(&ex->d->index, e->hash, e->off, pos, r) &&
	       r->expire_ms == e->exp;
}

/*
 * Drop the stale entries of shard @si (locked), in place, and re-heapify.
 * Run when the heap is over twice the shard's keys: at least half of it is
 * stale then, so the scan is paid for by the writes that made it stale.
 */
static void compact(struct kvd_expiry *ex, uint32_t si)
{
	struct xshard *s = &ex->sh[si];
	struct kvs_pos pos;
	struct kvs_iref r;
	uint32_t i, n = 0;

	for (i = 0; i < s->len; i++)
		if (ent_live(ex, &s->h[i], &pos, &r))
			s->h[n++] = s->h[i];
	cnt_add(&ex->compacted, s->len);
	cnt_add(&ex->entries, (uint64_t)n - s->len);
	s->len = n;
	for (i = n / 2; i-- > 0;)
		sift_down(s->h, n, i);
	set_next(s);
}

/* Add an entry to shard @si's heap (locked). 0 or -ENOMEM. */
static int push(struct kvd_expiry *ex, uint32_t si, int64_t exp,
		uint64_t hash, kvs_off_t off)
{
	struct xshard *s = &ex->sh[si];

	if (s->len >= COMPACT_MIN &&
	    s->len >= 2 * kvd_index_shard_count(&ex->d->index, si))
		compact(ex, si);
	if (s->len == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 16;
		struct xent *h = realloc(s->h, (size_t)cap * sizeof(*h));

		if (!h)
			return -ENOMEM;
		s->h = h;
		s->cap = cap;
	}
	s->h[s->len] = (struct xent){ .exp = exp, .hash = hash, .off = off };
	sift_up(s->h, s->len++);
	cnt_add(&ex->entries, 1);
	set_next(s);
	return 0;
}

/* Hook: runs under the shard lock of ev->hash (hooks.h). */
static void on_event(const struct kvd_event_info *ev, void *arg)
{
	struct kvd_expiry *ex = arg;

	if (ev->ev != KVD_EV_SET || !ev->expire_ms)
		return;
	if (push(ex, kvd_index_shard(&ex->d->index, ev->hash), ev->expire_ms,
		 ev->hash, ev->item) < 0)
		/* The key still expires: lazily, at its next write, and
		 * readers already treat it as absent. */
		kvd_log(LOG_WARNING, "event=expiry_index_oom");
}

int kvd_expiry_init(struct kvd_expiry **exp, struct kvd *d)
{
	struct kvd_expiry *ex = calloc(1, sizeof(*ex));
	uint32_t i;

	if (!ex)
		return -ENOMEM;
	ex->d = d;
	ex->nshards = d->index.nshards;
	ex->sh = calloc(ex->nshards, sizeof(*ex->sh));
	if (!ex->sh) {
		free(ex);
		return -ENOMEM;
	}
	for (i = 0; i < ex->nshards; i++)
		ex->sh[i].next = INT64_MAX;
	pthread_mutex_init(&ex->lock, NULL);
	{
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&ex->cond, &ca);
		pthread_condattr_destroy(&ca);
	}
	if (kvd_hook_add(&d->hooks, on_event, ex) < 0) {
		kvd_expiry_destroy(ex);
		return -ENOSPC;
	}
	*exp = ex;
	return 0;
}

struct rebuild_ctx {
	struct kvd_expiry *ex;
	uint32_t shard;
	int rc;
};

static int rebuild_one(void *arg, uint64_t hash, const struct kvs_pos *pos,
		       const struct kvs_iref *r)
{
	struct rebuild_ctx *c = arg;

	(void)pos;
	if (r->expire_ms && c->rc == 0)
		c->rc = push(c->ex, c->shard, r->expire_ms, hash,
			     (kvs_off_t)((const char *)r->it -
					 c->ex->d->seg.base));
	return 0;
}

int kvd_expiry_rebuild(struct kvd_expiry *ex)
{
	struct kvd_index *x = &ex->d->index;
	struct rebuild_ctx c = { .ex = ex };
	uint32_t si;

	for (si = 0; si < ex->nshards; si++) {
		struct xshard *s = &ex->sh[si];

		kvd_index_lock(x, si);
		cnt_add(&ex->entries, (uint64_t)0 - s->len);
		s->len = 0;
		c.shard = si;
		kvd_index_walk(x, si, 0, kvd_index_nbuckets(x, si),
			       rebuild_one, &c);
		set_next(s);
		kvd_index_unlock(x, si);
	}
	return c.rc;
}

static void lag_note(struct kvd_expiry *ex, int64_t lag)
{
	uint64_t b = lag < 0 ? 0 : (uint64_t)lag / LAG_STEP_MS;

	if (b > LAG_BUCKETS)
		b = LAG_BUCKETS;
	cnt_add(&ex->lag[b], 1);
	if (lag > 0 && (uint64_t)lag > cnt(&ex->lag_max))
		__atomic_store_n(&ex->lag_max, (uint64_t)lag, __ATOMIC_RELAXED);
}

/*
 * Expire what is due in shard @si, at most SWEEP_BATCH keys under one
 * hold of its lock. Return true if the batch ran out (more may be due).
 */
static bool sweep_shard(struct kvd_expiry *ex, uint32_t si)
{
	struct kvd *d = ex->d;
	struct xshard *s = &ex->sh[si];
	unsigned int n = 0;
	int64_t now = kvs_now_ms();

	kvd_index_lock(&d->index, si);
	while (s->len && s->h[0].exp <= now && n < SWEEP_BATCH) {
		struct xent e = s->h[0];
		struct kvs_pos pos;
		struct kvs_iref r;

		heap_del(ex, s, 0);
		cnt_add(&ex->examined, 1);
		if (!kvd_index_find_item(&d->index, e.hash, e.off, &pos, &r) ||
		    !kvs_iref_expired(&r, now)) {
			/* Overwritten, deleted, persisted or re-timed since:
			 * the key's current item has its own entry. */
			cnt_add(&ex->stale, 1);
			continue;
		}
		kvd_exec_remove(d, KVD_EV_EXPIRE, e.hash, &pos, &r);
		cnt_add(&ex->removed, 1);
		lag_note(ex, now - r.expire_ms);
		n++;
	}
	kvd_index_unlock(&d->index, si);
	return n == SWEEP_BATCH;
}

static void *sweep_main(void *arg)
{
	struct kvd_expiry *ex = arg;
	struct timespec ts;

	pthread_mutex_lock(&ex->lock);
	while (!ex->stop) {
		uint32_t si;
		int64_t now;

		pthread_mutex_unlock(&ex->lock);
		now = kvs_now_ms();
		/* The readers' clock for access hints (shm/hint.h). */
		kvs_store_relaxed(&ex->d->hdr->clock_tick, kvs_hint_ticks(now));
		for (si = 0; si < ex->nshards; si++)
			if (__atomic_load_n(&ex->sh[si].next,
					    __ATOMIC_RELAXED) <= now)
				while (sweep_shard(ex, si))
					;
		cnt_add(&ex->sweeps, 1);
		pthread_mutex_lock(&ex->lock);
		if (ex->stop)
			break;
		ts = kvs_deadline(CLOCK_MONOTONIC, SWEEP_MS);
		pthread_cond_timedwait(&ex->cond, &ex->lock, &ts);
	}
	pthread_mutex_unlock(&ex->lock);
	return NULL;
}

int kvd_expiry_start(struct kvd_expiry *ex)
{
	int rc = pthread_create(&ex->thread, NULL, sweep_main, ex);

	if (rc)
		return -rc;
	ex->started = true;
	return 0;
}

void kvd_expiry_stop(struct kvd_expiry *ex)
{
	if (!ex || !ex->started)
		return;
	pthread_mutex_lock(&ex->lock);
	ex->stop = true;
	pthread_cond_signal(&ex->cond);
	pthread_mutex_unlock(&ex->lock);
	pthread_join(ex->thread, NULL);
	ex->started = false;
}

void kvd_expiry_destroy(struct kvd_expiry *ex)
{
	uint32_t i;

	if (!ex)
		return;
	kvd_expiry_stop(ex);
	for (i = 0; i < ex->nshards; i++)
		free(ex->sh[i].h);
	free(ex->sh);
	pthread_cond_destroy(&ex->cond);
	pthread_mutex_destroy(&ex->lock);
	free(ex);
}

int64_t kvd_expiry_next(struct kvd_expiry *ex, uint32_t shard)
{
	return __atomic_load_n(&ex->sh[shard].next, __ATOMIC_RELAXED);
}

bool kvd_expiry_top(struct kvd_expiry *ex, uint32_t si, uint64_t *hash,
		    struct kvs_pos *pos, struct kvs_iref *r)
{
	struct xshard *s = &ex->sh[si];

	while (s->len) {
		if (ent_live(ex, &s->h[0], pos, r)) {
			*hash = s->h[0].hash;
			return true;
		}
		cnt_add(&ex->stale, 1);
		heap_del(ex, s, 0);
	}
	return false;
}

uint32_t kvd_expiry_count(struct kvd_expiry *ex, uint32_t si)
{
	return ex->sh[si].len;
}

bool kvd_expiry_sample(struct kvd_expiry *ex, uint32_t si, uint64_t idx,
		       uint64_t *hash, struct kvs_pos *pos, struct kvs_iref *r)
{
	struct xshard *s = &ex->sh[si];
	uint32_t i;

	if (!s->len)
		return false;
	i = (uint32_t)(idx % s->len);
	if (ent_live(ex, &s->h[i], pos, r)) {
		*hash = s->h[i].hash;
		return true;
	}
	cnt_add(&ex->stale, 1);
	heap_del(ex, s, i);
	return false;
}

void kvd_expiry_get_stats(struct kvd_expiry *ex, struct kvd_expiry_stats *st)
{
	uint64_t total = 0, acc = 0, i;

	st->entries = cnt(&ex->entries);
	st->examined = cnt(&ex->examined);
	st->stale = cnt(&ex->stale);
	st->removed = cnt(&ex->removed);
	st->compacted = cnt(&ex->compacted);
	st->sweeps = cnt(&ex->sweeps);
	st->lag_max_ms = cnt(&ex->lag_max);
	for (i = 0; i <= LAG_BUCKETS; i++)
		total += cnt(&ex->lag[i]);
	st->lag_p99_ms = 0;
	for (i = 0; i <= LAG_BUCKETS && total; i++) {
		acc += cnt(&ex->lag[i]);
		if (acc * 100 >= total * 99) {
			st->lag_p99_ms = (i + 1) * LAG_STEP_MS;
			if (i < LAG_BUCKETS && st->lag_p99_ms > st->lag_max_ms)
				st->lag_p99_ms = st->lag_max_ms;
			break;
		}
	}
}
