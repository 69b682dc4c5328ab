// SPDX-License-Identifier: MIT
/*
 * daemon/exec.c - one function per write op, each run under the key's
 * shard lock.
 *
 * Items are immutable: every change builds a complete new item, then
 * publishes it with one release store (index.c), and the old item is
 * retired. A failed write (limits, full heap) changes nothing. Each change
 * emits an event through the hook table; exec calls no other module.
 *
 * Must never touch the socket or know about frames: the server decodes,
 * exec executes.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "frame.h"
#include "hash.h"
#include "kvshmd.h"
#include "log.h"

/*
 * A write that finds the heap full waits this long for memory that is
 * already retired to come back. The wait runs on the server thread, so it
 * is short, and skipped while a reader is stalled (it would not help).
 */
#define ALLOC_WAIT_MS	20

/* A write in progress: the key's shard is locked from begin to end. */
struct wctx {
	const void *key;
	size_t klen;
	uint64_t hash;
	uint32_t shard;
	bool found;			/* a live item: cur */
	struct kvs_iref cur;
	struct kvs_pos pos;
	int64_t now;
};

static int check_key(const struct kvd *d, size_t klen)
{
	if (klen == 0)
		return -EINVAL;
	if (klen > d->cfg.max_key)
		return -E2BIG;
	return 0;
}

static void emit(struct kvd *d, enum kvd_event ev, const void *key,
		 size_t klen, const void *val, size_t vlen, int64_t exp)
{
	struct kvd_event_info e = {
		.ev = ev, .key = key, .klen = klen, .val = val, .vlen = vlen,
		.expire_ms = exp,
	};

	kvd_hooks_emit(&d->hooks, &e);
}

/* Lock the key's shard and find its live item; drop it if expired. */
static void w_begin(struct kvd *d, struct wctx *w, const void *key, size_t klen)
{
	w->key = key;
	w->klen = klen;
	w->hash = kvs_hash(d->hdr->hash_seed, key, klen);
	w->shard = kvd_index_shard(&d->index, w->hash);
	w->now = kvs_now_ms();
	kvd_index_lock(&d->index, w->shard);
	w->found = kvd_index_find(&d->index, w->hash, key, klen, &w->pos,
				  &w->cur);
	if (w->found && kvs_iref_expired(&w->cur, w->now)) {
		kvd_index_remove(&d->index, w->hash, &w->pos);
		emit(d, KVD_EV_EXPIRE, key, klen, NULL, 0, 0);
		w->found = false;
	}
}

static void w_end(struct kvd *d, struct wctx *w)
{
	kvd_index_unlock(&d->index, w->shard);
}

/* Allocate and fill a new, unpublished item; 0 if the heap is full. */
static kvs_off_t item_build(struct kvd *d, const void *key, size_t klen,
			    const void *val, size_t vlen, int64_t exp)
{
	uint8_t flags = exp ? KVS_ITEM_EXPIRES : 0;
	size_t size = kvs_item_size(klen, vlen, flags);
	struct kvs_item *it;
	kvs_off_t off;
	char *p;

	off = kva_alloc(d->heap, size);
	if (!off && kvd_reclaim_stalled(d->rc) == 0 &&
	    kvd_reclaim_sync(d->rc, ALLOC_WAIT_MS) == 0)
		off = kva_alloc(d->heap, size);
	if (!off)
		return 0;
	it = (struct kvs_item *)(d->seg.base + off);
	it->vlen = (uint32_t)vlen;
	it->klen = (uint16_t)klen;
	it->flags = flags;
	it->cls = 0;
	it->hint = 0;
	p = (char *)(it + 1);
	if (exp) {
		memcpy(p, &exp, sizeof(exp));
		p += sizeof(exp);
	}
	memcpy(p, key, klen);
	if (vlen)
		memcpy(p + klen, val, vlen);
	return off;
}

/* Publish a new item for the key of @w, replacing its live item if any. */
static int w_store(struct kvd *d, struct wctx *w, const void *val,
		   size_t vlen, int64_t exp)
{
	kvs_off_t off = item_build(d, w->key, w->klen, val, vlen, exp);

	if (!off)
		return -ENOMEM;
	if (w->found) {
		kvd_index_replace(&d->index, w->hash, &w->pos, off);
	} else if (kvd_index_insert(&d->index, w->hash, off) < 0) {
		kva_free(d->heap, off);		/* never published */
		return -ENOMEM;
	}
	emit(d, KVD_EV_SET, w->key, w->klen, val, vlen, exp);
	return 0;
}

