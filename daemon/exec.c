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
#include "persist.h"

/*
 * A write that finds the heap full waits this long for memory that is
 * already retired to come back. The wait runs on the server thread, so it
 * is short, and skipped while a reader is stalled (it would not help).
 */
#define ALLOC_WAIT_MS	20

/*
 * A write that still fails for want of memory or of room under
 * --max-entries is retried after a synchronous eviction (evict.c), at
 * most this many times, each round evicting more. Between attempts the
 * write holds no shard lock: eviction locks any shard it needs, and the
 * retried op runs afresh on the state it then finds, so it stays atomic.
 * A failed attempt changes nothing (see the top of this file), so under
 * noeviction, or when eviction finds nothing to take, the write fails
 * with -ENOMEM having changed nothing.
 */
#define EVICT_TRIES	8

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
	struct kvd_room need;		/* set when a store fails: -ENOMEM */
};

static int check_key(const struct kvd *d, size_t klen)
{
	if (klen == 0)
		return -EINVAL;
	if (klen > d->cfg.max_key)
		return -E2BIG;
	return 0;
}

/* A key, value and TTL to store: the checks every storing op makes. */
static int check_put(const struct kvd *d, size_t klen, size_t vlen,
		     int64_t ttl_ms)
{
	int rc = check_key(d, klen);

	if (rc < 0)
		return rc;
	if (vlen > d->cfg.max_value)
		return -E2BIG;
	return ttl_ms < 0 ? -EINVAL : 0;
}

static void emit(struct kvd *d, enum kvd_event ev, const void *key,
		 size_t klen, const void *val, size_t vlen, int64_t exp,
		 uint64_t version)
{
	struct kvd_event_info e = {
		.ev = ev, .key = key, .klen = klen, .val = val, .vlen = vlen,
		.expire_ms = exp, .version = version,
	};

	kvd_hooks_emit(&d->hooks, &e);
}

/* KVD_EV_SET for the item just published at @item_off. */
static void emit_set(struct kvd *d, uint64_t hash, kvs_off_t item_off,
		     const void *key, size_t klen, const void *val,
		     size_t vlen, int64_t exp, uint64_t version)
{
	struct kvd_event_info e = {
		.ev = KVD_EV_SET, .key = key, .klen = klen, .val = val,
		.vlen = vlen, .expire_ms = exp, .version = version,
		.hash = hash, .item = item_off,
	};

	kvd_hooks_emit(&d->hooks, &e);
}

/*
 * The event of a removal, with the key and where it was, for keys that
 * leave the table one by one (batches emit theirs after publishing).
 */
static void emit_rm(struct kvd *d, enum kvd_event ev, const void *key,
		    size_t klen, uint64_t hash, kvs_off_t item, uint64_t entry)
{
	struct kvd_event_info e = {
		.ev = ev, .key = key, .klen = klen, .hash = hash,
		.item = item, .entry = entry,
	};

	kvd_hooks_emit(&d->hooks, &e);
}

void kvd_exec_remove(struct kvd *d, enum kvd_event ev, uint64_t hash,
		     const struct kvs_pos *pos, const struct kvs_iref *r)
{
	/*
	 * The event goes first, while the item is still published: once
	 * retired it may be freed after a grace period, which the hooks
	 * (on this thread, not a reader) would not hold back, and they
	 * read the key from it.
	 */
	emit_rm(d, ev, r->key, r->klen, hash,
		(kvs_off_t)((const char *)r->it - d->seg.base),
		kvd_pos_entry(pos) + 1);
	kvd_index_remove(&d->index, hash, pos);
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
		kvd_exec_remove(d, KVD_EV_EXPIRE, w->hash, &w->pos, &w->cur);
		kvd_stats_inc(&d->stats.expired_write);
		w->found = false;
	}
}

static void w_end(struct kvd *d, struct wctx *w)
{
	kvd_index_unlock(&d->index, w->shard);
}

/*
 * kvd_next_version - the version of the next item built: one counter for
 * the daemon, so versions increase in write order. Atomic because more
 * than one daemon thread may build items (the counter is never shared
 * with readers: they see a version only inside an item).
 */
uint64_t kvd_next_version(struct kvd *d)
{
	uint64_t v;

	/* Never 0: compare-and-set takes version 0 to mean "absent", and
	 * kvd_item_build() to mean "the next one". Only a wrap of the 48
	 * bits could produce it. */
	do
		v = __atomic_add_fetch(&d->version, 1, __ATOMIC_RELAXED) &
		    KVS_VERSION_MAX;
	while (v == 0);
	return v;
}

static uint64_t item_version(const struct kvd *d, kvs_off_t off)
{
	const struct kvs_item *it = (const struct kvs_item *)(d->seg.base + off);

	return kvs_item_version(it->ver_hi, it->ver_lo);
}

