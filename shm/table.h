/* SPDX-License-Identifier: MIT */
/*
 * shm/table.h - lock-free lookup in the sharded hash table, used by readers
 * in any process and by kvshmd itself. Mutation is kvshmd's alone
 * (daemon/index.c); nothing here writes.
 *
 * Callers must be inside a read section (shm/epoch.h) or, in kvshmd, hold
 * the shard's lock: that is what keeps the arrays and items they see from
 * being freed under them.
 */
#ifndef KVS_TABLE_H
#define KVS_TABLE_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "atomic.h"
#include "hash.h"
#include "layout.h"

/* A bucket array as published: pointer and mask taken from one load. */
struct kvs_barray_view {
	const struct kvs_bucket *b;
	uint64_t mask;			/* nbuckets - 1 */
	kvs_off_t off;
};

/* Where a lookup found its key (for kvshmd, which then replaces it). */
struct kvs_pos {
	uint64_t bucket;		/* index in the array */
	unsigned int slot;		/* 0..7 */
	uint64_t ent;			/* the entry word as loaded */
};

/*
 * struct kvs_iref - an item as one reader saw it: its header fields read
 * exactly once, checked against the segment bounds, and the key and value
 * pointers derived from that one reading. Callers use these fields, never
 * the item header again, so a header that changed after the check (memory
 * reused under a misbehaving reader) can never widen a copy.
 */
struct kvs_iref {
	const struct kvs_item *it;
	const char *key;
	const char *val;
	uint32_t vlen;
	uint16_t klen;
	uint8_t flags;
	uint32_t hint;			/* access-hint index, 0 = none */
	int64_t expire_ms;		/* absolute, 0 = none */
	uint64_t version;		/* see kvs_item_version() */
};


/*
 * The lookup is inline: it is the whole read path, and in one function
 * with its caller it is short enough for the CPU to overlap the cache
 * misses of consecutive GETs (a call per step costs about 3x the
 * throughput of a private table; measured with tools/kvshm-bench).
 *
 * A lookup loads the shard's published bucket array once (acquire), probes
 * from the key's home bucket while the bucket's ovf bit says "keep going",
 * and compares tags, then keys. Every offset found in shared memory goes
 * through kvs_ptr() before use: a stale or corrupt entry yields "not
 * found", never a wild read. Nothing here writes to shared memory.
 */
static inline int kvs_barray_decode(const struct kvs_map *m, uint64_t barray,
		      struct kvs_barray_view *v)
{
	unsigned int lg = barray & KVS_BARRAY_LOG_MASK;
	kvs_off_t off = barray & ~KVS_BARRAY_LOG_MASK;

	if (lg > 40)
		return -EINVAL;
	v->b = kvs_ptr(m, off, sizeof(struct kvs_bucket) << lg, KVS_CACHELINE);
	if (!v->b)
		return -EINVAL;
	v->mask = (1ULL << lg) - 1;
	v->off = off;
	return 0;
}

static inline int kvs_shard_array(const struct kvs_map *m, uint32_t shard,
		    struct kvs_barray_view *v)
{
	const struct kvs_header *h = m->hdr;
	const struct kvs_shard *s;

	if (shard >= h->nshards)
		return -EINVAL;
	s = kvs_ptr(m, h->shards_off + (uint64_t)shard * sizeof(*s), sizeof(*s),
		    KVS_CACHELINE);
	if (!s)
		return -EINVAL;
	return kvs_barray_decode(m, kvs_load_acquire(&s->barray), v);
}

static inline int kvs_item_ref(const struct kvs_map *m, uint64_t ent,
			       struct kvs_iref *r)
{
	kvs_off_t off = kvs_ent_off(ent);
	const struct kvs_item *it = KVS_PTR(m, off, struct kvs_item);
	uint32_t vf;
	size_t extra;

	if (!it)
		return -1;
	/* One load per field; everything below uses the loaded values. */
	vf = kvs_load_relaxed(&it->vlen_flags);
	r->vlen = vf & KVS_ITEM_VLEN_MASK;
	r->flags = (uint8_t)(vf >> KVS_ITEM_FLAGS_SHIFT);
	r->klen = kvs_load_relaxed(&it->klen);
	r->hint = kvs_load_relaxed(&it->hint);
	r->version = kvs_item_version(kvs_load_relaxed(&it->ver_hi),
				      kvs_load_relaxed(&it->ver_lo));
	extra = kvs_item_extra(r->flags);
	if (!kvs_ptr(m, off, kvs_item_size(r->klen, r->vlen, r->flags), 8))
		return -1;
	r->expire_ms = 0;
	if (extra) {
		memcpy(&r->expire_ms, it + 1, sizeof(r->expire_ms));
		kvs_barrier();		/* keep the copy: never re-read it */
	}
	r->it = it;
	r->key = (const char *)(it + 1) + extra;
	r->val = r->key + r->klen;
	return 0;
}

static inline bool kvs_lookup(const struct kvs_map *m, uint64_t hash,
			      const void *key, size_t klen, struct kvs_pos *pos,
			      struct kvs_iref *r)
{
	struct kvs_barray_view v;
	uint16_t tag = kvs_hash_tag(hash);
	uint64_t home, probe, nprobe;

	if (kvs_shard_array(m, kvs_hash_shard(hash, m->hdr->shard_bits), &v))
		return false;
	home = kvs_hash_bucket(hash, v.mask);
	nprobe = v.mask + 1 < KVS_MAX_PROBE ? v.mask + 1 : KVS_MAX_PROBE;
	for (probe = 0; probe < nprobe; probe++) {
		uint64_t bi = (home + probe) & v.mask;
		const struct kvs_bucket *bk = &v.b[bi];
		uint64_t e0 = 0;
		unsigned int i;

		for (i = 0; i < KVS_BUCKET_ENTRIES; i++) {
			uint64_t e = kvs_load_acquire(&bk->ent[i]);

			if (i == 0)
				e0 = e;
			/* Tag first: one compare rejects nearly every entry. */
			if (kvs_ent_tag(e) != tag || kvs_ent_off(e) == 0)
				continue;
			if (kvs_item_ref(m, e, r) || r->klen != klen ||
			    memcmp(r->key, key, klen) != 0)
				continue;
			if (pos) {
				pos->bucket = bi;
				pos->slot = i;
				pos->ent = e;
			}
			return true;
		}
		if (!(e0 & KVS_ENT_OVF))
			break;
	}
	return false;
}

static inline bool kvs_iref_expired(const struct kvs_iref *r, int64_t now_ms)
{
	return r->expire_ms != 0 && r->expire_ms <= now_ms;
}

#endif /* KVS_TABLE_H */