static int64_t expiry_of(int64_t now, int64_t ttl_ms)
{
	if (ttl_ms <= 0)
		return 0;
	if (ttl_ms > INT64_MAX - now)
		return INT64_MAX;
	return now + ttl_ms;
}

int kvd_exec_set(struct kvd *d, const void *key, size_t klen,
		 const void *val, size_t vlen, int64_t ttl_ms, unsigned flags)
{
	struct wctx w;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	if (vlen > d->cfg.max_value)
		return -E2BIG;
	if (ttl_ms < 0 || (flags & ~(KVS_SET_NX | KVS_SET_XX)) ||
	    flags == (KVS_SET_NX | KVS_SET_XX))
		return -EINVAL;
	kvd_stats_inc(&d->stats.cmd_set);
	w_begin(d, &w, key, klen);
	if ((flags & KVS_SET_NX) && w.found)
		rc = -EEXIST;
	else if ((flags & KVS_SET_XX) && !w.found)
		rc = -ENOENT;
	else
		rc = w_store(d, &w, val, vlen, expiry_of(w.now, ttl_ms));
	w_end(d, &w);
	return rc;
}

int kvd_exec_del(struct kvd *d, const void *key, size_t klen)
{
	struct wctx w;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_del);
	w_begin(d, &w, key, klen);
	if (w.found) {
		kvd_index_remove(&d->index, w.hash, &w.pos);
		emit(d, KVD_EV_DEL, key, klen, NULL, 0, 0);
	} else {
		rc = -ENOENT;
	}
	w_end(d, &w);
	return rc;
}

int kvd_exec_expire(struct kvd *d, const void *key, size_t klen,
		    int64_t ttl_ms)
{
	struct wctx w;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_expire);
	w_begin(d, &w, key, klen);
	if (!w.found) {
		rc = -ENOENT;
	} else if (ttl_ms <= 0) {
		/* As Redis: a non-positive TTL deletes the key now. */
		kvd_index_remove(&d->index, w.hash, &w.pos);
		emit(d, KVD_EV_DEL, key, klen, NULL, 0, 0);
	} else {
		rc = w_store(d, &w, w.cur.val, w.cur.vlen,
			     expiry_of(w.now, ttl_ms));
	}
	w_end(d, &w);
	return rc;
}

int kvd_exec_persist(struct kvd *d, const void *key, size_t klen)
{
	struct wctx w;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_persist);
	w_begin(d, &w, key, klen);
	if (!w.found)
		rc = -ENOENT;
	else if (w.cur.expire_ms)
		rc = w_store(d, &w, w.cur.val, w.cur.vlen, 0);
	w_end(d, &w);
	return rc;
}

/*
 * parse_int - a value INCR accepts: optional '-', then 1..19 digits with
 * no leading zero, the whole value, in int64_t range. Nothing else (no
 * spaces, no '+'), as Redis.
 */
static int parse_int(const char *p, size_t len, int64_t *out)
{
	char buf[24];
	char *end;
	size_t i;
	long long v;

	if (len == 0 || len > 20)
		return -EDOM;
	for (i = (p[0] == '-'); i < len; i++)
		if (p[i] < '0' || p[i] > '9')
			return -EDOM;
	if (len == (size_t)(p[0] == '-'))
		return -EDOM;
	/* As Redis: "0" is the only number that starts with 0 ("-0", "007"
	 * are not integers). */
	if (p[p[0] == '-'] == '0' && len > 1)
		return -EDOM;
	memcpy(buf, p, len);
	buf[len] = '\0';
	errno = 0;
	v = strtoll(buf, &end, 10);
	if (errno || *end)
		return -EDOM;
	*out = v;
	return 0;
}