/* Write the item (header, expiry, key, value) at @it. */
static void item_put(struct kvs_item *it, const void *key, size_t klen,
		     const void *val, size_t vlen, int64_t exp,
		     uint64_t version)
{
	unsigned int flags = exp ? KVS_ITEM_EXPIRES : 0;
	char *p;

	/* Relaxed atomics: the evictor reads these two of any chunk
	 * (evict_chunks()), whether or not it holds an item yet. */
	__atomic_store_n(&it->vlen_flags,
			 (uint32_t)vlen | (flags << KVS_ITEM_FLAGS_SHIFT),
			 __ATOMIC_RELAXED);
	__atomic_store_n(&it->klen, (uint16_t)klen, __ATOMIC_RELAXED);
	it->ver_hi = (uint16_t)(version >> 32);
	it->ver_lo = (uint32_t)version;
	p = (char *)(it + 1);
	if (exp) {
		memcpy(p, &exp, sizeof(exp));
		p += sizeof(exp);
	}
	memcpy(p, key, klen);
	if (vlen)
		memcpy(p + klen, val, vlen);
}

/* Fill the new item at @off (kvs_item_size() bytes for these). */
static void item_fill(struct kvd *d, kvs_off_t off, const void *key,
		      size_t klen, const void *val, size_t vlen, int64_t exp,
		      uint64_t version)
{
	item_put((struct kvs_item *)(d->seg.base + off), key, klen, val, vlen,
		 exp, version);
}

/*
 * kvd_item_build - allocate and fill a new, unpublished item; 0 if the
 * heap is full. @version 0 takes the next one from kvd_next_version().
 */
kvs_off_t kvd_item_build(struct kvd *d, const void *key, size_t klen,
			 const void *val, size_t vlen, int64_t exp,
			 uint64_t version)
{
	size_t size = kvs_item_size(klen, vlen, exp ? KVS_ITEM_EXPIRES : 0);
	kvs_off_t off;

	off = kva_alloc(d->heap, size);
	if (!off && kvd_reclaim_stalled(d->rc) == 0 &&
	    kvd_reclaim_sync(d->rc, ALLOC_WAIT_MS) == 0)
		off = kva_alloc(d->heap, size);
	if (!off)
		return 0;
	if (d->ev)		/* below the low watermark: wake the evictor */
		kvd_evict_note_alloc(d->ev);
	item_fill(d, off, key, klen, val, vlen, exp,
		  version ? version : kvd_next_version(d));
	return off;
}

/*
 * Publish a new item for the key of @w, replacing its live item if any;
 * *@version (may be NULL) is set to the new item's.
 */
static int w_store_v(struct kvd *d, struct wctx *w, const void *val,
		     size_t vlen, int64_t exp, uint64_t *version)
{
	kvs_off_t off = kvd_item_build(d, w->key, w->klen, val, vlen, exp, 0);
	uint64_t ver;

	w->need.bytes = kvs_item_size(w->klen, vlen,
				      exp ? KVS_ITEM_EXPIRES : 0);
	w->need.keys = w->found ? 0 : 1;
	if (!off)
		return -ENOMEM;
	ver = item_version(d, off);
	if (w->found) {
		kvd_index_replace(&d->index, w->hash, &w->pos, off);
	} else if (kvd_index_insert(&d->index, w->hash, off) < 0) {
		kva_free(d->heap, off);		/* never published */
		return -ENOMEM;
	}
	emit_set(d, w->hash, off, w->key, w->klen, val, vlen, exp, ver);
	if (version)
		*version = ver;
	return 0;
}

static int w_store(struct kvd *d, struct wctx *w, const void *val,
		   size_t vlen, int64_t exp)
{
	return w_store_v(d, w, val, vlen, exp, NULL);
}

/*
 * evict_retry - after an attempt that ended with @rc, should the write
 * run again? Yes if it failed for want of room (@need) and a synchronous
 * eviction made some. Called with no shard lock held.
 */
static bool evict_retry(struct kvd *d, int rc, unsigned int *attempt,
			const struct kvd_room *need)
{
	struct kvd_room room = *need;
	uint64_t grow = kvd_index_take_grow_need(&d->index);

	if (rc != -ENOMEM || !d->ev || *attempt >= EVICT_TRIES ||
	    (!need->bytes && !need->keys))	/* not for want of room */
		return false;
	/* A shard's new bucket array found no room: it needs pages. */
	if (grow > room.bytes)
		room.bytes = grow;
	return kvd_evict_make_room(d->ev, &room, (*attempt)++);
}

/*
 * w_version_check - does the key of @w have version @version? 0 stands
 * for "absent". Return: 0, -ENOENT (absent, a version was expected) or
 * -ESTALE (another version, or present when absence was expected).
 */
static int w_version_check(const struct wctx *w, uint64_t version)
{
	if (!w->found)
		return version ? -ENOENT : 0;
	return w->cur.version == version ? 0 : -ESTALE;
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
	unsigned int attempt = 0;
	struct wctx w;
	int rc;

	if ((rc = check_put(d, klen, vlen, ttl_ms)) < 0)
		return rc;
	if ((flags & ~(KVS_SET_NX | KVS_SET_XX)) ||
	    flags == (KVS_SET_NX | KVS_SET_XX))
		return -EINVAL;
	kvd_stats_inc(&d->stats.cmd_set);
	do {
		w_begin(d, &w, key, klen);
		if ((flags & KVS_SET_NX) && w.found)
			rc = -EEXIST;
		else if ((flags & KVS_SET_XX) && !w.found)
			rc = -ENOENT;
		else
			rc = w_store(d, &w, val, vlen, expiry_of(w.now, ttl_ms));
		w_end(d, &w);
	} while (evict_retry(d, rc, &attempt, &w.need));
	return rc;
}

/*
 * CAS: store only if the key's version is @version (0: only if absent).
 * Check and store happen under one hold of the shard lock, so of writers
 * that read the same version exactly one wins.
 */
int kvd_exec_cas(struct kvd *d, const void *key, size_t klen,
		 const void *val, size_t vlen, int64_t ttl_ms,
		 uint64_t version, uint64_t *new_version)
{
	unsigned int attempt = 0;
	struct wctx w;
	int rc;

	if ((rc = check_put(d, klen, vlen, ttl_ms)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_cas);
	do {
		w_begin(d, &w, key, klen);
		rc = w_version_check(&w, version);
		if (rc == 0)
			rc = w_store_v(d, &w, val, vlen,
				       expiry_of(w.now, ttl_ms), new_version);
		w_end(d, &w);
	} while (evict_retry(d, rc, &attempt, &w.need));
	return rc;
}

/* CASDEL: delete only if the key's version is @version. */
int kvd_exec_casdel(struct kvd *d, const void *key, size_t klen,
		    uint64_t version)
{
	struct wctx w;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_casdel);
	w_begin(d, &w, key, klen);
	if (!w.found) {
		rc = -ENOENT;
	} else if ((rc = w_version_check(&w, version)) == 0) {
		kvd_exec_remove(d, KVD_EV_DEL, w.hash, &w.pos, &w.cur);
	}
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
	if (w.found)
		kvd_exec_remove(d, KVD_EV_DEL, w.hash, &w.pos, &w.cur);
	else
		rc = -ENOENT;
	w_end(d, &w);
	return rc;
}

int kvd_exec_expire(struct kvd *d, const void *key, size_t klen,
		    int64_t ttl_ms)
{
	unsigned int attempt = 0;
	struct wctx w;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_expire);
	do {
		rc = 0;
		w_begin(d, &w, key, klen);
		if (!w.found) {
			rc = -ENOENT;
		} else if (ttl_ms <= 0) {
			/* As Redis: a non-positive TTL deletes the key now. */
			kvd_exec_remove(d, KVD_EV_DEL, w.hash, &w.pos, &w.cur);
		} else {
			rc = w_store(d, &w, w.cur.val, w.cur.vlen,
				     expiry_of(w.now, ttl_ms));
		}
		w_end(d, &w);
	} while (evict_retry(d, rc, &attempt, &w.need));
	return rc;
}

int kvd_exec_persist(struct kvd *d, const void *key, size_t klen)
{
	unsigned int attempt = 0;
	struct wctx w;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_persist);
	do {
		rc = 0;
		w_begin(d, &w, key, klen);
		if (!w.found)
			rc = -ENOENT;
		else if (w.cur.expire_ms)
			rc = w_store(d, &w, w.cur.val, w.cur.vlen, 0);
		w_end(d, &w);
	} while (evict_retry(d, rc, &attempt, &w.need));
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
	unsigned int attempt = 0;
	char buf[24];
	int64_t v;
	struct wctx w;
	int rc, n;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_incr);
	do {
		rc = 0;
		v = 0;
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
	} while (evict_retry(d, rc, &attempt, &w.need));
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
	unsigned int attempt = 0;
	struct wctx w;
	char *buf;
	size_t old, n;
	int rc;

	if ((rc = check_key(d, klen)) < 0)
		return rc;
	if (vlen > d->cfg.max_value)
		return -E2BIG;
	kvd_stats_inc(&d->stats.cmd_append);
	do {
		w_begin(d, &w, key, klen);
		old = w.found ? w.cur.vlen : 0;
		n = old + vlen;
		w.need.bytes = w.need.keys = 0;	/* a malloc() failure */
		if (n > d->cfg.max_value) {
			rc = -E2BIG;
		} else if (!(buf = malloc(n ? n : 1))) {
			rc = -ENOMEM;
		} else {
			if (old)
				memcpy(buf, w.cur.val, old);
			if (vlen)
				memcpy(buf + old, val, vlen);
			rc = w_store(d, &w, buf, n,
				     w.found ? w.cur.expire_ms : 0);
			free(buf);
		}
		w_end(d, &w);
	} while (evict_retry(d, rc, &attempt, &w.need));
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
		kvd_exec_remove(d, KVD_EV_DEL, w.hash, &w.pos, &w.cur);
	}
	w_end(d, &w);
	return rc;
}

/* GETSET: store a new value (and TTL, 0 = none) and return the old one. */
int kvd_exec_getset(struct kvd *d, const void *key, size_t klen,
		    const void *val, size_t vlen, int64_t ttl_ms,
		    struct kvd_blob *out)
{
	unsigned int attempt = 0;
	struct wctx w;
	int rc;