int kvd_exec_incr(struct kvd *d, const void *key, size_t klen,
		  int64_t delta, int64_t *result)
{
	char buf[24];
	int64_t v = 0;
	struct wctx w;
	int rc, n;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_incr);
	w_begin(d, &w, key, klen);
	if (w.found)
		rc = parse_int(w.cur.val, w.cur.vlen, &v);
	if (rc == 0 && ((delta > 0 && v > INT64_MAX - delta) ||
			(delta < 0 && v < INT64_MIN - delta)))
		rc = -EOVERFLOW;
	if (rc == 0) {
		v += delta;
		n = snprintf(buf, sizeof(buf), "%" PRId64, v);
		rc = w_store(d, &w, buf, (size_t)n,
			     w.found ? w.cur.expire_ms : 0);
	}
	w_end(d, &w);
	if (rc == 0 && result)
		*result = v;
	return rc;
}

/* Copy the live value of @w into @out (the shard lock keeps it alive). */
static int copy_out(const struct wctx *w, struct kvd_blob *out)
{
	out->had = w->found;
	out->len = w->found ? w->cur.vlen : 0;
	out->p = malloc(out->len + 1);
	if (!out->p)
		return -ENOMEM;
	if (out->len)
		memcpy(out->p, w->cur.val, out->len);
	return 0;
}

/*
 * APPEND: add @val to the end of the value (a missing key starts empty),
 * keeping the key's expiry, as Redis does. The result must fit the value
 * limit.
 */
int kvd_exec_append(struct kvd *d, const void *key, size_t klen,
		    const void *val, size_t vlen, uint64_t *newlen)
{
	struct wctx w;
	char *buf;
	size_t old, n;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	if (vlen > d->cfg.max_value)
		return -E2BIG;
	kvd_stats_inc(&d->stats.cmd_append);
	w_begin(d, &w, key, klen);
	old = w.found ? w.cur.vlen : 0;
	n = old + vlen;
	if (n > d->cfg.max_value) {
		rc = -E2BIG;
	} else if (!(buf = malloc(n ? n : 1))) {
		rc = -ENOMEM;
	} else {
		if (old)
			memcpy(buf, w.cur.val, old);
		if (vlen)
			memcpy(buf + old, val, vlen);
		rc = w_store(d, &w, buf, n, w.found ? w.cur.expire_ms : 0);
		free(buf);
	}
	w_end(d, &w);
	if (rc == 0 && newlen)
		*newlen = n;
	return rc;
}

/* GETDEL: delete the key and return the value it had. */
int kvd_exec_getdel(struct kvd *d, const void *key, size_t klen,
		    struct kvd_blob *out)
{
	struct wctx w;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_getdel);
	w_begin(d, &w, key, klen);
	if (!w.found) {
		rc = -ENOENT;
	} else if ((rc = copy_out(&w, out)) == 0) {
		kvd_index_remove(&d->index, w.hash, &w.pos);
		emit(d, KVD_EV_DEL, key, klen, NULL, 0, 0);
	}
	w_end(d, &w);
	return rc;
}

/* GETSET: store a new value (and TTL, 0 = none) and return the old one. */
int kvd_exec_getset(struct kvd *d, const void *key, size_t klen,
		    const void *val, size_t vlen, int64_t ttl_ms,
		    struct kvd_blob *out)
{
	struct wctx w;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	if (vlen > d->cfg.max_value)
		return -E2BIG;
	if (ttl_ms < 0)
		return -EINVAL;
	kvd_stats_inc(&d->stats.cmd_getset);
	w_begin(d, &w, key, klen);
	rc = copy_out(&w, out);
	if (rc == 0)
		rc = w_store(d, &w, val, vlen, expiry_of(w.now, ttl_ms));
	if (rc < 0) {
		free(out->p);
		out->p = NULL;
	}
	w_end(d, &w);
	return rc;
}

/*
 * FLUSH: remove every key, one shard at a time under its lock. Not atomic
 * across shards: a write to a shard already flushed survives the flush,
 * as a write just after it would.
 */
int kvd_exec_flush(struct kvd *d, uint64_t *removed)
{
	uint32_t s;
	uint64_t n = 0;

	kvd_stats_inc(&d->stats.cmd_flush);
	for (s = 0; s < d->index.nshards; s++) {
		kvd_index_lock(&d->index, s);
		n += kvd_index_clear(&d->index, s);
		kvd_index_unlock(&d->index, s);
	}
	*removed = n;
	return 0;
}

/*
 * MSET: all or nothing.
 *
 * Every pair is checked and every new item built before anything is
 * published, and the shards involved are locked together (in ascending
 * order, so two batches never deadlock): no other writer sees half a
 * batch, and a batch that fails on a limit or on memory changes nothing.
 * Readers do not lock, so while the batch is being published a reader may
 * see some of its keys new and others still old; each key on its own is
 * always either its old or its new value. A key given twice takes its
 * last value.
 */