	if ((rc = check_put(d, klen, vlen, ttl_ms)) < 0)
		return rc;
	kvd_stats_inc(&d->stats.cmd_getset);
	do {
		w_begin(d, &w, key, klen);
		w.need.bytes = w.need.keys = 0;	/* a malloc() failure */
		rc = copy_out(&w, out);
		if (rc == 0)
			rc = w_store(d, &w, val, vlen, expiry_of(w.now, ttl_ms));
		if (rc < 0) {
			free(out->p);
			out->p = NULL;
		}
		w_end(d, &w);
	} while (evict_retry(d, rc, &attempt, &w.need));
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
	emit(d, KVD_EV_FLUSH, NULL, 0, NULL, 0, 0, 0);
	for (s = 0; s < d->index.nshards; s++) {
		kvd_index_lock(&d->index, s);
		n += kvd_index_clear(&d->index, s);
		kvd_index_unlock(&d->index, s);
	}
	*removed = n;
	return 0;
}

/*
 * Multi-key ops: BATCH, and MSET and MDEL, which are batches of puts or of
 * deletes. All or nothing.
 *
 * The shards of every key are locked together (in ascending order, so two
 * batches never deadlock), every condition is checked, and every new item
 * built, before anything is published: no other writer sees half a batch,
 * and a batch that fails on a condition, a limit or memory changes nothing.
 * Readers do not lock, so while the batch is being published a reader may
 * see some of its keys new and others still old; each key on its own is
 * always either its old or its new value.
 *
 * The ops of a batch apply in request order: an op's condition sees what
 * the ops before it in the batch did to its key, and a key named twice
 * ends as its last op leaves it. Only that last op is published, so each
 * key changes (and emits its event) once.
 */
struct batch_ent {
	uint32_t idx;			/* position in the request */
	uint32_t shard;
	uint64_t hash;
	kvs_off_t item;			/* built, not yet published */
	bool skip;			/* a later op of the same key decides */
	bool found;			/* the key was live before the batch */
	bool inserted;
	kvs_off_t gone;			/* the item a delete removed, and */
	uint64_t gone_entry;		/* its entry number + 1, for the event */
};

static int batch_cmp(const void *a, const void *b)
{
	const struct batch_ent *x = a, *y = b;

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

/* Same key? Entries of one key are adjacent runs of equal shard and hash
 * (in request order), though another key of the same hash may interleave. */
static bool ent_same_key(const struct kvd_kv *kv, const struct batch_ent *x,
			 const struct batch_ent *y)
{
	return x->shard == y->shard && x->hash == y->hash &&
	       same_key(&kv[x->idx], &kv[y->idx]);
}

/* Mark every op that a later op of the same key overrides. */
static void batch_dedupe(const struct kvd_kv *kv, struct batch_ent *e,
			 uint32_t n)
{
	uint32_t i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n && e[j].shard == e[i].shard &&
		     e[j].hash == e[i].hash; j++)
			if (same_key(&kv[e[i].idx], &kv[e[j].idx]))
				e[i].skip = true;
}

static void batch_lock(struct kvd *d, const struct batch_ent *e, uint32_t n,
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
 * batch_begin - the entries of a multi-key op, sorted by shard, overridden
 * ops marked, every shard involved locked (in ascending order); NULL if
 * out of memory. batch_end() unlocks and frees.
 */
static struct batch_ent *batch_begin(struct kvd *d, const struct kvd_kv *kv,
				     uint32_t n)
{
	struct batch_ent *e = calloc(n, sizeof(*e));
	uint32_t i;

	if (!e)
		return NULL;
	for (i = 0; i < n; i++) {
		e[i].idx = i;
		e[i].hash = kvs_hash(d->hdr->hash_seed, kv[i].key, kv[i].klen);
		e[i].shard = kvd_index_shard(&d->index, e[i].hash);
	}
	qsort(e, n, sizeof(*e), batch_cmp);
	batch_dedupe(kv, e, n);
	batch_lock(d, e, n, true);
	return e;
}

static void batch_end(struct kvd *d, struct batch_ent *e, uint32_t n)
{
	batch_lock(d, e, n, false);
	free(e);
}

/*
 * op_check - is @p a well-formed op? Puts take at most one of NX, XX,
 * IFVERSION; deletes XX or IFVERSION, and no value or TTL.
 * Return: 0, -EINVAL or -E2BIG.
 */
static int op_check(const struct kvd *d, const struct kvd_kv *p)
{
	unsigned int c = p->cond;
	int rc;

	if ((rc = check_key(d, p->klen)) < 0)
		return rc;
	if (c & ~(unsigned int)(KVD_IF_ABSENT | KVD_IF_PRESENT | KVD_IF_VERSION) ||
	    (c & (c - 1)))
		return -EINVAL;		/* unknown, or more than one */
	switch (p->op) {
	case KVD_OP_PUT:
		return check_put(d, p->klen, p->vlen, p->ttl_ms);
	case KVD_OP_DEL:
		return (c & KVD_IF_ABSENT) || p->vlen || p->ttl_ms ? -EINVAL : 0;
	default:
		return -EINVAL;
	}
}

/*
 * cond_check - the condition of op @p against its key's state within the
 * batch: @live, and @ver if @ver_known (a put earlier in the batch leaves
 * a version nobody can have read yet). Return: 0, -EEXIST, -ENOENT or
 * -ESTALE, as the single-key ops.
 */
static int cond_check(const struct kvd_kv *p, bool live, bool ver_known,
		      uint64_t ver)
{
	switch (p->cond) {
	case KVD_IF_ABSENT:
		return live ? -EEXIST : 0;
	case KVD_IF_PRESENT:
		return live ? 0 : -ENOENT;
	case KVD_IF_VERSION:
		if (!live)
			return p->version ? -ENOENT : 0;
		return ver_known && ver == p->version ? 0 : -ESTALE;
	default:
		return 0;
	}
}

/*
 * batch_conds - look up the key of entry @i (the first op of its key),
 * dropping it if expired, and check the conditions of all its ops in
 * request order. The key's last entry records whether it was live.
 * Return: 0 or the failed condition (*@failed = that op's index).
 */
static int batch_conds(struct kvd *d, const struct kvd_kv *kv,
		       struct batch_ent *e, uint32_t n, uint32_t i,
		       int64_t now, uint32_t *failed)
{
	const struct kvd_kv *p = &kv[e[i].idx];
	struct kvs_iref cur;
	struct kvs_pos pos;
	bool found, live, ver_known = true;
	uint64_t ver = 0;
	uint32_t j;
	int rc;

	found = kvd_index_find(&d->index, e[i].hash, p->key, p->klen, &pos,
			       &cur);
	if (found && kvs_iref_expired(&cur, now)) {
		kvd_exec_remove(d, KVD_EV_EXPIRE, e[i].hash, &pos, &cur);
		kvd_stats_inc(&d->stats.expired_write);
		found = false;
	}
	if (found)
		ver = cur.version;
	live = found;
	for (j = i; j < n && e[j].shard == e[i].shard &&
	     e[j].hash == e[i].hash; j++) {
		const struct kvd_kv *q = &kv[e[j].idx];

		if (j != i && !ent_same_key(kv, &e[i], &e[j]))
			continue;
		if ((rc = cond_check(q, live, ver_known, ver)) < 0) {
			*failed = e[j].idx;
			return rc;
		}
		live = q->op == KVD_OP_PUT;
		ver_known = false;
		if (!e[j].skip)
			e[j].found = found;
	}
	return 0;
}

/* Is entry @i the first op of its key in the batch? */
static bool first_of_key(const struct kvd_kv *kv, const struct batch_ent *e,
			 uint32_t i)
{
	uint32_t j;

	for (j = i; j-- > 0 && e[j].shard == e[i].shard &&
	     e[j].hash == e[i].hash;)
		if (same_key(&kv[e[j].idx], &kv[e[i].idx]))
			return false;
	return true;
}

/*
 * batch_prepare - check every condition, make room in the index for the
 * keys the batch adds, and build their items. Nothing is published.
 * Additions are counted against --max-entries before the batch's
 * deletions (deletions are published last, since they cannot be undone).
 */
static int batch_prepare(struct kvd *d, const struct kvd_kv *kv,
			 struct batch_ent *e, uint32_t n, int64_t now,
			 uint32_t *failed, struct kvd_room *need)
{
	uint64_t fresh = 0, total_fresh = 0;
	uint32_t i;
	int rc;

	for (i = 0; i < n; i++)
		if (first_of_key(kv, e, i) &&
		    (rc = batch_conds(d, kv, e, n, i, now, failed)) < 0)
			return rc;
	/* The need first: growing a shard below can fail for memory too,
	 * and the write is only retried after an eviction if it is known. */
	for (i = 0; i < n; i++) {
		const struct kvd_kv *p = &kv[e[i].idx];

		if (e[i].skip || p->op != KVD_OP_PUT)
			continue;
		need->bytes += kvs_item_size(p->klen, p->vlen,
			p->ttl_ms > 0 ? KVS_ITEM_EXPIRES : 0);
		if (!e[i].found)
			total_fresh++;
	}
	need->keys = total_fresh;
	for (i = 0; i < n; i++) {
		if (!e[i].skip && !e[i].found && kv[e[i].idx].op == KVD_OP_PUT)
			fresh++;
		if (i + 1 == n || e[i + 1].shard != e[i].shard) {
			if (fresh && kvd_index_reserve(&d->index, e[i].shard,
						       fresh) < 0)
				return -ENOMEM;
			fresh = 0;
		}
	}
	if (!kvd_index_room(&d->index, total_fresh))
		return -ENOMEM;		/* over --max-entries */
	for (i = 0; i < n; i++) {
		const struct kvd_kv *p = &kv[e[i].idx];

		if (e[i].skip || p->op != KVD_OP_PUT)
			continue;
		e[i].item = kvd_item_build(d, p->key, p->klen, p->val, p->vlen,
					   expiry_of(now, p->ttl_ms), 0);
		if (!e[i].item)
			return -ENOMEM;
	}
	return 0;
}

/* Undo a failed batch: nothing of it is visible to writers afterwards. */
static void batch_undo(struct kvd *d, const struct kvd_kv *kv,
		       struct batch_ent *e, uint32_t n)
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

/* The live item of entry @i's key, which must be there (we hold its lock). */
static void batch_find(struct kvd *d, const struct kvd_kv *p,
		       const struct batch_ent *e, struct kvs_pos *pos,
		       struct kvs_iref *cur)
{
	if (!kvd_index_find(&d->index, e->hash, p->key, p->klen, pos, cur))
		kvd_die("event=batch_lost_key");
}

/*
 * batch_publish - make the batch visible: new keys first (only an insert
 * can fail, when a shard must grow again and finds no memory, and only
 * inserts are undone), then replacements, then deletions. Then the events,
 * BATCH_BEGIN .. BATCH_END around one SET or DEL per changed key, if any.
 * *@removed counts the live keys deleted.
 */
static int batch_publish(struct kvd *d, const struct kvd_kv *kv,
			 struct batch_ent *e, uint32_t n, int64_t now,
			 uint64_t *removed)
{
	uint64_t changes = 0;
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (e[i].skip || e[i].found || !e[i].item)
			continue;
		if (kvd_index_insert(&d->index, e[i].hash, e[i].item) < 0)
			return -ENOMEM;
		e[i].inserted = true;
	}
	*removed = 0;
	for (i = 0; i < n; i++) {
		const struct kvd_kv *p = &kv[e[i].idx];
		struct kvs_iref cur;
		struct kvs_pos pos;

		if (e[i].skip || !e[i].found)
			continue;
		/* Look up again: an insert above may have grown the shard. */
		batch_find(d, p, &e[i], &pos, &cur);
		if (p->op == KVD_OP_PUT) {
			kvd_index_replace(&d->index, e[i].hash, &pos, e[i].item);
		} else {
			/* Only numbers are kept for the event, whose key
			 * bytes come from the request. */
			e[i].gone = (kvs_off_t)((const char *)cur.it -
						d->seg.base);
			e[i].gone_entry = kvd_pos_entry(&pos) + 1;
			kvd_index_remove(&d->index, e[i].hash, &pos);
			(*removed)++;
		}
	}
	for (i = 0; i < n; i++)
		changes += !e[i].skip && (e[i].item || e[i].found);
	if (!changes)
		return 0;
	emit(d, KVD_EV_BATCH_BEGIN, NULL, 0, NULL, 0, 0, 0);
	for (i = 0; i < n; i++) {
		const struct kvd_kv *p = &kv[e[i].idx];

		if (e[i].skip)
			continue;
		if (e[i].item)
			emit_set(d, e[i].hash, e[i].item, p->key, p->klen,
				 p->val, p->vlen, expiry_of(now, p->ttl_ms),
				 item_version(d, e[i].item));
		else if (e[i].found)
			emit_rm(d, KVD_EV_DEL, p->key, p->klen, e[i].hash,
				e[i].gone, e[i].gone_entry);
	}
	emit(d, KVD_EV_BATCH_END, NULL, 0, NULL, 0, 0, 0);
	return 0;
}