struct mset_ent {
	uint32_t idx;			/* position in the request */
	uint32_t shard;
	uint64_t hash;
	kvs_off_t item;			/* built, not yet published */
	bool skip;			/* a later pair sets the same key */
	bool found;			/* the key is live now */
	bool inserted;
};

static int mset_cmp(const void *a, const void *b)
{
	const struct mset_ent *x = a, *y = b;

	if (x->shard != y->shard)
		return x->shard < y->shard ? -1 : 1;
	if (x->hash != y->hash)
		return x->hash < y->hash ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static bool same_key(const struct kvd_kv *a, const struct kvd_kv *b)
{
	return a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0;
}

/* Mark every pair that a later pair of the same key overrides. */
static void mset_dedupe(const struct kvd_kv *kv, struct mset_ent *e, uint32_t n)
{
	uint32_t i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n && e[j].shard == e[i].shard &&
		     e[j].hash == e[i].hash; j++)
			if (same_key(&kv[e[i].idx], &kv[e[j].idx]))
				e[i].skip = true;
}

static void mset_lock(struct kvd *d, const struct mset_ent *e, uint32_t n,
		      bool lock)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (i && e[i].shard == e[i - 1].shard)
			continue;
		if (lock)
			kvd_index_lock(&d->index, e[i].shard);
		else
			kvd_index_unlock(&d->index, e[i].shard);
	}
}

/*
 * batch_begin - the entries of a multi-key op, sorted by shard, duplicate
 * keys marked, every shard involved locked (in ascending order); NULL if
 * out of memory. batch_end() unlocks and frees.
 */
static struct mset_ent *batch_begin(struct kvd *d, const struct kvd_kv *kv,
				    uint32_t n)
{
	struct mset_ent *e = calloc(n, sizeof(*e));
	uint32_t i;

	if (!e)
		return NULL;
	for (i = 0; i < n; i++) {
		e[i].idx = i;
		e[i].hash = kvs_hash(d->hdr->hash_seed, kv[i].key, kv[i].klen);
		e[i].shard = kvd_index_shard(&d->index, e[i].hash);
	}
	qsort(e, n, sizeof(*e), mset_cmp);
	mset_dedupe(kv, e, n);
	mset_lock(d, e, n, true);
	return e;
}

static void batch_end(struct kvd *d, struct mset_ent *e, uint32_t n)
{
	mset_lock(d, e, n, false);
	free(e);
}

/* Look every key up; drop expired ones; count new keys per shard. */
static int mset_prepare(struct kvd *d, const struct kvd_kv *kv,
			struct mset_ent *e, uint32_t n, int64_t now)
{
	uint64_t fresh = 0, total_fresh = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		const struct kvd_kv *p = &kv[e[i].idx];
		struct kvs_iref cur;
		struct kvs_pos pos;

		if (e[i].skip)
			continue;
		e[i].found = kvd_index_find(&d->index, e[i].hash, p->key,
					    p->klen, &pos, &cur);
		if (e[i].found && kvs_iref_expired(&cur, now)) {
			kvd_index_remove(&d->index, e[i].hash, &pos);
			emit(d, KVD_EV_EXPIRE, p->key, p->klen, NULL, 0, 0);
			e[i].found = false;
		}
		fresh += !e[i].found;
		total_fresh += !e[i].found;
		if (i + 1 == n || e[i + 1].shard != e[i].shard) {
			if (kvd_index_reserve(&d->index, e[i].shard, fresh) < 0)
				return -ENOMEM;
			fresh = 0;
		}
	}
	if (!kvd_index_room(&d->index, total_fresh))
		return -ENOMEM;		/* over --max-entries */
	for (i = 0; i < n; i++) {
		const struct kvd_kv *p = &kv[e[i].idx];

		if (e[i].skip)
			continue;
		e[i].item = item_build(d, p->key, p->klen, p->val, p->vlen,
				       expiry_of(now, p->ttl_ms));
		if (!e[i].item)
			return -ENOMEM;
	}
	return 0;
}