/*
 * batch_run - check, lock, prepare, publish (or undo) one batch.
 * *@failed is set to the index of the op that failed it, or to UINT32_MAX
 * if the failure concerns no single op (memory).
 */
static int batch_run(struct kvd *d, const struct kvd_kv *kv, uint32_t n,
		     uint32_t *failed, uint64_t *removed)
{
	unsigned int attempt = 0;
	struct kvd_room need;
	struct batch_ent *e;
	uint64_t gone = 0;
	int64_t now;
	uint32_t i;
	int rc;

	*failed = UINT32_MAX;
	if (n == 0)
		return -EINVAL;
	for (i = 0; i < n; i++) {
		if ((rc = op_check(d, &kv[i])) < 0) {
			*failed = i;
			return rc;
		}
	}
	do {
		e = batch_begin(d, kv, n);
		if (!e)
			return -ENOMEM;
		now = kvs_now_ms();
		need.bytes = need.keys = 0;
		*failed = UINT32_MAX;
		rc = batch_prepare(d, kv, e, n, now, failed, &need);
		if (rc == 0)
			rc = batch_publish(d, kv, e, n, now, &gone);
		if (rc < 0)
			batch_undo(d, kv, e, n);
		batch_end(d, e, n);
	} while (evict_retry(d, rc, &attempt, &need));
	if (rc == 0 && removed)
		*removed = gone;
	return rc;
}

int kvd_exec_batch(struct kvd *d, const struct kvd_kv *kv, uint32_t n,
		   uint32_t *failed)
{
	kvd_stats_inc(&d->stats.cmd_batch);
	return batch_run(d, kv, n, failed, NULL);
}

/* MSET: a batch of unconditional puts (@kv's op fields are ignored). */
int kvd_exec_mset(struct kvd *d, struct kvd_kv *kv, uint32_t n)
{
	uint32_t i, failed;

	for (i = 0; i < n; i++) {
		kv[i].op = KVD_OP_PUT;
		kv[i].cond = 0;
	}
	kvd_stats_inc(&d->stats.cmd_mset);
	return batch_run(d, kv, n, &failed, NULL);
}

/*
 * MDEL: a batch of unconditional deletes. Keys listed twice count once;
 * expired keys are removed and not counted.
 */
int kvd_exec_mdel(struct kvd *d, struct kvd_kv *kv, uint32_t n,
		  uint64_t *removed)
{
	uint32_t i, failed;

	for (i = 0; i < n; i++) {
		kv[i].op = KVD_OP_DEL;
		kv[i].cond = 0;
		kv[i].vlen = 0;
		kv[i].ttl_ms = 0;
	}
	kvd_stats_inc(&d->stats.cmd_mdel);
	return batch_run(d, kv, n, &failed, removed);
}

/* d->version := max(d->version, @v); loaders may run on several threads. */
static void version_raise(struct kvd *d, uint64_t v)
{
	uint64_t cur = __atomic_load_n(&d->version, __ATOMIC_RELAXED);

	while (v > cur && !__atomic_compare_exchange_n(&d->version, &cur, v,
			true, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

void kvd_exec_load_done(struct kvd *d, uint32_t *held)
{
	if (*held != KVD_NO_SHARD)
		kvd_index_unlock(&d->index, *held);
	*held = KVD_NO_SHARD;
}

/*
 * LOAD: apply one entry of a snapshot or WAL record at start-up, before
 * anyone is served. The entry is the key's full resulting state, so
 * applying it again changes nothing. No event is emitted: this is not a
 * client's change, and the WAL already holds it. An entry whose expiry
 * has passed removes the key. @absent: the caller knows the key is not
 * in the table (a snapshot, loaded into an empty table, holds each key
 * once), so the lookup is skipped.
 *
 * @held: the shard whose lock the caller's previous load left held, or
 * KVD_NO_SHARD. Loading takes a shard's lock once per run of its keys
 * (a snapshot holds them shard by shard) instead of once per key, and
 * leaves it held for the next entry; kvd_exec_load_done() lets it go.
 * Recovery runs before anyone is served, and its threads load disjoint
 * shards, so holding it between entries keeps no one waiting. Several
 * threads may load at once, each with its own @held.
 * Return: 0, or -ENOMEM (the data does not fit in --memory).
 */
int kvd_exec_load(struct kvd *d, const struct kvp_ent *e, int64_t now,
		  bool absent, uint32_t *held)
{
	struct kvs_iref cur;
	struct kvs_pos pos;
	uint64_t hash;
	uint32_t shard, s;
	kvs_off_t off;
	bool found;
	int rc = 0;

	if (e->op == KVP_OP_FLUSH) {
		kvd_exec_load_done(d, held);
		for (s = 0; s < d->index.nshards; s++) {
			kvd_index_lock(&d->index, s);
			kvd_index_clear(&d->index, s);
			kvd_index_unlock(&d->index, s);
		}
		return 0;
	}
	version_raise(d, e->version);
	hash = kvs_hash(d->hdr->hash_seed, e->key, e->klen);
	shard = kvd_index_shard(&d->index, hash);
	if (*held != shard) {
		kvd_exec_load_done(d, held);
		kvd_index_lock(&d->index, shard);
		*held = shard;
	}
	found = !absent && kvd_index_find(&d->index, hash, e->key, e->klen,
					  &pos, &cur);
	if (e->op == KVP_OP_DEL || (e->expire_ms && e->expire_ms <= now)) {
		if (found)
			kvd_index_remove(&d->index, hash, &pos);
		goto out;
	}
	off = kvd_item_build(d, e->key, e->klen, e->val, e->vlen,
			     e->expire_ms, e->version ? e->version : 1);
	if (off && e->expire_ms)
		__atomic_add_fetch(&d->loaded_expiring, 1, __ATOMIC_RELAXED);
	if (!off) {
		rc = -ENOMEM;
	} else if (found) {
		kvd_index_replace(&d->index, hash, &pos, off);
	} else if (kvd_index_insert(&d->index, hash, off) < 0) {
		kva_free(d->heap, off);
		rc = -ENOMEM;
	}
out:
	return rc;
}

/* Whether loading @e leaves its key with an item (else absent). */
static bool load_keeps(const struct kvp_ent *e, int64_t now)
{
	return e->op == KVP_OP_SET && !(e->expire_ms && e->expire_ms <= now);
}

/* The bytes of @e's item, and the item itself written at @it. */
static size_t ent_size(const struct kvp_ent *e)
{
	return kvs_item_size(e->klen, e->vlen,
			     e->expire_ms ? KVS_ITEM_EXPIRES : 0);
}

static void ent_put(struct kvs_item *it, const struct kvp_ent *e)
{
	item_put(it, e->key, e->klen, e->val, e->vlen, e->expire_ms,
		 e->version ? e->version : 1);
}

/*
 * The run's items, allocated up front; an entry whose
 * item did not fit (@off 0) goes through kvd_exec_load(), which waits for
 * retired memory as every write does. Recovery runs before the evictor
 * exists, so no allocation here needs to wake it.
 */
static void load_alloc(struct kvd *d, const struct kvp_ent *e, size_t n,
		       int64_t now, kvs_off_t *off)
{
	size_t size[KVD_LOAD_RUN], i;

	for (i = 0; i < n; i++)
		size[i] = load_keeps(&e[i], now) ? ent_size(&e[i]) : 0;
	kva_alloc_n(d->heap, size, off, (unsigned int)n);
}

/*
 * load_write - write the run's items (those given memory, @off[i] != 0)
 * into the segment through @st: each stretch of adjoining chunks is built
 * in st->buf and written with one pwrite(2).
 *
 * Why not through the mapping: the kernel copies into the pages through
 * its own mapping of them, so the daemon's page tables are not filled in
 * page by page for memory it only writes here. On this VM the first touch
 * of a page through a user mapping costs ~4.5 µs even after
 * MADV_POPULATE_WRITE; it was a third of a restart's CPU time. Readers
 * pay for the pages they touch in their own page tables either way.
 *
 * Only whole chunks are written: a chunk's bytes past its item are the
 * chunk's own slack (zeros here), so no byte of another item, another
 * thread's included, is ever written. Return 0, or -1 if a write failed
 * (the caller then fills the items through the mapping).
 */
static int load_write(struct kvd_load_stage *st, const struct kvp_ent *e,
		      size_t n, const kvs_off_t *off)
{
	kvs_off_t start = 0;
	size_t len = 0, i;

	for (i = 0; i < n; i++) {
		size_t size, chunk;

		if (!off[i])
			continue;
		size = ent_size(&e[i]);
		chunk = kva_chunk_size(size);
		if (len && (off[i] != start + len || len + chunk > st->cap)) {
			if (kvp_pwrite_full(st->fd, st->buf, len, start) < 0)
				return -1;
			len = 0;
		}
		if (chunk > st->cap) {
			/* Bigger than the buffer (a large value): as many
			 * writes as its bytes take, from a buffer of its own. */
			char *big = malloc(size);
			int rc;

			if (!big)
				return -1;
			ent_put((struct kvs_item *)(void *)big, &e[i]);
			rc = kvp_pwrite_full(st->fd, big, size, off[i]);
			free(big);
			if (rc < 0)
				return -1;
			continue;
		}
		if (!len)
			start = off[i];
		ent_put((struct kvs_item *)(void *)(st->buf + len), &e[i]);
		memset(st->buf + len + size, 0, chunk - size);
		len += chunk;
	}
	if (len && kvp_pwrite_full(st->fd, st->buf, len, start) < 0)
		return -1;
	return 0;
}

int kvd_exec_load_new(struct kvd *d, const struct kvp_ent *e, size_t n,
		      int64_t now, uint32_t *held, struct kvd_load_stage *st)
{
	kvs_off_t off[KVD_LOAD_RUN];
	uint64_t added = 0, expiring = 0;
	bool written = false;
	size_t i;
	int rc = 0;

	if (n > KVD_LOAD_RUN || !kvd_index_room(&d->index, n)) {
		for (i = 0; i < n && rc == 0; i++)
			rc = kvd_exec_load(d, &e[i], now, true, held);
		return rc;
	}
	load_alloc(d, e, n, now, off);
	if (st && st->fd >= 0) {
		if (!st->buf && (st->buf = malloc(KVD_STAGE_BYTES)))
			st->cap = KVD_STAGE_BYTES;
		written = st->buf && load_write(st, e, n, off) == 0;
		if (!written)
			st->fd = -1;	/* through the mapping from now on */
	}
	for (i = 0; i < n; i++) {
		uint64_t hash;
		uint32_t shard;

		if (rc || !off[i]) {
			/* Not kept (expired), or no room for it yet. */
			if (rc == 0)
				rc = kvd_exec_load(d, &e[i], now, true, held);
			if (off[i])
				kva_free(d->heap, off[i]);	/* unused */
			continue;
		}
		version_raise(d, e[i].version);
		hash = kvs_hash(d->hdr->hash_seed, e[i].key, e[i].klen);
		shard = kvd_index_shard(&d->index, hash);
		if (*held != shard) {
			kvd_exec_load_done(d, held);
			kvd_index_lock(&d->index, shard);
			*held = shard;
		}
		if (!written)
			ent_put((struct kvs_item *)(d->seg.base + off[i]),
				&e[i]);
		if (kvd_index_insert_loaded(&d->index, hash, off[i]) < 0) {
			kva_free(d->heap, off[i]);
			rc = -ENOMEM;
			continue;
		}
		added++;
		expiring += e[i].expire_ms != 0;
	}
	kvd_index_add_total(&d->index, added);
	if (expiring)
		__atomic_add_fetch(&d->loaded_expiring, expiring,
				   __ATOMIC_RELAXED);
	return rc;
}