/* Undo a failed batch: nothing of it is visible to writers afterwards. */
static void mset_undo(struct kvd *d, const struct kvd_kv *kv,
		      struct mset_ent *e, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		const struct kvd_kv *p = &kv[e[i].idx];
		struct kvs_iref cur;
		struct kvs_pos pos;

		if (e[i].inserted && kvd_index_find(&d->index, e[i].hash, p->key,
						    p->klen, &pos, &cur))
			kvd_index_remove(&d->index, e[i].hash, &pos);
		else if (e[i].item)
			kva_free(d->heap, e[i].item);	/* never published */
	}
}

static int mset_publish(struct kvd *d, const struct kvd_kv *kv,
			struct mset_ent *e, uint32_t n, int64_t now)
{
	uint32_t i;

	/* New keys first: only an insert can fail (a shard that must grow
	 * again and finds no memory), and only inserts are undone. */
	for (i = 0; i < n; i++) {
		if (e[i].skip || e[i].found)
			continue;
		if (kvd_index_insert(&d->index, e[i].hash, e[i].item) < 0)
			return -ENOMEM;
		e[i].inserted = true;
	}
	for (i = 0; i < n; i++) {
		const struct kvd_kv *p = &kv[e[i].idx];
		struct kvs_iref cur;
		struct kvs_pos pos;

		if (e[i].skip || !e[i].found)
			continue;
		/* Look up again: an insert above may have grown the shard. */
		if (!kvd_index_find(&d->index, e[i].hash, p->key, p->klen, &pos,
				    &cur))
			kvd_die("event=mset_lost_key");
		kvd_index_replace(&d->index, e[i].hash, &pos, e[i].item);
	}
	for (i = 0; i < n; i++) {
		const struct kvd_kv *p = &kv[e[i].idx];

		if (!e[i].skip)
			emit(d, KVD_EV_SET, p->key, p->klen, p->val, p->vlen,
			     expiry_of(now, p->ttl_ms));
	}
	return 0;
}

int kvd_exec_mset(struct kvd *d, const struct kvd_kv *kv, uint32_t n)
{
	struct mset_ent *e;
	int64_t now;
	uint32_t i;
	int rc;

	for (i = 0; i < n; i++) {
		if ((rc = check_key(d, kv[i].klen)) < 0)
			return rc;
		if (kv[i].vlen > d->cfg.max_value)
			return -E2BIG;
		if (kv[i].ttl_ms < 0)
			return -EINVAL;
	}
	kvd_stats_inc(&d->stats.cmd_mset);
	e = batch_begin(d, kv, n);
	if (!e)
		return -ENOMEM;
	now = kvs_now_ms();
	rc = mset_prepare(d, kv, e, n, now);
	if (rc == 0)
		rc = mset_publish(d, kv, e, n, now);
	if (rc < 0)
		mset_undo(d, kv, e, n);
	batch_end(d, e, n);
	return rc;
}

/*
 * MDEL: delete every listed key that is live, with all their shards
 * locked together, so no other writer sees some deleted and others not.
 * Keys listed twice count once. Expired keys are removed and not counted.
 */
int kvd_exec_mdel(struct kvd *d, const struct kvd_kv *kv, uint32_t n,
		  uint64_t *removed)
{
	struct mset_ent *e;
	uint64_t count = 0;
	int64_t now;
	uint32_t i;
	int rc;

	for (i = 0; i < n; i++)
		if ((rc = check_key(d, kv[i].klen)) < 0)
			return rc;
	kvd_stats_inc(&d->stats.cmd_mdel);
	e = batch_begin(d, kv, n);
	if (!e)
		return -ENOMEM;
	now = kvs_now_ms();
	for (i = 0; i < n; i++) {
		const struct kvd_kv *p = &kv[e[i].idx];
		struct kvs_iref cur;
		struct kvs_pos pos;

		if (e[i].skip || !kvd_index_find(&d->index, e[i].hash, p->key,
						  p->klen, &pos, &cur))
			continue;
		kvd_index_remove(&d->index, e[i].hash, &pos);
		if (kvs_iref_expired(&cur, now)) {
			emit(d, KVD_EV_EXPIRE, p->key, p->klen, NULL, 0, 0);
		} else {
			emit(d, KVD_EV_DEL, p->key, p->klen, NULL, 0, 0);
			count++;
		}
	}
	batch_end(d, e, n);
	*removed = count;
	return 0;
}
